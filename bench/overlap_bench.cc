#include "bench/overlap_bench.h"

#include <algorithm>
#include <barrier>
#include <deque>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/cublaslt_gemm.h"
#include "bench/fill.h"
#include "bench/measure.h"
#include "cache/overlap_store.h"
#include "cache/tuning_store.h"
#include "codegen/compiler.h"
#include "codegen/variant.h"
#include "runtime/context.h"
#include "runtime/memory.h"
#include "runtime/nccl.h"
#include "runtime/overlap.h"
#include "runtime/stream.h"
#include "util/check.h"

namespace tpjit::bench {
namespace {

using runtime::DeviceBuffer;
using runtime::Driver;
constexpr int kWorld = 2;
constexpr size_t kLtWorkspace = size_t{32} << 20;
// scale_b sits 256 bytes after scale_a in one buffer: cuBLASLt refuses (NOT_SUPPORTED) scale
// pointers that are not 16-byte aligned.
constexpr int kScaleB = 64;

struct Layer {
  const char* name;
  int64_t k, n;
  bool all_gather;  // else GEMM -> reduce-scatter
};
constexpr Layer kLayers[] = {{"qkv", 8192, 5120, true},
                             {"o", 4096, 8192, false},
                             {"gate_up", 8192, 28672, true},
                             {"down", 14336, 8192, false}};

struct Rank {
  int rank = 0;
  std::optional<runtime::PrimaryContext> ctx;
  // [0]: NCCL's default CTAs (collective alone, unfused, fused with reserve 0); then one per
  // reserve R > 0 with max CTAs R. Deques: executors point at their communicator.
  std::deque<runtime::NcclComm> comms;
  std::deque<runtime::OverlapExecutor> execs;
  runtime::NcclComm* comm = nullptr;  // comms[0]
  runtime::OverlapExecutor* exec = nullptr;
  std::optional<runtime::Stream> stream;
  std::optional<LtHandle> lt;
  std::optional<DeviceBuffer> lt_ws, scales;  // scales: sa = 0.75, sb = 0.5
};

// Runs fn on one thread per rank with its context current; rethrows the first failure.
void on_ranks(std::vector<Rank>& ranks, const std::function<void(Rank&)>& fn) {
  std::vector<std::string> errors(ranks.size());
  std::vector<std::thread> threads;
  for (size_t r = 0; r < ranks.size(); ++r)
    threads.emplace_back([&, r] {
      try {
        if (ranks[r].ctx) ranks[r].ctx->make_current();
        fn(ranks[r]);
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (size_t r = 0; r < ranks.size(); ++r)
    if (!errors[r].empty()) throw CheckError("rank " + std::to_string(r) + ": " + errors[r]);
}

void ok_or_throw(const Status& s) {
  if (!s.ok()) throw CheckError(s.error().message);
}

// One layer at one M on one rank: inputs rotate over `sets`; outputs are single buffers.
struct Buffers {
  int sets = 0;
  std::vector<DeviceBuffer> a, b;  // AG: a = shard [M/2, K]; RS: a = [M, K]; b = [N, K]
  DeviceBuffer full_a;             // AG: gathered [M, K] (collective alone, unfused)
  DeviceBuffer d;                  // AG: [M, N] bf16; RS: partial [M, N] bf16
  DeviceBuffer y;                  // RS: [M/2, N] bf16
};

Buffers make_buffers(const Driver& drv, const Layer& l, int64_t m, int l2_bytes, uint64_t seed) {
  Buffers b;
  const int64_t a_rows = l.all_gather ? m / kWorld : m;
  const size_t a_bytes = size_t(a_rows * l.k), b_bytes = size_t(l.n * l.k);
  b.sets = int(std::clamp<size_t>((3 * size_t(l2_bytes)) / (a_bytes + b_bytes) + 1, 2, 8));
  std::vector<uint8_t> host(std::max(a_bytes, b_bytes));
  for (int i = 0; i < b.sets; ++i) {
    fill_random_e4m3({host.data(), a_bytes}, seed + 2 * i);
    b.a.emplace_back(drv, a_bytes).upload({host.data(), a_bytes});
    fill_random_e4m3({host.data(), b_bytes}, seed + 2 * i + 1);
    b.b.emplace_back(drv, b_bytes).upload({host.data(), b_bytes});
  }
  b.full_a = DeviceBuffer(drv, size_t(m * l.k));
  b.d = DeviceBuffer(drv, size_t(m * l.n * 2));
  b.y = DeviceBuffer(drv, size_t(std::max<int64_t>(m / kWorld * l.n * 2, 1)));
  return b;
}

// Median over iterations of the slowest rank's time, each iteration started on every rank
// after a host barrier (streams idle), timed with CUDA events around `op(i)`.
double time_op(std::vector<Rank>& ranks, int warmup, int iters,
               const std::function<void(Rank&, int)>& op) {
  const Driver& drv = *Driver::load().value();
  std::barrier sync(static_cast<std::ptrdiff_t>(ranks.size()));
  std::vector<std::vector<double>> us(ranks.size());
  on_ranks(ranks, [&](Rank& r) {
    std::vector<runtime::Event> start, stop;
    for (int i = 0; i < iters; ++i) {
      start.emplace_back(drv);
      stop.emplace_back(drv);
    }
    for (int i = 0; i < warmup + iters; ++i) {
      r.stream->synchronize();
      sync.arrive_and_wait();
      if (i >= warmup) start[i - warmup].record(r.stream->get());
      op(r, i);
      if (i >= warmup) stop[i - warmup].record(r.stream->get());
    }
    r.stream->synchronize();
    ok_or_throw(r.comm->check());
    for (int i = 0; i < iters; ++i) us[r.rank].push_back(1e3 * stop[i].elapsed_ms_since(start[i]));
  });
  std::vector<double> worst(iters, 0);
  for (const auto& v : us)
    for (int i = 0; i < iters; ++i) worst[i] = std::max(worst[i], v[i]);
  std::nth_element(worst.begin(), worst.begin() + iters / 2, worst.end());
  return worst[iters / 2];
}

codegen::GemmSpec spec_for(const Layer& l, int64_t m, codegen::Arch arch) {
  codegen::GemmSpec s;
  s.arch = arch;
  s.variant = std::string(codegen::default_variant(arch));
  s.m_hint = m;
  s.n = l.n;
  s.k = l.k;
  s.scale = fusion::ScaleMode::kTensor;  // what cuBLASLt's scale pointers mean
  s.out = codegen::OutDtype::kBF16;
  s.tile = codegen::choose_tile(s);
  return s;
}

}  // namespace

int run_overlap_bench(const OverlapBenchOptions& opts) {
  const Driver& drv = *Driver::load().value();
  if (runtime::device_count(drv) < kWorld) {
    std::fprintf(stderr, "tpjit-bench overlap: needs %d GPUs, found %d\n", kWorld,
                 runtime::device_count(drv));
    return 1;
  }
  const runtime::DeviceInfo info = runtime::query_device(drv, 0).value();
  const codegen::Arch arch = info.cc_major >= 10 ? codegen::Arch::kSm100a : codegen::Arch::kSm90a;
  std::vector<const Layer*> layers;
  for (const std::string& name : opts.layers)
    for (const Layer& l : kLayers)
      if (name == l.name) layers.push_back(&l);

  // Every kernel compiled up front, in parallel (NVRTC needs no GPU).
  std::map<std::string, std::vector<uint8_t>> cubins;
  {
    std::vector<codegen::GemmSpec> todo;
    for (const Layer* l : layers)
      for (int64_t m : opts.ms)
        if (cubins.emplace(codegen::kernel_name(spec_for(*l, m, arch)), std::vector<uint8_t>{}).second)
          todo.push_back(spec_for(*l, m, arch));
    auto compiler = codegen::make_nvrtc_compiler();
    std::vector<std::thread> threads;
    std::vector<std::string> errors(todo.size());
    for (size_t i = 0; i < todo.size(); ++i)
      threads.emplace_back([&, i] {
        auto out = compiler->compile(codegen::generate(todo[i]), arch);
        if (out.ok()) cubins[codegen::kernel_name(todo[i])] = std::move(out->cubin);  // node exists
        else errors[i] = out.error().message;
      });
    for (auto& t : threads) t.join();
    for (const std::string& e : errors)
      if (!e.empty()) throw CheckError("compile: " + e.substr(0, 400));
  }

  std::vector<Rank> ranks(kWorld);
  const runtime::NcclUniqueId id = runtime::nccl_unique_id().value();
  for (int r = 0; r < kWorld; ++r) ranks[r].rank = r;
  // The communicator per reserve (index into Rank::comms); reserve 0 shares the default one.
  std::vector<int> comm_of(opts.sm_reserves.size(), 0);
  std::vector<runtime::NcclOptions> comm_opts(1);
  comm_opts[0].max_ctas = opts.nccl_max_ctas;
  for (size_t i = 0; i < opts.sm_reserves.size(); ++i)
    if (opts.sm_reserves[i] > 0) {
      comm_of[i] = int(comm_opts.size());
      comm_opts.emplace_back().max_ctas = opts.sm_reserves[i];
    }
  std::vector<runtime::NcclUniqueId> ids{id};
  for (size_t c = 1; c < comm_opts.size(); ++c) ids.push_back(runtime::nccl_unique_id().value());
  on_ranks(ranks, [&](Rank& r) {
    r.ctx.emplace(runtime::PrimaryContext::retain(drv, r.rank).value());
    r.ctx->make_current();
    for (size_t c = 0; c < comm_opts.size(); ++c) {
      r.comms.push_back(runtime::NcclComm::init(ids[c], kWorld, r.rank, comm_opts[c]).value());
      r.execs.push_back(runtime::OverlapExecutor::create(drv, r.comms.back()).value());
    }
    r.comm = &r.comms[0];
    r.exec = &r.execs[0];
    r.stream.emplace(drv);
    r.lt.emplace();
    r.lt_ws.emplace(drv, kLtWorkspace);
    float sc[kScaleB + 1] = {0.75f};
    sc[kScaleB] = 0.5f;
    r.scales.emplace(drv, sizeof(sc));
    r.scales->upload({reinterpret_cast<const uint8_t*>(sc), sizeof(sc)});
  });
  std::printf("overlap bench: %d x %s (%d SMs), driver %d, NCCL %d, cuBLASLt %s, variant %s, "
              "NCCL max CTAs %s\n",
              kWorld, info.name.c_str(), info.sm_count, drv.version, runtime::nccl_version(),
              cublaslt_version().c_str(), std::string(codegen::default_variant(arch)).c_str(),
              opts.nccl_max_ctas > 0 ? std::to_string(opts.nccl_max_ctas).c_str() : "default");
  std::printf("\n%-8s %6s %9s %9s %9s %10s %10s %9s %3s %4s %12s %13s %-8s %s\n", "layer", "M",
              "gemm_us", "coll_us", "limit_us", "unf_lt_us", "unf_our_us", "fused_us", "S", "R",
              "fused/limit", "unf_lt/fused", "plan", "fused by R/S (us)");
  std::optional<cache::OverlapStore> store;
  if (!opts.cache_dir.empty()) store.emplace(opts.cache_dir);
  nlohmann::json rows = nlohmann::json::array();
  bool all_ok = true;
  for (const Layer* lp : layers) {
    const Layer& l = *lp;
    for (int64_t m : opts.ms) {
      const codegen::GemmSpec spec = spec_for(l, m, arch);
      const std::vector<uint8_t>& cubin = cubins.at(codegen::kernel_name(spec));
      std::vector<Buffers> bufs(kWorld);
      std::vector<std::optional<runtime::GemmKernel>> kernels(kWorld);
      std::vector<std::optional<LtFp8Gemm>> lt(kWorld);
      on_ranks(ranks, [&](Rank& r) {
        bufs[r.rank] = make_buffers(drv, l, m, info.l2_bytes, 1000 + 97 * m + 13 * r.rank);
        kernels[r.rank].emplace(runtime::GemmKernel::load(drv, spec, cubin).value());
        const float* sc = static_cast<const float*>(r.scales->data());
        lt[r.rank].emplace(LtFp8Gemm::plan(*r.lt, int(m), int(l.n), int(l.k), sc, sc + kScaleB,
                                           r.lt_ws->data(), kLtWorkspace).value());
      });
      auto gemm_args = [&](Rank& r, int i, const void* a) {
        GemmArgs g{};
        g.a = a;
        g.b = bufs[r.rank].b[i % bufs[r.rank].sets].data();
        g.d = bufs[r.rank].d.data();
        g.scale_a = static_cast<const float*>(r.scales->data());
        g.scale_b = g.scale_a + kScaleB;
        g.m = int(m);
        g.lda = g.ldb = l.k;
        g.ldd = l.n;
        return g;
      };
      auto ag_args = [&](Rank& r, int i, int chunks, int reserve) {
        Buffers& b = bufs[r.rank];
        runtime::AllGatherGemmArgs a;
        a.m = m;
        a.k = l.k;
        a.a_shard = b.a[i % b.sets].data();
        a.scale_a_shard = static_cast<const float*>(r.scales->data());
        a.gemms.push_back({&*kernels[r.rank], b.b[i % b.sets].data(), l.k, a.scale_a_shard + kScaleB,
                           nullptr, b.d.data(), l.n});
        a.chunks = chunks;
        a.sm_reserve = reserve;
        return a;
      };
      auto rs_args = [&](Rank& r, int i, int chunks, int reserve) {
        Buffers& b = bufs[r.rank];
        runtime::GemmReduceScatterArgs a;
        a.m = m;
        a.k = l.k;
        a.kernel = &*kernels[r.rank];
        a.a = b.a[i % b.sets].data();
        a.lda = l.k;
        a.scale_a = static_cast<const float*>(r.scales->data());
        a.b = b.b[i % b.sets].data();
        a.ldb = l.k;
        a.scale_b = a.scale_a + kScaleB;
        a.y = b.y.data();
        a.chunks = chunks;
        a.sm_reserve = reserve;
        return a;
      };
      auto coll = [&](Rank& r, int i) {
        Buffers& b = bufs[r.rank];
        CUstream s = r.stream->get();
        if (l.all_gather)
          ok_or_throw(r.comm->all_gather(b.a[i % b.sets].data(), b.full_a.data(),
                                         size_t(m / kWorld * l.k), ncclUint8, s));
        else
          ok_or_throw(r.comm->reduce_scatter(b.d.data(), b.y.data(), size_t(m / kWorld * l.n),
                                             ncclBfloat16, s));
      };
      const int w = opts.warmup, it = opts.iters;
      // GEMM alone: the full M rows a rank computes (from the gathered A for all-gather).
      // All-gather first fills the gathered A its GEMM reads; reduce-scatter's GEMM first
      // fills the partial sums its collective reads: nothing is timed on unwritten memory.
      double coll_us = l.all_gather ? time_op(ranks, w, it, coll) : 0;
      const double gemm_us = time_op(ranks, w, it, [&](Rank& r, int i) {
        Buffers& b = bufs[r.rank];
        ok_or_throw(kernels[r.rank]->launch(
            gemm_args(r, i, l.all_gather ? b.full_a.data() : b.a[i % b.sets].data()), r.stream->get()));
      });
      if (!l.all_gather) coll_us = time_op(ranks, w, it, coll);
      const double unf_lt_us = time_op(ranks, w, it, [&](Rank& r, int i) {
        Buffers& b = bufs[r.rank];
        if (l.all_gather) coll(r, i);
        const void* a = l.all_gather ? b.full_a.data() : b.a[i % b.sets].data();
        lt[r.rank]->run(a, b.b[i % b.sets].data(), b.d.data(), r.stream->get());
        if (!l.all_gather) coll(r, i);
      });
      // ri: index into opts.sm_reserves (fused); unfused runs on the default communicator.
      auto run_region = [&](Rank& r, int i, int chunks, bool fused, size_t ri = 0) {
        CUstream s = r.stream->get();
        const int reserve = fused ? opts.sm_reserves[ri] : 0;
        runtime::OverlapExecutor& ex = fused ? r.execs[size_t(comm_of[ri])] : *r.exec;
        if (l.all_gather) {
          auto a = ag_args(r, i, chunks, reserve);
          ok_or_throw(fused ? ex.all_gather_gemm(a, s) : ex.all_gather_gemm_unfused(a, s));
        } else {
          auto a = rs_args(r, i, chunks, reserve);
          ok_or_throw(fused ? ex.gemm_reduce_scatter(a, s) : ex.gemm_reduce_scatter_unfused(a, s));
        }
      };
      const double unf_ours_us =
          time_op(ranks, w, it, [&](Rank& r, int i) { run_region(r, i, 1, false); });
      // The check: rank 0's output of each fused run against the unfused (ours) one, same inputs.
      DeviceBuffer* out0 = l.all_gather ? &bufs[0].d : &bufs[0].y;
      const size_t out_count = l.all_gather ? size_t(m * l.n) : size_t(m / kWorld * l.n);
      std::vector<uint16_t> ref;
      on_ranks(ranks, [&](Rank& r) {
        run_region(r, 0, 1, false);
        r.stream->synchronize();
        if (r.rank == 0) ref = download_bf16(*out0, out_count);
      });
      nlohmann::json by_s = nlohmann::json::object();
      double best_us = 1e30, worst_err = 0;
      int best_s = 0, best_r = 0;
      std::string per_s;
      for (size_t ri = 0; ri < opts.sm_reserves.size(); ++ri) {
        const int reserve = opts.sm_reserves[ri];
        per_s += "R" + std::to_string(reserve) + "[";
        for (int chunks : opts.chunks) {
          std::vector<uint16_t> got;
          on_ranks(ranks, [&](Rank& r) {
            (l.all_gather ? bufs[r.rank].d : bufs[r.rank].y).fill(0xFF);
            run_region(r, 0, chunks, true, ri);
            r.stream->synchronize();
            if (r.rank == 0) got = download_bf16(*out0, out_count);  // on rank 0's context
          });
          const double err = rel_error_bf16(got, ref);
          worst_err = std::max(worst_err, err);
          const double us =
              time_op(ranks, w, it, [&](Rank& r, int i) { run_region(r, i, chunks, true, ri); });
          by_s["r" + std::to_string(reserve) + "_s" + std::to_string(chunks)] = {
              {"sm_reserve", reserve}, {"chunks", chunks}, {"us", us}, {"rel_error_vs_unfused", err}};
          per_s += std::to_string(int(us + 0.5)) + (chunks == opts.chunks.back() ? "" : "/");
          if (err > opts.max_rel_error) {
            all_ok = false;
            per_s += "(WRONG " + std::to_string(err) + ")";
            continue;
          }
          if (us < best_us) best_us = us, best_s = chunks, best_r = reserve;
        }
        per_s += "] ";
      }
      const double limit = std::max(gemm_us, coll_us);
      // The runtime's fallback is our unfused executor: the recorded choice is against it.
      // unfused_lt (cuBLASLt) is the reference the targets are stated against.
      const bool fused_wins = best_us <= unf_ours_us;
      std::string plan = fused_wins ? "fused" : "unfused";
      std::printf("%-8s %6lld %9.1f %9.1f %9.1f %10.1f %10.1f %9.1f %3d %4d %12.3f %13.3f %-8s %s\n",
                  l.name, (long long)m, gemm_us, coll_us, limit, unf_lt_us, unf_ours_us, best_us,
                  best_s, best_r, best_us / limit, unf_lt_us / best_us, plan.c_str(), per_s.c_str());
      if (store && best_us < 1e30) {
        cache::OverlapRecord rec;
        rec.key = {l.all_gather ? "all_gather_gemm" : "gemm_reduce_scatter", kWorld, l.n, l.k,
                   "tensor", cache::tuning_m_bucket(m)};
        rec.card = info.name;
        rec.fused = fused_wins;
        rec.chunks = best_s;
        rec.sm_reserve = best_r;
        rec.fused_us = best_us;
        rec.unfused_us = unf_ours_us;
        rec.limit_us = limit;
        ok_or_throw(store->store(rec));
      }
      std::fflush(stdout);
      rows.push_back({{"layer", l.name}, {"m", m}, {"n", l.n}, {"k", l.k},
                      {"region", l.all_gather ? "all_gather_gemm" : "gemm_reduce_scatter"},
                      {"kernel", codegen::kernel_name(spec)}, {"input_sets", bufs[0].sets},
                      {"gemm_us", gemm_us}, {"collective_us", coll_us}, {"limit_us", limit},
                      {"unfused_cublaslt_us", unf_lt_us}, {"unfused_ours_us", unf_ours_us},
                      {"fused_best_us", best_us}, {"fused_best_chunks", best_s},
                      {"fused_best_sm_reserve", best_r}, {"fused_by_config", by_s}, {"fused_over_limit", best_us / limit},
                      {"unfused_cublaslt_over_fused", unf_lt_us / best_us},
                      {"max_rel_error_vs_unfused", worst_err}, {"best_plan", plan}});
      on_ranks(ranks, [&](Rank& r) {  // free this shape's buffers on their own context
        r.stream->synchronize();
        bufs[r.rank] = Buffers();
        kernels[r.rank].reset();
        lt[r.rank].reset();
      });
    }
  }
  if (!opts.json_path.empty()) {
    nlohmann::json doc = {{"device", info.name}, {"gpus", kWorld}, {"driver_version", drv.version},
                          {"nccl_version", runtime::nccl_version()},
                          {"cublaslt_version", cublaslt_version()},
                          {"variant", std::string(codegen::default_variant(arch))},
                          {"iters", opts.iters}, {"warmup", opts.warmup},
                          {"nccl_max_ctas", opts.nccl_max_ctas}, {"sm_reserves", opts.sm_reserves},
                          {"chunks", opts.chunks},
                          {"timing", "median over iterations of the slower rank's CUDA-event time; "
                                     "each iteration starts after a host barrier with idle streams"},
                          {"results", rows}};
    std::ofstream(opts.json_path) << doc.dump(2) << "\n";
  }
  on_ranks(ranks, [&](Rank& r) {  // every handle freed on its own context, in reverse
    r.scales.reset();
    r.lt_ws.reset();
    r.lt.reset();
    r.stream.reset();
    r.exec = nullptr;
    r.execs.clear();
    for (runtime::NcclComm& c : r.comms) ok_or_throw(c.destroy());
    r.comm = nullptr;
  });
  return all_ok ? 0 : 1;
}

}  // namespace tpjit::bench

namespace tpjit::bench {
namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t end = std::min(s.find(',', pos), s.size());
    if (end > pos) out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

}  // namespace

int overlap_main(int argc, char** argv) {
  OverlapBenchOptions opts;
  auto usage = [] {
    std::fprintf(stderr,
                 "usage: tpjit-bench overlap [--m LIST] [--layers qkv,o,gate_up,down] "
                 "[--chunks LIST] [--sm-reserve LIST] [--iters N] [--warmup N] [--nccl-ctas N] "
                 "[--json FILE] [--cache-dir DIR]\n");
    return 2;
  };
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string val = argv[++i];
    try {
      if (arg == "--iters") opts.iters = std::stoi(val);
      else if (arg == "--warmup") opts.warmup = std::stoi(val);
      else if (arg == "--json") opts.json_path = val;
      else if (arg == "--nccl-ctas") opts.nccl_max_ctas = std::stoi(val);
      else if (arg == "--layers") opts.layers = split_list(val);
      else if (arg == "--cache-dir") opts.cache_dir = val;
      else if (arg == "--sm-reserve") {
        opts.sm_reserves.clear();
        for (const std::string& t : split_list(val)) opts.sm_reserves.push_back(std::stoi(t));
      }
      else if (arg == "--m") {
        opts.ms.clear();
        for (const std::string& t : split_list(val)) opts.ms.push_back(std::stoll(t));
      } else if (arg == "--chunks") {
        opts.chunks.clear();
        for (const std::string& t : split_list(val)) opts.chunks.push_back(std::stoi(t));
      } else {
        return usage();
      }
    } catch (const std::exception&) {
      return usage();
    }
  }
  if (opts.iters < 1 || opts.warmup < 0 || opts.chunks.empty() || opts.sm_reserves.empty())
    return usage();
  for (int r : opts.sm_reserves)
    if (r < 0) return usage();
  try {
    return run_overlap_bench(opts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tpjit-bench overlap: %s\n", e.what());
    return 1;
  }
}

}  // namespace tpjit::bench
