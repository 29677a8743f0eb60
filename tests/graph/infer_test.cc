// bind(): per-op inference and every bind-time error path.
#include <memory>

#include <gtest/gtest.h>

#include "graph/graph.h"
#include "util/check.h"
#include "tests/graph/graph_json.h"

namespace tpjit::graph {
namespace {

using testing::json;
using testing::node;
using testing::tensor;

// A parsed graph and one binding of it; the BoundGraph points into `*graph`, which stays put.
struct Bound {
  std::unique_ptr<Graph> graph;
  BoundGraph bound;
};

Result<Bound> parse_and_bind(const json& doc, const Bindings& b = {{"M", 2048}}) {
  auto g = parse_graph(doc);
  if (!g) return g.error();
  Bound out{std::make_unique<Graph>(std::move(*g)), {}};
  auto bg = graph::bind(*out.graph, b);
  if (!bg) return bg.error();
  out.bound = std::move(*bg);
  return out;
}

// Parses (probe-checks) and expects an error with this code and where.
void expect_error(const json& doc, const std::string& code, const std::string& where,
                  const std::string& message_part = {}) {
  auto r = parse_and_bind(doc);
  ASSERT_FALSE(r.ok()) << doc.dump();
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_EQ(r.error().where, where) << r.error().message;
  EXPECT_NE(r.error().message.find(message_part), std::string::npos) << r.error().message;
}

Shape shape_of(const Result<Bound>& r, const std::string& t) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message + " at " + r.error().where);
  return r.ok() ? r->bound.shape(t) : Shape{-1};
}

TEST(GraphBind, LlamaBlockShapes) {
  auto r = parse_and_bind(testing::llama_block(), {{"M", 4096}});
  EXPECT_EQ(shape_of(r, "x_shard"), (Shape{2048, 8192}));
  EXPECT_EQ(shape_of(r, "q"), (Shape{4096, 8192}));
  EXPECT_EQ(shape_of(r, "y"), (Shape{4096, 5120}));
  EXPECT_EQ(shape_of(r, "z_shard"), (Shape{2048, 8192}));
  EXPECT_EQ(shape_of(r, "s_x"), Shape{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bound.bindings.at("M"), 4096);
  EXPECT_THROW(r->bound.shape("nope"), CheckError);
}

TEST(GraphBind, BindingErrors) {
  auto g = parse_graph(testing::llama_block());
  ASSERT_TRUE(g.ok());
  struct Case {
    Bindings b;
    std::string code, where, part;
  } cases[] = {
      {{}, errc::kBadRequest, "bindings.M", "needs a value for symbol 'M'"},
      {{{"M", 2048}, {"N", 1}}, errc::kBadRequest, "bindings.N", "no symbol 'N'"},
      {{{"M", 0}}, errc::kBadRequest, "bindings.M", "must be positive"},
      {{{"M", 1001}}, errc::kNotDivisible, "graph.tensors[0].shape[0]",
       "M=1001 makes 'M/2' = 500.5 (tensor 'x_shard', dim 0); M must be a multiple of 2"},
  };
  for (const auto& c : cases) {
    auto bg = graph::bind(*g, c.b);
    ASSERT_FALSE(bg.ok()) << c.where;
    EXPECT_EQ(bg.error().code, c.code) << bg.error().message;
    EXPECT_EQ(bg.error().where, c.where) << bg.error().message;
    EXPECT_NE(bg.error().message.find(c.part), std::string::npos) << bg.error().message;
  }
}

json one_op(json tensors, json inputs, json node_json, const std::string& out) {
  return testing::graph(std::move(tensors), std::move(inputs), {out}, {std::move(node_json)});
}

TEST(GraphBind, Collectives) {
  auto gather1 = one_op({tensor("a", {"M", 64}, "bfloat16"), tensor("b", {"M", 128}, "bfloat16")}, {"a"},
                        node("ag", "all_gather", {"a"}, {"b"}, {{"dim", -1}}), "b");
  EXPECT_EQ(shape_of(parse_and_bind(gather1), "b"), (Shape{2048, 128}));
  auto ar = one_op({tensor("a", {"M", 64}, "float32"), tensor("b", {"M", 64}, "float32")}, {"a"},
                   node("ar", "all_reduce", {"a"}, {"b"}), "b");
  EXPECT_EQ(shape_of(parse_and_bind(ar), "b"), (Shape{2048, 64}));
  auto rs = one_op({tensor("a", {"M", 64}, "bfloat16"), tensor("b", {"M", 32}, "bfloat16")}, {"a"},
                   node("rs", "reduce_scatter", {"a"}, {"b"}, {{"dim", 1}}), "b");
  EXPECT_EQ(shape_of(parse_and_bind(rs), "b"), (Shape{2048, 32}));

  auto gathered = parse_graph(one_op({tensor("a", {"M", 64}, "bfloat16"), tensor("b", {"2*M", 64}, "bfloat16")},
                                     {"a"}, node("ag", "all_gather", {"a"}, {"b"}), "b"));
  ASSERT_TRUE(gathered.ok());
  auto huge = graph::bind(*gathered, {{"M", int64_t{1} << 62}});
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().code, errc::kLimitExceeded);

  auto bad_dim = one_op({tensor("a", {"M", 64}, "bfloat16"), tensor("b", {"M", 64}, "bfloat16")}, {"a"},
                        node("ag", "all_gather", {"a"}, {"b"}, {{"dim", 2}}), "b");
  expect_error(bad_dim, errc::kShapeError, "graph.nodes[0].attrs.dim", "out of range");
  auto rs_odd = one_op({tensor("a", {1001, 64}, "bfloat16"), tensor("b", {500, 64}, "bfloat16")}, {"a"},
                       node("rs", "reduce_scatter", {"a"}, {"b"}), "b");
  expect_error(rs_odd, errc::kNotDivisible, "graph.nodes[0].inputs[0]", "world_size 2");
  auto bad_out = one_op({tensor("a", {"M/2", 64}, "bfloat16"), tensor("b", {"M/2", 64}, "bfloat16")}, {"a"},
                        node("ag", "all_gather", {"a"}, {"b"}), "b");
  expect_error(bad_out, errc::kShapeError, "graph.nodes[0].outputs[0]", "declared [1536, 64] (M/2 x 64)");
  auto bad_dtype = one_op({tensor("a", {"M", 64}, "bfloat16"), tensor("b", {"M", 64}, "float16")}, {"a"},
                          node("ar", "all_reduce", {"a"}, {"b"}), "b");
  expect_error(bad_dtype, errc::kTypeError, "graph.nodes[0].outputs[0]", "dtype bfloat16");
}

