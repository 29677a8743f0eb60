// GemmSpec: from a matched GEMM, refusals, tiles, names, launch geometry, JSON.
#include <set>

#include <gtest/gtest.h>

#include "codegen/spec.h"
#include "codegen/spec_from_region.h"
#include "codegen/spec_json.h"
#include "codegen/variant.h"
#include "util/check.h"

namespace tpjit::codegen {
namespace {

using fusion::ScaleMode;
using graph::DType;

fusion::GemmInfo qkv_gemm() {
  fusion::GemmInfo g;
  g.node = "mm_q";
  g.op = "scaled_mm";
  g.a = "x";
  g.b = "w_qkv";
  g.out = "q";
  g.scale_a = "sa";
  g.scale_b = "sb";
  g.bias = "b_qkv";
  g.a_dtype = g.b_dtype = DType::kF8E4M3;
  g.out_dtype = DType::kBF16;
  g.scale = ScaleMode::kRow;
  g.m = 4096;
  g.n = 5120;
  g.k = 8192;
  return g;
}

TEST(Spec, ArchNamesRoundTrip) {
  for (Arch a : {Arch::kSm90a, Arch::kSm100a}) EXPECT_EQ(parse_arch(arch_name(a)), a);
  EXPECT_EQ(arch_name(Arch::kSm90a), std::string("sm_90a"));
  EXPECT_FALSE(parse_arch("sm_80").has_value());
  EXPECT_FALSE(parse_arch("").has_value());
}

// The mma_sync spec of qkv_gemm() for about m rows (make_gemm_spec picks the arch's default).
GemmSpec mma_spec(int64_t m) {
  GemmSpec s = *make_gemm_spec(qkv_gemm(), m, Arch::kSm90a);
  s.variant = kVariantMmaSync;
  s.tile = choose_tile(s);
  return s;
}

TileConfig mma_tile(int64_t m) {
  GemmSpec s;
  s.m_hint = m;
  return choose_tile(s);
}

TEST(Spec, FromGemmInfo) {
  auto s = make_gemm_spec(qkv_gemm(), 4096, Arch::kSm100a);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->arch, Arch::kSm100a);
  EXPECT_EQ(s->variant, "sm100_tcgen05");
  EXPECT_EQ(s->m_hint, 4096);
  EXPECT_EQ(s->n, 5120);
  EXPECT_EQ(s->k, 8192);
  EXPECT_EQ(s->scale, ScaleMode::kRow);
  EXPECT_EQ(s->out, OutDtype::kBF16);
  EXPECT_TRUE(s->bias);
  EXPECT_FALSE(s->accumulate);
  EXPECT_EQ(s->tile, choose_tile(*s));
  EXPECT_TRUE(check_spec(*s).ok());
  EXPECT_EQ(make_gemm_spec(qkv_gemm(), 4096, Arch::kSm90a)->variant, "sm90_wgmma");

  auto g = qkv_gemm();
  g.bias = "";
  g.out_dtype = DType::kF32;
  auto t = make_gemm_spec(g, 16, Arch::kSm90a);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->bias);
  EXPECT_EQ(t->out, OutDtype::kF32);
}

void expect_refused(const fusion::GemmInfo& g, int64_t m, const char* code, const char* text) {
  auto s = make_gemm_spec(g, m, Arch::kSm90a);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, code) << s.error().message;
  EXPECT_NE(s.error().message.find(text), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().where.find(g.node), std::string::npos) << s.error().where;
}

TEST(Spec, RefusesShapesTheKernelCannotTake) {
  auto g = qkv_gemm();
  g.k = 8200;  // % 16 == 8
  expect_refused(g, 128, errc::kUnsupportedShape, "multiple of 16");
  g.k = 8;
  expect_refused(g, 128, errc::kUnsupportedShape, "multiple of 16");
  g = qkv_gemm();
  g.n = 5124;  // % 8 == 4
  expect_refused(g, 128, errc::kUnsupportedShape, "multiple of 8");
  g.n = 0;
  expect_refused(g, 128, errc::kUnsupportedShape, "multiple of 8");
  g = qkv_gemm();
  g.batch = 4;
  expect_refused(g, 128, errc::kUnsupportedShape, "batch");
  expect_refused(qkv_gemm(), 0, errc::kUnsupportedShape, "at least one row");
}

