// A RequestHandler for server tests: echoes, fails, throws, or blocks on a gate the test
// opens, and counts how many calls are inside at once.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/handler.h"

namespace tpjit::daemon::testing {

class FakeHandler : public RequestHandler {
 public:
  nlohmann::json capabilities() const override {
    nlohmann::json caps = {{"archs", {"sm_90a", "sm_100a"}}};
    if (list_requests) caps["requests"] = {"echo", "slow", "throw", "fail", "big", "compile", "warmup"};
    return caps;
  }

  Result<nlohmann::json> handle(const std::string& type, const nlohmann::json& body) override {
    ++calls_;
    if (type == "echo") return body;
    if (type == "compile") return compile(body);
    if (type == "warmup") {  // the real service's summary of the canned plan
      auto plan = compile(body);
      if (!plan) return plan;
      return nlohmann::json{{"graph", (*plan)["graph"]}, {"m", body.at("m")}, {"kernels", 1},
                            {"compiled", body.at("m")[0] == 128 ? 0 : 1},
                            {"cache_hits", body.at("m")[0] == 128 ? 1 : 0}, {"compile_ms_total", 12.25}};
    }
    if (type == "fail") return make_error(errc::kBadGraph, "node has no op", "graph.nodes[2].op");
    if (type == "throw") throw std::runtime_error("boom in the handler");
    if (type == "big") return nlohmann::json{{"blob", std::string(body.value("bytes", 0), 'b')}};
    if (type == "slow") {
      std::unique_lock lock(mutex_);
      ++inside_;
      max_inside_ = std::max(max_inside_, inside_);
      changed_.notify_all();
      changed_.wait(lock, [&] { return open_; });
      --inside_;
      return nlohmann::json{{"slow", body.value("n", 0)}};
    }
    return make_error(errc::kInternal, "fake handler got " + type, "");
  }

  nlohmann::json stats() const override { return {{"fake", {{"calls", calls_.load()}}}}; }

  // Lets every blocked and future "slow" call return.
  void open_gate() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

  // Waits until n "slow" calls are blocked at once; false after a generous safety timeout.
  bool wait_inside(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(20), [&] { return inside_ >= n; });
  }

  int max_inside() {
    std::lock_guard lock(mutex_);
    return max_inside_;
  }

  bool list_requests = true;  // false: capabilities() without a "requests" list

 private:
  // A canned plan shaped like the real one (CONTRACTS.md, plan JSON).
  static Result<nlohmann::json> compile(const nlohmann::json& body) {
    const auto& graph = body.at("graph");
    if (graph.value("name", "") == "broken") {
      return make_error(errc::kBadGraph, "node mm_q has no op", "graph.nodes[1].op");
    }
    nlohmann::json kernels = nlohmann::json::array();
    for (const auto& m : body.at("m")) {
      kernels.push_back({{"region", 0}, {"gemm", "mm_q"}, {"m", m}, {"arch", "sm_90a"},
                         {"name", "tpjit_gemm_mma_n5120_k8192"}, {"key", std::string(64, 'a')},
                         {"cache", m == 128 ? "hit" : "miss"}, {"compile_ms", 12.25}, {"cubin_bytes", 45678},
                         {"spec", nlohmann::json::object()}});
    }
    return nlohmann::json{
        {"graph", graph.value("name", "?")}, {"world_size", 2}, {"m", body.at("m")}, {"archs", {"sm_90a"}},
        {"regions",
         {{{"id", 0}, {"kind", "all_gather_gemm"}, {"pattern", "all_gather->scaled_mm"}, {"collective", "ag0"},
           {"nodes", {"ag0", "mm_q"}}, {"gemms", {"mm_q"}}, {"fused", true}, {"reason", "gather feeds one GEMM"}},
          {{"id", 1}, {"kind", "unfused"}, {"pattern", "all_reduce"}, {"collective", "ar0"},
           {"nodes", {"ar0"}}, {"gemms", nlohmann::json::array()}, {"fused", false},
           {"reason", "all_reduce has no GEMM neighbour"}}}},
        {"kernels", kernels}, {"match_counts", {{"all_gather->scaled_mm", 1}}}, {"compile_ms_total", 12.25}};
  }

  std::atomic<int> calls_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int inside_ = 0;
  int max_inside_ = 0;
};

}  // namespace tpjit::daemon::testing
