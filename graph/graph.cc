#include "graph/graph.h"

#include <algorithm>
#include <array>

#include "util/check.h"
#include "util/int_math.h"

namespace tpjit::graph {
namespace {

constexpr std::array<std::pair<DType, const char*>, 9> kDTypeNames = {{
    {DType::kF8E4M3, "float8_e4m3fn"},
    {DType::kF8E5M2, "float8_e5m2"},
    {DType::kBF16, "bfloat16"},
    {DType::kF16, "float16"},
    {DType::kF32, "float32"},
    {DType::kI32, "int32"},
    {DType::kI64, "int64"},
    {DType::kU8, "uint8"},
    {DType::kBool, "bool"},
}};

bool all_ones(const Shape& s) {
  return s.size() <= 2 && std::all_of(s.begin(), s.end(), [](int64_t d) { return d == 1; });
}

}  // namespace

const char* dtype_name(DType d) {
  for (const auto& [dtype, name] : kDTypeNames) {
    if (dtype == d) return name;
  }
  return "unknown";
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& [dtype, n] : kDTypeNames) {
    if (name == n) return dtype;
  }
  return std::nullopt;
}

bool is_fp8(DType d) { return d == DType::kF8E4M3 || d == DType::kF8E5M2; }
bool is_float(DType d) { return d == DType::kBF16 || d == DType::kF16 || d == DType::kF32; }

std::string shape_text(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

std::string TensorDecl::shape_text() const {
  if (shape.empty()) return "scalar";
  std::string out;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += " x ";
    out += shape[i].text();
  }
  return out;
}

void Graph::reindex() {
  tensor_ids.clear();
  producer_ids.clear();
  user_ids.clear();
  for (size_t i = 0; i < tensors.size(); ++i) tensor_ids.emplace(tensors[i].name, static_cast<int>(i));
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (const auto& out : nodes[n].outputs) producer_ids.emplace(out, static_cast<int>(n));
    for (const auto& in : nodes[n].inputs) {
      auto& list = user_ids[in];
      if (list.empty() || list.back() != static_cast<int>(n)) list.push_back(static_cast<int>(n));
    }
  }
}

int Graph::tensor_index(std::string_view name) const {
  if (!tensor_ids.empty()) {
    auto it = tensor_ids.find(name);
    return it == tensor_ids.end() ? -1 : it->second;
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

const TensorDecl* Graph::tensor(std::string_view name) const {
  int i = tensor_index(name);
  return i < 0 ? nullptr : &tensors[i];
}

int Graph::producer(std::string_view tensor) const {
  if (!tensor_ids.empty()) {
    auto it = producer_ids.find(tensor);
    return it == producer_ids.end() ? -1 : it->second;
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    const auto& outs = nodes[n].outputs;
    if (std::find(outs.begin(), outs.end(), tensor) != outs.end()) return static_cast<int>(n);
  }
  return -1;
}

std::vector<int> Graph::users(std::string_view tensor) const {
  if (!tensor_ids.empty()) {
    auto it = user_ids.find(tensor);
    return it == user_ids.end() ? std::vector<int>{} : it->second;
  }
  std::vector<int> out;
  for (size_t n = 0; n < nodes.size(); ++n) {
    const auto& ins = nodes[n].inputs;
    if (std::find(ins.begin(), ins.end(), tensor) != ins.end()) out.push_back(static_cast<int>(n));
  }
  return out;
}

const Shape& BoundGraph::shape(std::string_view tensor) const {
  TPJIT_CHECK(graph != nullptr, "BoundGraph without a graph");
  int i = graph->tensor_index(tensor);
  TPJIT_CHECK(i >= 0 && static_cast<size_t>(i) < shapes.size(),
              "no tensor '" + std::string(tensor) + "' in the bound graph");
  return shapes[i];
}

const char* scaled_mm_scale_mode(const Shape& a, const Shape& b, const Shape& scale_a,
                                 const Shape& scale_b) {
  if (a.size() != 2 || b.size() != 2) return nullptr;
  int64_t m = a[0], k = a[1], n = b[1];
  if (all_ones(scale_a) && all_ones(scale_b)) return "tensor";
  if (scale_a == Shape{m, 1} && scale_b == Shape{1, n}) return "row";
  if (scale_a == Shape{m, ceil_div(k, 128)} && scale_b == Shape{ceil_div(k, 128), ceil_div(n, 128)})
    return "block";
  return nullptr;
}

}  // namespace tpjit::graph
