// `tpjit-bench tune`: autotuning of the generated FP8 GEMM. For each shape and the device's
// default variant, every candidate tile (codegen::candidate_tiles) is compiled through NVRTC
// and the cubin cache, checked against cuBLASLt on random inputs with a poisoned output, and
// timed like `tpjit-bench gemm` (rotated inputs, median of CUDA-event-timed launches). The
// fastest correct one is stored in the cache's TuningStore, where the daemon finds it. A shape
// with a record for this card is reported and skipped unless `force`.
#pragma once

#include <string>
#include <vector>

#include "bench/gemm_bench.h"

namespace tpjit::bench {

struct TuneOptions {
  std::string cache_dir;           // cubins and tuning records; "" : ipc's default cache dir
  std::vector<GemmShape> shapes;   // empty: 4096x5120x8192, 2048x8192x4096, 16384x28672x8192
  std::string scale = "tensor";    // tensor | row | block
  int iters = 20;                  // timed launches per candidate
  int warmup = 3;
  bool force = false;              // re-tune shapes that have a record
  double max_rel_error = 1e-2;     // vs cuBLASLt to count as correct
};

// Returns the exit code: 0, or 1 if a step failed or any candidate disagreed with cuBLASLt
// (the wrong one is never stored).
int run_tune(const TuneOptions& opts);

}  // namespace tpjit::bench
