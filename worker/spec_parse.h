// The plan's kernel "spec" (codegen::spec_to_json) read back into a GemmSpec, for the worker.
#pragma once

#include <nlohmann/json.hpp>

#include "codegen/spec.h"
#include "util/result.h"

namespace tpjit::worker {

// kBadRequest naming the field when spec is not what spec_to_json writes.
Result<codegen::GemmSpec> spec_from_json(const nlohmann::json& spec);

}  // namespace tpjit::worker
