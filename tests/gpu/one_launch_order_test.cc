// The tile order of the copy engines' one launch (runtime/overlap_plan.h, one_launch_order),
// walked with the kernels' own tile_coords (templates/tile_order.cuh, compiled here for the
// host): every tile once, and the phases in turn. The reduce-scatter's launch must finish every
// tile of the peer's rows before any tile of its own, which waits on the peer: otherwise two
// GPUs can wait on each other (a deadlock the device runs showed before groups followed
// phases). No GPU needed.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "runtime/overlap_plan.h"

#define __device__
#define __forceinline__ inline
using std::min;  // tile_order.cuh calls the CUDA builtin min
#include "templates/tile_order.cuh"
#undef __device__
#undef __forceinline__

namespace tpjit::runtime {
namespace {

template <int N, int BN, int ClusterM>
struct Cfg {
  static constexpr int kN = N, kBN = BN, kClusterM = ClusterM;
};

// The M tiles in the order the persistent kernel takes its units (sm90 gemm(): tile_coords,
// then the rotation by first_m_block), one entry per CTA tile; tiles past M are left out.
template <class C>
std::vector<std::pair<int, int>> walk(int64_t m, int bm, const OneLaunchOrder& o) {
  const int m_blocks = int((m + bm - 1) / bm);
  const int num_mc = (m_blocks + C::kClusterM - 1) / C::kClusterM;
  const int n_blocks = (C::kN + C::kBN - 1) / C::kBN;
  const int first_mc = o.first_m_block / C::kClusterM;
  std::vector<std::pair<int, int>> tiles;
  for (int t = 0; t < num_mc * n_blocks; ++t) {
    int mc = 0, nb = 0;
    tiles::tile_coords<C>(t, num_mc, mc, nb, o.group_mc);
    mc = mc + first_mc < num_mc ? mc + first_mc : mc + first_mc - num_mc;
    for (int r = 0; r < C::kClusterM; ++r)
      if (mc * C::kClusterM + r < m_blocks) tiles.push_back({mc * C::kClusterM + r, nb});
  }
  return tiles;
}

// Checks one layer's tile shape at several M, ranks and sub-chunk counts: each tile once;
// all-gather tiles go shard by shard from the local one; the reduce-scatter's peer rows all
// come before its own; and within a shard, sub-chunks in turn when they are whole cluster
// rows (so the copy engines move each while the next computes).
template <class C>
void check_orders(int bm, int world) {
  for (int64_t m : {1024, 2048, 4096, 16384})
    for (int64_t chunks : {1, 2, 4, 3}) {
      const int64_t shard = m / world, chunk = (shard + chunks - 1) / chunks;
      const bool whole = chunk % (bm * C::kClusterM) == 0;
      const int m_blocks = int((m + bm - 1) / bm);
      const int n_blocks = (C::kN + C::kBN - 1) / C::kBN;
      // Where M tile mb falls in the visiting order that starts at shard `first`.
      auto order = [&](int mb, int first) {
        const int64_t at = (mb * bm / shard - first + world) % world;
        return at * (chunks + 1) + (whole ? (mb * bm % shard) / chunk : 0);
      };
      for (int q = 0; q < world; ++q) {
        SCOPED_TRACE("M=" + std::to_string(m) + " chunks " + std::to_string(chunks) + " rank " +
                     std::to_string(q) + " bm " + std::to_string(bm) + " cluster " +
                     std::to_string(C::kClusterM));
        const auto ag = walk<C>(
            m, bm, one_launch_order(m, bm, C::kClusterM, shard, chunk, q * shard, false));
        ASSERT_EQ(ag.size(), size_t(m_blocks) * n_blocks);
        const std::set<std::pair<int, int>> distinct(ag.begin(), ag.end());
        EXPECT_EQ(distinct.size(), ag.size());
        int64_t last = 0;  // shards in visiting order q, q + 1, ... (mod world), sub-chunks
        for (const auto& [mb, nb] : ag) {
          ASSERT_GE(order(mb, q), last) << "M tile " << mb << " (shard " << mb * bm / shard
                                        << ") after a tile of a later shard or sub-chunk";
          last = order(mb, q);
        }
        if (world != 2) continue;
        const auto rs = walk<C>(
            m, bm, one_launch_order(m, bm, C::kClusterM, shard, chunk, (q + 1) * shard, true));
        ASSERT_EQ(rs.size(), size_t(m_blocks) * n_blocks);
        last = 0;
        for (const auto& [mb, nb] : rs) {
          ASSERT_GE(order(mb, 1 - q), last)
              << "M tile " << mb << " after a tile of this rank's own rows or a later sub-chunk";
          last = order(mb, 1 - q);
        }
      }
    }
}

TEST(OneLaunchOrder, PhasesInTurnForTheLlamaTiles) {
  check_orders<Cfg<5120, 128, 2>>(128, 2);   // qkv, mid M
  check_orders<Cfg<8192, 256, 2>>(128, 2);   // o and down, large M
  check_orders<Cfg<28672, 256, 2>>(128, 2);  // gate_up
  check_orders<Cfg<8192, 64, 1>>(64, 2);     // no cluster
  check_orders<Cfg<5120, 128, 2>>(128, 4);   // an all-gather over four ranks
}

TEST(OneLaunchOrder, StartsAndGroups) {
  // Rank 1 of 2 at M = 2048 with 128-row tiles in pairs: its shard starts at tile 8; a
  // phase is 4 cluster rows, so groups of 4 (not the default 8).
  OneLaunchOrder o = one_launch_order(2048, 128, 2, 1024, 1024, 1024, false);
  EXPECT_EQ(o.first_m_block, 8);
  EXPECT_EQ(o.group_mc, 4);
  // Past the end wraps to 0; rounding goes to whole clusters.
  EXPECT_EQ(one_launch_order(2048, 128, 2, 1024, 1024, 2048, true).first_m_block, 0);
  EXPECT_EQ(one_launch_order(666, 128, 2, 333, 333, 333, true).first_m_block, 4);
  EXPECT_EQ(one_launch_order(666, 128, 2, 333, 333, 333, false).first_m_block, 2);
  // A phase that is not whole cluster rows gets groups of 1.
  EXPECT_EQ(one_launch_order(666, 128, 2, 333, 333, 0, false).group_mc, 1);
  EXPECT_EQ(one_launch_order(16384, 128, 2, 8192, 8192, 0, false).group_mc, 8);
  // Sub-chunks of whole cluster rows bound the group too (4 of 2x128 rows in 1024); others
  // do not (683 rows).
  EXPECT_EQ(one_launch_order(16384, 128, 2, 8192, 1024, 0, false).group_mc, 4);
  EXPECT_EQ(one_launch_order(4096, 128, 2, 2048, 683, 0, false).group_mc, 8);
}

// The counts the reduce-scatter's comm stream waits for: per sub-chunk of the peer's rows,
// the 64-row slabs it touches (the kernel counts a slab once per sub-chunk it covers).
TEST(OneLaunchOrder, SlabCountsMatchAKernelThatCountsEachSlabPerSubChunk) {
  for (int chunks : {1, 2, 3, 4}) {
    const int64_t m = 2048, shard = 1024;
    Result<ChunkPlan> p = plan_chunks(m, 2, chunks);
    ASSERT_TRUE(p.ok());
    std::vector<int64_t> counted(size_t(p->chunks), 0);
    for (int64_t r0 = shard; r0 < m; r0 += 64)  // the peer's rows, slab by slab
      for (int j = 0; j < p->chunks; ++j) {
        const int64_t b = shard + p->begin(j), e = b + p->rows(j);
        if (r0 < e && r0 + 64 > b) ++counted[size_t(j)];
      }
    for (int j = 0; j < p->chunks; ++j)
      EXPECT_EQ(slabs_touching(shard + p->begin(j), p->rows(j)), counted[size_t(j)])
          << chunks << " chunks, sub-chunk " << j;
  }
  EXPECT_EQ(slabs_touching(0, 64), 1);
  EXPECT_EQ(slabs_touching(63, 2), 2);
}

}  // namespace
}  // namespace tpjit::runtime
