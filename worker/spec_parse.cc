#include "worker/spec_parse.h"

#include "codegen/spec_json.h"

namespace tpjit::worker {
namespace {

Error bad(const std::string& field, const std::string& what) {
  return make_error(errc::kBadRequest, "kernel spec: " + field + " " + what, "spec." + field);
}

}  // namespace

Result<codegen::GemmSpec> spec_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return bad("", "is not an object");
  for (const char* f : {"variant", "arch", "scale", "out_dtype"})
    if (!j.contains(f) || !j[f].is_string()) return bad(f, "must be a string");
  for (const char* f : {"m_hint", "n", "k"})
    if (!j.contains(f) || !j[f].is_number_integer()) return bad(f, "must be an integer");
  for (const char* f : {"bias", "accumulate"})
    if (!j.contains(f) || !j[f].is_boolean()) return bad(f, "must be a boolean");
  codegen::GemmSpec s;
  auto arch = codegen::parse_arch(j["arch"].get<std::string>());
  if (!arch) return bad("arch", "is not sm_90a or sm_100a");
  s.arch = *arch;
  s.variant = j["variant"].get<std::string>();
  s.m_hint = j["m_hint"].get<int64_t>();
  s.n = j["n"].get<int64_t>();
  s.k = j["k"].get<int64_t>();
  const std::string scale = j["scale"].get<std::string>();
  bool found = false;
  for (auto m : {fusion::ScaleMode::kTensor, fusion::ScaleMode::kRow, fusion::ScaleMode::kBlock,
                 fusion::ScaleMode::kNone}) {
    if (scale == fusion::scale_mode_name(m)) s.scale = m, found = true;
  }
  if (!found) return bad("scale", "is not tensor, row, block or none");
  found = false;
  const std::string out = j["out_dtype"].get<std::string>();
  for (auto o : {codegen::OutDtype::kBF16, codegen::OutDtype::kF16, codegen::OutDtype::kF32}) {
    if (out == codegen::out_dtype_name(o)) s.out = o, found = true;
  }
  if (!found) return bad("out_dtype", "is not bfloat16, float16 or float32");
  s.bias = j["bias"].get<bool>();
  s.accumulate = j["accumulate"].get<bool>();
  auto tile = codegen::tile_from_json(j.value("tile", nlohmann::json()));
  if (!tile) return tile.error();
  s.tile = *tile;
  return s;
}

}  // namespace tpjit::worker
