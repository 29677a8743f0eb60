// Parse-time checks of each known op: arity and attribute types. Shapes come later, in bind().
#include <algorithm>
#include <array>

#include "graph/ops.h"

namespace tpjit::graph {
namespace {

using nlohmann::json;

struct OpArity {
  const char* op;
  size_t min_inputs, max_inputs, outputs;
};

constexpr std::array<OpArity, 12> kArity = {{
    {"all_gather", 1, 1, 1},
    {"reduce_scatter", 1, 1, 1},
    {"all_reduce", 1, 1, 1},
    {"scaled_mm", 4, 5, 1},
    {"bmm_fp8", 4, 4, 1},
    {"mm", 2, 2, 1},
    {"quantize_fp8", 1, 1, 2},
    {"reshape", 1, 1, 1},
    {"view", 1, 1, 1},
    {"unsqueeze", 1, 1, 1},
    {"squeeze", 1, 1, 1},
    {"flatten", 1, 1, 1},
}};

Error bad(const std::string& where, const std::string& message) {
  return make_error(errc::kBadGraph, message, where);
}

// attrs[key] must be an integer; absent -> `fallback` if given, else an error.
Status int_attr(Node& n, const std::string& where, const char* key, std::optional<int64_t> fallback) {
  if (!n.attrs.contains(key)) {
    if (!fallback) return bad(where + ".attrs", n.op + " '" + n.name + "' needs attrs." + key + " (an integer)");
    n.attrs[key] = *fallback;
    return ok_status();
  }
  if (!n.attrs[key].is_number_integer()) {
    return bad(where + ".attrs." + key, n.op + " '" + n.name + "': attrs." + key + " must be an integer");
  }
  return ok_status();
}

Status choice_attr(Node& n, const std::string& where, const char* key, const char* fallback,
                   std::initializer_list<const char*> choices) {
  if (!n.attrs.contains(key)) {
    n.attrs[key] = fallback;
    return ok_status();
  }
  const json& v = n.attrs[key];
  std::string list;
  for (const char* c : choices) {
    if (v.is_string() && v.get<std::string>() == c) return ok_status();
    list += list.empty() ? std::string("\"") + c + "\"" : std::string(", \"") + c + "\"";
  }
  return bad(where + ".attrs." + key,
             n.op + " '" + n.name + "': attrs." + key + " must be one of " + list);
}

// out_dtype of scaled_mm/bmm_fp8; absent -> the declared dtype of the output.
Status out_dtype_attr(Node& n, const std::string& where, const Graph& g) {
  if (!n.attrs.contains("out_dtype")) {
    n.attrs["out_dtype"] = dtype_name(g.tensor(n.outputs[0])->dtype);
  }
  const json& v = n.attrs["out_dtype"];
  auto d = v.is_string() ? parse_dtype(v.get<std::string>()) : std::nullopt;
  if (!d || !is_float(*d)) {
    return make_error(errc::kUnsupportedDtype,
                      n.op + " '" + n.name + "': out_dtype " + v.dump() +
                          " is not supported; use \"bfloat16\", \"float16\" or \"float32\"",
                      where + ".attrs.out_dtype");
  }
  return ok_status();
}

Status reshape_attr(Node& n, const std::string& where, const Graph& g, const Limits& limits) {
  std::string w = where + ".attrs.shape";
  if (!n.attrs.contains("shape") || !n.attrs["shape"].is_array()) {
    return bad(w, n.op + " '" + n.name + "' needs attrs.shape: an array of dims (one may be -1)");
  }
  const json& shape = n.attrs["shape"];
  if (shape.size() > static_cast<size_t>(limits.max_rank)) {
    return make_error(errc::kLimitExceeded,
                      n.op + " '" + n.name + "': target rank " + std::to_string(shape.size()) +
                          " is over the limit of " + std::to_string(limits.max_rank) +
                          " (Limits::max_rank)",
                      w);
  }
  int inferred = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    std::string wi = w + "[" + std::to_string(i) + "]";
    const json& d = shape[i];
    if (d.is_number_integer()) {
      int64_t v = d.get<int64_t>();
      if (v < -1) return bad(wi, "dim " + std::to_string(v) + " is negative (only -1 is allowed)");
      if (v == -1 && ++inferred > 1) return bad(wi, "only one dim of a reshape may be -1");
    } else if (d.is_string()) {
      auto e = DimExpr::parse(d.get<std::string>(), g.symbols);
      if (!e) return make_error(e.error().code, e.error().message, wi);
    } else {
      return bad(wi, "a dim must be an integer or a string expression such as \"M/2\"");
    }
  }
  return ok_status();
}

Status squeeze_attr(Node& n, const std::string& where) {
  if (!n.attrs.contains("dim")) return ok_status();  // squeeze every size-1 dim
  const json& d = n.attrs["dim"];
  bool ok = d.is_number_integer() ||
            (d.is_array() && std::all_of(d.begin(), d.end(), [](const json& x) { return x.is_number_integer(); }));
  if (!ok) return bad(where + ".attrs.dim", "squeeze '" + n.name + "': attrs.dim must be an integer or an array of integers");
  return ok_status();
}

}  // namespace

