// Matching: finds the regions of a bound graph where a collective feeds or consumes a GEMM and
// decides, with a reason a user can act on, whether tpjit fuses each.
//
// Patterns (each reshape chain may be empty; reshape includes the normalized view/unsqueeze/
// squeeze/flatten):
//   all_gather(dim 0) -> reshape* -> GEMM operand a   (one gather, one or more GEMMs)
//   GEMM -> reshape* -> reduce_scatter(dim 0, sum)
// where GEMM is scaled_mm, bmm_fp8 (batch 1) or mm. Every other collective becomes an unfused
// region with the reason it matched nothing.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/graph.h"

namespace tpjit::fusion {

enum class RegionKind { kAllGatherGemm, kGemmReduceScatter, kUnfused };
const char* region_kind_name(RegionKind);  // "all_gather_gemm" | "gemm_reduce_scatter" | "unfused"

enum class ScaleMode { kTensor, kRow, kBlock, kNone /* bf16 mm */ };
const char* scale_mode_name(ScaleMode);  // "tensor" | "row" | "block" | "none"

struct GemmInfo {
  std::string node, op;  // op: scaled_mm | bmm_fp8 | mm
  std::string a, b, out, scale_a, scale_b, bias;  // tensor names ("" if none)
  graph::DType a_dtype = graph::DType::kF8E4M3, b_dtype = graph::DType::kF8E4M3,
               out_dtype = graph::DType::kBF16;
  ScaleMode scale = ScaleMode::kNone;
  int64_t m = 0, n = 0, k = 0;  // concrete, from the BoundGraph: m = rows of the whole GEMM
  int64_t batch = 1;            // bmm_fp8 only
};

struct Region {
  int id = 0;  // position in graph order (of the collective)
  RegionKind kind = RegionKind::kUnfused;
  std::string pattern;     // e.g. "all_gather->scaled_mm"; for kUnfused the collective's op
  std::string collective;  // node name
  std::vector<std::string> nodes;  // member nodes in graph order; a node is in one region at most
  std::vector<GemmInfo> gemms;
  bool fused = false;
  std::string reason;  // a full sentence
};

struct MatchResult {
  std::vector<Region> regions;
  std::map<std::string, int> match_counts;  // pattern -> regions matched, fused or not
};

// Finds and decides every region of `bound` (which must outlive nothing: results are copies).
MatchResult match(const graph::BoundGraph& bound);

// The plan's region entry: {"id","kind","pattern","collective","nodes","gemms":[names],
// "fused","reason"}.
nlohmann::json region_to_json(const Region&);
// {"regions": [region_to_json...], "match_counts": {...}}
nlohmann::json match_to_json(const MatchResult&);

}  // namespace tpjit::fusion
