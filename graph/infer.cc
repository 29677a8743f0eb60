// bind(): evaluates declared dims for one set of symbol values, infers every known op's output
// shapes and dtypes, and checks them against the declarations.
#include <algorithm>

#include "graph/infer_ops.h"
#include "graph/ops.h"

namespace tpjit::graph {
namespace {

std::string describe(const TensorDecl& t, const Shape& s) {
  std::string text = shape_text(s);
  std::string symbolic = t.shape_text();
  bool differs = std::any_of(t.shape.begin(), t.shape.end(), [](const DimExpr& d) { return !d.is_constant(); });
  return differs ? text + " (" + symbolic + ")" : text;
}

Status check_outputs(const OpCtx& c, const Outs& outs) {
  for (size_t i = 0; i < outs.size(); ++i) {
    const TensorDecl& decl = c.out(i);
    const Shape& declared = c.out_shape(i);
    std::string w = c.where() + ".outputs[" + std::to_string(i) + "]";
    if (declared != outs[i].shape) {
      return make_error(errc::kShapeError,
                        c.label() + " gives '" + decl.name + "' shape " + shape_text(outs[i].shape) +
                            " but it is declared " + describe(decl, declared) +
                            "; fix the declaration in \"tensors\" or the op's inputs and attrs",
                        w);
    }
    if (decl.dtype != outs[i].dtype) {
      return make_error(errc::kTypeError,
                        c.label() + " gives '" + decl.name + "' dtype " + dtype_name(outs[i].dtype) +
                            " but it is declared " + dtype_name(decl.dtype) +
                            "; fix the declaration in \"tensors\" or the op's attrs",
                        w);
    }
  }
  return ok_status();
}

Result<Outs> infer(const OpCtx& c) {
  const std::string& op = c.n.op;
  if (op == "all_gather" || op == "reduce_scatter" || op == "all_reduce") return infer_collective(c);
  if (op == "scaled_mm") return infer_scaled_mm(c);
  if (op == "bmm_fp8") return infer_bmm_fp8(c);
  if (op == "mm") return infer_mm(c);
  if (op == "quantize_fp8") return infer_quantize(c);
  return infer_reshape(c);
}

Status check_bindings(const Graph& g, const Bindings& b) {
  for (const auto& s : g.symbols) {
    auto it = b.find(s);
    if (it == b.end()) {
      return make_error(errc::kBadRequest, "graph '" + g.name + "' needs a value for symbol '" + s + "'",
                        "bindings." + s);
    }
    if (it->second <= 0) {
      return make_error(errc::kBadRequest,
                        "symbol " + s + "=" + std::to_string(it->second) + " must be positive",
                        "bindings." + s);
    }
  }
  for (const auto& [name, value] : b) {
    if (std::find(g.symbols.begin(), g.symbols.end(), name) == g.symbols.end()) {
      return make_error(errc::kBadRequest,
                        "graph '" + g.name + "' has no symbol '" + name + "'; its symbols are listed "
                        "in \"symbols\"",
                        "bindings." + name);
    }
  }
  return ok_status();
}

}  // namespace

Result<BoundGraph> bind(const Graph& g, const Bindings& bindings) {
  if (auto s = check_bindings(g, bindings); !s) return s.error();
  BoundGraph bg;
  bg.graph = &g;
  bg.bindings = bindings;
  bg.shapes.reserve(g.tensors.size());
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    const TensorDecl& decl = g.tensors[t];
    Shape shape;
    for (size_t d = 0; d < decl.shape.size(); ++d) {
      auto v = decl.shape[d].eval(bindings, "tensor '" + decl.name + "', dim " + std::to_string(d));
      if (!v) {
        return make_error(v.error().code, v.error().message,
                          "graph.tensors[" + std::to_string(t) + "].shape[" + std::to_string(d) + "]");
      }
      shape.push_back(*v);
    }
    bg.shapes.push_back(std::move(shape));
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!is_known_op(g.nodes[i].op)) continue;
    OpCtx c{g, g.nodes[i], i, bg.shapes, bindings};
    auto outs = infer(c);
    if (!outs) return outs.error();
    if (auto s = check_outputs(c, *outs); !s) return s.error();
  }
  return bg;
}

}  // namespace tpjit::graph
