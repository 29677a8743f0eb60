// What every bench times and checks with: rotated input sets (so L2 flatters no one), the
// median of CUDA-event-timed launches, and bf16 outputs compared in double precision.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "runtime/driver.h"
#include "runtime/memory.h"

namespace tpjit::bench {

struct InputSets {
  std::vector<runtime::DeviceBuffer> a, b;  // e4m3 A [m, k] and B [n, k], random
};

// Enough sets that one pass over them is at least 3x the L2 size (2..16 sets).
InputSets make_inputs(const runtime::Driver& d, int64_t m, int64_t n, int64_t k, int l2_bytes,
                      uint64_t seed);

// Median of `iters` launches, each timed by its own pair of events, after `warmup` launches;
// launch(i) must use input set i % sets. Microseconds.
double median_us(const runtime::Driver& d, CUstream stream, int warmup, int iters,
                 const std::function<void(int)>& launch);

std::vector<uint16_t> download_bf16(const runtime::DeviceBuffer& b, size_t count);

// ||ours - ref|| / ||ref|| in double; inf if ours has a NaN or infinity (e.g. unwritten 0xFF).
double rel_error_bf16(const std::vector<uint16_t>& ours, const std::vector<uint16_t>& ref);

}  // namespace tpjit::bench
