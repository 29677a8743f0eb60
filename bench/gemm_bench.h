// `tpjit-bench gemm`: the generated FP8 GEMM (every codegen variant for the device's arch,
// through codegen + NVRTC + runtime) against cuBLASLt FP8 on the same inputs, one process, one
// card. Inputs rotate over several buffer sets so L2 does not flatter either side; times are
// the median of CUDA-event-timed launches after warm-up; each of our outputs is checked against
// cuBLASLt's before its time is reported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tpjit::bench {

struct GemmShape {
  int64_t m = 0, n = 0, k = 0;
  std::string layer;  // e.g. "qkv"; "" for shapes given on the command line
};

struct GemmBenchOptions {
  std::vector<GemmShape> shapes;      // empty: the default grid (default_gemm_shapes)
  std::vector<std::string> variants;  // empty: every variant for the arch
  int iters = 50;                     // timed launches per implementation
  int warmup = 5;
  std::string json_path;              // "" : no JSON
  double max_rel_error = 1e-2;        // ours vs cuBLASLt (both bf16 out) to count as correct
};

// M in {16,128,512,2048,4096,16384} x Llama-3-70B TP2 (K x N: 8192x5120 qkv, 4096x8192 o,
// 8192x28672 gate_up, 14336x8192 down), then 8192^3.
std::vector<GemmShape> default_gemm_shapes();

// Runs the benchmark, prints the table, writes JSON if asked. Returns the process exit code:
// 0, or 1 if any of our kernels disagreed with cuBLASLt or a step failed.
int run_gemm_bench(const GemmBenchOptions& opts);

}  // namespace tpjit::bench
