// parse_graph(): structure, normalization, and every structural error path.
#include <fstream>
#include <functional>
#include <iterator>

#include <gtest/gtest.h>

#include "graph/graph.h"
#include "tests/graph/graph_json.h"

namespace tpjit::graph {
namespace {

using testing::json;
using testing::llama_block;
using testing::named;

TEST(GraphParse, ParsesTheLlamaBlock) {
  auto g = parse_graph(llama_block());
  ASSERT_TRUE(g.ok()) << g.error().message << " at " << g.error().where;
  EXPECT_EQ(g->name, "test");
  EXPECT_EQ(g->group_name, "tp");
  EXPECT_EQ(g->world_size, 2);
  EXPECT_EQ(g->symbols, std::vector<std::string>{"M"});
  EXPECT_EQ(g->tensors.size(), 12u);
  EXPECT_EQ(g->nodes.size(), 6u);
  EXPECT_EQ(g->tensor("x_shard")->shape_text(), "M/2 x 8192");
  EXPECT_TRUE(g->tensor("w_qkv")->col_major);
  EXPECT_FALSE(g->tensor("q")->col_major);
  EXPECT_EQ(g->tensor("q")->dtype, DType::kF8E4M3);
  EXPECT_EQ(g->tensor("nope"), nullptr);
  EXPECT_EQ(g->producer("q"), 1);
  EXPECT_EQ(g->producer("x_shard"), -1);
  EXPECT_EQ(g->users("s_w"), (std::vector<int>{2, 4}));
  // Defaults are filled in.
  EXPECT_EQ(g->nodes[3].attrs["granularity"], "tensor");
  EXPECT_EQ(g->nodes[5].attrs["op"], "sum");
}

TEST(GraphParse, LookupsWorkWithoutAnIndex) {
  auto g = parse_graph(llama_block());
  ASSERT_TRUE(g.ok());
  Graph copy = *g;
  copy.tensor_ids.clear();
  copy.producer_ids.clear();
  copy.user_ids.clear();
  EXPECT_EQ(copy.tensor_index("z"), g->tensor_index("z"));
  EXPECT_EQ(copy.producer("q"), 1);
  EXPECT_EQ(copy.users("s_w"), (std::vector<int>{2, 4}));
}

TEST(GraphParse, NormalizesViewsToReshape) {
  json doc = testing::graph(
      {testing::tensor("a", {"M", 64}, "bfloat16"), testing::tensor("b", {1, "M", 64}, "bfloat16"),
       testing::tensor("c", {"M", 64}, "bfloat16"), testing::tensor("d", {"M*64"}, "bfloat16"),
       testing::tensor("e", {"M/2", 128}, "bfloat16")},
      {"a"}, {"e"},
      {testing::node("u", "unsqueeze", {"a"}, {"b"}, {{"dim", 0}}),
       testing::node("s", "squeeze", {"b"}, {"c"}, {{"dim", 0}}), testing::node("f", "flatten", {"c"}, {"d"}),
       testing::node("v", "view", {"d"}, {"e"}, {{"shape", {-1, 128}}})});
  auto g = parse_graph(doc);
  ASSERT_TRUE(g.ok()) << g.error().message << " at " << g.error().where;
  const char* originals[] = {"unsqueeze", "squeeze", "flatten", "view"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(g->nodes[i].op, "reshape");
    EXPECT_EQ(g->nodes[i].original_op, originals[i]);
  }
}

TEST(GraphParse, OpaqueOpsAreTrusted) {
  json doc = llama_block();
  doc["tensors"].push_back(testing::tensor("g", {"M", 7}, "int64"));
  doc["nodes"].push_back(testing::node("weird", "my_custom_op", {"z", "q"}, {"g"}, {{"anything", {1, 2}}}));
  auto g = parse_graph(doc);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->nodes.back().op, "my_custom_op");
}

struct BadCase {
  const char* name;
  std::function<void(json&)> edit;
  const char* code;
  const char* where;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class GraphParseError : public ::testing::TestWithParam<BadCase> {};

TEST_P(GraphParseError, ReportsCodeAndWhere) {
  const BadCase& c = GetParam();
  json doc = llama_block();
  c.edit(doc);
  auto g = parse_graph(doc);
  ASSERT_FALSE(g.ok()) << c.name;
  EXPECT_EQ(g.error().code, c.code) << g.error().message;
  EXPECT_EQ(g.error().where, c.where) << g.error().message;
  EXPECT_FALSE(g.error().message.empty());
}

json& T(json& d, const char* n) { return named(d["tensors"], n); }

const BadCase kBadCases[] = {
    {"not_object", [](json& d) { d = json::array(); }, errc::kBadGraph, "graph"},
    {"format", [](json& d) { d["format"] = "tpjit.graph/2"; }, errc::kBadGraph, "graph.format"},
    {"no_name", [](json& d) { d.erase("name"); }, errc::kBadGraph, "graph"},
    {"name_type", [](json& d) { d["name"] = 3; }, errc::kBadGraph, "graph.name"},
    {"name_control", [](json& d) { d["name"] = "a\nb"; }, errc::kBadGraph, "graph.name"},
    {"no_group", [](json& d) { d.erase("group"); }, errc::kBadGraph, "graph.group"},
    {"world_size_zero", [](json& d) { d["group"]["world_size"] = 0; }, errc::kBadGraph, "graph.group.world_size"},
    {"world_size_type", [](json& d) { d["group"]["world_size"] = "2"; }, errc::kBadGraph, "graph.group.world_size"},
    {"symbols_type", [](json& d) { d["symbols"] = "M"; }, errc::kBadGraph, "graph.symbols"},
    {"symbol_not_ident", [](json& d) { d["symbols"] = {"M", "2x"}; }, errc::kBadGraph, "graph.symbols[1]"},
    {"symbol_twice", [](json& d) { d["symbols"] = {"M", "M"}; }, errc::kBadGraph, "graph.symbols[0]"},
    {"no_tensors", [](json& d) { d.erase("tensors"); }, errc::kBadGraph, "graph.tensors"},
    {"tensor_not_object", [](json& d) { d["tensors"][2] = 5; }, errc::kBadGraph, "graph.tensors[2]"},
    {"tensor_no_name", [](json& d) { d["tensors"][1].erase("name"); }, errc::kBadGraph, "graph.tensors[1]"},
    {"tensor_empty_name", [](json& d) { d["tensors"][1]["name"] = ""; }, errc::kBadGraph, "graph.tensors[1].name"},
    {"tensor_twice", [](json& d) { d["tensors"][1]["name"] = "x_shard"; }, errc::kBadGraph, "graph.tensors[1].name"},
    {"tensor_no_shape", [](json& d) { d["tensors"][0].erase("shape"); }, errc::kBadGraph, "graph.tensors[0].shape"},
    {"dim_type", [](json& d) { d["tensors"][0]["shape"][1] = 1.5; }, errc::kBadGraph, "graph.tensors[0].shape[1]"},
    {"dim_negative", [](json& d) { d["tensors"][0]["shape"][1] = -8; }, errc::kBadGraph, "graph.tensors[0].shape[1]"},
    {"dim_syntax", [](json& d) { d["tensors"][0]["shape"][0] = "M/"; }, errc::kBadGraph, "graph.tensors[0].shape[0]"},
    {"dim_unknown_symbol", [](json& d) { d["tensors"][0]["shape"][0] = "N/2"; }, errc::kBadGraph, "graph.tensors[0].shape[0]"},
    {"dim_constant_fraction", [](json& d) { d["tensors"][0]["shape"][1] = "7/2"; }, errc::kNotDivisible, "graph.tensors[0].shape[1]"},
    {"no_dtype", [](json& d) { d["tensors"][0].erase("dtype"); }, errc::kBadGraph, "graph.tensors[0].dtype"},
    {"dtype_unknown", [](json& d) { d["tensors"][0]["dtype"] = "complex64"; }, errc::kUnsupportedDtype, "graph.tensors[0].dtype"},
    {"layout_type", [](json& d) { d["tensors"][0]["layout"] = 1; }, errc::kBadGraph, "graph.tensors[0].layout"},
    {"layout_unknown", [](json& d) { d["tensors"][0]["layout"] = "tiled"; }, errc::kBadGraph, "graph.tensors[0].layout"},
    {"col_major_rank", [](json& d) { d["tensors"][2]["layout"] = "col_major"; }, errc::kBadGraph, "graph.tensors[2].layout"},
    {"no_inputs", [](json& d) { d.erase("inputs"); }, errc::kBadGraph, "graph.inputs"},
    {"input_unknown", [](json& d) { d["inputs"][1] = "w_nope"; }, errc::kUnknownTensor, "graph.inputs[1]"},
    {"input_twice", [](json& d) { d["inputs"][1] = "x_shard"; }, errc::kBadGraph, "graph.inputs[1]"},
    {"no_nodes", [](json& d) { d.erase("nodes"); }, errc::kBadGraph, "graph.nodes"},
    {"node_not_object", [](json& d) { d["nodes"][0] = "n"; }, errc::kBadGraph, "graph.nodes[0]"},
    {"node_no_name", [](json& d) { d["nodes"][0].erase("name"); }, errc::kBadGraph, "graph.nodes[0]"},
    {"node_twice", [](json& d) { d["nodes"][1]["name"] = "quant_x"; }, errc::kBadGraph, "graph.nodes[1].name"},
    {"node_no_op", [](json& d) { d["nodes"][1].erase("op"); }, errc::kBadGraph, "graph.nodes[1]"},
    {"node_no_inputs", [](json& d) { d["nodes"][1].erase("inputs"); }, errc::kBadGraph, "graph.nodes[1].inputs"},
    {"node_inputs_type", [](json& d) { d["nodes"][1]["inputs"] = "q_shard"; }, errc::kBadGraph, "graph.nodes[1].inputs"},
    {"node_input_unknown", [](json& d) { d["nodes"][2]["inputs"][1] = "w_zzz"; }, errc::kUnknownTensor, "graph.nodes[2].inputs[1]"},
    {"node_input_before_def", [](json& d) { std::swap(d["nodes"][0], d["nodes"][1]); }, errc::kBadGraph, "graph.nodes[0].inputs[0]"},
    {"node_output_unknown", [](json& d) { d["nodes"][1]["outputs"][0] = "qq"; }, errc::kUnknownTensor, "graph.nodes[1].outputs[0]"},
    {"node_output_twice", [](json& d) { d["nodes"][4]["outputs"][0] = "y"; }, errc::kBadGraph, "graph.nodes[4].outputs[0]"},
    {"node_writes_input", [](json& d) { d["nodes"][1]["outputs"][0] = "w_qkv"; }, errc::kBadGraph, "graph.nodes[1].outputs[0]"},
    {"attrs_type", [](json& d) { d["nodes"][1]["attrs"] = json::array(); }, errc::kBadGraph, "graph.nodes[1].attrs"},
    {"arity_inputs", [](json& d) { d["nodes"][2]["inputs"] = {"q", "w_qkv", "s_x"}; }, errc::kBadGraph, "graph.nodes[2].inputs"},
    {"arity_outputs", [](json& d) { d["nodes"][0]["outputs"] = {"q_shard"}; }, errc::kBadGraph, "graph.nodes[0].outputs"},
    {"dim_attr_type", [](json& d) { d["nodes"][1]["attrs"]["dim"] = "0"; }, errc::kBadGraph, "graph.nodes[1].attrs.dim"},
    {"reduce_op_unknown", [](json& d) { d["nodes"][5]["attrs"]["op"] = "xor"; }, errc::kBadGraph, "graph.nodes[5].attrs.op"},
    {"granularity_unknown", [](json& d) { d["nodes"][0]["attrs"]["granularity"] = "channel"; }, errc::kBadGraph, "graph.nodes[0].attrs.granularity"},
    {"out_dtype_fp8", [](json& d) { d["nodes"][2]["attrs"]["out_dtype"] = "float8_e4m3fn"; }, errc::kUnsupportedDtype, "graph.nodes[2].attrs.out_dtype"},
    {"out_dtype_unknown", [](json& d) { d["nodes"][2]["attrs"]["out_dtype"] = "half"; }, errc::kUnsupportedDtype, "graph.nodes[2].attrs.out_dtype"},
    {"no_outputs", [](json& d) { d.erase("outputs"); }, errc::kBadGraph, "graph.outputs"},
    {"output_unknown", [](json& d) { d["outputs"][0] = "zz"; }, errc::kUnknownTensor, "graph.outputs[0]"},
    {"output_undefined", [](json& d) { d["tensors"].push_back(testing::tensor("lost", {1}, "float32")); d["outputs"][0] = "lost"; }, errc::kBadGraph, "graph.outputs[0]"},
    // Type errors found by the probe binding at parse time.
    {"probe_shape", [](json& d) { T(d, "q")["shape"][0] = "M/2"; }, errc::kShapeError, "graph.nodes[1].outputs[0]"},
    {"probe_dtype", [](json& d) { T(d, "y")["dtype"] = "float16"; }, errc::kTypeError, "graph.nodes[2].outputs[0]"},
    {"probe_layout", [](json& d) { T(d, "w_o")["layout"] = "row_major"; }, errc::kShapeError, "graph.nodes[4].inputs[1]"},
};

INSTANTIATE_TEST_SUITE_P(All, GraphParseError, ::testing::ValuesIn(kBadCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Node-attribute errors need a graph with the op in it.
TEST(GraphParse, ReshapeAttrErrors) {
  auto doc_with = [](json attrs, const std::string& op = "reshape") {
    return testing::graph({testing::tensor("a", {"M", 64}, "bfloat16"), testing::tensor("b", {"M", 64}, "bfloat16")},
                          {"a"}, {"b"}, {testing::node("r", op, {"a"}, {"b"}, std::move(attrs))});
  };
  struct Case {
    json attrs;
    std::string op, code, where;
  } cases[] = {
      {json::object(), "reshape", errc::kBadGraph, "graph.nodes[0].attrs.shape"},
      {{{"shape", {-2, 64}}}, "view", errc::kBadGraph, "graph.nodes[0].attrs.shape[0]"},
      {{{"shape", {-1, -1}}}, "reshape", errc::kBadGraph, "graph.nodes[0].attrs.shape[1]"},
      {{{"shape", {"M*", 64}}}, "reshape", errc::kBadGraph, "graph.nodes[0].attrs.shape[0]"},
      {{{"shape", {true, 64}}}, "reshape", errc::kBadGraph, "graph.nodes[0].attrs.shape[0]"},
      {json::object(), "unsqueeze", errc::kBadGraph, "graph.nodes[0].attrs"},
      {{{"dim", "x"}}, "squeeze", errc::kBadGraph, "graph.nodes[0].attrs.dim"},
      {{{"start_dim", 0.5}}, "flatten", errc::kBadGraph, "graph.nodes[0].attrs.start_dim"},
  };
  for (const auto& c : cases) {
    auto g = parse_graph(doc_with(c.attrs, c.op));
    ASSERT_FALSE(g.ok()) << c.attrs.dump();
    EXPECT_EQ(g.error().code, c.code) << c.attrs.dump() << ": " << g.error().message;
    EXPECT_EQ(g.error().where, c.where) << c.attrs.dump() << ": " << g.error().message;
  }
}

TEST(GraphParse, ProbeErrorsSayTheProbeValue) {
  json doc = llama_block();
  T(doc, "q")["shape"][0] = "M/2";
  auto g = parse_graph(doc);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("every symbol = 3072"), std::string::npos) << g.error().message;
  EXPECT_NE(g.error().message.find("(M/2 x 8192)"), std::string::npos) << g.error().message;
}

}  // namespace
}  // namespace tpjit::graph

namespace tpjit::graph {
namespace {

// The complete example in docs/graph-format.md parses and binds.
TEST(GraphParse, DocExampleParses) {
  std::ifstream in(std::string(TPJIT_SOURCE_DIR) + "/docs/graph-format.md");
  ASSERT_TRUE(in) << "docs/graph-format.md not found";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t start = text.rfind("```json\n");
  ASSERT_NE(start, std::string::npos);
  start += 8;
  size_t end = text.find("```", start);
  auto g = parse_graph(json::parse(text.substr(start, end - start)));
  ASSERT_TRUE(g.ok()) << g.error().message << " at " << g.error().where;
  EXPECT_EQ(g->name, "attn-tp2");
  EXPECT_TRUE(graph::bind(*g, {{"M", 2048}}).ok());
}

}  // namespace
}  // namespace tpjit::graph
