#include "rendezvous/cookie_ledger.hpp"

#include <mbedtls/md.h>

#include <cstring>

#include "util/assert.hpp"

namespace punch::rendezvous {

CookieLedger::CookieLedger(std::size_t capacity, util::Duration lifetime)
    : capacity_(capacity), lifetime_(lifetime) {
  PUNCH_ASSERT(capacity > 0);
}

std::size_t CookieLedger::CookieHash::operator()(const wire::Cookie& c) const {
  // The MAC part is HMAC output under our secret: uniform, and not chosen by a sender.
  std::size_t h = 0;
  std::memcpy(&h, c.data() + 4, sizeof h);
  return h;
}

CookieLedger::Digest CookieLedger::digest_of(util::ByteView datagram) {
  unsigned char full[32];
  // SHA-256 over memory cannot fail unless mbedTLS was built without it.
  const int rc = mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), datagram.data(),
                            datagram.size(), full);
  PUNCH_ASSERT(rc == 0);
  Digest d{};
  std::memcpy(d.data(), full, d.size());
  return d;
}

void CookieLedger::forget_expired(util::TimePoint now) {
  while (!order_.empty() && order_.front().first <= now) {
    entries_.erase(order_.front().second);
    order_.pop_front();
  }
}

CookieUse CookieLedger::look_up(const wire::Cookie& cookie, util::ByteView datagram,
                                util::TimePoint now) {
  forget_expired(now);
  auto it = entries_.find(cookie);
  if (it == entries_.end())
    return entries_.size() >= capacity_ ? CookieUse::kLedgerFull : CookieUse::kFresh;
  // A client re-sends its REGISTER unchanged while the cookie stays the same (lost
  // REGISTERED); the same bytes verify the same way, so the first answer stands.
  if (it->second.verified && it->second.digest == digest_of(datagram)) return CookieUse::kRepeat;
  return CookieUse::kSpent;
}

void CookieLedger::record(const wire::Cookie& cookie, util::ByteView datagram, bool verified,
                          util::TimePoint now) {
  PUNCH_ASSERT(entries_.size() < capacity_ && !entries_.contains(cookie));
  entries_.emplace(cookie, Entry{digest_of(datagram), verified});
  order_.emplace_back(now + lifetime_, cookie);
}

}  // namespace punch::rendezvous
