// The order persistent TMA kernels (sm90, sm100) take their output tiles in. Device-only.
#pragma once

namespace tpjit { namespace tiles {

// Tile t of a persistent grid as (mc, nb): mc counts cluster units of kClusterM M tiles, nb
// N tiles. Tiles go in groups of kGroupM cluster units, walking N inside a group, so the CTAs
// running at one time share A rows and B columns in L2. A launch whose rows come in phases
// (overlap_hooks.cuh) passes a smaller group that divides a phase, so that groups, and with
// them the tiles, go phase by phase.
template <class Cfg>
__device__ __forceinline__ void tile_coords(int t, int num_mc, int& mc, int& nb,
                                            int kGroupM = 16 / Cfg::kClusterM) {
  constexpr int kNumNBlocks = (Cfg::kN + Cfg::kBN - 1) / Cfg::kBN;
  const int group = t / (kGroupM * kNumNBlocks);
  const int first = group * kGroupM;
  const int size = min(num_mc - first, kGroupM);
  const int local = t - group * kGroupM * kNumNBlocks;
  mc = first + local % size;
  nb = local / size;
}

}}  // namespace tpjit::tiles
