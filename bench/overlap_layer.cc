#include "bench/overlap_layer.h"

#include <algorithm>
#include <optional>

#include "bench/fill.h"
#include "bench/measure.h"
#include "codegen/variant.h"

namespace tpjit::bench {
namespace {

using runtime::DeviceBuffer;
using runtime::Driver;

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

}  // namespace

codegen::GemmSpec spec_for(const Layer& l, int64_t m_hint, codegen::Arch arch) {
  codegen::GemmSpec s;
  s.arch = arch;
  s.variant = std::string(codegen::fast_variant(arch, m_hint));
  s.m_hint = m_hint;
  s.n = l.n;
  s.k = l.k;
  s.scale = fusion::ScaleMode::kTensor;  // what cuBLASLt's scale pointers mean
  s.out = codegen::OutDtype::kBF16;
  s.accumulate = !l.all_gather;  // as the daemon compiles it: the copy-engine ring adds with it
  s.tile = codegen::choose_tile(s);
  return s;
}

LayerTiming measure_layer(std::vector<Rank>& ranks, const std::vector<int>& comm_of,
                          const Layer& l, int64_t m, const BenchKernel& whole,
                          const BenchKernel& shard, const OverlapBenchOptions& opts,
                          int l2_bytes) {
  const Driver& drv = *Driver::load().value();
  std::vector<Buffers> bufs(kWorld);
  std::vector<std::optional<runtime::GemmKernel>> whole_k(kWorld), kernels(kWorld);
  std::vector<std::optional<runtime::LtFp8Gemm>> lt(kWorld);
  on_ranks(ranks, [&](Rank& r) {
    bufs[r.rank] = make_buffers(drv, l, m, l2_bytes, 1000 + 97 * m + 13 * r.rank);
    whole_k[r.rank].emplace(runtime::GemmKernel::load(drv, whole.spec, *whole.cubin).value());
    kernels[r.rank].emplace(runtime::GemmKernel::load(drv, shard.spec, *shard.cubin).value());
    const float* sc = static_cast<const float*>(r.scales->data());
    lt[r.rank].emplace(runtime::LtFp8Gemm::plan(*r.lt, int(m), int(l.n), int(l.k), sc, sc + kScaleB,
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
  // The executors get the kernel the daemon would compile: shard tiles fused, whole unfused.
  using runtime::Transport;
  // one: the copy engines' one hooked launch (false: a launch per sub-chunk).
  auto ag_args = [&](Rank& r, int i, int chunks, int reserve, Transport t, bool one,
                     const runtime::GemmKernel* k) {
    Buffers& b = bufs[r.rank];
    const float* scales = static_cast<const float*>(r.scales->data());
    return runtime::AllGatherGemmArgs{
        .m = m, .k = l.k, .a_shard = b.a[i % b.sets].data(), .scale_a_shard = scales,
        .gemms = {{k, b.b[i % b.sets].data(), l.k, scales + kScaleB, nullptr, b.d.data(), l.n}},
        .chunks = chunks, .sm_reserve = reserve, .transport = t, .one_launch = one};
  };
  auto rs_args = [&](Rank& r, int i, int chunks, int reserve, Transport t, bool one,
                     const runtime::GemmKernel* k) {
    Buffers& b = bufs[r.rank];
    const float* scales = static_cast<const float*>(r.scales->data());
    return runtime::GemmReduceScatterArgs{
        .m = m, .k = l.k, .kernel = k, .a = b.a[i % b.sets].data(), .lda = l.k,
        .scale_a = scales, .b = b.b[i % b.sets].data(), .ldb = l.k, .scale_b = scales + kScaleB,
        .y = b.y.data(), .chunks = chunks, .sm_reserve = reserve, .transport = t,
        .one_launch = one};
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
    ok_or_throw(whole_k[r.rank]->launch(
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
  // how: the fused transport, as --transports names it ("nccl", "ce", "ce_chunked").
  // vendor: unfused with cuBLASLt's GEMM (the executor's "Vendor GEMM").
  auto run_region = [&](Rank& r, int i, int chunks, bool fused, size_t ri = 0,
                        const std::string& how = "nccl", bool vendor = false) {
    const Transport t = how == "nccl" ? Transport::kNccl : Transport::kCopyEngine;
    const bool one = how == "ce";
    CUstream s = r.stream->get();
    const int reserve = fused ? opts.sm_reserves[ri] : 0;
    runtime::OverlapExecutor& ex = fused ? r.execs[size_t(comm_of[ri])] : *r.exec;
    // One hooked launch covers all M rows: it runs the whole-M kernel too.
    const bool whole = !fused || one;
    const runtime::GemmKernel* k = whole ? &*whole_k[r.rank] : &*kernels[r.rank];
    if (l.all_gather) {
      auto a = ag_args(r, i, chunks, reserve, t, one, k);
      if (vendor) a.gemms[0].lt = &*lt[r.rank];
      ok_or_throw(fused ? ex.all_gather_gemm(a, s) : ex.all_gather_gemm_unfused(a, s));
    } else {
      auto a = rs_args(r, i, chunks, reserve, t, one, k);
      if (vendor) a.lt = &*lt[r.rank];
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
  bool all_correct = true;
  // The vendor run, checked like a fused one (cuBLASLt rounds differently: near, not equal).
  double unf_vendor_us = 1e30;
  {
    std::vector<uint16_t> got;
    on_ranks(ranks, [&](Rank& r) {
      (l.all_gather ? bufs[r.rank].d : bufs[r.rank].y).fill(0xFF);
      run_region(r, 0, 1, false, 0, "nccl", true);
      r.stream->synchronize();
      if (r.rank == 0) got = download_bf16(*out0, out_count);
    });
    const double err = rel_error_bf16(got, ref);
    by_s["unfused_cublaslt"] = {{"rel_error_vs_unfused", err}};
    if (err <= opts.max_rel_error) {
      unf_vendor_us = time_op(ranks, w, it, [&](Rank& r, int i) {
        run_region(r, i, 1, false, 0, "nccl", true);
      });
      by_s["unfused_cublaslt"]["us"] = unf_vendor_us;
    } else {
      all_correct = false;
    }
  }
  int best_s = 0, best_r = 0;
  std::string best_t, per_s;
  // One more fused run with the executors' trace on: per rank, [[mark, us], ...].
  auto trace_run = [&](int chunks, const std::string& label) {
    nlohmann::json by_rank = nlohmann::json::array();
    std::vector<nlohmann::json> marks(kWorld);
    on_ranks(ranks, [&](Rank& r) {
      runtime::OverlapExecutor& ex = r.execs[size_t(comm_of[0])];
      ex.set_trace(true);
      run_region(r, 0, chunks, true, 0, label);
      for (const auto& m : ex.trace()) marks[r.rank].push_back({m.what, m.us});
      ex.set_trace(false);
    });
    for (auto& m : marks) by_rank.push_back(std::move(m));
    return by_rank;
  };
  // One fused configuration: checked against the unfused output, then timed.
  auto try_config = [&](const std::string& name, size_t ri, int chunks,
                        const std::string& label) {
    std::vector<uint16_t> got;
    on_ranks(ranks, [&](Rank& r) {
      (l.all_gather ? bufs[r.rank].d : bufs[r.rank].y).fill(0xFF);
      run_region(r, 0, chunks, true, ri, label);
      r.stream->synchronize();
      if (r.rank == 0) got = download_bf16(*out0, out_count);  // on rank 0's context
    });
    const double err = rel_error_bf16(got, ref);
    worst_err = std::max(worst_err, err);
    const double us =
        time_op(ranks, w, it, [&](Rank& r, int i) { run_region(r, i, chunks, true, ri, label); });
    const int reserve = label == "nccl" ? opts.sm_reserves[ri] : 0;
    by_s[name] = {{"transport", label}, {"sm_reserve", reserve},
                  {"chunks", chunks}, {"us", us}, {"rel_error_vs_unfused", err}};
    if (opts.trace && label != "nccl") by_s[name]["trace"] = trace_run(chunks, label);
    per_s += std::to_string(int(us + 0.5)) + (chunks == opts.chunks.back() ? "" : "/");
    if (err > opts.max_rel_error) {
      all_correct = false;
      per_s += "(WRONG " + std::to_string(err) + ")";
      return;
    }
    if (us < best_us) best_us = us, best_s = chunks, best_r = reserve, best_t = label;
  };
  auto wanted = [&](const char* t) {
    return std::find(opts.transports.begin(), opts.transports.end(), t) != opts.transports.end();
  };
  if (wanted("nccl"))
    for (size_t ri = 0; ri < opts.sm_reserves.size(); ++ri) {
      per_s += "R" + std::to_string(opts.sm_reserves[ri]) + "[";
      for (int chunks : opts.chunks)
        try_config("r" + std::to_string(opts.sm_reserves[ri]) + "_s" + std::to_string(chunks),
                   ri, chunks, "nccl");
      per_s += "] ";
    }
  // The copy engines take no SMs: the reserve does not apply.
  for (const std::string t : {"ce", "ce_chunked"}) {
    if (!wanted(t.c_str())) continue;
    per_s += t == "ce" ? "CE[" : "CEc[";
    for (int chunks : opts.chunks) try_config(t + "_s" + std::to_string(chunks), 0, chunks, t);
    per_s += "] ";
  }
  const int input_sets = bufs[0].sets;
  on_ranks(ranks, [&](Rank& r) {  // free this shape's buffers on their own context
    r.stream->synchronize();
    bufs[r.rank] = Buffers();
    kernels[r.rank].reset();
    whole_k[r.rank].reset();
    lt[r.rank].reset();
  });
  LayerTiming t;
  t.input_sets = input_sets;
  t.gemm_us = gemm_us, t.coll_us = coll_us;
  t.unf_lt_us = unf_lt_us, t.unf_ours_us = unf_ours_us, t.unf_vendor_us = unf_vendor_us;
  t.best_us = best_us, t.best_s = best_s, t.best_r = best_r, t.best_t = best_t;
  t.worst_err = worst_err, t.all_correct = all_correct;
  t.by_config = std::move(by_s), t.per_config = std::move(per_s);
  return t;
}

}  // namespace tpjit::bench