// scaled_mm with scale shapes sa, sb; tensors can be overridden after.
json scaled_mm(json sa, json sb, int64_t k = 256, int64_t n = 384) {
  return testing::graph(
      {tensor("a", {"M", k}, "float8_e4m3fn"), tensor("b", {k, n}, "float8_e4m3fn", "col_major"),
       tensor("sa", std::move(sa), "float32"), tensor("sb", std::move(sb), "float32"),
       tensor("bias", {n}, "bfloat16"), tensor("y", {"M", n}, "bfloat16")},
      {"a", "b", "sa", "sb", "bias"}, {"y"},
      {node("mm", "scaled_mm", {"a", "b", "sa", "sb"}, {"y"}, {{"out_dtype", "bfloat16"}})});
}

TEST(GraphBind, ScaledMmScaleModes) {
  for (auto [sa, sb] : std::vector<std::pair<json, json>>{{json::array(), json::array()},
                                                          {{1}, {1}},
                                                          {{1, 1}, json::array()},
                                                          {{"M", 1}, {1, 384}},
                                                          {{"M", 2}, {2, 3}}}) {
    auto r = parse_and_bind(scaled_mm(sa, sb));
    EXPECT_EQ(shape_of(r, "y"), (Shape{2048, 384})) << sa.dump() << " " << sb.dump();
  }
  // K=300 -> 3 blocks of 128 (ceil), N=200 -> 2.
  EXPECT_EQ(shape_of(parse_and_bind(scaled_mm({"M", 3}, {3, 2}, 300, 200)), "y"), (Shape{2048, 200}));
  EXPECT_STREQ(scaled_mm_scale_mode({4, 256}, {256, 384}, {4, 1}, {1, 384}), "row");
  EXPECT_STREQ(scaled_mm_scale_mode({4, 256}, {256, 384}, {4, 2}, {2, 3}), "block");
  EXPECT_STREQ(scaled_mm_scale_mode({4, 256}, {256, 384}, {}, {1}), "tensor");
  EXPECT_EQ(scaled_mm_scale_mode({4, 256}, {256, 384}, {4, 1}, {1}), nullptr);
}

