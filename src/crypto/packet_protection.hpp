// AEAD protection of session packets with keys exported from the DTLS handshake:
// ChaCha20-Poly1305, nonce = IV xor packet number (as QUIC, RFC 9001 section 5.3),
// the clear header as associated data. See docs/crypto.md for why not DTLS records.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "util/bytes.hpp"

namespace punch::crypto {

/// Key and IV for one direction.
struct DirectionKeys {
  std::array<std::uint8_t, 32> key{};
  std::array<std::uint8_t, 12> iv{};
};

/// Sealing or opening packets in one direction.
class PacketProtection {
 public:
  /// Bytes the AEAD tag adds to every packet.
  static constexpr std::size_t kTagSize = 16;

  explicit PacketProtection(const DirectionKeys& keys);
  PacketProtection(PacketProtection&&) noexcept;
  PacketProtection& operator=(PacketProtection&&) noexcept;
  ~PacketProtection();

  /// Appends ciphertext and tag of `plaintext` to `out`, authenticating `aad`.
  void seal(std::uint64_t packet_number, util::ByteView aad, util::ByteView plaintext,
            util::Bytes& out);
  /// Appends the plaintext to `out` if `sealed` (ciphertext+tag) is authentic for
  /// `aad` and `packet_number`; returns false (and appends nothing) otherwise.
  /// `sealed` must not point into `out`, which may reallocate.
  bool open(std::uint64_t packet_number, util::ByteView aad, util::ByteView sealed,
            util::Bytes& out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Both directions' keys of a session, as exported from the handshake.
struct SessionKeys {
  DirectionKeys client_to_server;
  DirectionKeys server_to_client;
};

}  // namespace punch::crypto
