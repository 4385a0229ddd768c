// Duplicate detection for path packets, which bypass the transport (and with it
// the transport's own duplicate detection): a sliding window over packet numbers,
// as in IPsec (RFC 4303, 3.4.3) and WireGuard. Without it a captured challenge
// replayed from a spoofed address would make us answer to that address.
#pragma once

#include <bitset>
#include <cstdint>

namespace punch::session {

/// Remembers which of the last kSize packet numbers were seen.
class ReplayWindow {
 public:
  /// Packet numbers this far below the highest seen are refused as too old: more than a
  /// probing burst can reorder, so a real packet is never refused.
  static constexpr std::uint64_t kSize = 1024;

  /// Records `pn`; false if it was seen before or is too old to tell.
  bool accept(std::uint64_t pn);

 private:
  std::uint64_t highest_ = 0;
  bool any_ = false;
  std::bitset<kSize> seen_;  // bit pn % kSize, for pn in (highest_ - kSize, highest_]
};

}  // namespace punch::session
