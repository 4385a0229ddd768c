#include "crypto/random.hpp"

#include <doctest/doctest.h>

#include <array>
#include <set>
#include <vector>

using punch::crypto::RandomSource;
using punch::crypto::SeededRandom;
using punch::crypto::SystemRandom;

TEST_CASE("SeededRandom: same seed gives the same sequence, another seed another one") {
  SeededRandom a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const auto va = a.u64();
    CHECK(va == b.u64());
    CHECK(va != c.u64());
  }
}

TEST_CASE("SeededRandom: byte-exact first output for seed 0 (xoshiro256** over splitmix64)") {
  // Reference values computed independently from the published algorithms; the
  // simulator's reproducibility across builds depends on this staying fixed.
  SeededRandom r(0);
  std::array<std::uint8_t, 8> b{};
  r.fill(b);
  // Bytes are the generator's output word, least significant byte first.
  std::uint64_t word = 0;
  for (int i = 7; i >= 0; --i) word = (word << 8) | b[static_cast<std::size_t>(i)];
  CHECK(word == 0x99ec5f36cb75f2b4ull);
}

TEST_CASE("SeededRandom: fill handles lengths that are not multiples of 8") {
  SeededRandom a(7), b(7);
  std::array<std::uint8_t, 13> x{};
  std::array<std::uint8_t, 16> y{};
  a.fill(x);
  b.fill(y);
  for (std::size_t i = 0; i < 8; ++i) CHECK(x[i] == y[i]);
}

TEST_CASE("SystemRandom: fills large buffers and does not repeat itself") {
  SystemRandom r;
  std::vector<std::uint8_t> big(5000, 0);
  r.fill(big);
  // 5000 zero bytes from a working DRBG is impossible in practice.
  std::size_t zeros = 0;
  for (auto v : big) zeros += v == 0;
  CHECK(zeros < 100);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 64; ++i) seen.insert(r.u64());
  CHECK(seen.size() == 64);
}

TEST_CASE("rng_callback fills through the RandomSource and returns 0") {
  SeededRandom a(5), b(5);
  std::array<unsigned char, 10> x{}, y{};
  CHECK(punch::crypto::rng_callback(static_cast<RandomSource*>(&a), x.data(), x.size()) == 0);
  b.fill(y);
  CHECK(x == y);
}
