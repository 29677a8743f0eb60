// The planner's cost model for a fused collective+GEMM region, used when no measured record
// exists (cache/overlap_store.h): predicted times for unfused (collective, then GEMM, or the
// reverse) and for the fused executor (runtime/overlap.h), and the choice. Two transports:
// the copy engines (every rank on one host, the runtime's default there) and NCCL (ranks that
// may be on other hosts), each with its own constants. They are conservative for 2x H100 and
// 2x H200 on NVLink (NV18), so the model fuses only where the predicted saving is large;
// docs/planner.md gives the formulas and the measurements behind the constants.
#pragma once

#include <cstdint>
#include <string_view>

namespace tpjit::codegen {

inline constexpr std::string_view kOverlapCostModel = "h100-nvlink/1";      // NCCL
inline constexpr std::string_view kCopyEngineCostModel = "copy-engine/2";

struct OverlapShape {
  bool all_gather = true;  // all_gather_gemm; else gemm_reduce_scatter
  int world_size = 2;
  int64_t m = 0;           // total tokens (rows after the gather / of the partial product)
  int64_t n = 0, k = 0;    // per rank: the region's GEMM columns (summed over GEMMs), K
  int out_bytes = 2;       // reduce-scatter element size (bf16)
  bool copy_engine = false;  // every rank on one host: the copy-engine transport
};

struct OverlapEstimate {
  double gemm_us = 0, collective_us = 0;
  double unfused_us = 0;  // gemm + collective, serial
  double fused_us = 0;    // the best chunk count's prediction
  int chunks = 1;
  int sm_reserve = 0;
  bool fused = false;     // the choice: fused_us saves enough over unfused_us
  std::string_view model = kOverlapCostModel;  // which one predicted it
};

// Predicted times and the choice for one region shape; fused only when it saves at least
// 10% over unfused (a wrong "fused" costs more than a missed one: the target is never slower).
OverlapEstimate estimate_overlap(const OverlapShape& shape);

}  // namespace tpjit::codegen
