// The compile service takes a tile from a tuning record planted in its cache directory and says
// so in the plan; without a record the plan says "heuristic". Real NVRTC, no GPU.
#include <gtest/gtest.h>

#include "cache/tuning_store.h"
#include "codegen/spec_json.h"
#include "codegen/tuning.h"
#include "tests/codegen/service_test_util.h"

namespace tpjit {
namespace {
using nlohmann::json;
using TunedService = testing::CompileServiceTest;

json compile_body() { return testing::mlp_compile_body({4096}); }

TEST_F(TunedService, PlantedRecordSetsTheTileAndThePlanSaysTuned) {
  auto first = service_->handle("compile", compile_body());
  ASSERT_TRUE(first) << first.error().message;
  const json& kernels = (*first)["kernels"];
  ASSERT_FALSE(kernels.empty());

  // A record per kernel shape, each with a tile the heuristic would not pick.
  cache::TuningStore store(config_.cache_dir);
  std::vector<json> planted;
  for (const json& k : kernels) {
    ASSERT_EQ(k["tuning"]["source"], "heuristic");
    const json& s = k["spec"];
    codegen::GemmSpec spec;
    spec.variant = s["variant"];
    spec.m_hint = s["m_hint"];
    spec.n = s["n"];
    spec.k = s["k"];
    spec.scale = fusion::ScaleMode::kTensor;
    ASSERT_EQ(s["scale"], "tensor");
    auto tiles = codegen::candidate_tiles(spec);
    ASSERT_GE(tiles.size(), 2u);
    cache::TuningRecord r;
    r.key = {s["arch"], s["variant"], s["n"], s["k"], s["scale"], s["out_dtype"],
             cache::tuning_m_bucket(s["m_hint"].get<int64_t>())};
    r.card = "Test Card";
    r.tile = codegen::tile_to_json(tiles.back());
    ASSERT_NE(r.tile, s["tile"]);
    r.ms = 0.5;
    r.candidates = {{r.tile, 0.5}};
    ASSERT_TRUE(store.store(r));
    planted.push_back(r.tile);
  }

  auto second = service_->handle("compile", compile_body());
  ASSERT_TRUE(second) << second.error().message;
  ASSERT_EQ((*second)["kernels"].size(), kernels.size());
  for (size_t i = 0; i < kernels.size(); ++i) {
    const json& k = (*second)["kernels"][i];
    EXPECT_EQ(k["spec"]["tile"], planted[i]);
    EXPECT_EQ(k["tuning"]["source"], "tuned");
    EXPECT_EQ(k["tuning"]["card"], "Test Card");
    EXPECT_EQ(k["tuning"]["ms"], 0.5);
    EXPECT_TRUE(k["tuning"]["tuned_at"].is_string());
    EXPECT_NE(k["name"], kernels[i]["name"]);  // a different kernel was compiled
  }
}

}  // namespace
}  // namespace tpjit
