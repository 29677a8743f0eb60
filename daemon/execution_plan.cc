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
