// The compile service: graph JSON -> bound graphs per token count -> matched regions ->
// kernel specs -> CUDA source -> NVRTC -> cubins through the disk cache -> plan JSON.
// Runs on the server's worker threads; kernels of one request compile in parallel on a pool
// of their own, so one large request does not hold a request thread per kernel.
#include "daemon/service.h"

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "cache/cubin_cache.h"
#include "cache/tuning_store.h"
#include "codegen/codegen.h"
#include "codegen/variant.h"
#include "daemon/execution_plan.h"
#include "daemon/handler.h"
#include "daemon/plan.h"
#include "fusion/match.h"
#include "graph/graph.h"
#include "util/log.h"

namespace tpjit {
namespace {

using nlohmann::json;

class CompileService final : public RequestHandler {
 public:
  explicit CompileService(const DaemonConfig& config)
      : compiler_(codegen::make_nvrtc_compiler()),
        cache_(config.cache_dir, config.cache_budget_bytes),
        tuning_(config.cache_dir),
        overlap_(config.cache_dir),
        one_host_(config.ranks_on_one_host),
        pool_(std::max(1, config.workers)) {}

  ~CompileService() override { pool_.join(); }

  json capabilities() const override {
    json variants = json::array();
    for (const auto& v : codegen::variants()) variants.push_back(v.name);
    return {{"requests", {"compile", "warmup"}},
            {"graph_formats", {"tpjit.graph/1"}},
            {"archs", {"sm_90a", "sm_100a"}},
            {"gemm_variants", variants},
            {"compiler", compiler_->version()},
            {"execution", false}};
  }

  Result<json> handle(const std::string& type, const json& body) override {
    if (type == "compile") return compile(body);
    if (type == "warmup") {  // a compile whose reply says what was cached, not the plan
      Result<json> plan = compile(body);
      if (!plan) return plan;
      return warmup_summary(*plan);
    }
    return make_error(errc::kUnknownRequest,
                      "request type '" + type + "' is not served by the compile service", "type");
  }

  json stats() const override {
    auto c = cache_.stats();
    std::lock_guard lock(mutex_);
    return {{"cache",
             {{"dir", cache_dir_string()},
              {"entries", c.entries},
              {"bytes", c.bytes},
              {"budget_bytes", c.budget_bytes},
              {"hits", c.hits},
              {"misses", c.misses},
              {"stores", c.stores},
              {"evictions", c.evictions},
              {"corrupt_removed", c.corrupt_removed},
              {"compiles", c.compiles}}},
            {"compile",
             {{"requests", compile_requests_},
              {"failed_requests", failed_requests_},
              {"kernels_compiled", kernels_compiled_},
              {"compile_ms_total", compile_ms_total_},
              {"compile_ms_max", compile_ms_max_}}},
            {"match_counts", match_counts_}};
  }

 private:
  std::string cache_dir_string() const { return cache_.dir().string(); }

  Result<json> compile(const json& body) {
    {
      std::lock_guard lock(mutex_);
      ++compile_requests_;
    }
    auto request = parse_compile_request(body);
    if (!request) return failed(request.error());
    auto plan = build_plan(*request);
    if (!plan) return failed(plan.error());
    return plan;
  }

  Error failed(Error e) {
    std::lock_guard lock(mutex_);
    ++failed_requests_;
    return e;
  }

  // One kernel to produce: which GEMM of which region, for which token count and target.
  struct KernelJob {
    int region = 0;
    std::string gemm;
    int64_t m = 0;
    codegen::GemmSpec spec;
    json tuning;  // the plan's "tuning": where the tile came from
  };

