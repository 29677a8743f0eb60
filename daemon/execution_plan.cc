#include "daemon/execution_plan.h"

#include "cache/tuning_store.h"
#include "codegen/overlap_cost.h"

namespace tpjit {

cache::OverlapKey overlap_key(const fusion::Region& region, int world_size, int64_t m) {
  cache::OverlapKey key;
  key.kind = fusion::region_kind_name(region.kind);
  key.world_size = world_size;
  for (const fusion::GemmInfo& g : region.gemms) key.n += g.n;
  if (!region.gemms.empty()) {
    key.k = region.gemms.front().k;
    key.scale = fusion::scale_mode_name(region.gemms.front().scale);
  }
  key.m_bucket = cache::tuning_m_bucket(m);
  return key;
}

bool vendor_gemm_fits(const fusion::Region& region) {
  for (const fusion::GemmInfo& g : region.gemms)
    if (g.out_dtype != graph::DType::kBF16 || !g.bias.empty() || g.scale != fusion::ScaleMode::kTensor)
      return false;
  return !region.gemms.empty();
}

nlohmann::json region_execution(const fusion::Region& region, int world_size, int64_t m, bool one_host,
                                const cache::OverlapStore& store) {
  const cache::OverlapKey key = overlap_key(region, world_size, m);
  if (std::optional<cache::OverlapRecord> r = store.lookup(key)) {
    nlohmann::json e = {{"m", m}, {"choice", r->fused ? "fused" : r->cublaslt ? "unfused_cublaslt" : "unfused"},
                        {"chunks", r->chunks}, {"sm_reserve", r->sm_reserve},
                        {"source", "measured"}, {"fused_us", r->fused_us},
                        {"unfused_us", r->unfused_us}, {"limit_us", r->limit_us},
                        {"card", r->card}, {"measured_at", r->measured_at},
                        {"m_bucket", key.m_bucket}};
    if (!r->transport.empty()) e["transport"] = r->transport;
    // cuBLASLt's GEMM takes bf16 outputs without a bias (runtime/overlap.h, "Vendor GEMM");
    // the record's key does not say either, so another region of its shape runs our GEMM.
    if (r->cublaslt && !vendor_gemm_fits(region)) {
      e["choice"] = "unfused";
      e["note"] = "measured best with cuBLASLt's GEMM, which this region cannot use (it needs "
                  "bf16 outputs and no bias): unfused with ours";
    }
    return e;
  }
  codegen::OverlapShape shape;
  shape.all_gather = region.kind == fusion::RegionKind::kAllGatherGemm;
  shape.world_size = world_size;
  shape.m = m;
  shape.n = key.n;
  shape.k = key.k;
  shape.copy_engine = one_host;
  if (!region.gemms.empty() && region.gemms.front().out_dtype == graph::DType::kF32)
    shape.out_bytes = 4;
  const codegen::OverlapEstimate e = codegen::estimate_overlap(shape);
  return {{"m", m}, {"choice", e.fused ? "fused" : "unfused"}, {"chunks", e.chunks},
          {"sm_reserve", e.sm_reserve}, {"source", "cost_model"}, {"fused_us", e.fused_us},
          {"unfused_us", e.unfused_us}, {"model", std::string(e.model)}};
}

}  // namespace tpjit
