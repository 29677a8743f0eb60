// Shape and dtype inference of each known op (internal to graph/).
#pragma once

#include <string>
#include <vector>

#include "graph/graph.h"

namespace tpjit::graph {

// One node being inferred, with the shapes evaluated so far.
struct OpCtx {
  const Graph& g;
  const Node& n;
  size_t index;
  const std::vector<Shape>& shapes;
  const Bindings& bindings;

  std::string where() const { return "graph.nodes[" + std::to_string(index) + "]"; }
  std::string in_where(size_t i) const { return where() + ".inputs[" + std::to_string(i) + "]"; }
  std::string label() const { return n.original_op + " '" + n.name + "'"; }
  const TensorDecl& in(size_t i) const { return *g.tensor(n.inputs[i]); }
  const Shape& in_shape(size_t i) const { return shapes[g.tensor_index(n.inputs[i])]; }
  const TensorDecl& out(size_t i) const { return *g.tensor(n.outputs[i]); }
  const Shape& out_shape(size_t i) const { return shapes[g.tensor_index(n.outputs[i])]; }
};

struct Out {
  Shape shape;
  DType dtype;
};
using Outs = std::vector<Out>;

Result<Outs> infer_collective(const OpCtx&);  // all_gather, reduce_scatter, all_reduce
Result<Outs> infer_scaled_mm(const OpCtx&);
Result<Outs> infer_bmm_fp8(const OpCtx&);
Result<Outs> infer_mm(const OpCtx&);
Result<Outs> infer_quantize(const OpCtx&);
Result<Outs> infer_reshape(const OpCtx&);  // reshape/view/unsqueeze/squeeze/flatten

}  // namespace tpjit::graph
