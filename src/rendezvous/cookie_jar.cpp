#include "rendezvous/cookie_jar.hpp"

#include <mbedtls/md.h>

#include <cstring>

#include "util/assert.hpp"

namespace punch::rendezvous {

CookieJar::CookieJar(crypto::RandomSource& rng, util::TimePoint start) : start_(start) {
  rng.fill(secret_);
}

std::uint32_t CookieJar::seconds(util::TimePoint now) const {
  if (now <= start_) return 0;
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(now - start_).count();
  // 2^32 s is 136 years of uptime; saturate rather than wrap all the same.
  return s >= 0xffffffffLL ? 0xffffffffu : static_cast<std::uint32_t>(s);
}

std::array<std::uint8_t, kCookieMacSize> CookieJar::mac(const util::Address& from,
                                                        std::uint32_t expiry,
                                                        const wire::Nonce& nonce) const {
  util::Bytes input;
  util::ByteWriter w(input);
  from.encode(w);
  w.u32(expiry);
  w.bytes(nonce);
  unsigned char full[32];
  const int rc = mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), secret_.data(),
                                 secret_.size(), input.data(), input.size(), full);
  // HMAC-SHA256 over memory cannot fail unless mbedTLS was built without SHA-256.
  PUNCH_ASSERT(rc == 0);
  std::array<std::uint8_t, kCookieMacSize> out{};
  std::memcpy(out.data(), full, out.size());
  return out;
}

wire::Cookie CookieJar::make(const util::Address& from, const wire::Nonce& nonce,
                             util::TimePoint now) const {
  const std::uint64_t expiry64 = std::uint64_t{seconds(now)} + kCookieLifetime.count();
  const auto expiry = static_cast<std::uint32_t>(expiry64 > 0xffffffffu ? 0xffffffffu : expiry64);
  wire::Cookie c{};
  c[0] = static_cast<std::uint8_t>(expiry >> 24);
  c[1] = static_cast<std::uint8_t>(expiry >> 16);
  c[2] = static_cast<std::uint8_t>(expiry >> 8);
  c[3] = static_cast<std::uint8_t>(expiry);
  const auto m = mac(from, expiry, nonce);
  std::memcpy(c.data() + 4, m.data(), m.size());
  return c;
}

bool CookieJar::check(const util::Address& from, const wire::Nonce& nonce,
                      const wire::Cookie& cookie, util::TimePoint now) const {
  const std::uint32_t expiry = std::uint32_t{cookie[0]} << 24 | std::uint32_t{cookie[1]} << 16 |
                               std::uint32_t{cookie[2]} << 8 | std::uint32_t{cookie[3]};
  const std::uint64_t now_s = seconds(now);
  if (now_s >= expiry || expiry > now_s + kCookieLifetime.count()) return false;
  const auto m = mac(from, expiry, nonce);
  return constant_time_equal(m, util::ByteView(cookie).subspan(4));
}

bool constant_time_equal(util::ByteView a, util::ByteView b) {
  if (a.size() != b.size()) return false;
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = static_cast<std::uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace punch::rendezvous
