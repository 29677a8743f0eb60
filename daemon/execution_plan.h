// The plan's "execution" for a fused region (docs/planner.md): per token count, whether the
// runtime runs it fused (with which chunk count and SM reserve) or unfused, from a measured
// record (cache/overlap_store.h, written by `tpjit-bench overlap --cache-dir`) when one exists
// for the region's shape, else from the cost model (codegen/overlap_cost.h).
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "cache/overlap_store.h"
#include "fusion/match.h"

namespace tpjit {

// The store key of a fused region at m total tokens: kind, world size, the GEMMs' summed N,
// their K and scale mode, tuning_m_bucket(m).
cache::OverlapKey overlap_key(const fusion::Region& region, int world_size, int64_t m);

// Whether every GEMM of the region can run as cuBLASLt's ("unfused_cublaslt"): per-tensor
// scales, bf16 output, no bias.
bool vendor_gemm_fits(const fusion::Region& region);

// {"m", "choice": "fused"|"unfused"|"unfused_cublaslt" (measured only), "chunks",
//  "sm_reserve", "source": "measured"|"cost_model", "fused_us", "unfused_us", then
//  "limit_us", "card", "measured_at" (measured) or "model" (cost_model)}, and "note" where a
//  measured "unfused_cublaslt" falls back to "unfused" (vendor_gemm_fits is false). Any
//  card's record is taken (the compile service opens no GPU).
nlohmann::json region_execution(const fusion::Region& region, int world_size, int64_t m, bool one_host,
                                const cache::OverlapStore& store);

}  // namespace tpjit
