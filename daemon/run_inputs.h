// The per-rank side of a run: which tensors a fused region reads (and the .npy shapes they
// must have), and the worker job (worker/protocol.h RegionJob) for one rank.
// Per-rank input shapes (C order; FP8 as '<u1', float32 as '<f4'):
//   all_gather_gemm:     <collective input> [M/W, K]; scale_a tensor [] or [1], row [M/W],
//                        block [M/W, ceil(K/128)]
//   gemm_reduce_scatter: <GEMM a> [M, K]; scale_a tensor [] or [1], row [M],
//                        block [M, ceil(K/128)]
//   both, per GEMM:      <b> [N, K] (K-major: the graph's col_major [K, N], same bytes);
//                        scale_b tensor [] or [1], row [N], block [ceil(K/128), ceil(N/128)]
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "fusion/match.h"
#include "graph/graph.h"
#include "util/result.h"

namespace tpjit {

struct RunBody {
  nlohmann::json graph;
  int64_t m = 0;
  std::optional<uint64_t> seed;
  std::string inputs, outputs;  // absolute directories, or empty
  bool check = false;
  int iters = 10;
  int chunks = 0;  // 0: each region's from the plan's execution (a measured record), else 2
  // How fused regions run: "plan" (the plan's execution choice for this M: fused, unfused,
  // or unfused_cublaslt), or one of those three forced (e.g. to test one path).
  std::string execution = "plan";
};

// Every input of `region` for `rank` is <dir>/rank<R>/<tensor>.npy with the shape above;
// kErrBadInput ("bad_input") naming the file and what it should hold otherwise.
Status check_npy_inputs(const fusion::Region& region, const graph::BoundGraph& bound, int64_t m,
                        int world, int rank, const std::string& dir);

// The run_region body for `rank`, with each GEMM's kernel (key, spec) from the plan's kernels.
Result<nlohmann::json> region_job(const fusion::Region& region, const nlohmann::json& kernels,
                                  const graph::BoundGraph& bound, const RunBody& body, int world,
                                  int rank);

}  // namespace tpjit
