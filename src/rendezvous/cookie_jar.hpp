// Stateless return-routability cookies (docs/protocol.md, "Registration"): the
// server remembers nothing between HELLO and REGISTER, so spoofed HELLOs cost it
// no memory, and a REGISTER proves its sender receives at the address it uses.
#pragma once

#include <array>
#include <cstdint>

#include "crypto/random.hpp"
#include "rendezvous/constants.hpp"
#include "util/address.hpp"
#include "util/time.hpp"
#include "wire/rendezvous_message.hpp"

namespace punch::rendezvous {

/// Makes and checks cookies `expiry(4) || HMAC-SHA256(secret, from || expiry || nonce)[0..16]`,
/// with expiry in whole seconds since the jar was created.
class CookieJar {
 public:
  /// Draws a fresh secret from `rng`; `start` is the zero of the expiry clock.
  CookieJar(crypto::RandomSource& rng, util::TimePoint start);

  /// The cookie for a HELLO carrying `nonce` from `from` at `now`.
  wire::Cookie make(const util::Address& from, const wire::Nonce& nonce, util::TimePoint now) const;
  /// True if `cookie` was made by this jar for `from` and `nonce` and has not expired.
  bool check(const util::Address& from, const wire::Nonce& nonce, const wire::Cookie& cookie,
             util::TimePoint now) const;

 private:
  std::uint32_t seconds(util::TimePoint now) const;
  std::array<std::uint8_t, kCookieMacSize> mac(const util::Address& from, std::uint32_t expiry,
                                               const wire::Nonce& nonce) const;

  std::array<std::uint8_t, kCookieSecretSize> secret_{};
  util::TimePoint start_;
};

/// Compares two equally long byte strings in time independent of where they differ,
/// so that a secret (MAC, token) cannot be learnt byte by byte from response timing.
bool constant_time_equal(util::ByteView a, util::ByteView b);

}  // namespace punch::rendezvous
