// How a collective+GEMM region is cut into chunks: pure arithmetic, no CUDA, so the planner
// and the CPU tests use exactly what the executors (runtime/overlap.h) run.
#pragma once

#include <cstdint>

#include "fusion/match.h"
#include "util/result.h"

namespace tpjit::runtime {

// The most sub-chunks the copy-engine transport takes: its windows hold this many flags (and
// the one launch this many slab counters) per rank (overlap_ce.cc).
inline constexpr int kMaxCeChunks = 64;

// M rows split over `world_size` ranks (shard_rows each), each shard cut into `chunks`
// sub-chunks of chunk_rows rows; the last one is smaller when chunk_rows does not divide
// shard_rows. Sub-chunk j covers shard rows [begin(j), begin(j) + rows(j)).
struct ChunkPlan {
  int64_t m = 0;
  int world_size = 1;
  int64_t shard_rows = 0;  // M / world_size
  int chunks = 0;          // non-empty sub-chunks: <= the chunks asked for; 0 when M == 0
  int64_t chunk_rows = 0;  // ceil(shard_rows / chunks asked)

  int64_t begin(int j) const { return j * chunk_rows; }
  int64_t rows(int j) const {
    const int64_t left = shard_rows - begin(j);
    return left < chunk_rows ? left : chunk_rows;
  }
};

// kNotDivisible when world_size does not divide m; kBadRequest for m < 0, world_size < 1 or
// chunks < 1.
Result<ChunkPlan> plan_chunks(int64_t m, int world_size, int chunks);

// The tile order of a one-launch region (overlap.h, "One launch"; GemmArgs::first_m_block and
// hook_group_mc) for a kernel of bm x ... tiles in clusters of cluster_m along M: start at the
// M tile of `first_row` (rounded down, or up with round_up, to whole clusters; 0 past the
// end), in groups of cluster rows that divide a phase of phase_rows rows, so that the tiles go
// phase by phase, and, when sub-chunks of chunk_rows are whole cluster rows, that divide a
// sub-chunk too, so that within a phase the sub-chunks go in turn (the largest such group up
// to 16 / cluster_m; 1 when a phase is not whole cluster rows).
struct OneLaunchOrder {
  int first_m_block = 0;
  int group_mc = 1;
};
OneLaunchOrder one_launch_order(int64_t m, int bm, int cluster_m, int64_t phase_rows,
                                int64_t chunk_rows, int64_t first_row, bool round_up);

// The 64-row slabs (what the one-launch kernel counts as stored) that rows
// [first_row, first_row + rows) touch; rows >= 1.
int64_t slabs_touching(int64_t first_row, int64_t rows);

// Floats of A's scale per row for a scale mode: tensor 0 (one value for all rows, never
// gathered), row 1, block ceil(k / 128).
int64_t scale_a_floats_per_row(fusion::ScaleMode s, int64_t k);

}  // namespace tpjit::runtime
