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

OneLaunchOrder one_launch_order(int64_t m, int bm, int cluster_m, int64_t phase_rows,
                                int64_t chunk_rows, int64_t first_row, bool round_up) {
  OneLaunchOrder o;
  const int64_t blocks = (m + bm - 1) / bm;
  int64_t b = round_up ? (first_row + bm - 1) / bm : first_row / bm;
  b = round_up ? (b + cluster_m - 1) / cluster_m * cluster_m : b / cluster_m * cluster_m;
  o.first_m_block = b >= blocks ? 0 : static_cast<int>(b);
  const int64_t unit = int64_t{bm} * cluster_m;
  if (phase_rows > 0 && phase_rows % unit == 0) {
    // Sub-chunks in turn too, when they are whole cluster rows: the copy engines then move
    // (all-gather: bring in; reduce-scatter: send) each one while the next is computed.
    const int64_t chunk_units = chunk_rows > 0 && chunk_rows % unit == 0 ? chunk_rows / unit : 0;
    o.group_mc = 16 / cluster_m;
    while (o.group_mc > 1 && ((phase_rows / unit) % o.group_mc != 0 ||
                              (chunk_units > 0 && chunk_units % o.group_mc != 0)))
      --o.group_mc;
  }
  return o;
}

int64_t slabs_touching(int64_t first_row, int64_t rows) {
  return (first_row + rows - 1) / 64 - first_row / 64 + 1;
}

int64_t scale_a_floats_per_row(fusion::ScaleMode s, int64_t k) {
  switch (s) {
    case fusion::ScaleMode::kRow: return 1;
    case fusion::ScaleMode::kBlock: return (k + 127) / 128;
    default: return 0;
  }
}

}  // namespace tpjit::runtime
