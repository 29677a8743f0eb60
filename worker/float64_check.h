// The independent half of `tpjit run --check`: one rank's fused output compared, on a sample
// of its rows (every column), with the region's math done in float64 on the host from the
// exact values of the e4m3 inputs. The unfused reference runs the same generated GEMM, so it
// only shows fused == unfused; this shows both equal the math.
//   all_gather_gemm:     out[q*M/W + j, n] = sum_k A_q[j,k] * B[n,k] * scales   (q: source rank)
//   gemm_reduce_scatter: out[j, n] = sum_q sum_k A_q[r*M/W + j, k] * B_q[n,k] * scales_q
// Scales follow the kernel ABI (templates/gemm_args.cuh): tensor [1]; row sa[row], sb[n];
// block sa[row, k/128] * sb[k/128, n/128], applied per 128-wide K block. For an all-gather
// with a tensor scale_a, the local value applies to every gathered row (the executor's
// contract: every rank holds the same value). No CUDA here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "codegen/spec.h"
#include "util/result.h"
#include "worker/host_data.h"

namespace tpjit::worker {

struct Float64Problem {
  bool all_gather = true;
  int64_t m = 0, n = 0, k = 0;  // m: all ranks' rows
  int rank = 0, world = 1;
  fusion::ScaleMode scale = fusion::ScaleMode::kTensor;
  codegen::OutDtype out = codegen::OutDtype::kBF16;
  std::string a, scale_a, b, scale_b;  // the graph's tensor names
};

// Any rank's input by tensor name, kind and element count (the seed or the .npy files).
using RankLoader =
    std::function<Result<std::vector<uint8_t>>(const std::string& name, HostKind kind,
                                               uint64_t count, int rank)>;

struct Float64Result {
  double rel_error = 0;  // ||out - ref|| / ||ref|| over the sampled rows; +inf on NaN/inf
  int64_t rows = 0;      // rows sampled
};

// `out` is this rank's output as downloaded (AG: [M, N]; RS: [M/W, N]). `rows` rows are drawn
// without replacement from `sample_seed`; errors come from the loader (a missing rank file).
Result<Float64Result> float64_check(const Float64Problem& p, const RankLoader& load,
                                    const std::vector<uint8_t>& out, int rows,
                                    uint64_t sample_seed);

// The largest rel_error accepted for an output dtype: fp32 accumulation over K plus the
// output's rounding (bf16 1e-2, fp16 2e-3, fp32 1e-4).
double float64_bound(codegen::OutDtype out);

}  // namespace tpjit::worker
