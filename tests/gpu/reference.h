// The float64 CPU reference for the generated GEMMs, from the exact values of the e4m3 inputs,
// and the random problems the GPU tests draw. No CUDA here.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "runtime/numerics.h"

namespace tpjit::gpu_test {

enum class RefScale { kTensor, kRow, kBlock };
enum class RefOut { kBF16, kF16, kF32 };

int out_bytes(RefOut o);
double decode_out(RefOut o, const uint8_t* p);   // one element of an output buffer
void encode_out(RefOut o, double v, uint8_t* p);

struct HostProblem {
  int m = 0, n = 0, k = 0;
  RefScale scale = RefScale::kTensor;
  RefOut out = RefOut::kBF16;
  bool bias = false, accumulate = false;
  int64_t lda = 0, ldb = 0;  // in elements (bytes for e4m3)
  std::vector<uint8_t> a, b;             // [m, lda], [n, ldb] e4m3
  std::vector<float> scale_a, scale_b;   // per RefScale, as in GemmArgs
  std::vector<uint8_t> bias_v;           // [n] out dtype
  std::vector<uint8_t> c;                // [m, n] out dtype (ldc = n)
};

// Random e4m3 inputs drawn from N(0,1) and quantized, never zero (a zero would hide unwritten
// or misindexed data); positive random scales; lda/ldb padded to a multiple of 16.
HostProblem make_problem(int m, int n, int k, RefScale s, RefOut o, bool bias, bool accumulate,
                         std::mt19937_64& rng);

// D[i,j] in float64 (the math of the Kernel ABI, without output rounding).
std::vector<double> reference(const HostProblem& p);

// ||out - ref|| / ||ref|| over all elements; +inf if any output is NaN or infinite.
double rel_error(const std::vector<double>& out, const std::vector<double>& ref);

}  // namespace tpjit::gpu_test
