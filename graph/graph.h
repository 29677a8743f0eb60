// The op-graph IR: what a `tpjit.graph/1` JSON document parses into (see docs/graph-format.md).
// parse_graph() checks structure and types once; bind() evaluates the symbolic dims for one set
// of symbol values (one token count) and infers and checks every op's output.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/dim_expr.h"
#include "util/result.h"

namespace tpjit::graph {

inline constexpr const char* kFormat = "tpjit.graph/1";

enum class DType { kF8E4M3, kF8E5M2, kBF16, kF16, kF32, kI32, kI64, kU8, kBool };
const char* dtype_name(DType);                       // torch name, e.g. "float8_e4m3fn"
std::optional<DType> parse_dtype(std::string_view);  // from the torch name
bool is_fp8(DType);
bool is_float(DType);  // bfloat16, float16 or float32

using Shape = std::vector<int64_t>;
std::string shape_text(const Shape&);  // "[2048, 8192]"

struct TensorDecl {
  std::string name;
  std::vector<DimExpr> shape;
  DType dtype = DType::kF32;
  bool col_major = false;  // only for rank 2: element (i, j) at i + j * rows
  std::string shape_text() const;  // "M/2 x 8192"
};

struct Node {
  std::string name;
  std::string op;  // after normalizing: view/unsqueeze/squeeze/flatten become "reshape"
  std::vector<std::string> inputs, outputs;
  nlohmann::json attrs;     // as given (plus defaults filled in for the known ops)
  std::string original_op;  // the op as written, e.g. "view"
};

struct Graph {
  std::string name;
  std::string group_name;
  int world_size = 1;
  std::vector<std::string> symbols;
  std::vector<TensorDecl> tensors;
  std::vector<Node> nodes;
  std::vector<std::string> inputs, outputs;
  nlohmann::json meta;

  const TensorDecl* tensor(std::string_view name) const;  // nullptr if not declared
  int tensor_index(std::string_view name) const;          // -1 if not declared
  int producer(std::string_view tensor) const;            // node index or -1
  std::vector<int> users(std::string_view tensor) const;  // node indices, ascending, no repeats

  // Lookups built by parse_graph(); call reindex() after editing tensors or nodes by hand.
  // With an empty index the lookups scan linearly.
  void reindex();
  std::map<std::string, int, std::less<>> tensor_ids;
  std::map<std::string, int, std::less<>> producer_ids;
  std::map<std::string, std::vector<int>, std::less<>> user_ids;
};

struct Limits {
  int max_nodes = 4096;
  int max_tensors = 8192;
  int max_rank = 8;
  int max_name_length = 128;
  int max_symbols = 8;
};

// Parses and checks a graph document: format, names, definitions before use, op arity and
// attribute types, limits; then type-checks once with every symbol bound to a probe value so
// structural shape and dtype errors show here rather than per token count.
Result<Graph> parse_graph(const nlohmann::json& doc, const Limits& limits = {});

struct BoundGraph {
  const Graph* graph = nullptr;  // must outlive this
  Bindings bindings;
  std::vector<Shape> shapes;  // per tensor index of graph->tensors
  const Shape& shape(std::string_view tensor) const;  // throws CheckError if not declared
};

// Evaluates every declared dim under `bindings` (a value for each symbol, > 0), infers each
// op's output shape and dtype and checks them against the declarations.
Result<BoundGraph> bind(const Graph& graph, const Bindings& bindings);

// The scale mode torch._scaled_mm takes from these shapes: "tensor", "row", "block", or nullptr
// if they match none. a = [M, K], b = [K, N].
const char* scaled_mm_scale_mode(const Shape& a, const Shape& b, const Shape& scale_a,
                                 const Shape& scale_b);

}  // namespace tpjit::graph
