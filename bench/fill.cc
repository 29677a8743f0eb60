#include "bench/fill.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "runtime/numerics.h"

namespace tpjit::bench {
namespace {

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::array<uint8_t, 256> make_table(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::array<uint8_t, 256> t{};
  for (uint8_t& v : t) {
    do v = runtime::float_to_e4m3(nd(rng));
    while ((v & 0x7F) == 0);
  }
  return t;
}

void fill_chunk(uint8_t* p, size_t n, uint64_t state, const std::array<uint8_t, 256>& t) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t r = splitmix64(state);
    for (int b = 0; b < 8; ++b) p[i + b] = t[(r >> (8 * b)) & 0xFF];
  }
  const uint64_t r = splitmix64(state);
  for (int b = 0; i < n; ++i, ++b) p[i] = t[(r >> (8 * b)) & 0xFF];
}

}  // namespace

void fill_random_e4m3(std::span<uint8_t> out, uint64_t seed) {
  const std::array<uint8_t, 256> table = make_table(seed);
  constexpr size_t kChunk = size_t{32} << 20;
  const size_t chunks = (out.size() + kChunk - 1) / kChunk;
  const unsigned workers = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(),
                                                           static_cast<unsigned>(chunks)));
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      for (size_t c = w; c < chunks; c += workers) {
        const size_t begin = c * kChunk, n = std::min(kChunk, out.size() - begin);
        fill_chunk(out.data() + begin, n, seed * 0x100000001B3ull + c, table);
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace tpjit::bench
