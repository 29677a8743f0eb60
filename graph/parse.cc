// parse_graph(): JSON document -> Graph. Checks structure only; shapes and dtypes are checked by
// bind(), run once here with probe symbol values.
#include <algorithm>
#include <numeric>
#include <set>

#include "graph/graph.h"
#include "graph/ops.h"

namespace tpjit::graph {
namespace {

using nlohmann::json;

std::string idx(std::string_view base, size_t i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}

Error bad(const std::string& where, const std::string& message) {
  return make_error(errc::kBadGraph, message, where);
}

Error over_limit(const std::string& where, const std::string& what, size_t count, int limit,
                 const char* field) {
  return make_error(errc::kLimitExceeded,
                    what + " " + std::to_string(count) + " is over the limit of " +
                        std::to_string(limit) + " (Limits::" + field +
                        "); split the graph or raise the daemon's limit",
                    where);
}

// A name: a non-empty string without control characters, at most max_name_length bytes.
Result<std::string> get_name(const json& v, const std::string& where, const Limits& limits) {
  if (!v.is_string()) return bad(where, "expected a string name");
  std::string s = v.get<std::string>();
  if (s.empty()) return bad(where, "a name must not be empty");
  if (s.size() > static_cast<size_t>(limits.max_name_length)) {
    return over_limit(where, "name length", s.size(), limits.max_name_length, "max_name_length");
  }
  if (std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    return bad(where, "name '" + s + "' contains a control character");
  }
  return s;
}

Result<std::vector<std::string>> get_names(const json& doc, const char* key, const std::string& where,
                                           const Limits& limits, bool required) {
  std::vector<std::string> out;
  if (!doc.contains(key)) {
    if (required) return bad(where, std::string("missing \"") + key + "\" (an array of names)");
    return out;
  }
  const json& arr = doc.at(key);
  if (!arr.is_array()) return bad(where, std::string("\"") + key + "\" must be an array of names");
  if (arr.size() > static_cast<size_t>(limits.max_tensors)) {
    return over_limit(where, "name count", arr.size(), limits.max_tensors, "max_tensors");
  }
  for (size_t i = 0; i < arr.size(); ++i) {
    auto n = get_name(arr[i], idx(where, i), limits);
    if (!n) return n.error();
    out.push_back(std::move(*n));
  }
  return out;
}

Status parse_symbols(const json& doc, const Limits& limits, Graph& g) {
  auto names = get_names(doc, "symbols", "graph.symbols", limits, false);
  if (!names) return names.error();
  if (names->size() > static_cast<size_t>(limits.max_symbols)) {
    return over_limit("graph.symbols", "symbol count", names->size(), limits.max_symbols,
                      "max_symbols");
  }
  for (size_t i = 0; i < names->size(); ++i) {
    const std::string& s = (*names)[i];
    bool ident = (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_') &&
                 std::all_of(s.begin(), s.end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                 });
    if (!ident) {
      return bad(idx("graph.symbols", i),
                 "symbol '" + s + "' is not an identifier ([A-Za-z_][A-Za-z0-9_]*)");
    }
    if (std::count(names->begin(), names->end(), s) > 1) {
      return bad(idx("graph.symbols", i), "symbol '" + s + "' is listed twice");
    }
  }
  g.symbols = std::move(*names);
  return ok_status();
}

Result<DimExpr> parse_dim(const json& v, const std::string& where, const Graph& g) {
  if (v.is_number_integer()) {
    int64_t d = v.get<int64_t>();
    if (d < 0) return bad(where, "dim " + std::to_string(d) + " is negative");
    return DimExpr::constant(d);
  }
  if (v.is_string()) {
    auto e = DimExpr::parse(v.get<std::string>(), g.symbols);
    if (!e) return make_error(e.error().code, e.error().message, where);
    return e;
  }
  return bad(where, "a dim must be an integer or a string expression such as \"M/2\"");
}

Status parse_tensor(const json& t, const std::string& where, const Limits& limits, Graph& g) {
  if (!t.is_object()) return bad(where, "a tensor must be an object {name, shape, dtype, layout}");
  TensorDecl decl;
  if (!t.contains("name")) return bad(where, "tensor without \"name\"");
  auto name = get_name(t["name"], where + ".name", limits);
  if (!name) return name.error();
  decl.name = std::move(*name);
  if (g.tensor_ids.count(decl.name)) {
    return bad(where + ".name", "tensor '" + decl.name + "' is declared twice");
  }
  if (!t.contains("shape") || !t["shape"].is_array()) {
    return bad(where + ".shape", "tensor '" + decl.name + "' needs \"shape\": an array of dims");
  }
  const json& shape = t["shape"];
  if (shape.size() > static_cast<size_t>(limits.max_rank)) {
    return over_limit(where + ".shape", "rank of '" + decl.name + "'", shape.size(), limits.max_rank,
                      "max_rank");
  }
  for (size_t d = 0; d < shape.size(); ++d) {
    auto dim = parse_dim(shape[d], idx(where + ".shape", d), g);
    if (!dim) return dim.error();
    decl.shape.push_back(std::move(*dim));
  }
  if (!t.contains("dtype") || !t["dtype"].is_string()) {
    return bad(where + ".dtype", "tensor '" + decl.name + "' needs \"dtype\" (a torch dtype name)");
  }
  auto dtype = parse_dtype(t["dtype"].get<std::string>());
  if (!dtype) {
    return make_error(errc::kUnsupportedDtype,
                      "dtype '" + t["dtype"].get<std::string>() + "' of tensor '" + decl.name +
                          "' is not supported; use one of float8_e4m3fn, float8_e5m2, bfloat16, "
                          "float16, float32, int32, int64, uint8, bool",
                      where + ".dtype");
  }
  decl.dtype = *dtype;
  std::string layout = "row_major";
  if (t.contains("layout")) {
    if (!t["layout"].is_string()) return bad(where + ".layout", "layout must be a string");
    layout = t["layout"].get<std::string>();
  }
  if (layout == "col_major") {
    if (decl.shape.size() != 2) {
      return bad(where + ".layout", "layout col_major is for 2-D tensors only; '" + decl.name +
                                        "' has rank " + std::to_string(decl.shape.size()));
    }
    decl.col_major = true;
  } else if (layout != "row_major") {
    return bad(where + ".layout", "layout '" + layout + "' is neither row_major nor col_major");
  }
  g.tensor_ids.emplace(decl.name, static_cast<int>(g.tensors.size()));
  g.tensors.push_back(std::move(decl));
  return ok_status();
}

Status parse_node(const json& n, size_t index, const Limits& limits, std::set<std::string>& defined,
                  std::set<std::string>& node_names, Graph& g) {
  std::string where = idx("graph.nodes", index);
  if (!n.is_object()) return bad(where, "a node must be an object {name, op, inputs, outputs, attrs}");
  Node node;
  if (!n.contains("name")) return bad(where, "node without \"name\"");
  auto name = get_name(n["name"], where + ".name", limits);
  if (!name) return name.error();
  node.name = std::move(*name);
  if (!node_names.insert(node.name).second) {
    return bad(where + ".name", "node name '" + node.name + "' is used twice");
  }
  if (!n.contains("op")) return bad(where, "node '" + node.name + "' has no \"op\"");
  auto op = get_name(n["op"], where + ".op", limits);
  if (!op) return op.error();
  node.op = node.original_op = std::move(*op);
  auto ins = get_names(n, "inputs", where + ".inputs", limits, true);
  if (!ins) return ins.error();
  auto outs = get_names(n, "outputs", where + ".outputs", limits, true);
  if (!outs) return outs.error();
  node.inputs = std::move(*ins);
  node.outputs = std::move(*outs);
  node.attrs = n.value("attrs", json::object());
  if (!node.attrs.is_object()) return bad(where + ".attrs", "\"attrs\" must be an object");

  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const std::string& t = node.inputs[i];
    std::string w = idx(where + ".inputs", i);
    if (!g.tensor_ids.count(t)) {
      return make_error(errc::kUnknownTensor,
                        "node '" + node.name + "' reads '" + t + "', which is not in \"tensors\"", w);
    }
    if (!defined.count(t)) {
      return bad(w, "node '" + node.name + "' reads '" + t +
                        "' before any node produces it; list it in \"inputs\" or order the "
                        "nodes so its producer comes first");
    }
  }
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    const std::string& t = node.outputs[i];
    std::string w = idx(where + ".outputs", i);
    if (!g.tensor_ids.count(t)) {
      return make_error(errc::kUnknownTensor,
                        "node '" + node.name + "' writes '" + t + "', which is not in \"tensors\"",
                        w);
    }
    if (!defined.insert(t).second) {
      return bad(w, "'" + t + "' is produced twice (by node '" + node.name +
                        "' and by an earlier node or as a graph input); each tensor has one producer");
    }
  }
  auto checked = check_op(node, where, g, limits);
  if (!checked) return checked.error();
  g.nodes.push_back(std::move(node));
  return ok_status();
}

