// Internals of match(): the state shared by the all-gather and reduce-scatter matchers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fusion/match.h"

namespace tpjit::fusion {

struct Matcher {
  const graph::BoundGraph& bound;
  const graph::Graph& g;
  std::vector<int> owner;  // node index -> index into `regions`, or -1
  std::vector<Region> regions;
  std::vector<int> position;  // per region: node index of its collective, for graph order

  explicit Matcher(const graph::BoundGraph& b);
  // Adds a region owning `nodes` (node indices) and returns its index.
  int add(Region r, int collective, const std::vector<int>& nodes);
  bool claimed(int node) const { return owner[node] >= 0; }
  int64_t numel(const std::string& tensor) const;
};

bool is_gemm(const std::string& op);
// "'mm_o' (scaled_mm)"
std::string node_label(const graph::Node&);
GemmInfo gemm_info(const graph::BoundGraph&, const graph::Node&);
// Why tpjit's kernels cannot take this GEMM (dtype, batch, alignment), or nullopt.
std::optional<std::string> gemm_refusal(const GemmInfo&);

void match_all_gathers(Matcher&);
void match_reduce_scatters(Matcher&);

}  // namespace tpjit::fusion
