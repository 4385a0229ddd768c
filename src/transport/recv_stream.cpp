#include "transport/recv_stream.hpp"

#include <algorithm>

#include "transport/constants.hpp"

namespace punch::transport {

util::Status RecvStream::check_limits(std::uint64_t end, std::uint64_t conn_credit) const {
  if (end > max_data_) return util::Error{"stream flow control limit exceeded"};
  if (end > highest_ && end - highest_ > conn_credit) {
    return util::Error{"connection flow control limit exceeded"};
  }
  return util::ok_status();
}

util::Result<bool> RecvStream::on_data(std::uint64_t offset, util::ByteView data, bool fin,
                                       std::uint64_t conn_credit) {
  const std::uint64_t end = offset + data.size();
  if (final_size_) {
    if (end > *final_size_) return util::Error{"stream data beyond its final size"};
    if (fin && end != *final_size_) return util::Error{"stream final size changed"};
  } else if (fin && end < highest_) {
    return util::Error{"stream final size below data already received"};
  }
  if (auto st = check_limits(end, conn_credit); !st) return st.error();

  bool progress = false;
  if (fin && !final_size_) {
    final_size_ = end;
    progress = true;
  }
  highest_ = std::max(highest_, end);
  if (reset_) return false;
  if (discarding_) {
    consumed_ = highest_;
    return false;
  }
  if (end > read_offset_) {
    const std::uint64_t start = std::max(offset, read_offset_);
    // Only bytes never received are stored: a retransmission cannot rewrite data.
    received_.for_each_gap(start, end, [&](std::uint64_t s, std::uint64_t e) {
      buffer_.write_at(
          s, data.subspan(static_cast<std::size_t>(s - offset), static_cast<std::size_t>(e - s)));
      progress = true;
    });
    received_.add(start, end);
  }
  return progress;
}

util::Status RecvStream::on_reset(std::uint64_t final_size, std::uint64_t conn_credit) {
  if (final_size_ && *final_size_ != final_size) return util::Error{"stream final size changed"};
  if (final_size < highest_) return util::Error{"stream final size below data already received"};
  if (auto st = check_limits(final_size, conn_credit); !st) return st;
  final_size_ = final_size;
  highest_ = final_size;
  if (reset_) return util::ok_status();
  reset_ = true;
  stop_pending_ = false;
  consumed_ = final_size;
  received_.clear();
  buffer_.release();
  return util::ok_status();
}

std::size_t RecvStream::read(std::span<std::uint8_t> out) {
  if (reset_ || discarding_) return 0;
  const RangeSet::Range r = received_.range_containing(read_offset_);
  const std::size_t n =
      static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), r.end - read_offset_));
  if (n == 0) return 0;
  buffer_.read_at(read_offset_, out.first(n));
  read_offset_ += n;
  consumed_ = read_offset_;
  buffer_.advance_base(read_offset_);
  // Everything received was read: an idle stream keeps no block (1,000 open streams would
  // otherwise hold 16 KiB each for a few bytes read long ago).
  if (read_offset_ == highest_) buffer_.release();
  return n;
}

bool RecvStream::readable() const {
  if (reset_ || discarding_) return false;
  return received_.contains(read_offset_) || (final_size_ && read_offset_ == *final_size_);
}

void RecvStream::stop(std::uint64_t error_code) {
  if (reset_ || discarding_ || finished()) return;
  discarding_ = true;
  stop_pending_ = !final_size_;
  stop_code_ = error_code;
  consumed_ = highest_;
  received_.clear();
  buffer_.release();
}

bool RecvStream::wants_window_update() const {
  if (final_size_ || reset_) return false;
  return consumed_ + window_ - max_data_ >= window_ / kWindowUpdateDivisor;
}

std::uint64_t RecvStream::take_window_update() {
  max_data_ = std::max(max_data_, consumed_ + window_);
  return max_data_;
}

bool RecvStream::terminal() const {
  if (!final_size_) return false;
  return reset_ || discarding_ || read_offset_ == *final_size_;
}

}  // namespace punch::transport