  Result<json> build_plan(const CompileRequest& request) {
    auto started = std::chrono::steady_clock::now();
    std::vector<fusion::MatchResult> matches;  // one per token count, same structure
    std::vector<std::vector<json>> executions;  // [token count][region]; null if not fused
    std::vector<KernelJob> jobs;
    for (size_t i = 0; i < request.m.size(); ++i) {
      graph::Bindings bindings = request.symbols;
      bindings[kTokenSymbol] = request.m[i];
      auto bound = graph::bind(request.graph, bindings);
      if (!bound) return with_m(bound.error(), request.m[i]);
      matches.push_back(fusion::match(*bound));
      executions.emplace_back();
      for (const auto& region : matches.back().regions) {
        executions.back().push_back(
            region.fused ? region_execution(region, request.graph.world_size, request.m[i],
                                            one_host_, overlap_)
                         : json());
        if (!region.fused) continue;
        for (const auto& gemm : region.gemms) {
          // The tile suits the launches the execution makes. Unfused, and fused on one host
          // (the copy engines' one hooked launch, runtime/overlap.h), one launch covers all
          // M rows. Fused through NCCL (ranks on several hosts), each launch covers one
          // rank's share; the whole-M tile is then a little large, never wrong.
          const int64_t rows = gemm.m;
          for (auto arch : request.archs) {
            auto spec = codegen::make_gemm_spec(gemm, rows, arch);
            if (!spec) return with_m(spec.error(), request.m[i]);
            json tuning;
            codegen::GemmSpec tuned = apply_tuning(gemm, rows, *spec, &tuning);
            // A reduce-scatter's kernel may add a partial sum in its epilogue: the
            // copy-engine ring (runtime/overlap.h, "Transport") passes the one received.
            tuned.accumulate = region.kind == fusion::RegionKind::kGemmReduceScatter;
            jobs.push_back({region.id, gemm.node, request.m[i], tuned, tuning});
          }
        }
      }
    }

    auto kernels = compile_all(jobs);
    if (!kernels) return kernels.error();
    double total_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    record_matches(matches.front());
    json plan = plan_to_json(request, matches.front(), *kernels, total_ms);
    add_execution(executions, plan);
    return plan;
  }

  // Each fused region's "execution": how the runtime runs it at each token count (region.fused
  // stays the structural decision; "execution" may still say unfused where fusing does not
  // pay). Regions are in the same order at every token count.
  static void add_execution(const std::vector<std::vector<json>>& executions, json& plan) {
    for (size_t r = 0; r < plan["regions"].size(); ++r) {
      json& region = plan["regions"][r];
      if (!region["fused"].get<bool>()) continue;
      json execution = json::array();
      for (const std::vector<json>& at_m : executions) execution.push_back(at_m.at(r));
      region["execution"] = std::move(execution);
    }
  }

  // spec with the autotuned tile when the store has a record for its arch, variant, shape and
  // rows' bucket (`tpjit-bench tune` writes them); else spec as the heuristic made it.
  // A record whose tile this build refuses (older tile rules) is logged and ignored.
  codegen::GemmSpec apply_tuning(const fusion::GemmInfo& gemm, int64_t rows,
                                 const codegen::GemmSpec& spec, json* tuning) const {
    *tuning = {{"source", "heuristic"}};
    const cache::TuningKey key{codegen::arch_name(spec.arch), spec.variant, spec.n, spec.k,
                               fusion::scale_mode_name(spec.scale),
                               codegen::out_dtype_name(spec.out), cache::tuning_m_bucket(rows)};
    std::optional<cache::TuningRecord> record = tuning_.lookup(key);
    if (!record) return spec;
    Result<codegen::TileConfig> tile = codegen::tile_from_json(record->tile);
    Result<codegen::GemmSpec> tuned =
        tile.ok() ? codegen::make_gemm_spec(gemm, rows, spec.arch, *tile)
                  : Result<codegen::GemmSpec>(tile.error());
    if (!tuned) {
      logger("codegen")->warn("ignoring tuning record {}: {}",
                              tuning_.record_path(key).string(), tuned.error().message);
      return spec;
    }
    *tuning = {{"source", "tuned"}, {"card", record->card}, {"ms", record->ms},
               {"tuned_at", record->tuned_at}, {"m_bucket", key.m_bucket}};
    return *tuned;
  }

  static Error with_m(Error e, int64_t m) {
    e.message += " (while specializing for M=" + std::to_string(m) + ")";
    return e;
  }

