#include "runtime/overlap_plan.h"

#include <string>

namespace tpjit::runtime {

Result<ChunkPlan> plan_chunks(int64_t m, int world_size, int chunks) {
  if (m < 0 || world_size < 1 || chunks < 1) {
    return make_error(errc::kBadRequest,
                      "overlap: need M >= 0, world size >= 1 and chunks >= 1 (got M=" +
                          std::to_string(m) + ", world size " + std::to_string(world_size) +
                          ", chunks " + std::to_string(chunks) + ")",
                      "runtime.overlap");
  }
  if (m % world_size != 0) {
    return make_error(errc::kNotDivisible,
                      "overlap: M=" + std::to_string(m) + " rows do not split evenly over " +
                          std::to_string(world_size) +
                          " ranks; all-gather and reduce-scatter need M divisible by the world "
                          "size (pad M to a multiple of " + std::to_string(world_size) + ")",
                      "runtime.overlap");
  }
  ChunkPlan p;
  p.m = m;
  p.world_size = world_size;
  p.shard_rows = m / world_size;
  if (p.shard_rows == 0) return p;
  p.chunk_rows = (p.shard_rows + chunks - 1) / chunks;
  p.chunks = static_cast<int>((p.shard_rows + p.chunk_rows - 1) / p.chunk_rows);
  return p;
}

int64_t scale_a_floats_per_row(fusion::ScaleMode s, int64_t k) {
  switch (s) {
    case fusion::ScaleMode::kRow: return 1;
    case fusion::ScaleMode::kBlock: return (k + 127) / 128;
    default: return 0;
  }
}

}  // namespace tpjit::runtime
