#include "fusion/match.h"

#include <algorithm>
#include <numeric>

#include "fusion/matcher.h"
#include "util/log.h"

namespace tpjit::fusion {

using graph::DType;

const char* region_kind_name(RegionKind k) {
  switch (k) {
    case RegionKind::kAllGatherGemm: return "all_gather_gemm";
    case RegionKind::kGemmReduceScatter: return "gemm_reduce_scatter";
    case RegionKind::kUnfused: return "unfused";
  }
  return "unknown";
}

const char* scale_mode_name(ScaleMode s) {
  switch (s) {
    case ScaleMode::kTensor: return "tensor";
    case ScaleMode::kRow: return "row";
    case ScaleMode::kBlock: return "block";
    case ScaleMode::kNone: return "none";
  }
  return "unknown";
}

Matcher::Matcher(const graph::BoundGraph& b) : bound(b), g(*b.graph), owner(g.nodes.size(), -1) {}

int Matcher::add(Region r, int collective, const std::vector<int>& nodes) {
  std::vector<int> sorted = nodes;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  int index = static_cast<int>(regions.size());
  r.nodes.clear();
  for (int n : sorted) {
    owner[n] = index;
    r.nodes.push_back(g.nodes[n].name);
  }
  regions.push_back(std::move(r));
  position.push_back(collective);
  return index;
}

int64_t Matcher::numel(const std::string& tensor) const {
  const graph::Shape& s = bound.shape(tensor);
  return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<>());
}

bool is_gemm(const std::string& op) { return op == "scaled_mm" || op == "bmm_fp8" || op == "mm"; }

std::string node_label(const graph::Node& n) { return "'" + n.name + "' (" + n.original_op + ")"; }

GemmInfo gemm_info(const graph::BoundGraph& bound, const graph::Node& node) {
  const graph::Graph& g = *bound.graph;
  GemmInfo info;
  info.node = node.name;
  info.op = node.op;
  info.a = node.inputs[0];
  info.b = node.inputs[1];
  info.out = node.outputs[0];
  info.a_dtype = g.tensor(info.a)->dtype;
  info.b_dtype = g.tensor(info.b)->dtype;
  info.out_dtype = g.tensor(info.out)->dtype;
  const graph::Shape& a = bound.shape(info.a);
  const graph::Shape& b = bound.shape(info.b);
  if (node.op == "bmm_fp8") {
    info.batch = a[0];
    info.m = a[1];
    info.k = a[2];
    info.n = b[2];
  } else {
    info.m = a[0];
    info.k = a[1];
    info.n = b[1];
  }
  if (node.op == "mm") return info;
  info.scale_a = node.inputs[2];
  info.scale_b = node.inputs[3];
  if (node.inputs.size() > 4) info.bias = node.inputs[4];
  info.scale = ScaleMode::kTensor;
  if (node.op == "scaled_mm") {
    const char* found = graph::scaled_mm_scale_mode(a, b, bound.shape(info.scale_a), bound.shape(info.scale_b));
    std::string mode = found ? found : "";  // bind() has checked it is one of the three
    info.scale = mode == "row" ? ScaleMode::kRow : mode == "block" ? ScaleMode::kBlock : ScaleMode::kTensor;
  }
  return info;
}

