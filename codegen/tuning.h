// What autotuning may try: the candidate tiles of a spec's variant. Timing them needs a GPU
// (bench/tune_bench.cc); the winners are kept by cache::TuningStore.
#pragma once

#include <vector>

#include "codegen/spec.h"

namespace tpjit::codegen {

// Tiles worth timing for s (its variant, shape and scale; s.tile is ignored): the heuristic's
// choose_tile(s) first, then the variant's grid, every one passing check_spec, no duplicates.
// sm90_wgmma: BN {64, 128, 192, 256} x stages {4, 5, 6, 8} x cluster {1, 2} (BM 128, BK 128,
// 12 warps; those that fit), and for m_hint <= 256 also BM {64, 128} x BN {64, 128, 256} x
// split_k {1, 4} without cluster;
// sm100_tcgen05: BN {128, 256} x stages {4, 5, 6} x cluster {1, 2}; mma_sync: a few 4-8 warp
// tiles. Empty for an unknown variant.
std::vector<TileConfig> candidate_tiles(const GemmSpec& s);

}  // namespace tpjit::codegen
