#include "transport/send_stream.hpp"

#include <algorithm>

#include "transport/frame.hpp"

namespace punch::transport {

std::size_t SendStream::write(util::ByteView data) {
  const std::size_t n =
      static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), free_space()));
  if (n == 0) return 0;
  buffer_.write_at(write_offset_, data.first(n));
  write_offset_ += n;
  return n;
}

void SendStream::finish() {
  if (reset_ || fin_requested_) return;
  fin_requested_ = true;
  fin_pending_ = true;
}

std::uint64_t SendStream::free_space() const {
  if (reset_ || fin_requested_) return 0;
  return buffer_limit_ > buffered() ? buffer_limit_ - buffered() : 0;
}

bool SendStream::raise_limit(std::uint64_t max_data) {
  if (max_data <= max_data_) return false;
  max_data_ = max_data;
  return true;
}

std::optional<SendStream::Chunk> SendStream::next_chunk(StreamId id, std::size_t room,
                                                        std::uint64_t conn_credit) const {
  if (reset_) return std::nullopt;
  if (!retransmit_.empty()) {
    const RangeSet::Range r = retransmit_.front();
    const std::uint64_t avail = r.end - r.start;
    const std::size_t header =
        stream_header_size(id, r.start, std::min<std::uint64_t>(avail, room));
    if (room <= header) return std::nullopt;
    Chunk c;
    c.offset = r.start;
    c.length = std::min<std::uint64_t>(avail, room - header);
    c.fin = fin_due() && c.offset + c.length == write_offset_;
    c.retransmit = true;
    return c;
  }
  const std::uint64_t end = std::min(write_offset_, max_data_);
  const std::uint64_t avail = std::min(end > sent_offset_ ? end - sent_offset_ : 0, conn_credit);
  const bool fin_only = fin_due() && sent_offset_ == write_offset_;
  if (avail == 0 && !fin_only) return std::nullopt;
  const std::size_t header =
      stream_header_size(id, sent_offset_, std::min<std::uint64_t>(avail, room));
  if (room < header + (avail > 0 ? 1 : 0)) return std::nullopt;
  Chunk c;
  c.offset = sent_offset_;
  c.length = std::min<std::uint64_t>(avail, room - header);
  c.fin = fin_due() && c.offset + c.length == write_offset_;
  return c;
}

void SendStream::copy_out(const Chunk& c, std::uint8_t* out) const {
  buffer_.read_at(c.offset, {out, static_cast<std::size_t>(c.length)});
}

void SendStream::on_sent(const Chunk& c) {
  if (c.retransmit) {
    retransmit_.remove(c.offset, c.offset + c.length);
  } else {
    sent_offset_ += c.length;
  }
  if (c.fin) fin_pending_ = false;
}

bool SendStream::has_pending(std::uint64_t conn_credit) const {
  if (reset_) return false;
  if (!retransmit_.empty()) return true;
  if (fin_due() && sent_offset_ == write_offset_) return true;
  return conn_credit > 0 && sent_offset_ < std::min(write_offset_, max_data_);
}

bool SendStream::wants_connection_credit() const {
  return !reset_ && sent_offset_ < std::min(write_offset_, max_data_);
}

std::uint64_t SendStream::on_acked(std::uint64_t offset, std::uint64_t length, bool fin) {
  if (reset_) return 0;
  const std::uint64_t end = offset + length;
  std::uint64_t newly = 0;
  if (end > acked_prefix_) {
    newly = acked_.add(std::max(offset, acked_prefix_), end);
    retransmit_.remove(offset, end);
    bool advanced = false;
    while (!acked_.empty() && acked_.front().start == acked_prefix_) {
      acked_prefix_ = acked_.front().end;
      acked_.pop_front();
      advanced = true;
    }
    if (advanced) buffer_.advance_base(acked_prefix_);
    // Everything written was acknowledged: an idle stream keeps no block.
    if (advanced && acked_prefix_ == write_offset_) buffer_.release();
  }
  if (fin) {
    fin_acked_ = true;
    fin_pending_ = false;
  }
  return newly;
}

void SendStream::on_lost(std::uint64_t offset, std::uint64_t length, bool fin) {
  if (reset_) return;
  const std::uint64_t end = offset + length;
  if (end > acked_prefix_) {
    acked_.for_each_gap(std::max(offset, acked_prefix_), end,
                        [this](std::uint64_t s, std::uint64_t e) { retransmit_.add(s, e); });
  }
  if (fin && !fin_acked_) fin_pending_ = true;
}

bool SendStream::reset(std::uint64_t error_code) {
  if (reset_ || all_acked()) return false;
  reset_ = true;
  reset_pending_ = true;
  reset_code_ = error_code;
  fin_pending_ = false;
  acked_.clear();
  retransmit_.clear();
  buffer_.release();
  return true;
}

}  // namespace punch::transport