  // Kernels of one request that share a cubin (the same spec at two token counts, say)
  // compile once: the first is a hit or a miss, the rest are hits on it.
  Result<std::vector<json>> compile_all(const std::vector<KernelJob>& jobs) {
    std::vector<Prepared> prepared;
    std::map<std::string, size_t> first_with_key;
    std::vector<std::future<Result<Compiled>>> futures;
    for (const auto& job : jobs) {
      Prepared p{&job, codegen::generate(job.spec), {}, 0};
      p.key = codegen::cache_key(p.source, *compiler_, job.spec.arch);
      auto [it, inserted] = first_with_key.emplace(p.key, futures.size());
      p.slot = it->second;
      if (inserted) {
        auto task = std::make_shared<std::packaged_task<Result<Compiled>()>>(
            [this, source = p.source, key = p.key, arch = job.spec.arch] {
              return fetch(source, key, arch);
            });
        futures.push_back(task->get_future());
        boost::asio::post(pool_, [task] { (*task)(); });
      }
      prepared.push_back(std::move(p));
    }
    // Every task finishes before we return, failed or not.
    std::vector<Result<Compiled>> results;
    for (auto& f : futures) results.push_back(f.get());
    std::vector<json> kernels;
    std::vector<bool> reported(results.size(), false);
    for (const auto& p : prepared) {
      const auto& r = results[p.slot];
      if (!r) return r.error();
      bool first = !reported[p.slot];
      reported[p.slot] = true;
      kernels.push_back(kernel_json(*p.job, p.source.name, p.key, first ? r->hit : true,
                                    first ? r->compile_ms : 0.0, r->cubin_bytes));
    }
    return kernels;
  }

  struct Prepared {
    const KernelJob* job;
    codegen::KernelSource source;
    std::string key;
    size_t slot;  // index of the compile that serves this kernel
  };
  struct Compiled {
    bool hit;
    double compile_ms;
    size_t cubin_bytes;
  };

  Result<Compiled> fetch(const codegen::KernelSource& source, const std::string& key,
                         codegen::Arch arch) {
    std::string arch_text = codegen::arch_name(arch);
    cache::EntryInfo info{source.name, compiler_->version(), arch_text};
    auto fetched = cache_.get_or_compile(key, info, [&]() -> Result<std::vector<uint8_t>> {
      auto out = compiler_->compile(source, arch);
      if (!out) return out.error();
      logger("codegen")->info("compiled {} for {} in {:.1f} ms ({} bytes)", source.name,
                              arch_text, out->compile_ms, out->cubin.size());
      return std::move(out->cubin);
    });
    if (!fetched) return fetched.error();
    if (!fetched->hit) {
      std::lock_guard lock(mutex_);
      ++kernels_compiled_;
      compile_ms_total_ += fetched->compile_ms;
      compile_ms_max_ = std::max(compile_ms_max_, fetched->compile_ms);
    }
    return Compiled{fetched->hit, fetched->compile_ms, fetched->cubin.size()};
  }

  static json kernel_json(const KernelJob& job, const std::string& name, const std::string& key,
                          bool hit, double compile_ms, size_t cubin_bytes) {
    return {{"region", job.region},
            {"gemm", job.gemm},
            {"m", job.m},
            {"arch", codegen::arch_name(job.spec.arch)},
            {"name", name},
            {"key", key},
            {"cache", hit ? "hit" : "miss"},
            {"compile_ms", compile_ms},
            {"cubin_bytes", cubin_bytes},
            {"spec", codegen::spec_to_json(job.spec)},
            {"tuning", job.tuning}};
  }

  void record_matches(const fusion::MatchResult& match) {
    std::lock_guard lock(mutex_);
    for (const auto& [pattern, count] : match.match_counts) match_counts_[pattern] += count;
  }

  std::unique_ptr<codegen::Compiler> compiler_;
  cache::CubinCache cache_;
  cache::TuningStore tuning_;
  cache::OverlapStore overlap_;
  bool one_host_;  // DaemonConfig::ranks_on_one_host
  boost::asio::thread_pool pool_;

  mutable std::mutex mutex_;
  uint64_t compile_requests_ = 0;
  uint64_t failed_requests_ = 0;
  uint64_t kernels_compiled_ = 0;
  double compile_ms_total_ = 0;
  double compile_ms_max_ = 0;
  std::map<std::string, uint64_t> match_counts_;
};

}  // namespace

std::unique_ptr<RequestHandler> make_compile_service(const DaemonConfig& config) {
  return std::make_unique<CompileService>(config);
}

}  // namespace tpjit
