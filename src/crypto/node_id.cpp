#include "crypto/node_id.hpp"

#include <mbedtls/sha256.h>

#include <cstring>

namespace punch::crypto {

namespace {

constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
// 128 bits in 5-bit groups: 25 full groups plus one holding the last 3 bits.
constexpr std::size_t kTextSize = (NodeId::kSize * 8 + 4) / 5;
static_assert(kTextSize == 26);

int base32_value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

}  // namespace

NodeId NodeId::from_public_key(util::ByteView spki_der) {
  unsigned char digest[32];
  mbedtls_sha256_ret(spki_der.data(), spki_der.size(), digest, 0);
  NodeId id;
  std::memcpy(id.raw_.data(), digest, kSize);
  return id;
}

std::optional<NodeId> NodeId::from_bytes(util::ByteView raw) {
  if (raw.size() != kSize) return std::nullopt;
  NodeId id;
  std::memcpy(id.raw_.data(), raw.data(), kSize);
  return id;
}

std::string NodeId::to_string() const {
  std::string out;
  out.reserve(kTextSize);
  unsigned buffer = 0;
  int bits = 0;
  for (std::uint8_t b : raw_) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

std::optional<NodeId> NodeId::parse(std::string_view text) {
  if (text.size() != kTextSize) return std::nullopt;
  NodeId id;
  unsigned buffer = 0;
  int bits = 0;
  std::size_t pos = 0;
  for (char c : text) {
    const int v = base32_value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 5) | static_cast<unsigned>(v);
    bits += 5;
    if (bits >= 8) {
      id.raw_[pos++] = static_cast<std::uint8_t>(buffer >> (bits - 8));
      bits -= 8;
    }
  }
  // The last character carries 2 padding bits; accepting non-zero ones would give
  // one ID several spellings.
  if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return id;
}

std::size_t NodeIdHash::operator()(const NodeId& id) const {
  // The ID is already a cryptographic hash, so any 8 of its bytes are uniform.
  std::uint64_t h = 0;
  std::memcpy(&h, id.bytes().data(), sizeof h);
  return static_cast<std::size_t>(h);
}

}  // namespace punch::crypto
