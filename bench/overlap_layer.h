// One layer at one M in `tpjit-bench overlap`: its buffers on each rank and every timing the
// table reports (GEMM alone, collective alone, unfused with cuBLASLt and with our GEMM, fused
// for each transport, SM reserve and chunk count), each fused output checked against the
// unfused one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/overlap_bench.h"
#include "bench/overlap_ranks.h"
#include "codegen/spec.h"

namespace tpjit::bench {

// The Llama-3-70B TP2 layers.
struct Layer {
  const char* name;
  int64_t k, n;
  bool all_gather;  // else GEMM -> reduce-scatter
};
inline constexpr Layer kLayers[] = {{"qkv", 8192, 5120, true},
                                    {"o", 4096, 8192, false},
                                    {"gate_up", 8192, 28672, true},
                                    {"down", 14336, 8192, false}};

// Our GEMM for the layer with its tile picked for m_hint rows: the arch's variant for them
// (codegen::fast_variant),
// per-tensor scales (what cuBLASLt's scale pointers mean), bf16 out.
codegen::GemmSpec spec_for(const Layer& l, int64_t m_hint, codegen::Arch arch);

// A kernel and its cubin.
struct BenchKernel {
  codegen::GemmSpec spec;
  const std::vector<uint8_t>* cubin = nullptr;
};

struct LayerTiming {
  int input_sets = 0;  // input buffer sets the timed runs rotate over
  double gemm_us = 0, coll_us = 0, unf_lt_us = 0, unf_ours_us = 0;
  // The executor's unfused run with cuBLASLt's GEMM ("unfused_cublaslt", what `tpjit run`
  // runs); unf_lt_us is the same two calls made directly, without the executor. 1e30 if its
  // output was wrong.
  double unf_vendor_us = 1e30;
  double best_us = 1e30;  // fastest correct fused run; 1e30 if none was correct
  int best_s = 0, best_r = 0;  // its chunks and SM reserve
  std::string best_t;          // and transport: "nccl", "ce" or "ce_chunked"
  double worst_err = 0;        // fused vs unfused (ours), over every configuration
  bool all_correct = true;     // every fused (and the vendor) output within opts.max_rel_error
  nlohmann::json by_config = nlohmann::json::object();  // "r<R>_s<S>", "ce_s<S>" -> us, error
  std::string per_config;  // "R0[us/us/us] ..." for the table
};

// Times layer l at M = m on every rank; comm_of as open_ranks gives it. `whole` (tile for m
// rows) runs the GEMM alone, the unfused executor and the copy engines' one hooked launch;
// `shard` (tile for m / world rows: each launch covers one rank's share) the fused runs that
// launch per sub-chunk (NCCL, ce_chunked). Frees the shape's buffers before it returns.
LayerTiming measure_layer(std::vector<Rank>& ranks, const std::vector<int>& comm_of,
                          const Layer& l, int64_t m, const BenchKernel& whole,
                          const BenchKernel& shard, const OverlapBenchOptions& opts,
                          int l2_bytes);

}  // namespace tpjit::bench
