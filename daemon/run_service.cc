#include "daemon/run_service.h"

#include <algorithm>
#include <filesystem>

#include "daemon/plan.h"
#include "daemon/run_inputs.h"
#include "fusion/match.h"
#include "ipc/message.h"

namespace tpjit {
namespace {

using nlohmann::json;

Error bad(const std::string& what, const std::string& where) {
  return make_error(errc::kBadRequest, what, where);
}

Result<RunBody> parse_body(const json& body) {
  RunBody r;
  if (!body.contains("graph") || !body["graph"].is_object()) return bad("run needs \"graph\", a tpjit.graph/1 object", "body.graph");
  r.graph = body["graph"];
  if (!body.contains("m") || !body["m"].is_number_integer() || body["m"].get<int64_t>() < 1)
    return bad("run needs \"m\", the token count, a positive integer", "body.m");
  r.m = body["m"].get<int64_t>();
  if (body.contains("seed")) {
    if (!body["seed"].is_number_unsigned()) return bad("\"seed\" must be a non-negative integer", "body.seed");
    r.seed = body["seed"].get<uint64_t>();
  }
  for (auto [key, slot] : {std::pair{"inputs", &r.inputs}, std::pair{"outputs", &r.outputs}}) {
    if (!body.contains(key)) continue;
    if (!body[key].is_string() || body[key].get<std::string>().empty() ||
        body[key].get<std::string>()[0] != '/')
      return bad(std::string("\"") + key + "\" must be an absolute directory path", std::string("body.") + key);
    *slot = body[key].get<std::string>();
  }
  if (r.seed && !r.inputs.empty()) return bad("give \"seed\" or \"inputs\", not both", "body.seed");
  if (!r.seed && r.inputs.empty()) r.seed = 0;
  if (body.contains("check")) {
    if (!body["check"].is_boolean()) return bad("\"check\" must be true or false", "body.check");
    r.check = body["check"].get<bool>();
  }
  if (body.contains("execution")) {
    const json& e = body["execution"];
    if (!e.is_string() || (e != "plan" && e != "fused" && e != "unfused" && e != "unfused_cublaslt"))
      return bad("\"execution\" must be \"plan\" (the plan's choice), \"fused\", \"unfused\" or "
                 "\"unfused_cublaslt\"",
                 "body.execution");
    r.execution = e.get<std::string>();
  }
  for (auto [key, slot, hi] : {std::tuple{"iters", &r.iters, 10000}, std::tuple{"chunks", &r.chunks, 64}}) {
    if (!body.contains(key)) continue;
    if (!body[key].is_number_integer() || body[key].get<int64_t>() < (std::string(key) == "iters" ? 0 : 1) ||
        body[key].get<int64_t>() > hi)
      return bad(std::string("\"") + key + "\" must be an integer in range (iters 0..10000, chunks 1..64)",
                 std::string("body.") + key);
    *slot = body[key].get<int>();
  }
  return r;
}

// The worst rank's error per output; a null (NaN, or a float64 check a rank could not make)
// sticks.
void keep_worst(json& into, const json& from) {
  for (auto& [name, v] : from.items()) {
    if (!into.contains(name) || v.is_null()) into[name] = v;
    else if (into[name].is_number() && v.get<double>() > into[name].get<double>()) into[name] = v;
  }
}

class RunService final : public RequestHandler {
 public:
  RunService(daemon::WorkerPoolConfig workers, RequestHandler& compile)
      : pool_(std::move(workers)), compile_(compile) {}

  json capabilities() const override {
    json c = compile_.capabilities();
    if (c.contains("requests") && c["requests"].is_array()) c["requests"].push_back("run");
    c["execution"] = true;
    return c;
  }

  Result<json> handle(const std::string& type, const json& body) override {
    if (type != "run") return compile_.handle(type, body);
    return run(body);
  }

  json stats() const override {
    json s = compile_.stats();
    s["workers"] = pool_.stats();
    return s;
  }