TEST(GraphBind, ScaledMmBiasAndDefaultOutDtype) {
  json doc = scaled_mm(json::array(), json::array());
  doc["nodes"][0]["inputs"].push_back("bias");
  doc["nodes"][0]["attrs"].erase("out_dtype");  // taken from the declared output
  auto r = parse_and_bind(doc);
  EXPECT_EQ(shape_of(r, "y"), (Shape{2048, 384}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->graph->nodes[0].attrs["out_dtype"], "bfloat16");
}

TEST(GraphBind, ScaledMmErrors) {
  using testing::named;
  struct Case {
    const char* name;
    std::function<void(json&)> edit;
    std::string code, where, part;
  } cases[] = {
      {"a_rank", [](json& d) { named(d["tensors"], "a")["shape"] = {"M", 256, 1}; }, errc::kShapeError, "graph.nodes[0].inputs[0]", "rank 3"},
      {"a_bf16", [](json& d) { named(d["tensors"], "a")["dtype"] = "bfloat16"; }, errc::kTypeError, "graph.nodes[0].inputs[0]", "quantize_fp8"},
      {"a_col", [](json& d) { named(d["tensors"], "a")["layout"] = "col_major"; }, errc::kShapeError, "graph.nodes[0].inputs[0]", "row-major"},
      {"b_row", [](json& d) { named(d["tensors"], "b")["layout"] = "row_major"; }, errc::kShapeError, "graph.nodes[0].inputs[1]", "col_major"},
      {"k_mismatch", [](json& d) { named(d["tensors"], "b")["shape"][0] = 512; }, errc::kShapeError, "graph.nodes[0].inputs[1]", "disagree on K"},
      {"scale_dtype", [](json& d) { named(d["tensors"], "sa")["dtype"] = "bfloat16"; }, errc::kTypeError, "graph.nodes[0].inputs[2]", "float32"},
      {"scale_mode", [](json& d) { named(d["tensors"], "sa")["shape"] = {"M", 1}; }, errc::kShapeError, "graph.nodes[0].inputs[2]", "row ([3072, 1] and [1, 384])"},
      {"bias_shape", [](json& d) { named(d["tensors"], "bias")["shape"] = {1, 384}; d["nodes"][0]["inputs"].push_back("bias"); }, errc::kShapeError, "graph.nodes[0].inputs[4]", "must be [384]"},
      {"bias_dtype", [](json& d) { named(d["tensors"], "bias")["dtype"] = "float32"; d["nodes"][0]["inputs"].push_back("bias"); }, errc::kTypeError, "graph.nodes[0].inputs[4]", "out_dtype"},
      {"out_dtype", [](json& d) { d["nodes"][0]["attrs"]["out_dtype"] = "float32"; }, errc::kTypeError, "graph.nodes[0].outputs[0]", "declared bfloat16"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json doc = scaled_mm(json::array(), json::array());
    c.edit(doc);
    expect_error(doc, c.code, c.where, c.part);
  }
}

json bmm(json a, json b, json out, json sa = json::array()) {
  return testing::graph({tensor("A", std::move(a), "float8_e4m3fn"), tensor("B", std::move(b), "float8_e4m3fn"),
                         tensor("sa", std::move(sa), "float32"), tensor("sb", {1}, "float32"),
                         tensor("y", std::move(out), "float16")},
                        {"A", "B", "sa", "sb"}, {"y"},
                        {node("bmm", "bmm_fp8", {"A", "B", "sa", "sb"}, {"y"}, {{"out_dtype", "float16"}})});
}

TEST(GraphBind, BmmFp8) {
  EXPECT_EQ(shape_of(parse_and_bind(bmm({1, "M", 256}, {1, 256, 64}, {1, "M", 64})), "y"), (Shape{1, 2048, 64}));
  EXPECT_EQ(shape_of(parse_and_bind(bmm({4, "M", 256}, {4, 256, 64}, {4, "M", 64})), "y"), (Shape{4, 2048, 64}));
  expect_error(bmm({"M", 256}, {1, 256, 64}, {1, "M", 64}), errc::kShapeError, "graph.nodes[0].inputs[0]", "rank 3");
  expect_error(bmm({2, "M", 256}, {1, 256, 64}, {1, "M", 64}), errc::kShapeError, "graph.nodes[0].inputs[1]", "batch");
  expect_error(bmm({1, "M", 256}, {1, 128, 64}, {1, "M", 64}), errc::kShapeError, "graph.nodes[0].inputs[1]", "disagree on K");
  expect_error(bmm({1, "M", 256}, {1, 256, 64}, {1, "M", 64}, {"M", 1}), errc::kShapeError, "graph.nodes[0].inputs[2]", "scalar");
}

json mm(const std::string& da, const std::string& db, int64_t kb = 256, const std::string& dout = "bfloat16") {
  return testing::graph({tensor("a", {"M", 256}, da), tensor("b", {kb, 64}, db), tensor("y", {"M", 64}, dout)},
                        {"a", "b"}, {"y"}, {node("mm", "mm", {"a", "b"}, {"y"})});
}

TEST(GraphBind, Mm) {
  EXPECT_EQ(shape_of(parse_and_bind(mm("bfloat16", "bfloat16")), "y"), (Shape{2048, 64}));
  EXPECT_EQ(shape_of(parse_and_bind(mm("float32", "float32", 256, "float32")), "y"), (Shape{2048, 64}));
  expect_error(mm("float8_e4m3fn", "float8_e4m3fn"), errc::kTypeError, "graph.nodes[0].inputs[0]", "scaled_mm");
  expect_error(mm("bfloat16", "float16"), errc::kTypeError, "graph.nodes[0].inputs[1]", "the same dtype");
  expect_error(mm("bfloat16", "bfloat16", 128), errc::kShapeError, "graph.nodes[0].inputs[1]", "disagree on K");
}

json quantize(json x, const std::string& gran, json scale, const std::string& xdtype = "bfloat16",
              const std::string& qdtype = "float8_e4m3fn") {
  json q_shape = x;
  return testing::graph({tensor("x", std::move(x), xdtype), tensor("q", std::move(q_shape), qdtype),
                         tensor("s", std::move(scale), "float32")},
                        {"x"}, {"q", "s"},
                        {node("qz", "quantize_fp8", {"x"}, {"q", "s"}, {{"granularity", gran}})});
}

TEST(GraphBind, QuantizeFp8) {
  EXPECT_EQ(shape_of(parse_and_bind(quantize({"M", 300}, "tensor", json::array())), "s"), Shape{});
  EXPECT_EQ(shape_of(parse_and_bind(quantize({"M", 300}, "tensor", {1})), "s"), Shape{1});
  EXPECT_EQ(shape_of(parse_and_bind(quantize({"M", 300}, "row", {"M", 1})), "s"), (Shape{2048, 1}));
  EXPECT_EQ(shape_of(parse_and_bind(quantize({"M", 300}, "block128", {"M", 3})), "s"), (Shape{2048, 3}));
  EXPECT_EQ(shape_of(parse_and_bind(quantize({4, "M", 256}, "row", {"4*M", 1})), "s"), (Shape{8192, 1}));
  expect_error(quantize({"M", 300}, "tensor", json::array(), "int32"), errc::kTypeError, "graph.nodes[0].inputs[0]", "int32");
  expect_error(quantize({"M", 300}, "tensor", json::array(), "bfloat16", "float8_e5m2"), errc::kTypeError,
               "graph.nodes[0].outputs[0]", "float8_e4m3fn");
  expect_error(quantize({"M", 300}, "row", {"M", 3}), errc::kShapeError, "graph.nodes[0].outputs[1]", "[3072, 1]");
  expect_error(quantize(json::array(), "row", {1, 1}), errc::kShapeError, "graph.nodes[0].inputs[0]", "rank >= 1");
}

json reshape(json in, const std::string& op, json attrs, json out) {
  return one_op({tensor("a", std::move(in), "bfloat16"), tensor("b", std::move(out), "bfloat16")}, {"a"},
                node("r", op, {"a"}, {"b"}, std::move(attrs)), "b");
}

TEST(GraphBind, ReshapeFamily) {
  EXPECT_EQ(shape_of(parse_and_bind(reshape({"M/2", 2, 64}, "reshape", {{"shape", {-1, 64}}}, {"M", 64})), "b"),
            (Shape{2048, 64}));
  EXPECT_EQ(shape_of(parse_and_bind(reshape({"M", 64}, "view", {{"shape", {"M/4", 4, "64"}}}, {"M/4", 4, 64})), "b"),
            (Shape{512, 4, 64}));
  EXPECT_EQ(shape_of(parse_and_bind(reshape({"M", 64}, "unsqueeze", {{"dim", -1}}, {"M", 64, 1})), "b"),
            (Shape{2048, 64, 1}));
  EXPECT_EQ(shape_of(parse_and_bind(reshape({1, "M", 1}, "squeeze", json::object(), {"M"})), "b"), (Shape{2048}));
  EXPECT_EQ(shape_of(parse_and_bind(reshape({1, "M", 1}, "squeeze", {{"dim", {0, 1}}}, {"M", 1})), "b"),
            (Shape{2048, 1}));
  EXPECT_EQ(shape_of(parse_and_bind(reshape({2, "M", 4, 8}, "flatten", {{"start_dim", 1}, {"end_dim", 2}}, {2, "4*M", 8})), "b"),
            (Shape{2, 8192, 8}));
  EXPECT_EQ(shape_of(parse_and_bind(reshape(json::array(), "flatten", json::object(), {1})), "b"), (Shape{1}));
  // The 3-D sequence-parallel form: [S, B, H] -> [S*B, H].
  json sp = testing::graph({tensor("a", {"S", "B", 512}, "bfloat16"), tensor("b", {"S*B", 512}, "bfloat16")}, {"a"}, {"b"},
                           {node("v", "view", {"a"}, {"b"}, {{"shape", {"S*B", 512}}})}, 2, {"S", "B"});
  EXPECT_EQ(shape_of(parse_and_bind(sp, {{"S", 1024}, {"B", 2}}), "b"), (Shape{2048, 512}));

  expect_error(reshape({"M", 64}, "reshape", {{"shape", {"M", 32}}}, {"M", 32}), errc::kShapeError,
               "graph.nodes[0].attrs.shape", "element counts must match");
  expect_error(reshape({"M", 64}, "reshape", {{"shape", {-1, 7}}}, {"M", 7}), errc::kShapeError,
               "graph.nodes[0].attrs.shape", "cannot infer the -1 dim");
  // A divisor too large for the probe's lcm reaches the target's own evaluation.
  expect_error(reshape({"M", 64}, "reshape", {{"shape", {"M/1048583", -1}}}, {"M", 64}), errc::kNotDivisible,
               "graph.nodes[0].attrs.shape[0]", "must be a multiple of 1048583");
  expect_error(reshape({"M", 64}, "unsqueeze", {{"dim", 3}}, {"M", 64, 1}), errc::kShapeError,
               "graph.nodes[0].attrs.dim", "out of range");
  expect_error(reshape({"M", 64}, "squeeze", {{"dim", 2}}, {"M", 64}), errc::kShapeError, "graph.nodes[0].attrs.dim",
               "out of range");
  expect_error(reshape({"M", 64}, "flatten", {{"start_dim", 1}, {"end_dim", 0}}, {"M", 64}), errc::kShapeError,
               "graph.nodes[0].attrs", "start_dim comes after end_dim");
  expect_error(reshape({"M", 64}, "flatten", {{"start_dim", 5}}, {"M", 64}), errc::kShapeError,
               "graph.nodes[0].attrs.start_dim", "out of range");
  expect_error(reshape({"M", 64}, "unsqueeze", {{"dim", 0}}, {"M", 64}), errc::kShapeError,
               "graph.nodes[0].outputs[0]", "gives 'b' shape [1, 3072, 64]");
}

}  // namespace
}  // namespace tpjit::graph
