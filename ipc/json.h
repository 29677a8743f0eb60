// JSON decoding for untrusted text: a nesting-depth pre-scan, then nlohmann's parser, with
// every failure turned into an Error (never an exception).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace tpjit::ipc {

inline constexpr int kMaxJsonDepth = 64;

// kLimitExceeded if arrays/objects nest deeper than max_depth (brackets inside strings do
// not count). Cheap, linear, no allocation; run before anything recursive sees the text.
Status check_json_depth(std::string_view text, int max_depth = kMaxJsonDepth);

// The parsed value, or kLimitExceeded (too deep) / kBadJson (with line and column).
Result<nlohmann::json> parse_json(std::string_view text, int max_depth = kMaxJsonDepth);

// Serializes without throwing: invalid UTF-8 in strings is replaced by U+FFFD.
std::string dump_json(const nlohmann::json& value, int indent = -1);

}  // namespace tpjit::ipc
