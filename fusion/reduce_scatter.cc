// GEMM -> reshape* -> reduce_scatter(dim 0, sum).
#include <algorithm>

#include "fusion/matcher.h"

namespace tpjit::fusion {
namespace {

// Every tensor from the GEMM's result to the scatter's input must feed only the next step:
// the fused kernel reduces rows as they are computed and never materializes the full result.
std::optional<std::string> second_user(const Matcher& m, const graph::Node& gemm,
                                       const std::vector<std::string>& path,
                                       const std::vector<int>& steps) {
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& t = path[i];
    for (int u : m.g.users(t)) {
      if (u == steps[i]) continue;
      return "the result '" + t + "' of " + node_label(gemm) + " is also read by " + node_label(m.g.nodes[u]) +
             ", but the fused kernel never materializes the full result; give that user its own copy "
             "or move it after the reduce-scatter.";
    }
    if (std::find(m.g.outputs.begin(), m.g.outputs.end(), t) != m.g.outputs.end()) {
      return "the result '" + t + "' of " + node_label(gemm) +
             " is also a graph output, but the fused kernel never materializes the full result.";
    }
  }
  return std::nullopt;
}

std::optional<std::string> broken_rows(const Matcher& m, const graph::Node& scatter, const GemmInfo& info,
                                       const std::vector<std::string>& path) {
  for (const auto& t : path) {
    if (m.g.tensor(t)->col_major) {
      return "'" + t + "' between '" + info.node + "' and reduce-scatter '" + scatter.name +
             "' is col_major, so each rank's share is not a block of whole rows.";
    }
  }
  int64_t chunk = m.numel(info.out) / m.g.world_size;
  if (info.n == 0 || chunk % info.n != 0) {
    return "reduce-scatter '" + scatter.name + "' splits '" + info.out + "' " +
           graph::shape_text(m.bound.shape(info.out)) + " into chunks of " + std::to_string(chunk) +
           " elements, which cut rows of N=" + std::to_string(info.n) +
           "; the rows M must divide by the world size.";
  }
  return std::nullopt;
}

}  // namespace

void match_reduce_scatters(Matcher& m) {
  for (size_t i = 0; i < m.g.nodes.size(); ++i) {
    const graph::Node& scatter = m.g.nodes[i];
    if (scatter.op != "reduce_scatter" || m.claimed(static_cast<int>(i))) continue;
    // path[j] is read by steps[j]; path runs from the scatter's input back to the GEMM result.
    std::vector<std::string> path = {scatter.inputs[0]};
    std::vector<int> steps = {static_cast<int>(i)};
    int p = m.g.producer(path.back());
    while (p >= 0 && !m.claimed(p) && m.g.nodes[p].op == "reshape") {
      steps.push_back(p);
      path.push_back(m.g.nodes[p].inputs[0]);
      p = m.g.producer(path.back());
    }
    if (p < 0 || !is_gemm(m.g.nodes[p].op)) continue;
    const graph::Node& gemm = m.g.nodes[p];
    GemmInfo info = gemm_info(m.bound, gemm);

    Region r;
    r.kind = RegionKind::kGemmReduceScatter;
    r.pattern = gemm.op + "->reduce_scatter";
    r.collective = scatter.name;
    std::vector<int> nodes = steps;
    std::optional<std::string> reason;
    int64_t dim = scatter.attrs["dim"].get<int64_t>();
    if (dim < 0) dim += static_cast<int64_t>(m.bound.shape(scatter.inputs[0]).size());
    std::string op = scatter.attrs["op"].get<std::string>();
    if (m.g.world_size == 1) {
      reason = "world size is 1: reduce-scatter '" + scatter.name + "' moves nothing, so '" + gemm.name + "' runs alone.";
    } else if (dim != 0) {
      reason = "reduce-scatter '" + scatter.name + "' scatters dim " + std::to_string(dim) +
               "; tpjit overlaps scatters along dim 0 (the token rows) only.";
    } else if (op != "sum") {
      reason = "reduce-scatter '" + scatter.name + "' reduces with '" + op + "'; tpjit fuses sum reductions only.";
    } else if (m.claimed(p)) {
      reason = node_label(gemm) + " already overlaps '" + m.regions[m.owner[p]].collective +
               "'; a GEMM overlaps one collective at most.";
    } else if ((reason = second_user(m, gemm, path, steps))) {
    } else if ((reason = gemm_refusal(info))) {
    } else {
      reason = broken_rows(m, scatter, info, path);
    }
    if (!m.claimed(p)) nodes.push_back(p);
    r.fused = !reason;
    if (reason) {
      r.reason = "not fused: " + *reason;
    } else {
      r.reason = "reduce-scatter '" + scatter.name + "' overlaps the FP8 GEMM '" + gemm.name + "' (" +
                 m.g.tensor(info.out)->shape_text() + " result, " +
                 m.g.tensor(scatter.outputs[0])->shape_text() + " per rank).";
    }
    r.gemms.push_back(std::move(info));
    m.add(std::move(r), static_cast<int>(i), nodes);
  }
}

}  // namespace tpjit::fusion
