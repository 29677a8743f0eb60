// GemmSpec as JSON, for the plan's "spec" field and for logs; tiles both ways (tuning records).
#pragma once

#include <nlohmann/json.hpp>

#include "codegen/spec.h"
#include "util/result.h"

namespace tpjit::codegen {

// {"variant","arch","m_hint","n","k","scale","out_dtype","bias","accumulate",
//  "tile":{"bm","bn","bk","stages","warps","cluster_m","split_k"}}; keys and values are stable.
nlohmann::json spec_to_json(const GemmSpec&);

// {"bm","bn","bk","stages","warps","cluster_m","split_k"}, and back: kBadRequest unless every
// one of them is an integer; "split_k" may be absent (1), as in records older than split-K.
// Whether the tile suits a variant is check_spec's question.
nlohmann::json tile_to_json(const TileConfig&);
Result<TileConfig> tile_from_json(const nlohmann::json&);

}  // namespace tpjit::codegen