TEST(Spec, RefusesDtypesTheKernelCannotTake) {
  auto g = qkv_gemm();
  g.b_dtype = DType::kF8E5M2;
  expect_refused(g, 128, errc::kUnsupportedDtype, "float8_e5m2");
  g = qkv_gemm();
  g.a_dtype = g.b_dtype = DType::kBF16;
  g.scale = ScaleMode::kNone;
  g.op = "mm";
  expect_refused(g, 128, errc::kUnsupportedDtype, "e4m3");
  g = qkv_gemm();
  g.scale = ScaleMode::kNone;
  expect_refused(g, 128, errc::kUnsupportedDtype, "no FP8 scales");
  g = qkv_gemm();
  g.out_dtype = DType::kI32;
  expect_refused(g, 128, errc::kUnsupportedDtype, "int32");
}

TEST(Spec, CheckSpecRefusesBadVariantsAndTiles) {
  GemmSpec s = mma_spec(4096);
  GemmSpec v = s;
  v.variant = "sm90_nonsense";
  EXPECT_EQ(check_spec(v).error().code, errc::kBadRequest);
  EXPECT_NE(check_spec(v).error().message.find("mma_sync"), std::string::npos);
  for (TileConfig t : {TileConfig{128, 128, 48, 4, 8}, TileConfig{128, 128, 256, 2, 8},
                       TileConfig{100, 128, 32, 4, 8}, TileConfig{128, 120, 32, 4, 8},
                       TileConfig{128, 128, 32, 1, 8}, TileConfig{256, 256, 128, 8, 8},
                       TileConfig{128, 128, 32, 4, 8, 2}, TileConfig{}}) {
    GemmSpec bad = s;
    bad.tile = t;
    Status st = check_spec(bad);
    ASSERT_FALSE(st.ok()) << t.bm << "x" << t.bn << "x" << t.bk;
    EXPECT_EQ(st.error().code, errc::kUnsupportedShape);
    EXPECT_EQ(st.error().where, "spec.tile");
  }
}

TEST(Spec, TileGrowsWithTokensAndFitsWithoutOptIn) {
  TileConfig prev{};
  for (int64_t m : {1, 16, 32, 33, 128, 129, 512, 4096, 65536}) {
    TileConfig t = mma_tile(m);
    EXPECT_GE(t.bm, prev.bm) << m;
    prev = t;
    GemmSpec s = mma_spec(m);
    EXPECT_TRUE(check_spec(s).ok());
    EXPECT_LE(launch_shape(s, static_cast<int>(m)).smem_bytes, kDefaultSmemLimit) << m;
  }
  EXPECT_LT(mma_tile(16).bm, mma_tile(4096).bm);
  GemmSpec unknown;
  unknown.variant = "unknown";
  EXPECT_EQ(choose_tile(unknown), TileConfig{});
}

TEST(Spec, KernelNameIsDeterministicAndDistinct) {
  GemmSpec s = mma_spec(4096);
  EXPECT_EQ(kernel_name(s), kernel_name(s));
  EXPECT_EQ(kernel_name(s), "tpjit_gemm_mma_n5120_k8192_row_bf16_bias_t128x128x32_s4_w8");
  // Arch and m_hint (same tile) change neither the source nor the name.
  GemmSpec same = s;
  same.arch = Arch::kSm100a;
  same.m_hint = 1024;
  EXPECT_EQ(kernel_name(same), kernel_name(s));

  std::set<std::string> names;
  auto add = [&](const GemmSpec& x) {
    EXPECT_TRUE(names.insert(kernel_name(x)).second) << kernel_name(x);
  };
  add(s);
  GemmSpec x = s;
  x.n = 5128; add(x);
  x = s; x.k = 8176; add(x);
  x = s; x.scale = ScaleMode::kTensor; add(x);
  x = s; x.scale = ScaleMode::kBlock; add(x);
  x = s; x.out = OutDtype::kF16; add(x);
  x = s; x.out = OutDtype::kF32; add(x);
  x = s; x.bias = false; add(x);
  x = s; x.accumulate = true; add(x);
  x = s; x.tile.bm = 64; add(x);
  x = s; x.tile.bn = 64; add(x);
  x = s; x.tile.bk = 64; add(x);
  x = s; x.tile.stages = 3; add(x);
  x = s; x.tile.warps = 4; add(x);
  x = s; x.tile.cluster_m = 2; add(x);
  x = s; x.tile.split_k = 2; add(x);
  x = s; x.variant = "sm90_wgmma"; add(x);
  EXPECT_NE(kernel_name(*make_gemm_spec(qkv_gemm(), 4096, Arch::kSm90a)).find("_c2"),
            std::string::npos);
}