 private:
  Result<json> run(const json& raw) {
    auto body = parse_body(raw);
    if (!body) return body.error();
    auto request = parse_compile_request({{"graph", body->graph}, {"m", {body->m}}});
    if (!request) return request.error();
    graph::Bindings bindings = request->symbols;
    bindings[kTokenSymbol] = body->m;
    auto bound = graph::bind(request->graph, bindings);
    if (!bound) return bound.error();
    fusion::MatchResult match = fusion::match(*bound);

    auto devices = pool_.devices();
    if (!devices) return devices.error();
    const int world = pool_.world_size();
    if (request->graph.world_size != world)
      return make_error(kErrWorldMismatch,
                        "graph '" + request->graph.name + "' is for a group of " +
                            std::to_string(request->graph.world_size) + " ranks but this daemon runs " +
                            std::to_string(world) + " (" + std::to_string(devices->size()) +
                            " local GPU(s)); record the graph for TP=" + std::to_string(world) +
                            ", or start tpjitd with --gpus N / CUDA_VISIBLE_DEVICES to match",
                        "graph.group.world_size");
    std::string arch = (*devices)[0]["device"].value("arch", "") + "a";
    if (arch != "sm_90a" && arch != "sm_100a")
      return make_error(errc::kUnsupportedArch, "the GPU is " + arch.substr(0, arch.size() - 1) +
                                                    "; tpjit run needs sm_90 (Hopper) or sm_100", "");
    std::vector<const fusion::Region*> fused;
    for (const auto& r : match.regions)
      if (r.fused) fused.push_back(&r);
    if (!body->inputs.empty()) {
      for (const auto* r : fused)
        for (size_t i = 0; i < devices->size(); ++i)
          if (Status s = check_npy_inputs(*r, *bound, body->m, world, pool_.first_rank() + int(i),
                                          body->inputs);
              !s.ok())
            return s.error();
    }
    auto plan = compile_.handle("compile", {{"graph", body->graph}, {"m", {body->m}}, {"archs", {arch}}});
    if (!plan) return plan.error();

    json regions = json::array();
    for (const auto& r : match.regions) {
      json entry = {{"id", r.id}, {"kind", fusion::region_kind_name(r.kind)}, {"fused", r.fused}};
      if (!r.fused) {
        entry["executed"] = false;
        entry["reason"] = r.reason;
        regions.push_back(entry);
        continue;
      }
      // Fused or unfused as the plan chose for this M (or as asked); chunks as asked, else as
      // the plan has them for this region (or 2); the transport as measured (else the
      // runtime's default).
      RunBody region_body = *body;
      json execution;
      for (const json& p : (*plan)["regions"])
        if (p.value("id", -1) == r.id && p.contains("execution") && !p["execution"].empty())
          execution = p["execution"][0];
      if (region_body.chunks == 0) region_body.chunks = execution.value("chunks", 2);
      const std::string how =
          body->execution != "plan" ? body->execution : execution.value("choice", std::string("fused"));
      const bool fused = how == "fused";
      std::vector<json> messages;
      for (size_t i = 0; i < devices->size(); ++i) {
        auto job = region_job(r, (*plan)["kernels"], *bound, region_body, world,
                              pool_.first_rank() + int(i));
        if (!job) return job.error();
        if (execution.contains("transport")) (*job)["transport"] = execution["transport"];
        (*job)["fused"] = fused;
        if (how == "unfused_cublaslt") (*job)["gemm"] = "cublaslt";
        messages.push_back(ipc::make_request(1, "run_region", *job));
      }
      auto replies = pool_.call_all(messages, true);
      if (!replies) {
        Error e = replies.error();
        e.message += " (region " + std::to_string(r.id) + ", " + fusion::region_kind_name(r.kind) + ")";
        return e;
      }
      double ms = 0;
      std::string transport;  // every rank runs the same one (the window is collective)
      json check = {{"rel_error", json::object()}, {"rel_error_vs_float64", json::object()},
                    {"bound", json::object()}, {"ok", true}, {"reference", "unfused (NCCL + GEMM)"}};
      for (const auto& reply : *replies) {
        ms = std::max(ms, reply.value("ms_median", 0.0));
        transport = reply.value("transport", transport);
        if (!reply.contains("check")) continue;
        const json& c = reply["check"];
        keep_worst(check["rel_error"], c.value("rel_error", json::object()));
        keep_worst(check["rel_error_vs_float64"], c.value("rel_error_vs_float64", json::object()));
        check["bound"].update(c.value("bound", json::object()));
        check["ok"] = check["ok"].get<bool>() && c.value("ok", false);
        for (const char* key : {"float64_rows", "float64_skipped"})
          if (c.contains(key)) check[key] = c[key];
      }
      entry["executed"] = true;
      entry["execution"] = how;
      entry["ms_median"] = ms;
      entry["transport"] = fused ? transport : "none";
      entry["iters"] = body->iters;
      if (body->check) entry["check"] = check;
      regions.push_back(entry);
    }
    json names = json::array();
    for (const auto& d : *devices) names.push_back(d["device"].value("name", "?"));
    return json{{"graph", request->graph.name}, {"m", body->m}, {"world_size", world},
                {"ranks", {pool_.first_rank(), pool_.first_rank() + int(devices->size()) - 1}},
                {"arch", arch}, {"devices", names}, {"regions", regions}};
  }

  daemon::WorkerPool pool_;
  RequestHandler& compile_;
};

}  // namespace

std::unique_ptr<RequestHandler> make_run_service(const DaemonConfig&, daemon::WorkerPoolConfig workers,
                                                 RequestHandler& compile_service) {
  return std::make_unique<RunService>(std::move(workers), compile_service);
}

}  // namespace tpjit
