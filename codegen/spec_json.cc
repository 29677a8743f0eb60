#include "codegen/spec_json.h"

namespace tpjit::codegen {

nlohmann::json spec_to_json(const GemmSpec& s) {
  return {{"variant", s.variant},
          {"arch", arch_name(s.arch)},
          {"m_hint", s.m_hint},
          {"n", s.n},
          {"k", s.k},
          {"scale", fusion::scale_mode_name(s.scale)},
          {"out_dtype", out_dtype_name(s.out)},
          {"bias", s.bias},
          {"accumulate", s.accumulate},
          {"tile", tile_to_json(s.tile)}};
}

nlohmann::json tile_to_json(const TileConfig& t) {
  return {{"bm", t.bm},         {"bn", t.bn},       {"bk", t.bk},
          {"stages", t.stages}, {"warps", t.warps}, {"cluster_m", t.cluster_m},
          {"split_k", t.split_k}};
}

Result<TileConfig> tile_from_json(const nlohmann::json& j) {
  TileConfig t;
  const std::pair<const char*, int*> fields[] = {{"bm", &t.bm},         {"bn", &t.bn},
                                                 {"bk", &t.bk},         {"stages", &t.stages},
                                                 {"warps", &t.warps},   {"cluster_m", &t.cluster_m}};
  for (const auto& [name, slot] : fields) {
    if (!j.is_object() || !j.contains(name) || !j[name].is_number_integer() ||
        j[name].get<int64_t>() < 0 || j[name].get<int64_t>() > 4096)
      return make_error(errc::kBadRequest,
                        std::string("a tile needs \"") + name + "\" as an integer in [0, 4096]",
                        std::string("tile.") + name);
    *slot = j[name].get<int>();
  }
  // Optional: tiles recorded before split-K existed have none, and mean 1.
  if (j.contains("split_k")) {
    if (!j["split_k"].is_number_integer() || j["split_k"].get<int64_t>() < 1 ||
        j["split_k"].get<int64_t>() > 64)
      return make_error(errc::kBadRequest, "a tile's \"split_k\" must be an integer in [1, 64]",
                        "tile.split_k");
    t.split_k = j["split_k"].get<int>();
  }
  return t;
}

}  // namespace tpjit::codegen