TEST(Spec, LaunchShape) {
  GemmSpec s = mma_spec(4096);
  const TileConfig t = s.tile;
  LaunchShape l = launch_shape(s, 4096);
  EXPECT_EQ(l.grid_x, static_cast<unsigned>((5120 + t.bn - 1) / t.bn));
  EXPECT_EQ(l.grid_y, static_cast<unsigned>(4096 / t.bm));
  EXPECT_EQ(l.grid_z, 1u);
  EXPECT_EQ(l.block_x, static_cast<unsigned>(t.warps * 32));
  EXPECT_EQ(l.block_y, 1u);
  EXPECT_EQ(l.block_z, 1u);
  EXPECT_EQ(l.smem_bytes, static_cast<unsigned>(t.stages * (t.bm + t.bn) * (t.bk + 16)));
  EXPECT_EQ(launch_shape(s, 1).grid_y, 1u);
  EXPECT_EQ(launch_shape(s, t.bm + 1).grid_y, 2u);
  EXPECT_EQ(launch_shape(s, 0).grid_y, 1u);  // still a valid launch; writes nothing

  s.n = 200;  // not a multiple of bn: a partial last column of CTAs
  EXPECT_EQ(launch_shape(s, 4096).grid_x, static_cast<unsigned>((200 + t.bn - 1) / t.bn));
  EXPECT_THROW(launch_shape(s, -1), CheckError);
  s.k = 10;
  EXPECT_THROW(launch_shape(s, 16), CheckError);
}

TEST(Spec, Json) {
  GemmSpec s = *make_gemm_spec(qkv_gemm(), 4096, Arch::kSm100a);
  nlohmann::json j = spec_to_json(s);
  EXPECT_EQ(j["variant"], "sm100_tcgen05");
  EXPECT_EQ(j["arch"], "sm_100a");
  EXPECT_EQ(j["m_hint"], 4096);
  EXPECT_EQ(j["n"], 5120);
  EXPECT_EQ(j["k"], 8192);
  EXPECT_EQ(j["scale"], "row");
  EXPECT_EQ(j["out_dtype"], "bfloat16");
  EXPECT_EQ(j["bias"], true);
  EXPECT_EQ(j["accumulate"], false);
  EXPECT_EQ(j["tile"]["bm"], s.tile.bm);
  EXPECT_EQ(j["tile"]["warps"], s.tile.warps);
  EXPECT_EQ(j["tile"]["cluster_m"], s.tile.cluster_m);
  EXPECT_EQ(j["tile"]["split_k"], s.tile.split_k);
  EXPECT_EQ(j.dump(), spec_to_json(s).dump());
}

TEST(Spec, TileJsonRoundTripAndOldRecords) {
  const TileConfig t{64, 128, 128, 8, 8, 1, 4};
  EXPECT_EQ(*tile_from_json(tile_to_json(t)), t);
  nlohmann::json old = tile_to_json(t);
  old.erase("split_k");  // recorded before split-K: means 1
  EXPECT_EQ(tile_from_json(old)->split_k, 1);
  nlohmann::json bad = tile_to_json(t);
  bad["split_k"] = 0;
  EXPECT_EQ(tile_from_json(bad).error().where, "tile.split_k");
}

TEST(Variant, TableIsConsistent) {
  ASSERT_FALSE(variants().empty());
  for (const Variant& v : variants()) {
    EXPECT_EQ(find_variant(v.name), &v);
    EXPECT_FALSE(v.archs.empty());
    for (auto scale : {ScaleMode::kTensor, ScaleMode::kRow, ScaleMode::kBlock})
      for (int64_t m : {1, 64, 2048, 4096})
        for (int64_t n : {256, 5120, 28672}) {
          GemmSpec s;
          s.variant = std::string(v.name);
          s.m_hint = m;
          s.n = n;
          s.k = 8192;
          s.scale = scale;
          s.tile = v.pick_tile(s);
          EXPECT_EQ(v.tile_problem(s), "") << v.name << " m=" << m << " n=" << n;
        }
  }
  EXPECT_EQ(find_variant("nope"), nullptr);
}

