// A small builder for fusion test graphs: tensors, nodes, and FP8 GEMMs with their weights.
#pragma once

#include <memory>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "fusion/match.h"
#include "tests/graph/graph_json.h"

namespace tpjit::testing {

class GraphBuilder {
 public:
  explicit GraphBuilder(int world_size = 2, json symbols = json::array({"M"}))
      : world_size_(world_size), symbols_(std::move(symbols)) {}

  GraphBuilder& input(const std::string& name, json shape, const std::string& dtype,
                      const std::string& layout = "row_major") {
    add_tensor(name, std::move(shape), dtype, layout);
    inputs_.push_back(name);
    return *this;
  }
  GraphBuilder& op(const std::string& name, const std::string& op, json inputs, const std::string& out,
                   json out_shape, const std::string& dtype, json attrs = json::object(),
                   const std::string& layout = "row_major") {
    add_tensor(out, std::move(out_shape), dtype, layout);
    nodes_.push_back(node(name, op, std::move(inputs), {out}, std::move(attrs)));
    last_ = out;
    return *this;
  }
  // scaled_mm(a, w_<name> [k, n] col_major, s1, s1) -> out [rows, n] bf16.
  GraphBuilder& fp8_gemm(const std::string& name, const std::string& a, json rows, json k, json n,
                         const std::string& out, const std::string& wdtype = "float8_e4m3fn") {
    scalar_scale();
    input("w_" + name, {k, n}, wdtype, "col_major");
    return op(name, "scaled_mm", {a, "w_" + name, "s1", "s1"}, out, {std::move(rows), n}, "bfloat16",
              {{"out_dtype", "bfloat16"}});
  }
  GraphBuilder& scalar_scale() {
    if (!tensor_names_.count("s1")) input("s1", json::array(), "float32");
    return *this;
  }
  GraphBuilder& opaque(const std::string& name, json inputs, const std::string& out, json shape,
                       const std::string& dtype) {
    return op(name, "my_opaque", std::move(inputs), out, std::move(shape), dtype);
  }
  json doc() const {
    json outputs = json::array({last_});
    return graph(tensors_, inputs_, outputs, nodes_, world_size_, symbols_);
  }

 private:
  void add_tensor(const std::string& name, json shape, const std::string& dtype, const std::string& layout) {
    tensor_names_.insert(name);
    tensors_.push_back(tensor(name, std::move(shape), dtype, layout));
  }
  int world_size_;
  json symbols_;
  json tensors_ = json::array(), nodes_ = json::array();
  json inputs_ = json::array();
  std::set<std::string> tensor_names_;
  std::string last_;
};

// Parses, binds and matches; keeps the graph alive for the BoundGraph.
struct Matched {
  std::unique_ptr<graph::Graph> graph;
  graph::BoundGraph bound;
  fusion::MatchResult result;
};

inline Matched match_doc(const json& doc, const graph::Bindings& b = {{"M", 2048}}) {
  Matched m;
  auto g = graph::parse_graph(doc);
  if (!g) ADD_FAILURE() << g.error().message << " at " << g.error().where;
  if (!g) return m;
  m.graph = std::make_unique<graph::Graph>(std::move(*g));
  auto bg = graph::bind(*m.graph, b);
  if (!bg) ADD_FAILURE() << bg.error().message << " at " << bg.error().where;
  if (!bg) return m;
  m.bound = std::move(*bg);
  m.result = fusion::match(m.bound);
  return m;
}

}  // namespace tpjit::testing