bool is_known_op(const std::string& op) {
  return std::any_of(kArity.begin(), kArity.end(), [&](const OpArity& a) { return op == a.op; });
}

Status check_op(Node& n, const std::string& where, const Graph& g, const Limits& limits) {
  auto it = std::find_if(kArity.begin(), kArity.end(), [&](const OpArity& a) { return n.op == a.op; });
  if (it == kArity.end()) return ok_status();  // opaque: declared outputs are trusted
  if (n.inputs.size() < it->min_inputs || n.inputs.size() > it->max_inputs) {
    std::string want = it->min_inputs == it->max_inputs
                           ? std::to_string(it->min_inputs)
                           : std::to_string(it->min_inputs) + " or " + std::to_string(it->max_inputs);
    return bad(where + ".inputs", n.op + " '" + n.name + "' takes " + want + " inputs, not " +
                                      std::to_string(n.inputs.size()));
  }
  if (n.outputs.size() != it->outputs) {
    return bad(where + ".outputs", n.op + " '" + n.name + "' has " + std::to_string(it->outputs) +
                                       " output(s), not " + std::to_string(n.outputs.size()));
  }
  static const std::initializer_list<const char*> kReduceOps = {"sum", "avg", "max", "min", "product", "premul_sum"};
  const std::string& op = n.op;
  Status s = ok_status();
  if (op == "all_gather") {
    s = int_attr(n, where, "dim", 0);
  } else if (op == "reduce_scatter") {
    s = int_attr(n, where, "dim", 0);
    if (s) s = choice_attr(n, where, "op", "sum", kReduceOps);
  } else if (op == "all_reduce") {
    s = choice_attr(n, where, "op", "sum", kReduceOps);
  } else if (op == "scaled_mm" || op == "bmm_fp8") {
    s = out_dtype_attr(n, where, g);
  } else if (op == "quantize_fp8") {
    s = choice_attr(n, where, "granularity", "tensor", {"tensor", "row", "block128"});
  } else if (op == "reshape" || op == "view") {
    s = reshape_attr(n, where, g, limits);
  } else if (op == "unsqueeze") {
    s = int_attr(n, where, "dim", std::nullopt);
  } else if (op == "squeeze") {
    s = squeeze_attr(n, where);
  } else if (op == "flatten") {
    s = int_attr(n, where, "start_dim", 0);
    if (s) s = int_attr(n, where, "end_dim", -1);
  }
  if (!s) return s;
  if (op == "view" || op == "unsqueeze" || op == "squeeze" || op == "flatten") n.op = "reshape";
  return ok_status();
}

}  // namespace tpjit::graph