TEST(Variant, DefaultsPerArch) {
  EXPECT_EQ(default_variant(Arch::kSm90a), "sm90_wgmma");
  EXPECT_EQ(default_variant(Arch::kSm100a), "sm100_tcgen05");
  for (Arch a : {Arch::kSm90a, Arch::kSm100a}) {
    const Variant* v = find_variant(default_variant(a));
    ASSERT_NE(v, nullptr);
    EXPECT_TRUE(v->tensor_maps);
    EXPECT_TRUE(v->persistent);
  }
  EXPECT_FALSE(find_variant("mma_sync")->tensor_maps);
}

// The measured sm90 table (docs/notes/sm90-gemm.md).
TEST(Variant, Sm90TilePicks) {
  GemmSpec s = *make_gemm_spec(qkv_gemm(), 4096, Arch::kSm90a);  // N = 5120, row scales
  EXPECT_EQ(s.tile, (TileConfig{128, 256, 128, 4, 12, 2}));
  s.m_hint = 2048;  // 4 waves of 160 columns (256 clusters) beat 5 of 128 and 3 of 256
  EXPECT_EQ(choose_tile(s), (TileConfig{128, 160, 128, 5, 12, 2}));
  s.n = 8192;
  EXPECT_EQ(choose_tile(s), (TileConfig{128, 256, 128, 4, 12, 2}));
  s.m_hint = 512;  // N = 8192: 64 clusters of 256 columns, one wave
  EXPECT_EQ(choose_tile(s), (TileConfig{128, 256, 128, 4, 12, 2}));
  s.n = 5120;  // one wave of 160 columns (64 clusters), of 192 (54), two of 128 (80)
  EXPECT_EQ(choose_tile(s), (TileConfig{128, 160, 128, 5, 12, 2}));
  s.n = 28672;  // 5 waves x (192 + 32) tie 7 x (128 + 32): the wider (tune: 0.3% apart)
  EXPECT_EQ(choose_tile(s), (TileConfig{128, 192, 128, 5, 12, 2}));
  s.scale = ScaleMode::kBlock;
  EXPECT_EQ(choose_tile(s), (TileConfig{128, 192, 128, 5, 12, 2}));
}

// Decode (m_hint <= 256), as measured by tune on an H100: no cluster; BM 64 with split K
// allowed up to 64 rows (BN 128 up to 32, 64 above); then BM 128 with BN 64, or 128 past two waves of tiles.
// sm90_wgmma's spec of a GEMM at m rows (fast_variant would pick sm90_decode up to 16).
GemmSpec wgmma_spec(const fusion::GemmInfo& g, int64_t m) {
  GemmSpec s = *make_gemm_spec(g, m, Arch::kSm90a);
  s.variant = kVariantSm90Wgmma;
  s.tile = choose_tile(s);
  return s;
}

TEST(Variant, Sm90SmallMPicks) {
  GemmSpec s = wgmma_spec(qkv_gemm(), 16);  // N = 5120, K = 8192
  EXPECT_EQ(s.tile, (TileConfig{64, 128, 128, 8, 8, 1, 4}));
  s.m_hint = 64;
  EXPECT_EQ(choose_tile(s), (TileConfig{64, 64, 128, 8, 8, 1, 4}));
  s.m_hint = 128;
  EXPECT_EQ(choose_tile(s), (TileConfig{128, 64, 128, 8, 12, 1}));
  s.n = 28672;  // 448 tiles of 64 columns: more than two waves
  EXPECT_EQ(choose_tile(s), (TileConfig{128, 128, 128, 6, 12, 1}));
  for (int64_t n : {5120, 8192, 28672})
    for (auto scale : {ScaleMode::kTensor, ScaleMode::kRow, ScaleMode::kBlock})
      for (int64_t m : {1, 16, 64, 65, 128, 256}) {
        s.n = n;
        s.scale = scale;
        s.m_hint = m;
        s.tile = choose_tile(s);
        EXPECT_TRUE(check_spec(s).ok()) << n << " " << m << ": " << check_spec(s).error().message;
        EXPECT_EQ(s.tile.bm, m <= 64 ? 64 : 128) << n << " " << m;
        EXPECT_EQ(s.tile.cluster_m, 1) << n << " " << m;
      }
}

