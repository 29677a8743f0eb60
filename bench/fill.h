// Fast random e4m3 data for large benchmark buffers: each byte is drawn from a 256-entry table
// of N(0,1) samples quantized to e4m3 (never zero), indexed by a splitmix64 stream. Hundreds of
// megabytes a second per thread, so the bench spends its time on the GPU, not on inputs.
#pragma once

#include <cstdint>
#include <span>

namespace tpjit::bench {

// Fills `out` from `seed`; uses several threads for large buffers.
void fill_random_e4m3(std::span<uint8_t> out, uint64_t seed);

}  // namespace tpjit::bench
