#include "crypto/packet_protection.hpp"

#include <mbedtls/chachapoly.h>

#include "util/assert.hpp"

namespace punch::crypto {

struct PacketProtection::State {
  State() { mbedtls_chachapoly_init(&ctx); }
  ~State() { mbedtls_chachapoly_free(&ctx); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  mbedtls_chachapoly_context ctx;
  std::array<std::uint8_t, 12> iv{};

  // QUIC-style nonce: the packet number, big-endian in the last 8 bytes, xor the IV;
  // unique per packet because the transport never reuses a packet number.
  std::array<std::uint8_t, 12> nonce(std::uint64_t pn) const {
    std::array<std::uint8_t, 12> n = iv;
    for (std::size_t i = 0; i < 8; ++i) n[11 - i] ^= static_cast<std::uint8_t>(pn >> (8 * i));
    return n;
  }
};

PacketProtection::PacketProtection(const DirectionKeys& keys) : state_(std::make_unique<State>()) {
  const int rc = mbedtls_chachapoly_setkey(&state_->ctx, keys.key.data());
  PUNCH_ASSERT(rc == 0);
  state_->iv = keys.iv;
}

PacketProtection::PacketProtection(PacketProtection&&) noexcept = default;
PacketProtection& PacketProtection::operator=(PacketProtection&&) noexcept = default;
PacketProtection::~PacketProtection() = default;

void PacketProtection::seal(std::uint64_t packet_number, util::ByteView aad,
                            util::ByteView plaintext, util::Bytes& out) {
  const auto nonce = state_->nonce(packet_number);
  const std::size_t start = out.size();
  out.resize(start + plaintext.size() + kTagSize);
  unsigned char* ct = out.data() + start;
  const int rc =
      mbedtls_chachapoly_encrypt_and_tag(&state_->ctx, plaintext.size(), nonce.data(), aad.data(),
                                         aad.size(), plaintext.data(), ct, ct + plaintext.size());
  // Only bad parameters make this fail, and ours are checked above.
  PUNCH_ASSERT(rc == 0);
}

bool PacketProtection::open(std::uint64_t packet_number, util::ByteView aad, util::ByteView sealed,
                            util::Bytes& out) {
  if (sealed.size() < kTagSize) return false;
  const std::size_t len = sealed.size() - kTagSize;
  const auto nonce = state_->nonce(packet_number);
  const std::size_t start = out.size();
  out.resize(start + len);
  const int rc =
      mbedtls_chachapoly_auth_decrypt(&state_->ctx, len, nonce.data(), aad.data(), aad.size(),
                                      sealed.data() + len, sealed.data(), out.data() + start);
  if (rc != 0) {
    // mbedTLS has already wiped the unauthenticated plaintext; drop the room for it.
    out.resize(start);
    return false;
  }
  return true;
}

}  // namespace punch::crypto
