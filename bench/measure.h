// What every bench times and checks with: rotated input sets (so L2 flatters no one), the
// median of CUDA-event-timed launches, and bf16 outputs compared in double precision.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "runtime/context.h"
#include "runtime/driver.h"
#include "runtime/gemm_runner.h"
#include "runtime/memory.h"

namespace tpjit::bench {

// GPU 0 for a single-GPU bench: the driver, what the device is, its primary context (current
// on this thread while it lives).
struct BenchDevice {
  const runtime::Driver* d;
  runtime::DeviceInfo info;
  runtime::PrimaryContext ctx;
};
// Opens GPU 0; on failure prints "tpjit-bench: <why>" to stderr and returns nothing.
std::optional<BenchDevice> open_bench_device();

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

// The bench's dense problem for one of our kernels: A [m, k] and B [n, k] from `in`, per-tensor
// scales in device memory, bf16 D [m, n] (ld = n).
struct DenseGemm {
  int64_t m, n, k;
  const InputSets* in;
  const runtime::DeviceBuffer* scale_a;
  const runtime::DeviceBuffer* scale_b;
  runtime::DeviceBuffer* d;
};

struct Measured {
  double rel_error;  // vs `ref` on input set 0, output poisoned first
  bool correct;      // rel_error <= the bound; only then was it timed
  double us;         // median; 0 when not correct
};

// Checks `kernel` against `ref` (the cuBLASLt output on input set 0) and, if it is within
// `max_rel_error`, times it with median_us over the rotating input sets. A fast wrong kernel
// is never timed.
Measured check_then_time(const runtime::Driver& d, const runtime::GemmKernel& kernel,
                         const DenseGemm& p, const std::vector<uint16_t>& ref,
                         double max_rel_error, CUstream stream, int warmup, int iters);

}  // namespace tpjit::bench
