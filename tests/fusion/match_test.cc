// match(): every pattern, every reason a region is not fused, counts and region order.
#include "fusion/match.h"

#include <gtest/gtest.h>

#include "tests/fusion/fusion_graphs.h"

namespace tpjit::fusion {
namespace {

using testing::GraphBuilder;
using testing::json;
using testing::match_doc;

using Names = std::vector<std::string>;

void expect_unique_membership(const MatchResult& r) {
  std::set<std::string> seen;
  for (size_t i = 0; i < r.regions.size(); ++i) {
    EXPECT_EQ(r.regions[i].id, static_cast<int>(i));
    for (const auto& n : r.regions[i].nodes) EXPECT_TRUE(seen.insert(n).second) << n << " in two regions";
  }
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in: " << text;
}

// all_gather of [M/2, k] -> (reshapes) -> scaled_mm with N = n.
GraphBuilder ag_gemm(int64_t k = 8192, int64_t n = 5120, int world_size = 2) {
  GraphBuilder b(world_size);
  std::string shard = world_size == 1 ? "M" : "M/" + std::to_string(world_size);
  b.input("x_shard", {shard, k}, "float8_e4m3fn").op("ag0", "all_gather", {"x_shard"}, "x", {"M", k}, "float8_e4m3fn");
  b.fp8_gemm("mm_q", "x", "M", k, n, "y");
  return b;
}

TEST(FusionMatch, LlamaBlockFusesBothWays) {
  auto m = match_doc(testing::llama_block());
  const auto& r = m.result;
  ASSERT_EQ(r.regions.size(), 2u);
  expect_unique_membership(r);
  const Region& ag = r.regions[0];
  EXPECT_EQ(ag.kind, RegionKind::kAllGatherGemm);
  EXPECT_EQ(ag.pattern, "all_gather->scaled_mm");
  EXPECT_EQ(ag.collective, "ag0");
  EXPECT_EQ(ag.nodes, (Names{"ag0", "mm_qkv"}));
  EXPECT_TRUE(ag.fused) << ag.reason;
  EXPECT_EQ(ag.reason, "all-gather 'ag0' of q_shard (M/2 x 8192 per rank) overlaps the FP8 GEMM 'mm_qkv'.");
  ASSERT_EQ(ag.gemms.size(), 1u);
  const GemmInfo& g = ag.gemms[0];
  EXPECT_EQ(g.node, "mm_qkv");
  EXPECT_EQ(g.op, "scaled_mm");
  EXPECT_EQ(g.a, "q");
  EXPECT_EQ(g.b, "w_qkv");
  EXPECT_EQ(g.out, "y");
  EXPECT_EQ(g.scale_a, "s_x");
  EXPECT_EQ(g.scale_b, "s_w");
  EXPECT_EQ(g.bias, "");
  EXPECT_EQ(g.scale, ScaleMode::kTensor);
  EXPECT_EQ(g.a_dtype, graph::DType::kF8E4M3);
  EXPECT_EQ(g.out_dtype, graph::DType::kBF16);
  EXPECT_EQ(g.m, 2048);
  EXPECT_EQ(g.k, 8192);
  EXPECT_EQ(g.n, 5120);

  const Region& rs = r.regions[1];
  EXPECT_EQ(rs.kind, RegionKind::kGemmReduceScatter);
  EXPECT_EQ(rs.pattern, "scaled_mm->reduce_scatter");
  EXPECT_EQ(rs.nodes, (Names{"mm_o", "rs0"}));
  EXPECT_TRUE(rs.fused) << rs.reason;
  expect_contains(rs.reason, "reduce-scatter 'rs0' overlaps the FP8 GEMM 'mm_o' (M x 8192 result, M/2 x 8192 per rank)");
  EXPECT_EQ(r.match_counts, (std::map<std::string, int>{{"all_gather->scaled_mm", 1}, {"scaled_mm->reduce_scatter", 1}}));
}

TEST(FusionMatch, OneGatherFeedsSeveralGemms) {
  GraphBuilder b = ag_gemm();
  b.op("v0", "view", {"x"}, "x2", {"M/4", 4, 8192}, "float8_e4m3fn", {{"shape", {"M/4", 4, -1}}});
  b.op("v1", "reshape", {"x2"}, "x3", {"M", 8192}, "float8_e4m3fn", {{"shape", {-1, 8192}}});
  b.fp8_gemm("mm_k", "x3", "M", 8192, 1024, "yk");
  b.fp8_gemm("mm_v", "x", "M", 8192, 1024, "yv");
  b.opaque("add", {"yk", "yv"}, "sum", {"M", 1024}, "bfloat16");  // users of the GEMM results are fine
  auto m = match_doc(b.doc());
  ASSERT_EQ(m.result.regions.size(), 1u);
  const Region& r = m.result.regions[0];
  EXPECT_TRUE(r.fused) << r.reason;
  EXPECT_EQ(r.nodes, (Names{"ag0", "mm_q", "v0", "v1", "mm_k", "mm_v"}));
  ASSERT_EQ(r.gemms.size(), 3u);
  EXPECT_EQ(r.gemms[1].node, "mm_k");
  EXPECT_EQ(r.gemms[1].n, 1024);
  EXPECT_EQ(r.reason, "all-gather 'ag0' of x_shard (M/2 x 8192 per rank) overlaps 3 FP8 GEMMs: mm_q, mm_k, mm_v.");
  EXPECT_EQ(m.result.match_counts.at("all_gather->scaled_mm"), 1);
}

TEST(FusionMatch, SequenceParallel3dGatherThenFlatten) {
  GraphBuilder b(2, {"S", "B"});
  b.input("x_shard", {"S/2", "B", 4096}, "float8_e4m3fn")
      .op("ag0", "all_gather", {"x_shard"}, "x", {"S", "B", 4096}, "float8_e4m3fn")
      .op("fl", "flatten", {"x"}, "x2", {"S*B", 4096}, "float8_e4m3fn", {{"start_dim", 0}, {"end_dim", 1}});
  b.fp8_gemm("mm0", "x2", "S*B", 4096, 8192, "y");
  auto m = match_doc(b.doc(), {{"S", 1024}, {"B", 2}});
  ASSERT_EQ(m.result.regions.size(), 1u);
  const Region& r = m.result.regions[0];
  EXPECT_TRUE(r.fused) << r.reason;
  EXPECT_EQ(r.nodes, (Names{"ag0", "fl", "mm0"}));
  EXPECT_EQ(r.gemms[0].m, 2048);
  expect_contains(r.reason, "S/2 x B x 4096 per rank");
}

TEST(FusionMatch, FlashInferBmmBothWays) {
  GraphBuilder b;
  b.scalar_scale();
  b.input("x_shard", {"M/2", 4096}, "float8_e4m3fn")
      .op("ag0", "all_gather", {"x_shard"}, "x", {"M", 4096}, "float8_e4m3fn")
      .op("un", "unsqueeze", {"x"}, "x3", {1, "M", 4096}, "float8_e4m3fn", {{"dim", 0}})
      .input("w1", {1, 4096, 2048}, "float8_e4m3fn")
      .op("bmm1", "bmm_fp8", {"x3", "w1", "s1", "s1"}, "y3", {1, "M", 2048}, "bfloat16",
          {{"out_dtype", "bfloat16"}})
      .opaque("act", {"y3"}, "h3", {1, "M", 2048}, "float8_e4m3fn")
      .input("w2", {1, 2048, 4096}, "float8_e4m3fn")
      .op("bmm2", "bmm_fp8", {"h3", "w2", "s1", "s1"}, "z3", {1, "M", 4096}, "bfloat16", {{"out_dtype", "bfloat16"}})
      .op("rv", "reshape", {"z3"}, "z", {"M", 4096}, "bfloat16", {{"shape", {"M", 4096}}})
      .op("rs0", "reduce_scatter", {"z"}, "z_shard", {"M/2", 4096}, "bfloat16");
  auto m = match_doc(b.doc());
  ASSERT_EQ(m.result.regions.size(), 2u);
  expect_unique_membership(m.result);
  EXPECT_EQ(m.result.regions[0].pattern, "all_gather->bmm_fp8");
  EXPECT_EQ(m.result.regions[0].nodes, (Names{"ag0", "un", "bmm1"}));
  EXPECT_TRUE(m.result.regions[0].fused) << m.result.regions[0].reason;
  EXPECT_EQ(m.result.regions[0].gemms[0].m, 2048);
  EXPECT_EQ(m.result.regions[0].gemms[0].batch, 1);
  EXPECT_EQ(m.result.regions[1].pattern, "bmm_fp8->reduce_scatter");
  EXPECT_EQ(m.result.regions[1].nodes, (Names{"bmm2", "rv", "rs0"}));
  EXPECT_TRUE(m.result.regions[1].fused) << m.result.regions[1].reason;
  EXPECT_EQ(m.result.match_counts,
            (std::map<std::string, int>{{"all_gather->bmm_fp8", 1}, {"bmm_fp8->reduce_scatter", 1}}));
}

TEST(FusionMatch, Bf16MmBothWaysRunsUnfused) {
  GraphBuilder b;
  b.input("x_shard", {"M/2", 1024}, "bfloat16")
      .op("ag0", "all_gather", {"x_shard"}, "x", {"M", 1024}, "bfloat16")
      .input("w1", {1024, 2048}, "bfloat16")
      .op("mm1", "mm", {"x", "w1"}, "h", {"M", 2048}, "bfloat16")
      .input("w2", {2048, 1024}, "bfloat16")
      .op("mm2", "mm", {"h", "w2"}, "z", {"M", 1024}, "bfloat16")
      .op("rs0", "reduce_scatter", {"z"}, "z_shard", {"M/2", 1024}, "bfloat16");
  auto m = match_doc(b.doc());
  ASSERT_EQ(m.result.regions.size(), 2u);
  for (const Region& r : m.result.regions) {
    EXPECT_FALSE(r.fused);
    expect_contains(r.reason, "tpjit generates FP8 kernels only; bf16 GEMMs run unfused");
    EXPECT_EQ(r.gemms[0].scale, ScaleMode::kNone);
  }
  EXPECT_EQ(m.result.regions[0].kind, RegionKind::kAllGatherGemm);
  EXPECT_EQ(m.result.regions[1].kind, RegionKind::kGemmReduceScatter);
  EXPECT_EQ(m.result.match_counts, (std::map<std::string, int>{{"all_gather->mm", 1}, {"mm->reduce_scatter", 1}}));
}

// A GEMM -> reduce_scatter graph: [M, k] x [k, n] -> [M, n] -> scatter.
GraphBuilder gemm_rs(json rs_attrs = json::object(), int world_size = 2, int64_t k = 4096, int64_t n = 8192) {
  GraphBuilder b(world_size);
  b.input("h", {"M", k}, "float8_e4m3fn");
  b.fp8_gemm("mm_o", "h", "M", k, n, "z");
  json out_shape = {"M/" + std::to_string(world_size), n};
  if (rs_attrs.value("dim", 0) != 0) out_shape = {"M", n / world_size};
  if (world_size == 1) out_shape = {"M", n};
  b.op("rs0", "reduce_scatter", {"z"}, "z_shard", out_shape, "bfloat16", rs_attrs);
  return b;
}

Region only_region(const json& doc, const graph::Bindings& bindings = {{"M", 2048}}) {
  auto m = match_doc(doc, bindings);
  EXPECT_EQ(m.result.regions.size(), 1u);
  return m.result.regions.empty() ? Region{} : m.result.regions[0];
}

void expect_not_fused(const Region& r, RegionKind kind, const std::string& part) {
  EXPECT_EQ(r.kind, kind);
  EXPECT_FALSE(r.fused);
  expect_contains(r.reason, "not fused: ");
  expect_contains(r.reason, part);
}

TEST(FusionMatch, GemmResultWithASecondUser) {
  GraphBuilder b = gemm_rs();
  b.opaque("dbg", {"z"}, "zz", {"M", 8192}, "bfloat16");
  auto m = match_doc(b.doc());
  ASSERT_EQ(m.result.regions.size(), 1u);
  expect_not_fused(m.result.regions[0], RegionKind::kGemmReduceScatter,
                   "the result 'z' of 'mm_o' (scaled_mm) is also read by 'dbg' (my_opaque)");
  EXPECT_EQ(m.result.match_counts.at("scaled_mm->reduce_scatter"), 1);
}

TEST(FusionMatch, GemmResultThatIsAGraphOutput) {
  json doc = gemm_rs().doc();
  doc["outputs"].push_back("z");
  expect_not_fused(only_region(doc), RegionKind::kGemmReduceScatter, "is also a graph output");
}

TEST(FusionMatch, E5m2OperandsAreRefused) {
  GraphBuilder b;
  b.input("x_shard", {"M/2", 8192}, "float8_e5m2").op("ag0", "all_gather", {"x_shard"}, "x", {"M", 8192}, "float8_e5m2");
  b.fp8_gemm("mm_q", "x", "M", 8192, 5120, "y");
  expect_not_fused(only_region(b.doc()), RegionKind::kAllGatherGemm,
                   "'mm_q' multiplies float8_e5m2 by float8_e4m3fn, but tpjit's FP8 kernels take float8_e4m3fn operands");
}

TEST(FusionMatch, GatherNotOnDim0) {
  GraphBuilder b;
  b.input("x_shard", {"M", 4096}, "float8_e4m3fn")
      .op("ag0", "all_gather", {"x_shard"}, "x", {"M", 8192}, "float8_e4m3fn", {{"dim", 1}});
  b.fp8_gemm("mm_q", "x", "M", 8192, 5120, "y");
  expect_not_fused(only_region(b.doc()), RegionKind::kAllGatherGemm, "gathers dim 1 of 'x_shard'");
}

TEST(FusionMatch, ScatterNotOnDim0AndNotSum) {
  expect_not_fused(only_region(gemm_rs({{"dim", 1}}).doc()), RegionKind::kGemmReduceScatter, "scatters dim 1");
  expect_not_fused(only_region(gemm_rs({{"dim", -1}}).doc()), RegionKind::kGemmReduceScatter, "scatters dim 1");
  expect_not_fused(only_region(gemm_rs({{"op", "max"}}).doc()), RegionKind::kGemmReduceScatter,
                   "reduces with 'max'; tpjit fuses sum reductions only");
}

TEST(FusionMatch, WorldSizeOne) {
  expect_not_fused(only_region(ag_gemm(8192, 5120, 1).doc()), RegionKind::kAllGatherGemm, "world size is 1");
  expect_not_fused(only_region(gemm_rs(json::object(), 1).doc()), RegionKind::kGemmReduceScatter, "world size is 1");
}

TEST(FusionMatch, GatheredWeightIsTheBOperand) {
  GraphBuilder b;
  b.scalar_scale();
  b.input("a", {"M", 4096}, "float8_e4m3fn")
      .input("w_shard", {2048, 1024}, "float8_e4m3fn", "col_major")
      .op("ag_w", "all_gather", {"w_shard"}, "w", {4096, 1024}, "float8_e4m3fn", {{"dim", 0}}, "col_major")
      .op("mm", "scaled_mm", {"a", "w", "s1", "s1"}, "y", {"M", 1024}, "bfloat16", {{"out_dtype", "bfloat16"}});
  expect_not_fused(only_region(b.doc()), RegionKind::kAllGatherGemm, "reaches 'mm' (scaled_mm) as its b operand");
}

TEST(FusionMatch, Alignment) {
  expect_not_fused(only_region(ag_gemm(8200, 5120).doc()), RegionKind::kAllGatherGemm,
                   "has K=8200 and N=5120; tpjit's kernels need K a multiple of 16 and N a multiple of 8");
  expect_not_fused(only_region(ag_gemm(8192, 5124).doc()), RegionKind::kAllGatherGemm, "N=5124");
  expect_not_fused(only_region(gemm_rs(json::object(), 2, 4104).doc()), RegionKind::kGemmReduceScatter, "K=4104");
}

TEST(FusionMatch, BmmBatchOverOne) {
  GraphBuilder b;
  b.scalar_scale();
  b.input("x_shard", {"M/2", 4, 256}, "float8_e4m3fn")
      .op("ag0", "all_gather", {"x_shard"}, "x", {"M", 4, 256}, "float8_e4m3fn")
      .op("p", "my_permute", {"x"}, "xt", {4, "M", 256}, "float8_e4m3fn")  // opaque: the bmm sees no gather
      .input("w", {4, 256, 64}, "float8_e4m3fn")
      .op("bmm", "bmm_fp8", {"xt", "w", "s1", "s1"}, "y", {4, "M", 64}, "bfloat16", {{"out_dtype", "bfloat16"}})
      .op("rv", "view", {"y"}, "y2", {"4*M", 64}, "bfloat16", {{"shape", {-1, 64}}})
      .op("rs0", "reduce_scatter", {"y2"}, "ys", {"2*M", 64}, "bfloat16");
  auto m = match_doc(b.doc());
  ASSERT_EQ(m.result.regions.size(), 2u);
  EXPECT_EQ(m.result.regions[0].kind, RegionKind::kUnfused);  // the gather feeds an opaque op
  expect_not_fused(m.result.regions[1], RegionKind::kGemmReduceScatter, "bmm_fp8 with batch 4");
}

TEST(FusionMatch, ReshapeThatBreaksRowContiguity) {
  GraphBuilder b(2, json::array());
  b.input("x_shard", {1, 48}, "float8_e4m3fn")
      .op("ag0", "all_gather", {"x_shard"}, "x", {2, 48}, "float8_e4m3fn")
      .op("v", "view", {"x"}, "x2", {3, 32}, "float8_e4m3fn", {{"shape", {3, 32}}});
  b.fp8_gemm("mm", "x2", 3, 32, 64, "y");
  expect_not_fused(only_region(b.doc(), {}), RegionKind::kAllGatherGemm, "mid-row (K=32)");

  // GEMM [3, 32] -> [2, 48]: each rank's 48 elements cut the 32-wide rows.
  GraphBuilder c(2, json::array());
  c.input("h", {3, 32}, "float8_e4m3fn");
  c.fp8_gemm("mm", "h", 3, 32, 32, "z");
  c.op("v", "view", {"z"}, "z2", {2, 48}, "bfloat16", {{"shape", {2, 48}}})
      .op("rs0", "reduce_scatter", {"z2"}, "zs", {1, 48}, "bfloat16");
  expect_not_fused(only_region(c.doc(), {}), RegionKind::kGemmReduceScatter, "cut rows of N=32");
}

TEST(FusionMatch, UnmatchedCollectivesAreUnfusedRegions) {
  GraphBuilder b;
  b.input("x", {"M", 1024}, "bfloat16")
      .op("ar0", "all_reduce", {"x"}, "x_sum", {"M", 1024}, "bfloat16")
      .op("ag1", "all_gather", {"x_sum"}, "xg", {"2*M", 1024}, "bfloat16")
      .opaque("gelu", {"xg"}, "act", {"2*M", 1024}, "bfloat16")
      .op("rs1", "reduce_scatter", {"act"}, "out", {"M", 1024}, "bfloat16");
  auto m = match_doc(b.doc());
  ASSERT_EQ(m.result.regions.size(), 3u);
  expect_unique_membership(m.result);
  for (const Region& r : m.result.regions) {
    EXPECT_EQ(r.kind, RegionKind::kUnfused);
    EXPECT_FALSE(r.fused);
    EXPECT_TRUE(r.gemms.empty());
  }
  EXPECT_EQ(m.result.regions[0].pattern, "all_reduce");
  expect_contains(m.result.regions[0].reason, "has no fused form in tpjit");
  EXPECT_EQ(m.result.regions[1].nodes, (Names{"ag1"}));
  expect_contains(m.result.regions[1].reason, "feeds no GEMM as its a operand (its users: 'gelu' (my_opaque))");
  expect_contains(m.result.regions[2].reason, "reduces 'act', produced by 'gelu' (my_opaque), not by a GEMM");
  EXPECT_TRUE(m.result.match_counts.empty());
}

TEST(FusionMatch, RowScalesGatheredAlongsideJoinTheRegion) {
  GraphBuilder b;
  b.input("x_shard", {"M/2", 4096}, "float8_e4m3fn")
      .input("sx_shard", {"M/2", 1}, "float32")
      .op("ag_s", "all_gather", {"sx_shard"}, "sx", {"M", 1}, "float32")
      .op("ag_x", "all_gather", {"x_shard"}, "x", {"M", 4096}, "float8_e4m3fn")
      .input("w", {4096, 1024}, "float8_e4m3fn", "col_major")
      .input("sw", {1, 1024}, "float32")
      .op("mm", "scaled_mm", {"x", "w", "sx", "sw"}, "y", {"M", 1024}, "bfloat16", {{"out_dtype", "bfloat16"}});
  auto m = match_doc(b.doc());
  ASSERT_EQ(m.result.regions.size(), 1u);
  const Region& r = m.result.regions[0];
  EXPECT_TRUE(r.fused) << r.reason;
  EXPECT_EQ(r.collective, "ag_x");
  EXPECT_EQ(r.nodes, (Names{"ag_s", "ag_x", "mm"}));
  EXPECT_EQ(r.gemms[0].scale, ScaleMode::kRow);
  expect_contains(r.reason, "Its scale rows come with all-gather 'ag_s'.");
}

TEST(FusionMatch, BlockScales) {
  GraphBuilder b;
  b.input("x", {"M", 4096}, "float8_e4m3fn")
      .input("sx", {"M", 32}, "float32")
      .input("w", {4096, 1024}, "float8_e4m3fn", "col_major")
      .input("sw", {32, 8}, "float32")
      .op("mm", "scaled_mm", {"x", "w", "sx", "sw"}, "y", {"M", 1024}, "bfloat16", {{"out_dtype", "bfloat16"}})
      .op("rs0", "reduce_scatter", {"y"}, "ys", {"M/2", 1024}, "bfloat16");
  Region r = only_region(b.doc());
  EXPECT_TRUE(r.fused) << r.reason;
  EXPECT_EQ(r.gemms[0].scale, ScaleMode::kBlock);
}

TEST(FusionMatch, AGemmOverlapsOneCollectiveAtMost) {
  GraphBuilder b = ag_gemm(8192, 8192);
  b.op("rs0", "reduce_scatter", {"y"}, "ys", {"M/2", 8192}, "bfloat16");
  auto m = match_doc(b.doc());
  ASSERT_EQ(m.result.regions.size(), 2u);
  expect_unique_membership(m.result);
  EXPECT_TRUE(m.result.regions[0].fused);
  EXPECT_EQ(m.result.regions[1].nodes, (Names{"rs0"}));
  expect_not_fused(m.result.regions[1], RegionKind::kGemmReduceScatter, "already overlaps 'ag0'");
  EXPECT_EQ(m.result.match_counts.at("scaled_mm->reduce_scatter"), 1);
}

TEST(FusionMatch, RegionsAreInGraphOrderAndSerialize) {
  auto m = match_doc(testing::llama_block());
  json j = match_to_json(m.result);
  ASSERT_EQ(j["regions"].size(), 2u);
  EXPECT_EQ(j["regions"][0]["id"], 0);
  EXPECT_EQ(j["regions"][0]["kind"], "all_gather_gemm");
  EXPECT_EQ(j["regions"][0]["gemms"], json({"mm_qkv"}));
  EXPECT_EQ(j["regions"][1]["kind"], "gemm_reduce_scatter");
  EXPECT_EQ(j["regions"][1]["collective"], "rs0");
  EXPECT_EQ(j["match_counts"]["scaled_mm->reduce_scatter"], 1);
  EXPECT_STREQ(region_kind_name(RegionKind::kUnfused), "unfused");
  EXPECT_STREQ(scale_mode_name(ScaleMode::kBlock), "block");
}

}  // namespace
}  // namespace tpjit::fusion