// Every symbol bound to 1536 * lcm(world_size, every divisor in shapes and reshape targets):
// large, and divisible by anything a well-formed graph divides by, so only structural errors show.
Bindings probe_bindings(const Graph& g) {
  int64_t l = g.world_size;
  for (const auto& t : g.tensors) {
    for (const auto& d : t.shape) {
      int64_t next = std::lcm(l, d.divisor);
      if (next <= (int64_t{1} << 20)) l = next;
    }
  }
  for (const auto& n : g.nodes) {
    if (n.op != "reshape" || !n.attrs.contains("shape")) continue;
    for (const auto& d : n.attrs["shape"]) {
      if (!d.is_string()) continue;
      auto e = DimExpr::parse(d.get<std::string>(), g.symbols);
      int64_t next = e ? std::lcm(l, e->divisor) : l;
      if (next <= (int64_t{1} << 20)) l = next;
    }
  }
  Bindings b;
  for (const auto& s : g.symbols) b[s] = 1536 * l;
  return b;
}

}  // namespace

Result<Graph> parse_graph(const json& doc, const Limits& limits) {
  if (!doc.is_object()) return bad("graph", "a graph must be a JSON object");
  if (!doc.contains("format") || doc["format"] != kFormat) {
    return bad("graph.format", std::string("expected \"format\": \"") + kFormat + "\"");
  }
  Graph g;
  if (!doc.contains("name")) return bad("graph", "missing \"name\"");
  auto name = get_name(doc["name"], "graph.name", limits);
  if (!name) return name.error();
  g.name = std::move(*name);

  const json* group = doc.contains("group") ? &doc["group"] : nullptr;
  if (!group || !group->is_object()) {
    return bad("graph.group", "missing \"group\": {\"name\": ..., \"world_size\": N}");
  }
  if (group->contains("name")) {
    auto gn = get_name((*group)["name"], "graph.group.name", limits);
    if (!gn) return gn.error();
    g.group_name = std::move(*gn);
  }
  const json& ws = group->value("world_size", json());
  if (!ws.is_number_integer() || ws.get<int64_t>() < 1 || ws.get<int64_t>() > 65536) {
    return bad("graph.group.world_size", "world_size must be an integer from 1 to 65536");
  }
  g.world_size = ws.get<int>();

  if (auto s = parse_symbols(doc, limits, g); !s) return s.error();

  if (!doc.contains("tensors") || !doc["tensors"].is_array()) {
    return bad("graph.tensors", "missing \"tensors\": an array of tensor declarations");
  }
  const json& tensors = doc["tensors"];
  if (tensors.size() > static_cast<size_t>(limits.max_tensors)) {
    return over_limit("graph.tensors", "tensor count", tensors.size(), limits.max_tensors,
                      "max_tensors");
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (auto s = parse_tensor(tensors[i], idx("graph.tensors", i), limits, g); !s) return s.error();
  }

  auto inputs = get_names(doc, "inputs", "graph.inputs", limits, true);
  if (!inputs) return inputs.error();
  std::set<std::string> defined;
  for (size_t i = 0; i < inputs->size(); ++i) {
    const std::string& t = (*inputs)[i];
    if (!g.tensor_ids.count(t)) {
      return make_error(errc::kUnknownTensor, "input '" + t + "' is not in \"tensors\"",
                        idx("graph.inputs", i));
    }
    if (!defined.insert(t).second) {
      return bad(idx("graph.inputs", i), "input '" + t + "' is listed twice");
    }
  }
  g.inputs = std::move(*inputs);

  if (!doc.contains("nodes") || !doc["nodes"].is_array()) {
    return bad("graph.nodes", "missing \"nodes\": an array of nodes in execution order");
  }
  const json& nodes = doc["nodes"];
  if (nodes.size() > static_cast<size_t>(limits.max_nodes)) {
    return over_limit("graph.nodes", "node count", nodes.size(), limits.max_nodes, "max_nodes");
  }
  std::set<std::string> node_names;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (auto s = parse_node(nodes[i], i, limits, defined, node_names, g); !s) return s.error();
  }

  auto outputs = get_names(doc, "outputs", "graph.outputs", limits, true);
  if (!outputs) return outputs.error();
  for (size_t i = 0; i < outputs->size(); ++i) {
    const std::string& t = (*outputs)[i];
    if (!g.tensor_ids.count(t)) {
      return make_error(errc::kUnknownTensor, "output '" + t + "' is not in \"tensors\"",
                        idx("graph.outputs", i));
    }
    if (!defined.count(t)) {
      return bad(idx("graph.outputs", i),
                 "output '" + t + "' is neither a graph input nor produced by a node");
    }
  }
  g.outputs = std::move(*outputs);
  g.meta = doc.value("meta", json::object());
  g.reindex();

  // Qualified: Bindings is a std::map, so an unqualified call would find std::bind by ADL.
  auto probe = graph::bind(g, probe_bindings(g));
  if (!probe) {
    Error e = probe.error();
    if (!g.symbols.empty()) {
      e.message += " (found checking the graph with every symbol = " +
                   std::to_string(probe_bindings(g).begin()->second) + ")";
    }
    return e;
  }
  return g;
}

}  // namespace tpjit::graph
