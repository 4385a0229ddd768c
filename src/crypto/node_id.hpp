// Self-certifying node identity: the first 128 bits of SHA-256 over the node's
// public key (SubjectPublicKeyInfo DER), printed as 26 lower-case base32 chars.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/bytes.hpp"

namespace punch::crypto {

/// A node's ID; equal IDs mean equal public keys (up to a 2^-64 collision bound).
class NodeId {
 public:
  /// Bytes kept from the SHA-256 of the public key.
  static constexpr std::size_t kSize = 16;

  NodeId() = default;
  /// Hashes a DER SubjectPublicKeyInfo into its ID.
  static NodeId from_public_key(util::ByteView spki_der);
  /// Parses the printable form (case-insensitive, 26 base32 chars); nullopt otherwise.
  static std::optional<NodeId> parse(std::string_view text);
  /// Builds an ID from exactly kSize raw bytes (wire decoding); nullopt on wrong size.
  static std::optional<NodeId> from_bytes(util::ByteView raw);

  /// Printable form, lower-case RFC 4648 base32 without padding.
  std::string to_string() const;
  /// Raw bytes, for the wire.
  util::ByteView bytes() const { return {raw_.data(), raw_.size()}; }

  friend bool operator==(const NodeId&, const NodeId&) = default;
  friend auto operator<=>(const NodeId&, const NodeId&) = default;

 private:
  std::array<std::uint8_t, kSize> raw_{};
};

/// Hash for unordered containers keyed by NodeId.
struct NodeIdHash {
  std::size_t operator()(const NodeId& id) const;
};

}  // namespace punch::crypto
