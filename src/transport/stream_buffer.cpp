#include "transport/stream_buffer.hpp"

#include <algorithm>
#include <cstring>

#include "util/assert.hpp"

namespace punch::transport {

std::uint8_t* StreamBuffer::block_for(std::uint64_t block_index) {
  PUNCH_ASSERT(block_index >= first_block_);
  const std::uint64_t i = block_index - first_block_;
  if (i >= blocks_.size()) blocks_.resize(static_cast<std::size_t>(i) + 1);
  Block& b = blocks_[static_cast<std::size_t>(i)];
  if (!b) {
    if (!spare_.empty()) {
      b = std::move(spare_.back());
      spare_.pop_back();
    } else {
      b = std::make_unique_for_overwrite<std::uint8_t[]>(kBlockSize);
    }
  }
  return b.get();
}

void StreamBuffer::write_at(std::uint64_t offset, util::ByteView data) {
  PUNCH_ASSERT(offset >= base_);
  std::size_t done = 0;
  while (done < data.size()) {
    const std::uint64_t at = offset + done;
    const std::size_t in_block = static_cast<std::size_t>(at % kBlockSize);
    const std::size_t n = std::min(kBlockSize - in_block, data.size() - done);
    std::memcpy(block_for(at / kBlockSize) + in_block, data.data() + done, n);
    done += n;
  }
}

void StreamBuffer::read_at(std::uint64_t offset, std::span<std::uint8_t> out) const {
  PUNCH_ASSERT(offset >= base_);
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t at = offset + done;
    const std::size_t in_block = static_cast<std::size_t>(at % kBlockSize);
    const std::size_t n = std::min(kBlockSize - in_block, out.size() - done);
    const std::uint64_t i = at / kBlockSize - first_block_;
    PUNCH_ASSERT(i < blocks_.size() && blocks_[static_cast<std::size_t>(i)]);
    std::memcpy(out.data() + done, blocks_[static_cast<std::size_t>(i)].get() + in_block, n);
    done += n;
  }
}

void StreamBuffer::advance_base(std::uint64_t offset) {
  PUNCH_ASSERT(offset >= base_);
  base_ = offset;
  const std::uint64_t keep_from = offset / kBlockSize;
  while (first_block_ < keep_from && !blocks_.empty()) {
    if (blocks_.front() && spare_.empty()) spare_.push_back(std::move(blocks_.front()));
    blocks_.pop_front();
    ++first_block_;
  }
  first_block_ = std::max(first_block_, keep_from);
}

std::size_t StreamBuffer::allocated_bytes() const {
  std::size_t n = spare_.size() * kBlockSize;
  for (const Block& b : blocks_) n += b ? kBlockSize : 0;
  return n;
}

void StreamBuffer::release() {
  blocks_.clear();
  spare_.clear();
  first_block_ = base_ / kBlockSize;
}

}  // namespace punch::transport
