#include "rendezvous/cookie_ledger.hpp"

#include <doctest/doctest.h>

#include "rendezvous/constants.hpp"

namespace rv = punch::rendezvous;
namespace wire = punch::wire;
namespace util = punch::util;
using namespace std::chrono_literals;

namespace {

const util::TimePoint kLedgerT0 = util::TimePoint{} + 200h;

wire::Cookie ledger_cookie(std::uint8_t n) {
  wire::Cookie c{};
  c[4] = n;
  c[19] = n;
  return c;
}

const util::Bytes kRegisterA{3, 1, 2, 3};
const util::Bytes kRegisterB{3, 1, 2, 4};

}  // namespace

TEST_CASE("cookie ledger: a cookie is fresh once; the same bytes that verified are a repeat") {
  rv::CookieLedger ledger(16, rv::kCookieLifetime);
  const wire::Cookie c = ledger_cookie(1);
  REQUIRE(ledger.look_up(c, kRegisterA, kLedgerT0) == rv::CookieUse::kFresh);
  ledger.record(c, kRegisterA, true, kLedgerT0);
  CHECK(ledger.look_up(c, kRegisterA, kLedgerT0 + 1s) == rv::CookieUse::kRepeat);
  // Other bytes with the same cookie would need a check of their own: refused.
  CHECK(ledger.look_up(c, kRegisterB, kLedgerT0 + 1s) == rv::CookieUse::kSpent);
  // Another cookie is unaffected.
  CHECK(ledger.look_up(ledger_cookie(2), kRegisterB, kLedgerT0) == rv::CookieUse::kFresh);
}

TEST_CASE("cookie ledger: a cookie whose check failed is spent, even for the same bytes") {
  rv::CookieLedger ledger(16, rv::kCookieLifetime);
  const wire::Cookie c = ledger_cookie(1);
  ledger.record(c, kRegisterA, false, kLedgerT0);
  CHECK(ledger.look_up(c, kRegisterA, kLedgerT0) == rv::CookieUse::kSpent);
  CHECK(ledger.look_up(c, kRegisterB, kLedgerT0) == rv::CookieUse::kSpent);
}

TEST_CASE("cookie ledger: entries are forgotten one cookie lifetime after they were recorded") {
  rv::CookieLedger ledger(16, rv::kCookieLifetime);
  ledger.record(ledger_cookie(1), kRegisterA, false, kLedgerT0);
  ledger.record(ledger_cookie(2), kRegisterA, false, kLedgerT0 + 10s);
  CHECK(ledger.look_up(ledger_cookie(1), kRegisterA, kLedgerT0 + rv::kCookieLifetime - 1ms) ==
        rv::CookieUse::kSpent);
  // By then the cookie itself has expired, so forgetting it gives nothing back.
  CHECK(ledger.look_up(ledger_cookie(1), kRegisterA, kLedgerT0 + rv::kCookieLifetime) ==
        rv::CookieUse::kFresh);
  CHECK(ledger.size() == 1);
  CHECK(ledger.look_up(ledger_cookie(2), kRegisterA, kLedgerT0 + rv::kCookieLifetime) ==
        rv::CookieUse::kSpent);
}

TEST_CASE("cookie ledger: a full ledger refuses new cookies until entries expire") {
  rv::CookieLedger ledger(2, rv::kCookieLifetime);
  ledger.record(ledger_cookie(1), kRegisterA, true, kLedgerT0);
  ledger.record(ledger_cookie(2), kRegisterA, true, kLedgerT0 + 1s);
  CHECK(ledger.look_up(ledger_cookie(3), kRegisterA, kLedgerT0 + 2s) == rv::CookieUse::kLedgerFull);
  // What it remembers is still answered.
  CHECK(ledger.look_up(ledger_cookie(1), kRegisterA, kLedgerT0 + 2s) == rv::CookieUse::kRepeat);
  CHECK(ledger.look_up(ledger_cookie(3), kRegisterA, kLedgerT0 + rv::kCookieLifetime) ==
        rv::CookieUse::kFresh);
  CHECK(ledger.size() == 1);
}
