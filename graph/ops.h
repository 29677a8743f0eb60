// Per-op rules shared by parse.cc and infer.cc (internal to graph/).
#pragma once

#include <string>

#include "graph/graph.h"

namespace tpjit::graph {

// Checks a node's arity and attribute types, fills in attribute defaults and normalizes
// view/unsqueeze/squeeze/flatten to "reshape" (keeping original_op). `where` is the node's path.
Status check_op(Node& node, const std::string& where, const Graph& g, const Limits& limits);

// True for the ops whose output shapes bind() infers; the rest are opaque.
bool is_known_op(const std::string& op);

}  // namespace tpjit::graph