std::optional<std::string> gemm_refusal(const GemmInfo& info) {
  if (info.op == "mm") {
    std::string d = info.a_dtype == DType::kBF16 ? "bf16" : graph::dtype_name(info.a_dtype);
    return "'" + info.node + "' is a " + d + " mm: tpjit generates FP8 kernels only; " + d +
           " GEMMs run unfused.";
  }
  if (info.a_dtype != DType::kF8E4M3 || info.b_dtype != DType::kF8E4M3) {
    return "'" + info.node + "' multiplies " + graph::dtype_name(info.a_dtype) + " by " +
           graph::dtype_name(info.b_dtype) +
           ", but tpjit's FP8 kernels take float8_e4m3fn operands; quantize both to float8_e4m3fn "
           "to fuse it.";
  }
  if (info.batch != 1) {
    return "'" + info.node + "' is a bmm_fp8 with batch " + std::to_string(info.batch) +
           "; tpjit fuses bmm_fp8 only with batch 1 (the unsqueeze form of a plain GEMM).";
  }
  if (info.k % 16 != 0 || info.n % 8 != 0) {
    return "'" + info.node + "' has K=" + std::to_string(info.k) + " and N=" + std::to_string(info.n) +
           "; tpjit's kernels need K a multiple of 16 and N a multiple of 8, so pad the weight to fuse "
           "it.";
  }
  return std::nullopt;
}

namespace {

std::string unmatched_reason(const Matcher& m, const graph::Node& node) {
  if (node.op == "all_reduce") {
    return "all-reduce '" + node.name +
           "' has no fused form in tpjit and runs as a plain NCCL all-reduce; with sequence "
           "parallelism (reduce_scatter after the GEMM, all_gather before the next) tpjit can "
           "overlap it.";
  }
  if (node.op == "all_gather") {
    std::string users;
    for (int u : m.g.users(node.outputs[0])) {
      users += (users.empty() ? "" : ", ") + node_label(m.g.nodes[u]);
    }
    return "all-gather '" + node.name + "' feeds no GEMM as its a operand (" +
           (users.empty() ? std::string("its result is unused") : "its users: " + users) +
           "), so it runs as a plain NCCL all-gather.";
  }
  const std::string& in = node.inputs[0];
  int p = m.g.producer(in);
  std::string source = p < 0 ? "a graph input" : "produced by " + node_label(m.g.nodes[p]);
  return "reduce-scatter '" + node.name + "' reduces '" + in + "', " + source +
         ", not by a GEMM, so it runs as a plain NCCL reduce-scatter.";
}

}  // namespace

MatchResult match(const graph::BoundGraph& bound) {
  Matcher m(bound);
  match_all_gathers(m);
  match_reduce_scatters(m);
  for (size_t i = 0; i < m.g.nodes.size(); ++i) {
    const graph::Node& node = m.g.nodes[i];
    bool collective = node.op == "all_gather" || node.op == "reduce_scatter" || node.op == "all_reduce";
    if (!collective || m.claimed(static_cast<int>(i))) continue;
    Region r;
    r.kind = RegionKind::kUnfused;
    r.pattern = node.op;
    r.collective = node.name;
    r.reason = unmatched_reason(m, node);
    m.add(std::move(r), static_cast<int>(i), {static_cast<int>(i)});
  }

  std::vector<size_t> order(m.regions.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return m.position[a] < m.position[b]; });
  MatchResult result;
  auto log = logger("fusion");
  for (size_t i : order) {
    Region r = std::move(m.regions[i]);
    r.id = static_cast<int>(result.regions.size());
    if (r.kind != RegionKind::kUnfused) ++result.match_counts[r.pattern];
    log->debug("graph '{}' region {} {} fused={}: {}", m.g.name, r.id, r.pattern, r.fused, r.reason);
    result.regions.push_back(std::move(r));
  }
  return result;
}

nlohmann::json region_to_json(const Region& r) {
  nlohmann::json gemms = nlohmann::json::array();
  for (const auto& gm : r.gemms) gemms.push_back(gm.node);
  return {{"id", r.id},         {"kind", region_kind_name(r.kind)},
          {"pattern", r.pattern}, {"collective", r.collective},
          {"nodes", r.nodes},   {"gemms", gemms},
          {"fused", r.fused},   {"reason", r.reason}};
}

nlohmann::json match_to_json(const MatchResult& result) {
  nlohmann::json regions = nlohmann::json::array();
  for (const auto& r : result.regions) regions.push_back(region_to_json(r));
  return {{"regions", regions}, {"match_counts", result.match_counts}};
}

}  // namespace tpjit::fusion
