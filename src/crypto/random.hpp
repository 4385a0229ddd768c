// Randomness for the cores, injected so the simulator can be deterministic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace punch::crypto {

/// A source of random bytes. Production uses SystemRandom; tests use SeededRandom.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  /// Fills `out` with random bytes.
  virtual void fill(std::span<std::uint8_t> out) = 0;
  /// A random 64-bit value.
  std::uint64_t u64();
};

/// mbedTLS-style f_rng callback; `ctx` must be a RandomSource*. Always returns 0.
int rng_callback(void* ctx, unsigned char* out, std::size_t len);

/// CTR-DRBG seeded from the operating system's entropy.
class SystemRandom final : public RandomSource {
 public:
  /// Seeds from the OS; aborts if the OS has no entropy to give (broken machine).
  SystemRandom();
  ~SystemRandom() override;
  SystemRandom(const SystemRandom&) = delete;
  SystemRandom& operator=(const SystemRandom&) = delete;
  void fill(std::span<std::uint8_t> out) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Deterministic generator for tests and the simulator (NOT for keys in production).
class SeededRandom final : public RandomSource {
 public:
  /// Same seed, same sequence.
  explicit SeededRandom(std::uint64_t seed);
  void fill(std::span<std::uint8_t> out) override;

 private:
  std::uint64_t s_[4];
};

}  // namespace punch::crypto
