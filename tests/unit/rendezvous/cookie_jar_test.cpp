#include "rendezvous/cookie_jar.hpp"

#include <doctest/doctest.h>

#include "crypto/random.hpp"
#include "rendezvous/constants.hpp"

namespace rv = punch::rendezvous;
namespace wire = punch::wire;
namespace util = punch::util;
namespace crypto = punch::crypto;
using namespace std::chrono_literals;

namespace {

const util::TimePoint kStart = util::TimePoint{} + 5000h;
const util::Address kFrom = util::Address::v4(192, 0, 2, 7, 40000);
constexpr wire::Nonce kNonce{1, 2, 3, 4, 5, 6, 7, 8};

std::uint32_t expiry_of(const wire::Cookie& c) {
  return std::uint32_t{c[0]} << 24 | std::uint32_t{c[1]} << 16 | std::uint32_t{c[2]} << 8 |
         std::uint32_t{c[3]};
}

struct Jar {
  crypto::SeededRandom rng{42};
  rv::CookieJar jar{rng, kStart};
};

}  // namespace

TEST_CASE("a cookie is accepted for the address and nonce it was made for") {
  Jar j;
  const util::TimePoint t = kStart + 10s;
  const wire::Cookie c = j.jar.make(kFrom, kNonce, t);
  CHECK(j.jar.check(kFrom, kNonce, c, t));
  CHECK(j.jar.check(kFrom, kNonce, c, t + 1s));
}

TEST_CASE("a cookie carries its expiry in whole seconds since the jar started") {
  Jar j;
  CHECK(expiry_of(j.jar.make(kFrom, kNonce, kStart)) == 30);
  CHECK(expiry_of(j.jar.make(kFrom, kNonce, kStart + 10s)) == 40);
  CHECK(expiry_of(j.jar.make(kFrom, kNonce, kStart + 10s + 999ms)) == 40);
  // Times before the start count as the start.
  CHECK(expiry_of(j.jar.make(kFrom, kNonce, kStart - 1h)) == 30);
  CHECK(static_cast<std::uint32_t>(rv::kCookieLifetime.count()) == 30);
}

TEST_CASE("a cookie is valid for just under the lifetime") {
  Jar j;
  SUBCASE("made on a whole second: valid to the last instant before 30 s") {
    const util::TimePoint t = kStart + 10s;
    const wire::Cookie c = j.jar.make(kFrom, kNonce, t);
    CHECK(j.jar.check(kFrom, kNonce, c, t + 29s));
    CHECK(j.jar.check(kFrom, kNonce, c, t + 30s - 1ns));
    CHECK_FALSE(j.jar.check(kFrom, kNonce, c, t + 30s));
    CHECK_FALSE(j.jar.check(kFrom, kNonce, c, t + 1h));
  }
  SUBCASE("made late in a second: the expiry rounds down, never up") {
    const util::TimePoint t = kStart + 10s + 900ms;
    const wire::Cookie c = j.jar.make(kFrom, kNonce, t);
    CHECK(j.jar.check(kFrom, kNonce, c, t + 29s));
    CHECK_FALSE(j.jar.check(kFrom, kNonce, c, t + 29s + 100ms));
  }
}

TEST_CASE("a cookie is bound to the source address") {
  Jar j;
  const util::TimePoint t = kStart + 1s;
  const wire::Cookie c = j.jar.make(kFrom, kNonce, t);
  CHECK_FALSE(j.jar.check(util::Address::v4(192, 0, 2, 7, 40001), kNonce, c, t));
  CHECK_FALSE(j.jar.check(util::Address::v4(192, 0, 2, 8, 40000), kNonce, c, t));
  CHECK_FALSE(j.jar.check(*util::Address::parse("[::ffff:192.0.2.7]:40000"), kNonce, c, t));
}

TEST_CASE("a cookie is bound to the nonce") {
  Jar j;
  const util::TimePoint t = kStart + 1s;
  const wire::Cookie c = j.jar.make(kFrom, kNonce, t);
  wire::Nonce other = kNonce;
  other[7] ^= 1;
  CHECK_FALSE(j.jar.check(kFrom, other, c, t));
  CHECK(j.jar.make(kFrom, other, t) != c);
}

TEST_CASE("a cookie with any byte changed is rejected") {
  Jar j;
  const util::TimePoint t = kStart + 1s;
  const wire::Cookie c = j.jar.make(kFrom, kNonce, t);
  for (std::size_t i = 0; i < c.size(); ++i) {
    CAPTURE(i);
    wire::Cookie bad = c;
    bad[i] ^= 0x01;
    CHECK_FALSE(j.jar.check(kFrom, kNonce, bad, t));
  }
}

TEST_CASE("a forged later expiry does not extend a cookie") {
  Jar j;
  const util::TimePoint t = kStart + 1s;
  wire::Cookie c = j.jar.make(kFrom, kNonce, t);
  c[3] = static_cast<std::uint8_t>(c[3] + 10);  // 31 -> 41, MAC unchanged.
  CHECK_FALSE(j.jar.check(kFrom, kNonce, c, t + 35s));
  CHECK_FALSE(j.jar.check(kFrom, kNonce, c, t));
}

TEST_CASE("a cookie expiring further ahead than one lifetime is rejected") {
  Jar j;
  // Made at 100 s, so it expires at 130 s: checked at 50 s it claims 80 s of life.
  const wire::Cookie c = j.jar.make(kFrom, kNonce, kStart + 100s);
  CHECK_FALSE(j.jar.check(kFrom, kNonce, c, kStart + 50s));
  CHECK_FALSE(j.jar.check(kFrom, kNonce, c, kStart + 99s));
  CHECK(j.jar.check(kFrom, kNonce, c, kStart + 100s));
}

TEST_CASE("cookies depend on the jar's secret") {
  Jar a;
  crypto::SeededRandom other_rng(43);
  rv::CookieJar other(other_rng, kStart);
  crypto::SeededRandom same_rng(42);
  rv::CookieJar same(same_rng, kStart);
  const util::TimePoint t = kStart + 1s;
  const wire::Cookie c = a.jar.make(kFrom, kNonce, t);
  CHECK_FALSE(other.check(kFrom, kNonce, c, t));  // A restarted server forgets cookies.
  CHECK(same.check(kFrom, kNonce, c, t));         // The secret is all that matters.
}

TEST_CASE("constant_time_equal compares content and length") {
  const std::uint8_t a[] = {1, 2, 3, 4};
  const std::uint8_t b[] = {1, 2, 3, 4};
  const std::uint8_t c[] = {1, 2, 3, 5};
  const std::uint8_t d[] = {0x81, 2, 3, 4};
  CHECK(rv::constant_time_equal(a, b));
  CHECK_FALSE(rv::constant_time_equal(a, c));
  CHECK_FALSE(rv::constant_time_equal(a, d));
  CHECK_FALSE(rv::constant_time_equal(a, util::ByteView(b).first(3)));
  CHECK(rv::constant_time_equal({}, {}));
}
