// Inference for reshape and the view-like ops the parser normalized to it. The target shape is
// known only after binding (its dims may be expressions, one may be -1).
#include <algorithm>
#include <set>

#include "graph/infer_ops.h"

namespace tpjit::graph {
namespace {

Error shape_error(const std::string& where, const std::string& msg) {
  return make_error(errc::kShapeError, msg, where);
}

Result<int64_t> numel(const OpCtx& c, const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (__builtin_mul_overflow(n, d, &n)) {
      return make_error(errc::kLimitExceeded, c.label() + ": element count overflows 64 bits", c.where());
    }
  }
  return n;
}

Result<size_t> norm_dim(const OpCtx& c, int64_t dim, int64_t rank, const char* attr) {
  if (dim < -rank || dim >= rank) {
    return shape_error(c.where() + ".attrs." + attr,
                       c.label() + ": " + attr + " " + std::to_string(dim) + " is out of range for '" +
                           c.n.inputs[0] + "' " + shape_text(c.in_shape(0)) + " (valid: " +
                           std::to_string(-rank) + " to " + std::to_string(rank - 1) + ")");
  }
  return static_cast<size_t>(dim < 0 ? dim + rank : dim);
}

Result<Shape> target_shape(const OpCtx& c, int64_t in_numel) {
  const auto& spec = c.n.attrs["shape"];
  std::string w = c.where() + ".attrs.shape";
  Shape out;
  int inferred = -1;
  int64_t known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t v;
    if (spec[i].is_number_integer()) {
      v = spec[i].get<int64_t>();
    } else {
      auto e = DimExpr::parse(spec[i].get<std::string>(), c.g.symbols);
      if (!e) return make_error(e.error().code, e.error().message, w + "[" + std::to_string(i) + "]");
      auto r = e->eval(c.bindings, c.label() + ", target dim " + std::to_string(i));
      if (!r) return make_error(r.error().code, r.error().message, w + "[" + std::to_string(i) + "]");
      v = *r;
    }
    if (v == -1) {
      inferred = static_cast<int>(i);
    } else if (__builtin_mul_overflow(known, v, &known)) {
      return make_error(errc::kLimitExceeded, c.label() + ": target element count overflows 64 bits", w);
    }
    out.push_back(v);
  }
  if (inferred >= 0) {
    if (known == 0 || in_numel % known != 0) {
      return shape_error(w, c.label() + ": cannot infer the -1 dim: " + std::to_string(in_numel) +
                                " elements of '" + c.n.inputs[0] + "' " + shape_text(c.in_shape(0)) +
                                " do not divide by " + std::to_string(known));
    }
    out[inferred] = in_numel / known;
  }
  return out;
}

}  // namespace

Result<Outs> infer_reshape(const OpCtx& c) {
  const Shape& in = c.in_shape(0);
  DType dtype = c.in(0).dtype;
  const std::string& op = c.n.original_op;
  const auto& attrs = c.n.attrs;
  int64_t rank = static_cast<int64_t>(in.size());
  auto count = numel(c, in);
  if (!count) return count.error();
  Shape out;
  if (op == "reshape" || op == "view") {
    auto t = target_shape(c, *count);
    if (!t) return t.error();
    out = std::move(*t);
  } else if (op == "unsqueeze") {
    auto d = norm_dim(c, attrs["dim"].get<int64_t>(), rank + 1, "dim");
    if (!d) return d.error();
    out = in;
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(*d), 1);
  } else if (op == "squeeze") {
    // torch: squeezing a dim whose size is not 1 leaves it alone.
    std::set<size_t> dims;
    if (!attrs.contains("dim")) {
      for (size_t i = 0; i < in.size(); ++i) dims.insert(i);
    } else {
      std::vector<int64_t> listed;
      if (attrs["dim"].is_array()) {
        for (const auto& v : attrs["dim"]) listed.push_back(v.get<int64_t>());
      } else {
        listed.push_back(attrs["dim"].get<int64_t>());
      }
      for (int64_t v : listed) {
        auto d = norm_dim(c, v, std::max<int64_t>(rank, 1), "dim");
        if (!d) return d.error();
        dims.insert(*d);
      }
    }
    for (size_t i = 0; i < in.size(); ++i) {
      if (!(dims.count(i) && in[i] == 1)) out.push_back(in[i]);
    }
  } else {  // flatten
    if (in.empty()) {
      out = {1};
    } else {
      auto s = norm_dim(c, attrs["start_dim"].get<int64_t>(), rank, "start_dim");
      if (!s) return s.error();
      auto e = norm_dim(c, attrs["end_dim"].get<int64_t>(), rank, "end_dim");
      if (!e) return e.error();
      if (*s > *e) {
        return shape_error(c.where() + ".attrs", c.label() + ": start_dim comes after end_dim");
      }
      out.assign(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(*s));
      int64_t merged = 1;
      for (size_t i = *s; i <= *e; ++i) merged *= in[i];  // cannot overflow: numel did not
      out.push_back(merged);
      out.insert(out.end(), in.begin() + static_cast<std::ptrdiff_t>(*e) + 1, in.end());
    }
  }
  auto out_count = numel(c, out);
  if (!out_count) return out_count.error();
  if (*out_count != *count) {
    return shape_error(c.where() + ".attrs.shape",
                       c.label() + " reshapes '" + c.n.inputs[0] + "' " + shape_text(in) + " (" +
                           std::to_string(*count) + " elements) to " + shape_text(out) + " (" +
                           std::to_string(*out_count) + " elements); the element counts must match");
  }
  return Outs{{out, dtype}};
}

}  // namespace tpjit::graph
