#include "daemon/plan.h"

#include <algorithm>

namespace tpjit {

using nlohmann::json;

namespace {

Result<std::vector<int64_t>> parse_token_counts(const json& body) {
  if (!body.contains("m"))
    return make_error(errc::kBadRequest, "compile and warmup need \"m\": the token counts to specialize for, "
                                         "e.g. [128, 2048]", "body.m");
  const json& m = body["m"];
  if (!m.is_array() || m.empty())
    return make_error(errc::kBadRequest, "\"m\" must be a non-empty array of positive integers",
                      "body.m");
  if (m.size() > kMaxTokenCounts)
    return make_error(errc::kLimitExceeded,
                      "at most " + std::to_string(kMaxTokenCounts) + " token counts per request",
                      "body.m");
  std::vector<int64_t> out;
  for (size_t i = 0; i < m.size(); ++i) {
    if (!m[i].is_number_integer() || m[i].get<int64_t>() <= 0 ||
        m[i].get<int64_t>() > (int64_t{1} << 31))
      return make_error(errc::kBadRequest, "token counts must be integers in [1, 2^31]",
                        "body.m[" + std::to_string(i) + "]");
    out.push_back(m[i].get<int64_t>());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::vector<codegen::Arch>> parse_archs(const json& body) {
  if (!body.contains("archs")) return std::vector<codegen::Arch>{codegen::Arch::kSm90a,
                                                                  codegen::Arch::kSm100a};
  const json& archs = body["archs"];
  if (!archs.is_array() || archs.empty())
    return make_error(errc::kBadRequest, "\"archs\" must be a non-empty array such as "
                                         "[\"sm_90a\", \"sm_100a\"]", "body.archs");
  std::vector<codegen::Arch> out;
  for (size_t i = 0; i < archs.size(); ++i) {
    std::string where = "body.archs[" + std::to_string(i) + "]";
    if (!archs[i].is_string())
      return make_error(errc::kBadRequest, "an arch is a string such as \"sm_90a\"", where);
    auto arch = codegen::parse_arch(archs[i].get<std::string>());
    if (!arch)
      return make_error(errc::kUnsupportedArch,
                        "unknown target '" + archs[i].get<std::string>() +
                            "'; tpjit generates code for sm_90a (Hopper) and sm_100a (Blackwell)",
                        where);
    if (std::find(out.begin(), out.end(), *arch) == out.end()) out.push_back(*arch);
  }
  return out;
}

Result<graph::Bindings> parse_symbols(const json& body) {
  graph::Bindings out;
  if (!body.contains("symbols")) return out;
  const json& symbols = body["symbols"];
  if (!symbols.is_object())
    return make_error(errc::kBadRequest, "\"symbols\" must be an object of name -> integer",
                      "body.symbols");
  for (const auto& [name, value] : symbols.items()) {
    if (name == kTokenSymbol)
      return make_error(errc::kBadRequest, "give M through \"m\", not \"symbols\"",
                        "body.symbols.M");
    if (!value.is_number_integer() || value.get<int64_t>() <= 0)
      return make_error(errc::kBadRequest, "symbol values must be positive integers",
                        "body.symbols." + name);
    out[name] = value.get<int64_t>();
  }
  return out;
}

}  // namespace

Result<CompileRequest> parse_compile_request(const json& body) {
  if (!body.is_object())
    return make_error(errc::kBadRequest, "the compile body must be an object", "body");
  if (!body.contains("graph"))
    return make_error(errc::kBadRequest, "compile needs \"graph\": a tpjit.graph/1 object",
                      "body.graph");
  auto m = parse_token_counts(body);
  if (!m) return m.error();
  auto archs = parse_archs(body);
  if (!archs) return archs.error();
  auto symbols = parse_symbols(body);
  if (!symbols) return symbols.error();
  auto parsed = graph::parse_graph(body["graph"]);
  if (!parsed) {
    Error e = parsed.error();
    if (e.where.rfind("graph", 0) == 0) e.where = "body." + e.where;
    return e;
  }
  for (const auto& s : parsed->symbols) {
    if (s != kTokenSymbol && !symbols->count(s))
      return make_error(errc::kBadRequest,
                        "the graph uses symbol '" + s + "'; give its value in \"symbols\"",
                        "body.symbols");
  }
  return CompileRequest{std::move(*parsed), std::move(*m), std::move(*archs), std::move(*symbols)};
}

json plan_to_json(const CompileRequest& request, const fusion::MatchResult& match,
                  const std::vector<json>& kernels, double total_ms) {
  json regions = json::array();
  for (const auto& r : match.regions) {
    json gemms = json::array();
    for (const auto& g : r.gemms) gemms.push_back(g.node);
    regions.push_back({{"id", r.id},
                       {"kind", fusion::region_kind_name(r.kind)},
                       {"pattern", r.pattern},
                       {"collective", r.collective},
                       {"nodes", r.nodes},
                       {"gemms", gemms},
                       {"fused", r.fused},
                       {"reason", r.reason}});
  }
  json archs = json::array();
  for (auto a : request.archs) archs.push_back(codegen::arch_name(a));
  return {{"graph", request.graph.name},
          {"world_size", request.graph.world_size},
          {"m", request.m},
          {"archs", archs},
          {"regions", regions},
          {"kernels", kernels},
          {"match_counts", match.match_counts},
          {"compile_ms_total", total_ms}};
}

json warmup_summary(const json& plan) {
  int64_t kernels = 0, compiled = 0, hits = 0, tuned = 0, fused = 0;
  for (const json& k : plan.value("kernels", json::array())) {
    ++kernels;
    if (k.value("cache", "") == "hit") ++hits;
    else ++compiled;
    if (k.contains("tuning") && k["tuning"].value("source", "") == "tuned") ++tuned;
  }
  for (const json& r : plan.value("regions", json::array())) fused += r.value("fused", false);
  return {{"graph", plan.value("graph", "")},
          {"m", plan.value("m", json::array())},
          {"archs", plan.value("archs", json::array())},
          {"kernels", kernels},
          {"compiled", compiled},
          {"cache_hits", hits},
          {"tuned", tuned},
          {"fused_regions", fused},
          {"compile_ms_total", plan.value("compile_ms_total", 0.0)}};
}

}  // namespace tpjit
