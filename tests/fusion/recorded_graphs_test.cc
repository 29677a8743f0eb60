// Every recorded graph in tests/data/graphs/ parses, binds at M = 2048 and matches; where
// <name>.expected.json exists, the regions and match counts must equal it:
//   {"regions": [{"kind", "pattern", "fused", "nodes"}...], "match_counts": {pattern: count}}
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "fusion/match.h"
#include "tests/util/recorded_graphs.h"

namespace tpjit::fusion {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kDir = TPJIT_RECORDED_GRAPHS_DIR;

std::vector<std::string> recorded_graphs() {
  std::vector<std::string> out;
  for (const fs::path& p : tpjit::testing::recorded_graph_files(kDir)) out.push_back(p.stem().string());
  return out;
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

class RecordedGraph : public ::testing::TestWithParam<std::string> {};

TEST_P(RecordedGraph, MatchesItsExpectation) {
  const std::string name = GetParam();
  auto g = graph::parse_graph(read_json(kDir / (name + ".json")));
  ASSERT_TRUE(g.ok()) << g.error().code << ": " << g.error().message << " at " << g.error().where;
  graph::Bindings b;
  for (const auto& s : g->symbols) b[s] = 2048;  // M = 2048; any other symbol gets the same
  auto bound = graph::bind(*g, b);
  ASSERT_TRUE(bound.ok()) << bound.error().code << ": " << bound.error().message << " at " << bound.error().where;
  MatchResult result = match(*bound);
  json got = match_to_json(result);

  fs::path expected_path = kDir / (name + ".expected.json");
  if (!fs::exists(expected_path)) {
    GTEST_SKIP() << "no " << expected_path.filename() << " yet; got: " << got.dump(1);
  }
  json want = read_json(expected_path);
  ASSERT_EQ(got["regions"].size(), want["regions"].size()) << got.dump(1);
  for (size_t i = 0; i < want["regions"].size(); ++i) {
    SCOPED_TRACE("region " + std::to_string(i) + ": " + got["regions"][i].dump());
    for (const char* key : {"kind", "pattern", "fused", "nodes"}) {
      EXPECT_EQ(got["regions"][i][key], want["regions"][i][key]) << key;
    }
  }
  EXPECT_EQ(got["match_counts"], want.value("match_counts", json::object()));
}

INSTANTIATE_TEST_SUITE_P(Graphs, RecordedGraph, ::testing::ValuesIn(recorded_graphs()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RecordedGraph);

TEST(RecordedGraphs, DirectoryHasGraphs) {
  if (recorded_graphs().empty()) GTEST_SKIP() << "no recorded graphs in " << kDir << " yet";
  SUCCEED();
}

}  // namespace
}  // namespace tpjit::fusion