// The launcher's K split: as many slices as fit one wave, 3 at least, 8 K blocks each at
// least, at most split_k; none for a kernel compiled without it.
TEST(Spec, SplitFor) {
  GemmSpec s = wgmma_spec(qkv_gemm(), 16);  // 64x128, split_k 4
  EXPECT_EQ(output_tiles(s, 16), 40);
  EXPECT_EQ(split_for(s, 16, 132), 3);    // 120 units: one wave
  EXPECT_EQ(split_for(s, 16, 200), 4);    // split_k caps it
  EXPECT_EQ(split_for(s, 16, 80), 1);     // 2 slices: not worth it
  EXPECT_EQ(split_for(s, 4096, 132), 1);  // 2560 tiles
  EXPECT_EQ(split_for(s, 0, 132), 1);
  s.k = 3072;                             // 24 K blocks: 3 slices of 8
  EXPECT_EQ(split_for(s, 16, 200), 3);
  s.k = 2048;                             // 16 K blocks: 2 slices at most
  EXPECT_EQ(split_for(s, 16, 200), 1);
  s.k = 8192;
  s.tile.split_k = 1;
  EXPECT_EQ(split_for(s, 16, 132), 1);
}

void expect_tile_refused(GemmSpec s, TileConfig t, const char* text) {
  s.tile = t;
  Status st = check_spec(s);
  ASSERT_FALSE(st.ok()) << text;
  EXPECT_EQ(st.error().code, errc::kUnsupportedShape);
  EXPECT_EQ(st.error().where, "spec.tile");
  EXPECT_NE(st.error().message.find(text), std::string::npos) << st.error().message;
}

// Up to 32 rows on sm_90a, the decode kernel (swap AB: 64 weight rows x 16 or 32 tokens a
// tile); above, and on sm_100a, the default variant.
TEST(Variant, Sm90DecodeVariant) {
  GemmSpec s = *make_gemm_spec(qkv_gemm(), 16, Arch::kSm90a);
  EXPECT_EQ(s.variant, kVariantSm90Decode);
  EXPECT_EQ(s.tile, (TileConfig{16, 64, 128, 12, 8, 1, 1}));
  EXPECT_NE(kernel_name(s).find("wgdec"), std::string::npos) << kernel_name(s);
  EXPECT_EQ(make_gemm_spec(qkv_gemm(), 1, Arch::kSm90a)->variant, kVariantSm90Decode);
  EXPECT_EQ(make_gemm_spec(qkv_gemm(), 32, Arch::kSm90a)->tile.bm, 32);  // tokens per tile
  EXPECT_EQ(make_gemm_spec(qkv_gemm(), 33, Arch::kSm90a)->variant, kVariantSm90Wgmma);
  EXPECT_EQ(make_gemm_spec(qkv_gemm(), 16, Arch::kSm100a)->variant, kVariantSm100Tcgen05);
  EXPECT_EQ(fast_variant(Arch::kSm90a, 32), kVariantSm90Decode);
  EXPECT_EQ(fast_variant(Arch::kSm90a, 33), kVariantSm90Wgmma);
  s.m_hint = 32;
  EXPECT_EQ(choose_tile(s), (TileConfig{32, 64, 128, 12, 8, 1, 1}));
  s.n = 28672;  // 448 weight tiles: two CTAs a SM
  EXPECT_EQ(choose_tile(s).stages, 8);
  s.n = 5120;
  for (auto scale : {ScaleMode::kTensor, ScaleMode::kRow, ScaleMode::kBlock}) {
    s.scale = scale;
    s.tile = choose_tile(s);
    EXPECT_TRUE(check_spec(s).ok()) << check_spec(s).error().message;
  }
  expect_tile_refused(s, {16, 128, 128, 8, 8, 1, 1}, "bn");
  expect_tile_refused(s, {64, 64, 128, 8, 8, 1, 1}, "bm");
  expect_tile_refused(s, {16, 64, 128, 8, 8, 1, 4}, "split_k");
  expect_tile_refused(s, {16, 64, 128, 24, 8, 1, 1}, "stages");
}

