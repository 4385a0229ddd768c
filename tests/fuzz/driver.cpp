// Stand-in for libFuzzer under g++: feeds a bounded number of random and
// truncated/bit-flipped inputs to LLVMFuzzerTestOneInput, so every decoder is
// exercised (under ASan in `make test`) without clang. Seeded, so reproducible.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// Optional: a target may provide valid seed inputs to mutate.
extern "C" std::size_t punch_fuzz_seed(std::size_t index, std::uint8_t* out, std::size_t cap)
    __attribute__((weak));

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 10000;
  std::mt19937_64 rng(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1);
  std::vector<std::vector<std::uint8_t>> seeds;
  if (punch_fuzz_seed) {
    std::vector<std::uint8_t> buf(65536);
    for (std::size_t i = 0;; ++i) {
      const std::size_t n = punch_fuzz_seed(i, buf.data(), buf.size());
      if (n == 0) break;
      seeds.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }
  std::vector<std::uint8_t> in;
  for (long i = 0; i < iterations; ++i) {
    if (!seeds.empty() && i % 2 == 0) {
      in = seeds[rng() % seeds.size()];
      const std::size_t flips = 1 + rng() % 4;
      for (std::size_t f = 0; f < flips && !in.empty(); ++f)
        in[rng() % in.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      if (rng() % 3 == 0 && !in.empty()) in.resize(rng() % in.size());
    } else {
      in.resize(rng() % 1500);
      for (auto& b : in) b = static_cast<std::uint8_t>(rng());
      if (!in.empty() && rng() % 2 == 0) in[0] = static_cast<std::uint8_t>(rng() % 48);
    }
    LLVMFuzzerTestOneInput(in.data(), in.size());
  }
  std::printf("%ld inputs, %zu seeds: no crash\n", iterations, seeds.size());
  return 0;
}
