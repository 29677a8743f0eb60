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
          {"tile",
           {{"bm", s.tile.bm},
            {"bn", s.tile.bn},
            {"bk", s.tile.bk},
            {"stages", s.tile.stages},
            {"warps", s.tile.warps},
            {"cluster_m", s.tile.cluster_m}}}};
}

}  // namespace tpjit::codegen