// What the templates' static_asserts would refuse, refused before NVRTC with the reason.
TEST(Variant, TmaTemplatesRefuseWhatTheirStaticAssertsWould) {
  GemmSpec s = *make_gemm_spec(qkv_gemm(), 4096, Arch::kSm90a);
  expect_tile_refused(s, {96, 256, 128, 4, 12, 2}, "bm must be 64 or 128");
  expect_tile_refused(s, {128, 256, 64, 4, 12, 2}, "bk must be 128");
  expect_tile_refused(s, {128, 256, 128, 4, 8, 2}, "warps must be 12");
  expect_tile_refused(s, {128, 272, 128, 2, 12, 1}, "bn must be within [16, 256]");
  expect_tile_refused(s, {128, 144, 128, 4, 12, 2}, "multiple of 16 * cluster_m");
  expect_tile_refused(s, {128, 256, 128, 4, 12, 4}, "cluster_m must be 1 or 2");
  expect_tile_refused(s, {128, 256, 128, 1, 12, 2}, "stages must be within [2, 8]");
  expect_tile_refused(s, {128, 256, 128, 6, 12, 2}, "227 KiB");
  expect_tile_refused(s, {128, 128, 128, 4, 12, 1, 9}, "split_k must be within [1, 8]");
  s.scale = ScaleMode::kBlock;
  expect_tile_refused(s, {128, 256, 128, 4, 12, 2}, "block scales need bn <= 192");

  GemmSpec b = *make_gemm_spec(qkv_gemm(), 4096, Arch::kSm100a);
  expect_tile_refused(b, {64, 256, 128, 4, 10, 2}, "bm must be 128");
  expect_tile_refused(b, {128, 256, 128, 4, 12, 2}, "warps must be 6 or 10");
  expect_tile_refused(b, {128, 208, 128, 4, 10, 1}, "multiple of 32");
  expect_tile_refused(b, {128, 256, 128, 4, 10, 2, 2}, "only sm90_wgmma splits K");
  b.scale = ScaleMode::kBlock;
  expect_tile_refused(b, {128, 128, 128, 4, 6, 2}, "block scales need bn <= 64");
  expect_tile_refused(b, {128, 256, 128, 4, 10, 2}, "block scales need bn <= 64");

  expect_tile_refused(mma_spec(4096), {128, 128, 32, 4, 8, 1, 2}, "only sm90_wgmma splits K");

  GemmSpec wrong_arch = s;
  wrong_arch.arch = Arch::kSm100a;
  EXPECT_EQ(check_spec(wrong_arch).error().code, errc::kUnsupportedArch);
}

TEST(Spec, PersistentLaunchShape) {
  GemmSpec s = *make_gemm_spec(qkv_gemm(), 4096, Arch::kSm90a);  // 128x256, cluster 2
  LaunchShape l = launch_shape(s, 4096);
  EXPECT_TRUE(l.persistent);
  EXPECT_TRUE(l.tensor_maps);
  EXPECT_EQ(l.cluster_x, 2u);
  EXPECT_EQ(l.grid_x, 32u * 20u);  // every (M tile, N tile), capped by the launcher
  EXPECT_EQ(l.grid_y, 1u);
  EXPECT_EQ(l.block_x, 384u);
  EXPECT_EQ(l.smem_bytes, 1024u + 4 * 384 * 128 + 2 * 64 * 40 * 4 + 4 * 16 + 16);
  EXPECT_EQ(launch_shape(s, 129).grid_x, 2u * 20u);  // 2 M tiles: one cluster per N tile
  EXPECT_EQ(launch_shape(s, 257).grid_x, 4u * 20u);  // 3 M tiles round up to 2 clusters
  EXPECT_EQ(launch_shape(s, 0).grid_x, 2u * 20u);    // still a valid launch
  EXPECT_EQ(launch_shape(s, 100000).grid_y, 1u);     // no 65535-row limit
  GemmSpec b = *make_gemm_spec(qkv_gemm(), 4096, Arch::kSm100a);
  EXPECT_EQ(launch_shape(b, 4096).block_x, 320u);
  EXPECT_EQ(launch_shape(b, 4096).smem_bytes, 1024u + 4 * 384 * 128 + 8 * 12 + 16);
}

}  // namespace
}  // namespace tpjit::codegen
