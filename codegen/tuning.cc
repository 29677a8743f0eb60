#include "codegen/tuning.h"

#include <algorithm>

#include "codegen/variant.h"

namespace tpjit::codegen {
namespace {

// The grid per variant before check_spec filters it. Only the sm90 grid has been measured
// (bench/RESULTS.md); the others are small so tuning them stays cheap.
std::vector<TileConfig> grid(const GemmSpec& s) {
  std::vector<TileConfig> out;
  if (s.variant == kVariantSm90Wgmma || s.variant == kVariantSm100Tcgen05) {
    const bool sm90 = s.variant == kVariantSm90Wgmma;
    // 160 and 224 give other wave counts (N = 5120: 32 and 23 tiles a row of clusters).
    const std::vector<int> bns = sm90 ? std::vector<int>{64, 128, 160, 192, 224, 256}
                                      : std::vector<int>{128, 256};
    const std::vector<int> depths = sm90 ? std::vector<int>{4, 5, 6, 8} : std::vector<int>{4, 5, 6};
    for (int bn : bns)
      for (int stages : depths)
        for (int cluster : {1, 2})
          out.push_back({.bm = 128, .bn = bn, .bk = 128, .stages = stages,
                         .warps = sm90 ? 12 : 10, .cluster_m = cluster});
    if (sm90 && s.m_hint <= 256) {
      // Decode: narrow tiles, no cluster, with and without split K (launch picks the split).
      for (int bm : {64, 128})
        for (int bn : {32, 48, 64, 96, 128, 256})
          for (int split : {1, 4})
            out.push_back({.bm = bm, .bn = bn, .bk = 128,
                           .stages = std::min(8, 200 * 1024 / ((bm + bn) * 128)),
                           .warps = 4 + 4 * bm / 64, .cluster_m = 1, .split_k = split});
      // BM 64 in 2-CTA clusters: two M tiles of up to 128 rows share (multicast) one B tile.
      for (int bn : {64, 96, 128})
        out.push_back({.bm = 64, .bn = bn, .bk = 128, .stages = 8, .warps = 8, .cluster_m = 2});
    }
  } else if (s.variant == kVariantSm90Decode) {
    for (int bm : {16, 32})
      for (int stages : {8, 12, 16})
        out.push_back({.bm = bm, .bn = 64, .bk = 128, .stages = stages, .warps = 8});
  } else if (s.variant == kVariantMmaSync) {
    out = {{.bm = 32, .bn = 64, .bk = 64, .stages = 4, .warps = 4},
           {.bm = 64, .bn = 128, .bk = 32, .stages = 4, .warps = 8},
           {.bm = 128, .bn = 128, .bk = 32, .stages = 4, .warps = 8},
           {.bm = 128, .bn = 64, .bk = 32, .stages = 4, .warps = 8},
           {.bm = 128, .bn = 128, .bk = 64, .stages = 3, .warps = 8}};
  }
  return out;
}

}  // namespace

std::vector<TileConfig> candidate_tiles(const GemmSpec& s) {
  if (!find_variant(s.variant)) return {};
  std::vector<TileConfig> all{choose_tile(s)};
  for (const TileConfig& t : grid(s)) all.push_back(t);
  std::vector<TileConfig> out;
  for (const TileConfig& t : all) {
    GemmSpec c = s;
    c.tile = t;
    if (check_spec(c).ok() && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  return out;
}

}  // namespace tpjit::codegen
