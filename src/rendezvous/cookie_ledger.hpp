// Single use of CHALLENGE cookies for signature checks (docs/security.md, "Bad
// signatures"): the cookie jar is stateless, so without this a captured or own
// cookie could be replayed for its whole 30 s life, each REGISTER costing an ECDSA
// verification. The ledger remembers each cookie whose REGISTER was checked, with
// the outcome, until the cookie has expired.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>

#include "util/bytes.hpp"
#include "util/time.hpp"
#include "wire/rendezvous_message.hpp"

namespace punch::rendezvous {

/// What a REGISTER's cookie allows, per CookieLedger::look_up().
enum class CookieUse {
  kFresh,       ///< Never checked: verify the signature, then record().
  kRepeat,      ///< The same REGISTER already verified: answer it again, unchecked.
  kSpent,       ///< Checked for another REGISTER, or this one failed: drop.
  kLedgerFull,  ///< No room to remember it: drop unchecked.
};

/// Cookies already used for a signature check, each kept for one cookie lifetime.
class CookieLedger {
 public:
  /// Remembers at most `capacity` cookies, each for `lifetime` (the cookie's own).
  CookieLedger(std::size_t capacity, util::Duration lifetime);

  /// What the REGISTER datagram `datagram`, carrying the valid `cookie`, may do at `now`.
  CookieUse look_up(const wire::Cookie& cookie, util::ByteView datagram, util::TimePoint now);
  /// Records that `cookie` was used by `datagram` at `now` and whether its signature
  /// held; call only after look_up() said kFresh, at the same `now`.
  void record(const wire::Cookie& cookie, util::ByteView datagram, bool verified,
              util::TimePoint now);
  /// Cookies remembered now.
  std::size_t size() const { return entries_.size(); }

 private:
  using Digest = std::array<std::uint8_t, 16>;
  struct Entry {
    Digest digest{};  ///< Of the whole REGISTER: a retransmission is byte for byte the same.
    bool verified = false;
  };
  struct CookieHash {
    std::size_t operator()(const wire::Cookie& c) const;
  };

  static Digest digest_of(util::ByteView datagram);
  void forget_expired(util::TimePoint now);

  std::size_t capacity_;
  util::Duration lifetime_;
  std::unordered_map<wire::Cookie, Entry, CookieHash> entries_;
  // (forget-at, cookie) in insertion order: every entry lives the same time, so the
  // front is always the next to go.
  std::deque<std::pair<util::TimePoint, wire::Cookie>> order_;
};

}  // namespace punch::rendezvous
