// Limits and large graphs: every limit gives limit_exceeded with a path; a graph at the limits
// parses and binds quickly.
#include <chrono>

#include <gtest/gtest.h>

#include "graph/graph.h"
#include "tests/graph/graph_json.h"

namespace tpjit::graph {
namespace {

using testing::json;
using testing::node;
using testing::tensor;

// x0 -> view -> x1 -> view -> ... -> x{n}, alternating [M, 64] and [M/2, 128].
json reshape_chain(int n) {
  json tensors = json::array(), nodes = json::array();
  for (int i = 0; i <= n; ++i) {
    tensors.push_back(tensor("x" + std::to_string(i), i % 2 ? json{"M/2", 128} : json{"M", 64}, "bfloat16"));
    if (i == 0) continue;
    json shape = i % 2 ? json{"M/2", -1} : json{-1, 64};
    nodes.push_back(node("v" + std::to_string(i), "view", {"x" + std::to_string(i - 1)}, {"x" + std::to_string(i)},
                         {{"shape", shape}}));
  }
  return testing::graph(tensors, {"x0"}, {"x" + std::to_string(n)}, nodes);
}

// The time bound is there to catch quadratic work (thousands of times slower at 4096 nodes), not
// to time the parser: an unoptimized or sanitized build (scripts/sanitize.sh) runs it ~10x slower.
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
constexpr double kSecondsBound = 50.0;
#else
constexpr double kSecondsBound = 5.0;
#endif

void expect_limit(const Result<Graph>& g, const std::string& where) {
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, errc::kLimitExceeded) << g.error().message;
  EXPECT_EQ(g.error().where, where) << g.error().message;
  EXPECT_NE(g.error().message.find("Limits::"), std::string::npos) << g.error().message;
}

TEST(GraphLimits, EachLimitIsEnforced) {
  Limits small;
  small.max_nodes = 10;
  expect_limit(parse_graph(reshape_chain(11), small), "graph.nodes");
  EXPECT_TRUE(parse_graph(reshape_chain(10), small).ok());

  Limits few_tensors;
  few_tensors.max_tensors = 5;
  expect_limit(parse_graph(reshape_chain(5), few_tensors), "graph.tensors");

  json deep = testing::llama_block();
  deep["tensors"][0]["shape"] = json::array({1, 1, 1, 1, 1, 1, 1, 1, 1});
  expect_limit(parse_graph(deep), "graph.tensors[0].shape");

  json long_name = testing::llama_block();
  long_name["nodes"][0]["name"] = std::string(129, 'n');
  expect_limit(parse_graph(long_name), "graph.nodes[0].name");

  json symbols = testing::llama_block();
  symbols["symbols"] = {"M", "A", "B", "C", "D", "E", "F", "G", "H"};
  expect_limit(parse_graph(symbols), "graph.symbols");

  json wide_view = reshape_chain(1);
  wide_view["nodes"][0]["attrs"]["shape"] = json::array({1, 1, 1, 1, 1, 1, 1, 1, "M/2", -1});
  Limits limits;
  auto g = parse_graph(wide_view, limits);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, errc::kLimitExceeded);
  EXPECT_EQ(g.error().where, "graph.nodes[0].attrs.shape");
}

TEST(GraphLimits, DeepChainAtTheLimitParsesAndBindsFast) {
  auto start = std::chrono::steady_clock::now();
  auto g = parse_graph(reshape_chain(4096));
  ASSERT_TRUE(g.ok()) << g.error().message << " at " << g.error().where;
  EXPECT_EQ(g->nodes.size(), 4096u);
  for (int64_t m : {2, 2048, 65536}) {
    auto b = graph::bind(*g, {{"M", m}});
    ASSERT_TRUE(b.ok()) << b.error().message;
    EXPECT_EQ(b->shape("x4096"), (Shape{m, 64}));
    EXPECT_EQ(b->shape("x4095"), (Shape{m / 2, 128}));
  }
  auto odd = graph::bind(*g, {{"M", 2047}});
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error().code, errc::kNotDivisible);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, kSecondsBound);  // linear-time work; a quadratic lookup would show here
  // One node too many.
  auto over = parse_graph(reshape_chain(4097));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, errc::kLimitExceeded);
}

TEST(GraphLimits, WideGraphOfManyGemms) {
  // One gather feeding 1000 FP8 GEMMs: 3000+ tensors.
  json tensors = {tensor("xs", {"M/2", 256}, "float8_e4m3fn"), tensor("x", {"M", 256}, "float8_e4m3fn"),
                  tensor("s", json::array(), "float32")};
  json nodes = {node("ag", "all_gather", {"xs"}, {"x"})};
  json inputs = {"xs", "s"}, outputs = json::array();
  for (int i = 0; i < 1000; ++i) {
    std::string w = "w" + std::to_string(i), y = "y" + std::to_string(i);
    tensors.push_back(tensor(w, {256, 128}, "float8_e4m3fn", "col_major"));
    tensors.push_back(tensor(y, {"M", 128}, "bfloat16"));
    inputs.push_back(w);
    outputs.push_back(y);
    nodes.push_back(node("mm" + std::to_string(i), "scaled_mm", {"x", w, "s", "s"}, {y}, {{"out_dtype", "bfloat16"}}));
  }
  auto g = parse_graph(testing::graph(tensors, inputs, outputs, nodes));
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->users("x").size(), 1000u);
  EXPECT_EQ(g->users("s").size(), 1000u);
}

}  // namespace
}  // namespace tpjit::graph
