// The compile request as the service reads it, and the plan it answers with.
// Body grammar (docs/protocol.md, "compile"):
//   {"graph": <tpjit.graph/1>, "m": [int, ...], "archs": ["sm_90a" | "sm_100a", ...]?,
//    "symbols": {"NAME": int, ...}?}
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "codegen/codegen.h"
#include "fusion/match.h"
#include "graph/graph.h"
#include "util/result.h"

namespace tpjit {

// The graph symbol that a compile request's token counts bind.
inline constexpr const char* kTokenSymbol = "M";
inline constexpr size_t kMaxTokenCounts = 64;

struct CompileRequest {
  graph::Graph graph;
  std::vector<int64_t> m;                 // token counts, each specialized separately
  std::vector<codegen::Arch> archs;       // default: sm_90a and sm_100a
  graph::Bindings symbols;                // values of symbols other than M, if any
};

// Checks the body and parses the graph; errors name the field to fix.
Result<CompileRequest> parse_compile_request(const nlohmann::json& body);

// The reply body: regions with decisions, kernels, match counts (docs/protocol.md).
nlohmann::json plan_to_json(const CompileRequest& request, const fusion::MatchResult& match,
                            const std::vector<nlohmann::json>& kernels, double total_ms);

// The "warmup" reply body: what a compile of the same body put in the cache, without the
// plan (docs/protocol.md, "warmup"): graph, m, archs, kernels, compiled (cache misses, now
// cached), cache_hits, tuned (tiles from a tuning record), fused_regions, compile_ms_total.
nlohmann::json warmup_summary(const nlohmann::json& plan);

}  // namespace tpjit
