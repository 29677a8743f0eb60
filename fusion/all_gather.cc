// all_gather(dim 0) -> reshape* -> GEMM operand a, one gather feeding one or several GEMMs.
#include <algorithm>
#include <set>

#include "fusion/matcher.h"

namespace tpjit::fusion {
namespace {

// One GEMM reached from the gathered tensor through a (possibly empty) chain of reshapes.
struct Use {
  int gemm;
  size_t operand;          // 0 = a, 1 = b
  std::vector<int> chain;  // reshape nodes from the gather to the GEMM
};

// Walks the users of `tensor` through unclaimed reshapes. GEMM operands a/b go to `uses`;
// every other user to `others`.
void walk(const Matcher& m, const std::string& tensor, std::vector<Use>& uses, std::vector<int>& others) {
  std::vector<std::pair<std::string, std::vector<int>>> stack = {{tensor, {}}};
  while (!stack.empty()) {
    auto [t, chain] = std::move(stack.back());
    stack.pop_back();
    for (int u : m.g.users(t)) {
      const graph::Node& node = m.g.nodes[u];
      if (m.claimed(u)) {
        others.push_back(u);
      } else if (node.op == "reshape") {
        std::vector<int> next = chain;
        next.push_back(u);
        stack.push_back({node.outputs[0], std::move(next)});
      } else if (is_gemm(node.op)) {
        size_t operand = std::find(node.inputs.begin(), node.inputs.end(), t) - node.inputs.begin();
        if (operand <= 1) {
          uses.push_back({u, operand, chain});
        } else {
          others.push_back(u);
        }
      } else {
        others.push_back(u);
      }
    }
  }
  std::sort(uses.begin(), uses.end(), [](const Use& a, const Use& b) { return a.gemm < b.gemm; });
}

// Whether each rank's chunk of the gathered tensor lands on whole rows of the GEMM's a operand,
// so a GEMM on the rows that have arrived can start before the rest.
std::optional<std::string> broken_rows(const Matcher& m, const graph::Node& gather, const Use& use) {
  const graph::Node& gemm = m.g.nodes[use.gemm];
  std::vector<std::string> path = {gather.inputs[0], gather.outputs[0]};
  for (int n : use.chain) path.push_back(m.g.nodes[n].outputs[0]);
  for (const auto& t : path) {
    if (m.g.tensor(t)->col_major) {
      return "'" + t + "' on the way from all-gather '" + gather.name + "' to '" + gemm.name +
             "' is col_major, so a rank's rows are not contiguous; gather row-major activations.";
    }
  }
  int64_t chunk = m.numel(gather.outputs[0]) / m.g.world_size;
  int64_t k = m.bound.shape(gemm.inputs[0]).back();
  if (k == 0 || chunk % k != 0) {
    return "the reshapes from '" + gather.outputs[0] + "' " + graph::shape_text(m.bound.shape(gather.outputs[0])) +
           " to '" + gemm.inputs[0] + "' " + graph::shape_text(m.bound.shape(gemm.inputs[0])) +
           " split each rank's chunk (" + std::to_string(chunk) + " elements) mid-row (K=" + std::to_string(k) +
           "), so the GEMM cannot start on one rank's rows; keep whole rows per rank.";
  }
  return std::nullopt;
}

std::optional<std::string> refusal(const Matcher& m, const graph::Node& gather, int64_t dim,
                                   const std::vector<Use>& uses, const std::vector<GemmInfo>& gemms) {
  if (m.g.world_size == 1) {
    return "world size is 1: all-gather '" + gather.name + "' moves nothing, so the GEMMs run alone.";
  }
  if (dim != 0) {
    return "all-gather '" + gather.name + "' gathers dim " + std::to_string(dim) + " of '" + gather.inputs[0] +
           "'; tpjit overlaps gathers along dim 0 (the token rows) only.";
  }
  for (const Use& use : uses) {
    const graph::Node& gemm = m.g.nodes[use.gemm];
    if (use.operand == 1) {
      return "'" + gather.outputs[0] + "' reaches " + node_label(gemm) +
             " as its b operand; tpjit overlaps a gather only with the GEMM whose a operand (the "
             "activation rows) it gathers.";
    }
  }
  for (const GemmInfo& info : gemms) {
    if (auto r = gemm_refusal(info)) return r;
  }
  for (const Use& use : uses) {
    if (auto r = broken_rows(m, gather, use)) return r;
  }
  for (const GemmInfo& info : gemms) {
    if (info.op != gemms[0].op) {
      return "all-gather '" + gather.name + "' feeds both " + gemms[0].op + " '" + gemms[0].node + "' and " +
             info.op + " '" + info.node + "'; tpjit fuses a gather with GEMMs of one kind only.";
    }
  }
  return std::nullopt;
}

// A gather of scale_a rows (row or block scales gathered beside the activations) that only
// these GEMMs read: it joins the region, since the overlapped schedule must bring it in too.
std::vector<int> scale_gathers(const Matcher& m, const std::vector<GemmInfo>& gemms, const std::set<int>& members) {
  std::vector<int> extra;
  for (const GemmInfo& info : gemms) {
    if (info.scale_a.empty()) continue;
    std::vector<int> chain;
    int p = m.g.producer(info.scale_a);
    while (p >= 0 && !m.claimed(p) && m.g.nodes[p].op == "reshape") {
      chain.push_back(p);
      p = m.g.producer(m.g.nodes[p].inputs[0]);
    }
    if (p < 0 || m.claimed(p) || m.g.nodes[p].op != "all_gather" || members.count(p)) continue;
    if (std::find(extra.begin(), extra.end(), p) != extra.end()) continue;
    std::vector<Use> uses;
    std::vector<int> others;
    walk(m, m.g.nodes[p].outputs[0], uses, others);
    bool only_ours = uses.empty() && std::all_of(others.begin(), others.end(), [&](int u) { return members.count(u) > 0; });
    if (!only_ours) continue;
    extra.push_back(p);
    extra.insert(extra.end(), chain.begin(), chain.end());
  }
  return extra;
}

}  // namespace

void match_all_gathers(Matcher& m) {
  for (size_t i = 0; i < m.g.nodes.size(); ++i) {
    const graph::Node& gather = m.g.nodes[i];
    if (gather.op != "all_gather" || m.claimed(static_cast<int>(i))) continue;
    std::vector<Use> uses;
    std::vector<int> others;
    walk(m, gather.outputs[0], uses, others);
    if (uses.empty()) continue;

    std::vector<int> nodes = {static_cast<int>(i)};
    std::vector<GemmInfo> gemms;
    for (const Use& use : uses) {
      nodes.insert(nodes.end(), use.chain.begin(), use.chain.end());
      if (std::find(nodes.begin(), nodes.end(), use.gemm) != nodes.end()) continue;
      nodes.push_back(use.gemm);
      gemms.push_back(gemm_info(m.bound, m.g.nodes[use.gemm]));
    }
    int64_t dim = gather.attrs["dim"].get<int64_t>();
    if (dim < 0) dim += static_cast<int64_t>(m.bound.shape(gather.inputs[0]).size());

    Region r;
    r.kind = RegionKind::kAllGatherGemm;
    r.pattern = "all_gather->" + gemms[0].op;
    r.collective = gather.name;
    auto reason = refusal(m, gather, dim, uses, gemms);
    r.fused = !reason;
    if (reason) {
      r.reason = "not fused: " + *reason;
    } else {
      std::string shard = m.g.tensor(gather.inputs[0])->shape_text();
      r.reason = "all-gather '" + gather.name + "' of " + gather.inputs[0] + " (" + shard + " per rank) overlaps ";
      if (gemms.size() == 1) {
        r.reason += "the FP8 GEMM '" + gemms[0].node + "'";
      } else {
        r.reason += std::to_string(gemms.size()) + " FP8 GEMMs:";
        for (size_t g = 0; g < gemms.size(); ++g) r.reason += (g ? ", " : " ") + gemms[g].node;
      }
      r.reason += ".";
    }
    std::set<int> members(nodes.begin(), nodes.end());
    std::vector<int> extra = scale_gathers(m, gemms, members);
    for (int e : extra) {
      if (m.g.nodes[e].op == "all_gather") r.reason += " Its scale rows come with all-gather '" + m.g.nodes[e].name + "'.";
    }
    nodes.insert(nodes.end(), extra.begin(), extra.end());
    r.gemms = std::move(gemms);
    m.add(std::move(r), static_cast<int>(i), nodes);
  }
}

}  // namespace tpjit::fusion
