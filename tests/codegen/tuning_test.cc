#include "codegen/tuning.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "codegen/spec_from_region.h"
#include "codegen/spec_json.h"
#include "codegen/variant.h"

namespace tpjit::codegen {
namespace {

GemmSpec spec(const char* variant, Arch arch, fusion::ScaleMode scale, int64_t m) {
  GemmSpec s;
  s.arch = arch;
  s.variant = variant;
  s.m_hint = m;
  s.n = 5120;
  s.k = 8192;
  s.scale = scale;
  return s;
}

TEST(CandidateTiles, AllPassCheckSpecAndTheHeuristicComesFirst) {
  using fusion::ScaleMode;
  for (auto [variant, arch] : {std::pair{kVariantSm90Wgmma, Arch::kSm90a},
                               std::pair{kVariantSm100Tcgen05, Arch::kSm100a},
                               std::pair{kVariantMmaSync, Arch::kSm90a}}) {
    for (ScaleMode scale : {ScaleMode::kTensor, ScaleMode::kRow, ScaleMode::kBlock}) {
      for (int64_t m : {16, 512, 4096}) {
        GemmSpec s = spec(variant, arch, scale, m);
        auto tiles = candidate_tiles(s);
        ASSERT_GE(tiles.size(), 2u) << variant;
        EXPECT_EQ(tiles.front(), choose_tile(s)) << variant;
        for (size_t i = 0; i < tiles.size(); ++i) {
          GemmSpec c = s;
          c.tile = tiles[i];
          EXPECT_TRUE(check_spec(c).ok()) << check_spec(c).error().message;
          EXPECT_EQ(std::count(tiles.begin(), tiles.end(), tiles[i]), 1);
        }
      }
    }
  }
}

TEST(CandidateTiles, Sm90GridIsTheBrief) {
  // BN {64,128,160,192,224,256} x stages {4,5,6,8} x cluster {1,2}, minus what overflows 227
  // KiB of shared memory (stages that fit: BN 64 all 4, 128 three, 160 and 192 two, 224 and
  // 256 one): 26 tiles; block scales drop BN 224 and 256: 22. Decode adds BM {64,128} x BN
  // {32,48,64,96,128,256} x split {1,4} without cluster (24), of which BM 128 without split
  // repeats 3 of the grid, and BM 64 x BN {64,96,128} in 2-CTA clusters: 50.
  EXPECT_EQ(candidate_tiles(spec(kVariantSm90Wgmma, Arch::kSm90a, fusion::ScaleMode::kTensor,
                                 4096)).size(), 26u);
  EXPECT_EQ(candidate_tiles(spec(kVariantSm90Wgmma, Arch::kSm90a, fusion::ScaleMode::kBlock,
                                 4096)).size(), 22u);
  EXPECT_EQ(candidate_tiles(spec(kVariantSm90Wgmma, Arch::kSm90a, fusion::ScaleMode::kTensor,
                                 16)).size(), 50u);
  // sm90_decode: tokens {16,32} x stages {8,12,16}; the heuristic's 16x64 s16 is one of them.
  EXPECT_EQ(candidate_tiles(spec(kVariantSm90Decode, Arch::kSm90a, fusion::ScaleMode::kTensor,
                                 16)).size(), 6u);
  EXPECT_TRUE(candidate_tiles(spec("nope", Arch::kSm90a, fusion::ScaleMode::kTensor, 1)).empty());
}

TEST(TileJson, RoundTripsAndNamesAMissingField) {
  TileConfig t{.bm = 128, .bn = 192, .bk = 128, .stages = 5, .warps = 12, .cluster_m = 1};
  auto back = tile_from_json(tile_to_json(t));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, t);
  auto j = tile_to_json(t);
  j.erase("stages");
  auto bad = tile_from_json(j);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().where, "tile.stages");
}

fusion::GemmInfo gemm_info() {
  fusion::GemmInfo g;
  g.node = "qkv";
  g.op = "scaled_mm";
  g.a_dtype = g.b_dtype = graph::DType::kF8E4M3;
  g.out_dtype = graph::DType::kBF16;
  g.scale = fusion::ScaleMode::kTensor;
  g.batch = 1;
  g.m = 4096;
  g.n = 5120;
  g.k = 8192;
  return g;
}

TEST(MakeGemmSpec, TakesAnOverrideTileThroughCheckSpec) {
  const TileConfig t{.bm = 128, .bn = 192, .bk = 128, .stages = 5, .warps = 12, .cluster_m = 1};
  auto s = make_gemm_spec(gemm_info(), 2048, Arch::kSm90a, t);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->variant, kVariantSm90Wgmma);
  EXPECT_EQ(s->tile, t);
  TileConfig wrong = t;
  wrong.bk = 64;  // the TMA variants need BK 128
  auto refused = make_gemm_spec(gemm_info(), 2048, Arch::kSm90a, wrong);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::kUnsupportedShape);
  EXPECT_EQ(refused.error().where, "gemm 'qkv'");
}

}  // namespace
}  // namespace tpjit::codegen
