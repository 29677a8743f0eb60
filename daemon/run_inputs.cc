#include "daemon/run_inputs.h"

#include "daemon/run_service.h"
#include "util/npy.h"
#include "util/int_math.h"

namespace tpjit {
namespace {

using nlohmann::json;

struct Expected {
  std::string name;
  bool fp8;
  std::vector<int64_t> shape;
};

std::vector<int64_t> scale_shape(fusion::ScaleMode mode, int64_t rows, int64_t k, bool is_b,
                                 int64_t n) {
  if (mode == fusion::ScaleMode::kRow) return {is_b ? n : rows};
  if (mode == fusion::ScaleMode::kBlock)
    return is_b ? std::vector<int64_t>{ceil_div(k, 128), ceil_div(n, 128)}
                : std::vector<int64_t>{rows, ceil_div(k, 128)};
  return {};
}

std::string input_name(const fusion::Region& r, const graph::BoundGraph& bound) {
  if (r.kind == fusion::RegionKind::kGemmReduceScatter) return r.gemms[0].a;
  int node = -1;
  for (size_t i = 0; i < bound.graph->nodes.size(); ++i)
    if (bound.graph->nodes[i].name == r.collective) node = static_cast<int>(i);
  return node >= 0 ? bound.graph->nodes[node].inputs.at(0) : "";
}

std::vector<Expected> expected(const fusion::Region& r, const graph::BoundGraph& bound, int64_t m,
                               int world) {
  const bool ag = r.kind == fusion::RegionKind::kAllGatherGemm;
  const int64_t rows = ag ? m / world : m, k = r.gemms[0].k;
  std::vector<Expected> e = {{input_name(r, bound), true, {rows, k}},
                             {r.gemms[0].scale_a, false, scale_shape(r.gemms[0].scale, rows, k, false, 0)}};
  for (const auto& g : r.gemms) {
    e.push_back({g.b, true, {g.n, k}});
    e.push_back({g.scale_b, false, scale_shape(g.scale, rows, k, true, g.n)});
  }
  return e;
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string t = "(";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + (s.size() == 1 ? ",)" : ")");
}

}  // namespace

Status check_npy_inputs(const fusion::Region& region, const graph::BoundGraph& bound, int64_t m,
                        int world, int rank, const std::string& dir) {
  for (const auto& e : expected(region, bound, m, world)) {
    auto path = std::filesystem::path(dir) / ("rank" + std::to_string(rank)) / (e.name + ".npy");
    const std::string want = std::string(e.fp8 ? "'<u1' (FP8 e4m3 bytes)" : "'<f4'") + " of shape " +
                             shape_text(e.shape);
    if (!std::filesystem::exists(path))
      return make_error(kErrBadInput,
                        "missing input " + path.string() + ": region " + std::to_string(region.id) +
                            " needs tensor '" + e.name + "' for rank " + std::to_string(rank) +
                            " as " + want,
                        path.string());
    auto h = read_npy_header(path);
    if (!h) return make_error(kErrBadInput, h.error().message, path.string());
    const bool scalar_ok = e.shape.empty() && h->shape == std::vector<int64_t>{1};
    if (h->itemsize != (e.fp8 ? 1u : 4u) || (h->shape != e.shape && !scalar_ok))
      return make_error(kErrBadInput,
                        path.string() + " holds '" + h->descr + "' of shape " + shape_text(h->shape) +
                            "; tensor '" + e.name + "' of region " + std::to_string(region.id) +
                            " needs " + want + " for M=" + std::to_string(m),
                        path.string());
  }
  return ok_status();
}

Result<json> region_job(const fusion::Region& r, const json& kernels, const graph::BoundGraph& bound,
                        const RunBody& body, int world, int rank) {
  const bool ag = r.kind == fusion::RegionKind::kAllGatherGemm;
  json gemms = json::array();
  for (const auto& g : r.gemms) {
    const json* found = nullptr;
    for (const auto& k : kernels)
      if (k.value("region", -1) == r.id && k.value("gemm", "") == g.node) found = &k;
    if (!found)
      return make_error(errc::kInternal, "the plan has no kernel for GEMM '" + g.node + "'", "");
    gemms.push_back({{"node", g.node}, {"key", (*found)["key"]}, {"spec", (*found)["spec"]},
                     {"b", g.b}, {"scale_a", g.scale_a}, {"scale_b", g.scale_b}, {"out", g.out}});
  }
  std::string output;
  if (!ag) {
    for (const auto& n : bound.graph->nodes)
      if (n.name == r.collective) output = n.outputs.at(0);
  }
  json job = {{"region", r.id}, {"kind", fusion::region_kind_name(r.kind)}, {"m", body.m},
              {"rank", rank}, {"world", world}, {"iters", body.iters}, {"chunks", body.chunks},
              {"check", body.check}, {"input", input_name(r, bound)}, {"output", output},
              {"gemms", gemms}};
  if (body.seed) job["seed"] = *body.seed;
  if (!body.inputs.empty()) job["inputs_dir"] = body.inputs;
  if (!body.outputs.empty()) job["outputs_dir"] = body.outputs;
  return job;
}

}  // namespace tpjit
