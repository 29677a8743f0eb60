// GemmSpec as JSON, for the plan's "spec" field and for logs.
#pragma once

#include <nlohmann/json.hpp>

#include "codegen/spec.h"

namespace tpjit::codegen {

// {"variant","arch","m_hint","n","k","scale","out_dtype","bias","accumulate",
//  "tile":{"bm","bn","bk","stages","warps"}}; keys and values are stable.
nlohmann::json spec_to_json(const GemmSpec&);

}  // namespace tpjit::codegen
