// Bounds-checked byte spans: every decoder reads peer input through ByteReader,
// every encoder writes through ByteWriter, so a short or hostile datagram turns
// into a recoverable "not ok" instead of an out-of-bounds read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace punch::util {

/// Read-only view of bytes, the unit every decoder consumes.
using ByteView = std::span<const std::uint8_t>;
/// Owned, growable bytes.
using Bytes = std::vector<std::uint8_t>;

/// Views a string's characters as bytes (no copy).
inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Largest value a QUIC variable-length integer (RFC 9000, section 16) can hold.
inline constexpr std::uint64_t kVarintMax = (std::uint64_t{1} << 62) - 1;

/// Sequential big-endian reader over a span; after the first failed read it stays
/// failed, so a decoder may read a whole message and check ok() once at the end.
class ByteReader {
 public:
  /// Starts reading at the first byte of `data`.
  explicit ByteReader(ByteView data) : data_(data) {}

  /// True while no read has run past the end.
  bool ok() const { return ok_; }
  /// Bytes not yet consumed (0 once failed).
  std::size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  /// True when every byte was consumed and no read failed.
  bool done() const { return ok_ && pos_ == data_.size(); }
  /// Bytes consumed so far.
  std::size_t position() const { return pos_; }

  /// Reads one byte; 0 and failure past the end.
  std::uint8_t u8() { return static_cast<std::uint8_t>(be(1)); }
  /// Reads a big-endian 16-bit value.
  std::uint16_t u16() { return static_cast<std::uint16_t>(be(2)); }
  /// Reads a big-endian 32-bit value.
  std::uint32_t u32() { return static_cast<std::uint32_t>(be(4)); }
  /// Reads a big-endian 64-bit value.
  std::uint64_t u64() { return be(8); }

  /// Reads a QUIC variable-length integer (1, 2, 4 or 8 bytes).
  std::uint64_t varint() {
    if (!need(1)) return 0;
    const std::size_t len = std::size_t{1} << (data_[pos_] >> 6);
    if (!need(len)) return 0;
    std::uint64_t v = data_[pos_] & 0x3f;
    for (std::size_t i = 1; i < len; ++i) v = (v << 8) | data_[pos_ + i];
    pos_ += len;
    return v;
  }

  /// Returns the next `n` bytes as a view into the input; empty and failure if short.
  ByteView bytes(std::size_t n) {
    if (!need(n)) return {};
    ByteView v = data_.subspan(pos_, n);
    pos_ += n;
    return v;
  }

  /// Returns every byte not yet consumed.
  ByteView rest() { return bytes(remaining()); }

  /// Marks the reader failed, for semantic errors found by the caller.
  void fail() { ok_ = false; }

 private:
  bool need(std::size_t n) {
    if (!ok_ || data_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::uint64_t be(std::size_t n) {
    if (!need(n)) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | data_[pos_ + i];
    pos_ += n;
    return v;
  }

  ByteView data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

/// Appends big-endian fields to an owned buffer.
class ByteWriter {
 public:
  /// Appends to `out` (which may already hold bytes).
  explicit ByteWriter(Bytes& out) : out_(out) {}

  /// Appends one byte.
  void u8(std::uint8_t v) { out_.push_back(v); }
  /// Appends a big-endian 16-bit value.
  void u16(std::uint16_t v) { be(v, 2); }
  /// Appends a big-endian 32-bit value.
  void u32(std::uint32_t v) { be(v, 4); }
  /// Appends a big-endian 64-bit value.
  void u64(std::uint64_t v) { be(v, 8); }
  /// Appends a QUIC varint in its shortest form; `v` must be <= kVarintMax.
  void varint(std::uint64_t v) {
    if (v < (1u << 6)) {
      be(v, 1);
    } else if (v < (1u << 14)) {
      be(v | 0x4000u, 2);
    } else if (v < (1u << 30)) {
      be(v | 0x80000000u, 4);
    } else {
      be(v | 0xc000000000000000ull, 8);
    }
  }
  /// Appends raw bytes.
  void bytes(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
  /// Appends `n` zero bytes.
  void zeros(std::size_t n) { out_.insert(out_.end(), n, 0); }
  /// Bytes in the buffer (including any that were there before).
  std::size_t size() const { return out_.size(); }

 private:
  void be(std::uint64_t v, std::size_t n) {
    for (std::size_t i = n; i-- > 0;) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes& out_;
};

/// Encoded length of a varint holding `v`.
inline std::size_t varint_size(std::uint64_t v) {
  return v < (1u << 6) ? 1 : v < (1u << 14) ? 2 : v < (1u << 30) ? 4 : 8;
}

/// Lower-case hex of `b`, for logs and test fixtures.
std::string to_hex(ByteView b);
/// Parses hex (any case, no separators); empty optional-like result signalled by `ok=false`.
Bytes from_hex(std::string_view hex, bool* ok = nullptr);

}  // namespace punch::util
