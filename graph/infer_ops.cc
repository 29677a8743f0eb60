// Inference for collectives, GEMMs and quantize_fp8; the semantics are those of torch
// (_scaled_mm, mm), FlashInfer (bmm_fp8) and torch.distributed collectives.
#include <algorithm>

#include "graph/infer_ops.h"
#include "util/int_math.h"

namespace tpjit::graph {
namespace {

Error shape_error(const std::string& where, const std::string& msg) {
  return make_error(errc::kShapeError, msg, where);
}
Error type_error(const std::string& where, const std::string& msg) {
  return make_error(errc::kTypeError, msg, where);
}

// "operand a 'x' [2048, 8192]"
std::string operand(const OpCtx& c, size_t i, const char* role) {
  return std::string(role) + " '" + c.n.inputs[i] + "' " + shape_text(c.in_shape(i));
}

Status want_rank(const OpCtx& c, size_t i, const char* role, size_t rank) {
  if (c.in_shape(i).size() == rank) return ok_status();
  return shape_error(c.in_where(i), c.label() + ": " + operand(c, i, role) + " has rank " +
                                        std::to_string(c.in_shape(i).size()) + "; it must have rank " +
                                        std::to_string(rank));
}

Status want_fp8(const OpCtx& c, size_t i, const char* role) {
  DType d = c.in(i).dtype;
  if (is_fp8(d)) return ok_status();
  return type_error(c.in_where(i), c.label() + ": " + role + " '" + c.n.inputs[i] + "' is " +
                                       dtype_name(d) +
                                       "; it takes float8_e4m3fn or float8_e5m2 operands (quantize "
                                       "it first with quantize_fp8)");
}

Status want_f32_scale(const OpCtx& c, size_t i, const char* role) {
  DType d = c.in(i).dtype;
  if (d == DType::kF32) return ok_status();
  return type_error(c.in_where(i), c.label() + ": " + role + " '" + c.n.inputs[i] + "' is " +
                                       dtype_name(d) + "; scales must be float32");
}

DType out_dtype(const OpCtx& c) { return *parse_dtype(c.n.attrs["out_dtype"].get<std::string>()); }

Result<size_t> norm_dim(const OpCtx& c, int64_t dim, size_t rank) {
  int64_t r = static_cast<int64_t>(rank);
  if (dim < -r || dim >= r) {
    return shape_error(c.where() + ".attrs.dim",
                       c.label() + ": dim " + std::to_string(dim) + " is out of range for '" +
                           c.n.inputs[0] + "' of rank " + std::to_string(rank));
  }
  return static_cast<size_t>(dim < 0 ? dim + r : dim);
}

}  // namespace

Result<Outs> infer_collective(const OpCtx& c) {
  Shape s = c.in_shape(0);
  DType d = c.in(0).dtype;
  if (c.n.op == "all_reduce") return Outs{{s, d}};
  auto dim = norm_dim(c, c.n.attrs["dim"].get<int64_t>(), s.size());
  if (!dim) return dim.error();
  int64_t ws = c.g.world_size;
  if (c.n.op == "all_gather") {
    if (__builtin_mul_overflow(s[*dim], ws, &s[*dim])) {
      return make_error(errc::kLimitExceeded, c.label() + ": the gathered dim overflows 64 bits",
                        c.in_where(0));
    }
    return Outs{{s, d}};
  }
  if (s[*dim] % ws != 0) {
    const DimExpr& expr = c.in(0).shape[*dim];
    std::string fix = expr.is_constant() ? "change the shape" : "make " + expr.text() + " a multiple of " + std::to_string(ws);
    return make_error(errc::kNotDivisible,
                      c.label() + " splits dim " + std::to_string(*dim) + " of '" + c.n.inputs[0] +
                          "' (" + expr.text() + " = " + std::to_string(s[*dim]) +
                          ") over world_size " + std::to_string(ws) + ", which does not divide it; " + fix,
                      c.in_where(0));
  }
  s[*dim] /= ws;
  return Outs{{s, d}};
}

Result<Outs> infer_scaled_mm(const OpCtx& c) {
  for (auto [i, role] : {std::pair<size_t, const char*>{0, "a"}, {1, "b"}}) {
    if (auto s = want_rank(c, i, role, 2); !s) return s.error();
    if (auto s = want_fp8(c, i, role); !s) return s.error();
  }
  if (c.in(0).col_major) {
    return shape_error(c.in_where(0), c.label() + ": a '" + c.n.inputs[0] +
                                          "' is col_major; torch._scaled_mm needs a row-major "
                                          "(make it contiguous first)");
  }
  if (!c.in(1).col_major) {
    return shape_error(c.in_where(1), c.label() + ": b '" + c.n.inputs[1] +
                                          "' is row_major; torch._scaled_mm needs b column-major "
                                          "(K-major, e.g. weight.t()): declare \"layout\": \"col_major\"");
  }
  const Shape& a = c.in_shape(0);
  const Shape& b = c.in_shape(1);
  if (a[1] != b[0]) {
    return shape_error(c.in_where(1), c.label() + ": " + operand(c, 0, "a") + " and " + operand(c, 1, "b") +
                                          " disagree on K (a's dim 1 must equal b's dim 0)");
  }
  int64_t m = a[0], k = a[1], n = b[1];
  if (auto s = want_f32_scale(c, 2, "scale_a"); !s) return s.error();
  if (auto s = want_f32_scale(c, 3, "scale_b"); !s) return s.error();
  if (!scaled_mm_scale_mode(a, b, c.in_shape(2), c.in_shape(3))) {
    int64_t kb = ceil_div(k, 128), nb = ceil_div(n, 128);
    return shape_error(
        c.in_where(2),
        c.label() + ": scales " + shape_text(c.in_shape(2)) + " and " + shape_text(c.in_shape(3)) +
            " match no scale mode for M=" + std::to_string(m) + ", K=" + std::to_string(k) + ", N=" +
            std::to_string(n) + "; use tensor ([] and []), row ([" + std::to_string(m) + ", 1] and [1, " +
            std::to_string(n) + "]) or block ([" + std::to_string(m) + ", " + std::to_string(kb) +
            "] and [" + std::to_string(kb) + ", " + std::to_string(nb) + "])");
  }
  DType od = out_dtype(c);
  if (c.n.inputs.size() == 5) {
    if (c.in_shape(4) != Shape{n}) {
      return shape_error(c.in_where(4), c.label() + ": " + operand(c, 4, "bias") + " must be [" +
                                            std::to_string(n) + "] (one value per output column)");
    }
    if (c.in(4).dtype != od) {
      return type_error(c.in_where(4), c.label() + ": bias '" + c.n.inputs[4] + "' is " +
                                           dtype_name(c.in(4).dtype) + "; it must be " + dtype_name(od) +
                                           ", the out_dtype");
    }
  }
  return Outs{{{m, n}, od}};
}

Result<Outs> infer_bmm_fp8(const OpCtx& c) {
  for (auto [i, role] : {std::pair<size_t, const char*>{0, "A"}, {1, "B"}}) {
    if (auto s = want_rank(c, i, role, 3); !s) return s.error();
    if (auto s = want_fp8(c, i, role); !s) return s.error();
  }
  const Shape& a = c.in_shape(0);
  const Shape& b = c.in_shape(1);
  if (a[0] != b[0]) {
    return shape_error(c.in_where(1), c.label() + ": " + operand(c, 0, "A") + " and " + operand(c, 1, "B") +
                                          " disagree on the batch (dim 0)");
  }
  if (a[2] != b[1]) {
    return shape_error(c.in_where(1), c.label() + ": " + operand(c, 0, "A") + " and " + operand(c, 1, "B") +
                                          " disagree on K (A's dim 2 must equal B's dim 1)");
  }
  for (auto [i, role] : {std::pair<size_t, const char*>{2, "A_scale"}, {3, "B_scale"}}) {
    if (auto s = want_f32_scale(c, i, role); !s) return s.error();
    const Shape& s = c.in_shape(i);
    if (s.size() > 2 || std::any_of(s.begin(), s.end(), [](int64_t d) { return d != 1; })) {
      return shape_error(c.in_where(i), c.label() + ": " + operand(c, i, role) +
                                            " must be a scalar ([] or [1]): bmm_fp8 takes per-tensor scales");
    }
  }
  return Outs{{{a[0], a[1], b[2]}, out_dtype(c)}};
}

Result<Outs> infer_mm(const OpCtx& c) {
  for (auto [i, role] : {std::pair<size_t, const char*>{0, "a"}, {1, "b"}}) {
    if (auto s = want_rank(c, i, role, 2); !s) return s.error();
    DType d = c.in(i).dtype;
    if (!is_float(d)) {
      return type_error(c.in_where(i), c.label() + ": " + role + " '" + c.n.inputs[i] + "' is " +
                                           dtype_name(d) + "; mm takes bfloat16, float16 or float32" +
                                           (is_fp8(d) ? " (FP8 operands go through scaled_mm)" : ""));
    }
  }
  if (c.in(0).dtype != c.in(1).dtype) {
    return type_error(c.in_where(1), c.label() + ": a is " + dtype_name(c.in(0).dtype) + " but b is " +
                                         dtype_name(c.in(1).dtype) + "; mm needs both the same dtype");
  }
  const Shape& a = c.in_shape(0);
  const Shape& b = c.in_shape(1);
  if (a[1] != b[0]) {
    return shape_error(c.in_where(1), c.label() + ": " + operand(c, 0, "a") + " and " + operand(c, 1, "b") +
                                          " disagree on K (a's dim 1 must equal b's dim 0)");
  }
  return Outs{{{a[0], b[1]}, c.in(0).dtype}};
}

Result<Outs> infer_quantize(const OpCtx& c) {
  DType d = c.in(0).dtype;
  if (!is_float(d)) {
    return type_error(c.in_where(0), c.label() + ": input '" + c.n.inputs[0] + "' is " + dtype_name(d) +
                                         "; quantize_fp8 takes bfloat16, float16 or float32");
  }
  const Shape& x = c.in_shape(0);
  std::string gran = c.n.attrs["granularity"].get<std::string>();
  Shape scale;
  if (gran == "tensor") {
    // torch writes a per-tensor scale as [] or [1]; accept whichever the graph declares.
    const Shape& declared = c.out_shape(1);
    if (declared.size() <= 2 && std::all_of(declared.begin(), declared.end(), [](int64_t v) { return v == 1; }))
      scale = declared;
  } else {
    if (x.empty()) {
      return shape_error(c.in_where(0), c.label() + ": granularity " + gran + " needs an input of rank >= 1");
    }
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < x.size(); ++i) rows *= x[i];
    scale = {rows, gran == "row" ? 1 : ceil_div(x.back(), 128)};
  }
  return Outs{{x, DType::kF8E4M3}, {scale, DType::kF32}};
}

}  // namespace tpjit::graph
