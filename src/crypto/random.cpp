#include "crypto/random.hpp"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#include <algorithm>
#include <cstring>

#include "util/assert.hpp"

namespace punch::crypto {

std::uint64_t RandomSource::u64() {
  std::uint8_t b[8];
  fill(b);
  std::uint64_t v = 0;
  for (std::uint8_t x : b) v = (v << 8) | x;
  return v;
}

int rng_callback(void* ctx, unsigned char* out, std::size_t len) {
  static_cast<RandomSource*>(ctx)->fill({out, len});
  return 0;
}

struct SystemRandom::State {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
};

SystemRandom::SystemRandom() : state_(std::make_unique<State>()) {
  mbedtls_entropy_init(&state_->entropy);
  mbedtls_ctr_drbg_init(&state_->drbg);
  static constexpr char kPersonalisation[] = "punch-system-random";
  const int rc = mbedtls_ctr_drbg_seed(&state_->drbg, mbedtls_entropy_func, &state_->entropy,
                                       reinterpret_cast<const unsigned char*>(kPersonalisation),
                                       sizeof kPersonalisation - 1);
  // Without OS entropy no key or nonce we make is safe; there is nothing to recover to.
  PUNCH_ASSERT(rc == 0);
}

SystemRandom::~SystemRandom() {
  mbedtls_ctr_drbg_free(&state_->drbg);
  mbedtls_entropy_free(&state_->entropy);
}

void SystemRandom::fill(std::span<std::uint8_t> out) {
  // CTR-DRBG serves at most MBEDTLS_CTR_DRBG_MAX_REQUEST bytes per call.
  while (!out.empty()) {
    const std::size_t n = std::min<std::size_t>(out.size(), MBEDTLS_CTR_DRBG_MAX_REQUEST);
    const int rc = mbedtls_ctr_drbg_random(&state_->drbg, out.data(), n);
    PUNCH_ASSERT(rc == 0);
    out = out.subspan(n);
  }
}

namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

SeededRandom::SeededRandom(std::uint64_t seed) {
  // splitmix64 expands any seed (even 0) into a non-zero xoshiro state.
  for (auto& s : s_) s = splitmix64(seed);
}

void SeededRandom::fill(std::span<std::uint8_t> out) {
  std::size_t i = 0;
  while (i < out.size()) {
    // xoshiro256**
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    for (int b = 0; b < 8 && i < out.size(); ++b, ++i)
      out[i] = static_cast<std::uint8_t>(result >> (8 * b));
  }
}

}  // namespace punch::crypto
