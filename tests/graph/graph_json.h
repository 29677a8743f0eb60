// Builders for small tpjit.graph/1 documents, shared by the graph and fusion tests.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tpjit::testing {

using nlohmann::json;

inline json tensor(const std::string& name, json shape, const std::string& dtype,
                   const std::string& layout = "row_major") {
  return {{"name", name}, {"shape", std::move(shape)}, {"dtype", dtype}, {"layout", layout}};
}

inline json node(const std::string& name, const std::string& op, json inputs, json outputs,
                 json attrs = json::object()) {
  return {{"name", name}, {"op", op}, {"inputs", std::move(inputs)}, {"outputs", std::move(outputs)},
          {"attrs", std::move(attrs)}};
}

inline json graph(json tensors, json inputs, json outputs, json nodes, int world_size = 2,
                  json symbols = json::array({"M"})) {
  return {{"format", "tpjit.graph/1"},
          {"name", "test"},
          {"group", {{"name", "tp"}, {"world_size", world_size}}},
          {"symbols", std::move(symbols)},
          {"tensors", std::move(tensors)},
          {"inputs", std::move(inputs)},
          {"outputs", std::move(outputs)},
          {"nodes", std::move(nodes)},
          {"meta", json::object()}};
}

// A Llama-style TP=2 block: quantize -> all_gather -> scaled_mm (qkv) -> quantize -> scaled_mm (o)
// -> reduce_scatter.
inline json llama_block() {
  return graph(
      {tensor("x_shard", {"M/2", 8192}, "bfloat16"), tensor("q_shard", {"M/2", 8192}, "float8_e4m3fn"),
       tensor("s_x", json::array(), "float32"), tensor("q", {"M", 8192}, "float8_e4m3fn"),
       tensor("w_qkv", {8192, 5120}, "float8_e4m3fn", "col_major"), tensor("s_w", json::array(), "float32"),
       tensor("y", {"M", 5120}, "bfloat16"), tensor("yq", {"M", 5120}, "float8_e4m3fn"),
       tensor("s_y", json::array(), "float32"),
       tensor("w_o", {5120, 8192}, "float8_e4m3fn", "col_major"), tensor("z", {"M", 8192}, "bfloat16"),
       tensor("z_shard", {"M/2", 8192}, "bfloat16")},
      {"x_shard", "w_qkv", "s_w", "w_o"}, {"z_shard"},
      {node("quant_x", "quantize_fp8", {"x_shard"}, {"q_shard", "s_x"}, {{"granularity", "tensor"}}),
       node("ag0", "all_gather", {"q_shard"}, {"q"}, {{"dim", 0}}),
       node("mm_qkv", "scaled_mm", {"q", "w_qkv", "s_x", "s_w"}, {"y"}, {{"out_dtype", "bfloat16"}}),
       node("quant_y", "quantize_fp8", {"y"}, {"yq", "s_y"}),
       node("mm_o", "scaled_mm", {"yq", "w_o", "s_y", "s_w"}, {"z"}, {{"out_dtype", "bfloat16"}}),
       node("rs0", "reduce_scatter", {"z"}, {"z_shard"}, {{"dim", 0}, {"op", "sum"}})});
}

// The element of `list` (tensors or nodes) with this name.
inline json& named(json& list, const std::string& name) {
  for (auto& item : list) {
    if (item["name"] == name) return item;
  }
  throw std::runtime_error("test graph has no '" + name + "'");
}

}  // namespace tpjit::testing
