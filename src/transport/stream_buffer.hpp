// Bytes of one stream direction addressed by absolute stream offset, kept in
// fixed-size blocks: writes may land anywhere at or above the base (out-of-order
// arrivals leave holes), blocks are allocated on first touch and freed as soon
// as the base passes them, so memory follows the bytes actually held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "util/bytes.hpp"

namespace punch::transport {

/// Block-allocated byte store for stream offsets [base, ...).
class StreamBuffer {
 public:
  /// Bytes per block: big enough to amortise allocation, small enough to waste little.
  static constexpr std::size_t kBlockSize = 16 * 1024;

  /// Stores `data` at stream `offset`, which must be >= base().
  void write_at(std::uint64_t offset, util::ByteView data);
  /// Copies `out.size()` bytes from stream `offset`; the range must be >= base() and written.
  void read_at(std::uint64_t offset, std::span<std::uint8_t> out) const;
  /// Discards everything below `offset` (which must not go backwards), freeing whole blocks.
  void advance_base(std::uint64_t offset);
  /// Lowest offset still stored.
  std::uint64_t base() const { return base_; }
  /// Bytes of memory held in blocks.
  std::size_t allocated_bytes() const;
  /// Frees every block, keeping base().
  void release();

 private:
  using Block = std::unique_ptr<std::uint8_t[]>;
  std::uint8_t* block_for(std::uint64_t block_index);

  std::deque<Block> blocks_;  // blocks_[i] holds block (first_block_ + i); may be null.
  std::uint64_t first_block_ = 0;
  std::uint64_t base_ = 0;
  std::vector<Block> spare_;  // One freed block kept to avoid malloc churn.
};

}  // namespace punch::transport
