// GpuSession::run_region: one fused region on this rank through the overlap executor, fused
// or, when the job says "fused": false (the plan chose it), unfused, with our kernel or, with
// "gemm": "cublaslt", cuBLASLt's GEMM; with "check", the unfused reference (collective then
// our GEMM, or our GEMM then collective) into separate buffers and the relative error of each
// output against it, plus the float64 host reference on sampled rows
// (worker/float64_check.h), each against the output dtype's bound.
#include <algorithm>
#include <cmath>

#include "runtime/memory.h"
#include "runtime/stream.h"
#include "util/check.h"
#include "worker/gpu_session.h"
#include "worker/float64_check.h"
#include "worker/host_data.h"

namespace tpjit::worker {

using nlohmann::json;
using runtime::DeviceBuffer;

namespace {

Error bad(const std::string& what, const std::string& where = "") {
  return make_error(errc::kBadRequest, "run_region: " + what, where);
}

// The cuBLASLt workspace: what its heuristics may ask for on the Llama shapes, with room.
constexpr size_t kLtWorkspaceBytes = size_t{32} << 20;

// Rows of each output checked against float64 (all columns): enough to catch a wrong tile,
// chunk or rank offset, few enough to stay within seconds on the host.
constexpr int kFloat64Rows = 64;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t scale_a_count(fusion::ScaleMode m, int64_t rows, int64_t k) {
  if (m == fusion::ScaleMode::kRow) return rows;
  if (m == fusion::ScaleMode::kBlock) return rows * ceil_div(k, 128);
  return 1;
}

int64_t scale_b_count(fusion::ScaleMode m, int64_t n, int64_t k) {
  if (m == fusion::ScaleMode::kRow) return n;
  if (m == fusion::ScaleMode::kBlock) return ceil_div(k, 128) * ceil_div(n, 128);
  return 1;
}

DeviceBuffer upload(const runtime::Driver& d, const std::vector<uint8_t>& host) {
  DeviceBuffer b(d, std::max<size_t>(host.size(), 1));
  if (!host.empty()) b.upload(host);
  return b;
}

std::vector<uint8_t> download(const DeviceBuffer& b, size_t bytes) {
  std::vector<uint8_t> out(bytes);
  if (bytes) b.download(out);
  return out;
}

}  // namespace

Result<runtime::LtFp8Gemm> GpuSession::lt_plan(int64_t m, int64_t n, int64_t k,
                                               const float* scale_a, const float* scale_b) {
  try {
    if (!lt_) lt_.emplace();
    if (!lt_workspace_) lt_workspace_.emplace(*d_, kLtWorkspaceBytes);
  } catch (const CheckError& e) {
    return make_error(runtime::kErrCuda, std::string("cuBLASLt could not start: ") + e.what(),
                      "gemm");
  }
  return runtime::LtFp8Gemm::plan(*lt_, int(m), int(n), int(k), scale_a, scale_b,
                                  lt_workspace_->data(), kLtWorkspaceBytes);
}

Status GpuSession::barrier(const runtime::Stream& stream, bool wait) {
  const size_t world = static_cast<size_t>(comm_->world_size());
  if (!barrier_buf_) barrier_buf_.emplace(*d_, (world + 1) * sizeof(int32_t));
  auto* words = static_cast<int32_t*>(barrier_buf_->data());
  if (Status s = comm_->all_gather(words, words + 1, 1, ncclInt32, stream.get()); !s.ok())
    return s;
  if (!wait) return ok_status();
  stream.synchronize();
  return comm_->check();
}

Result<json> GpuSession::run_region(const json& body) {
  if (!executor_) return make_error(errc::kInternal, "run_region before init_comm", "");
  const std::string kind = body.value("kind", "");
  const bool ag = kind == "all_gather_gemm";
  if (!ag && kind != "gemm_reduce_scatter") return bad("unknown region kind '" + kind + "'", "kind");
  const int64_t m = body.value("m", int64_t{0});
  const int rank = comm_->rank(), world = comm_->world_size();
  const int iters = body.value("iters", 10);
  const int chunks = body.value("chunks", 2);
  const bool check = body.value("check", false);
  // The transport the plan measured best ("nccl", "ce", "ce_chunked"); absent: the default
  // (copy engines with one launch where the ranks map each other, else NCCL).
  const std::string transport = body.value("transport", "");
  if (!transport.empty() && transport != "nccl" && transport != "ce" && transport != "ce_chunked")
    return bad("unknown transport '" + transport + "' (nccl, ce or ce_chunked)", "transport");
  const runtime::Transport how =
      transport == "nccl" ? runtime::Transport::kNccl : runtime::Transport::kAuto;
  const bool one_launch = transport != "ce_chunked";
  if (m <= 0 || m % world != 0)
    return make_error(errc::kNotDivisible,
                      "M=" + std::to_string(m) + " must be a positive multiple of the world size " +
                          std::to_string(world),
                      "m");
  if (!body.contains("gemms") || !body["gemms"].is_array() || body["gemms"].empty())
    return bad("no gemms", "gemms");
  if (!ag && body["gemms"].size() != 1) return bad("a reduce-scatter region has one GEMM", "gemms");
  std::vector<const runtime::GemmKernel*> kernels;
  for (const auto& g : body["gemms"]) {
    auto k = kernel(g);
    if (!k) return k.error();
    if ((*k)->spec().bias)
      return make_error(errc::kUnsupportedShape, "tpjit run does not feed a bias yet", "gemms");
    kernels.push_back(*k);
  }
  const int64_t k_dim = kernels[0]->spec().k, rows = m / world;
  const fusion::ScaleMode mode = kernels[0]->spec().scale;
  const std::string inputs_dir = body.value("inputs_dir", "");
  const uint64_t seed = body.value("seed", uint64_t{0});
  const json& g0 = body["gemms"][0];
  // Any rank's input (the float64 check reads the other ranks' too). A seeded tensor-wide
  // scale_a of an all-gather is rank 0's on every rank: the executor takes it as replicated.
  RankLoader load_rank = [&](const std::string& name, HostKind hk, uint64_t count,
                             int q) -> Result<std::vector<uint8_t>> {
    InputSpec in{name, hk, count};
    if (!inputs_dir.empty()) return npy_input(in, inputs_dir, q);
    const bool replicated = ag && mode == fusion::ScaleMode::kTensor && name == g0.value("scale_a", "");
    return seeded_input(in, seed, replicated ? 0 : q);
  };
  auto load = [&](const std::string& name, HostKind hk, int64_t count) {
    return load_rank(name, hk, static_cast<uint64_t>(count), rank);
  };
  const int64_t a_rows = ag ? rows : m;
  auto a = load(body.value("input", ""), HostKind::kFp8, a_rows * k_dim);
  if (!a) return a.error();
  auto sa = load(g0.value("scale_a", ""), HostKind::kF32, scale_a_count(mode, a_rows, k_dim));
  if (!sa) return sa.error();
  DeviceBuffer a_dev = upload(*d_, *a), sa_dev = upload(*d_, *sa);

  struct Out {
    std::string name;
    codegen::OutDtype dtype;
    std::vector<int64_t> shape;
    size_t bytes;
    DeviceBuffer fused, ref;
  };
  std::vector<DeviceBuffer> b_dev, sb_dev;
  std::vector<Out> outs;
  for (size_t i = 0; i < kernels.size(); ++i) {
    const auto& sp = kernels[i]->spec();
    const json& g = body["gemms"][i];
    auto b = load(g.value("b", ""), HostKind::kFp8, sp.n * k_dim);
    if (!b) return b.error();
    auto sb = load(g.value("scale_b", ""), HostKind::kF32, scale_b_count(mode, sp.n, k_dim));
    if (!sb) return sb.error();
    b_dev.push_back(upload(*d_, *b));
    sb_dev.push_back(upload(*d_, *sb));
    const int64_t out_rows = ag ? m : rows;
    const size_t bytes = size_t(out_rows * sp.n * codegen::out_dtype_bytes(sp.out));
    outs.push_back({ag ? g.value("out", "") : body.value("output", ""), sp.out,
                    {out_rows, sp.n}, bytes, DeviceBuffer(*d_, bytes), DeviceBuffer(*d_, bytes)});
  }

  runtime::Stream stream(*d_);
  // The plan's execution (job "fused", default true) writes o.fused; the unfused reference
  // of the check writes o.ref.
  const bool run_fused = body.value("fused", true);
  const std::string gemm_lib = body.value("gemm", "");
  if (!gemm_lib.empty() && gemm_lib != "cublaslt")
    return bad("unknown gemm '" + gemm_lib + "' (cublaslt, or none for the generated kernel)", "gemm");
  std::vector<runtime::LtFp8Gemm> lts;  // with "gemm": "cublaslt", one per GEMM (unfused runs)
  if (!run_fused && gemm_lib == "cublaslt")
    for (size_t i = 0; i < kernels.size(); ++i) {
      auto plan = lt_plan(m, kernels[i]->spec().n, k_dim,
                          static_cast<const float*>(sa_dev.data()),
                          static_cast<const float*>(sb_dev[i].data()));
      if (!plan) return plan.error();
      lts.push_back(std::move(plan).value());
    }
  const std::string run_name = run_fused ? "fused" : lts.empty() ? "unfused" : "unfused_cublaslt";
  auto enqueue = [&](bool fused, bool reference = false) -> Status {
    if (ag) {
      runtime::AllGatherGemmArgs args{m, k_dim, a_dev.data(),
                                      static_cast<const float*>(sa_dev.data()), {}, nullptr, chunks};
      args.transport = how;
      args.one_launch = one_launch;
      for (size_t i = 0; i < kernels.size(); ++i) {
        const int64_t n = kernels[i]->spec().n;
        args.gemms.push_back({kernels[i], b_dev[i].data(), k_dim,
                              static_cast<const float*>(sb_dev[i].data()), nullptr,
                              (reference ? outs[i].ref : outs[i].fused).data(), n});
        if (!reference && !lts.empty()) args.gemms.back().lt = &lts[i];
      }
      return fused ? executor_->all_gather_gemm(args, stream.get())
                   : executor_->all_gather_gemm_unfused(args, stream.get());
    }
    runtime::GemmReduceScatterArgs args{m, k_dim, kernels[0], a_dev.data(), k_dim,
                                        static_cast<const float*>(sa_dev.data()), b_dev[0].data(),
                                        k_dim, static_cast<const float*>(sb_dev[0].data()),
                                        (reference ? outs[0].ref : outs[0].fused).data(), chunks};
    args.transport = how;
    args.one_launch = one_launch;
    if (!reference && !lts.empty()) args.lt = &lts[0];
    return fused ? executor_->gemm_reduce_scatter(args, stream.get())
                 : executor_->gemm_reduce_scatter_unfused(args, stream.get());
  };
  // Poisoned outputs: a row the executor never writes reads back as NaN (0xFFFF, 0xFFFFFFFF).
  for (auto& o : outs) {
    o.fused.fill(0xFF);
    o.ref.fill(0xFF);
  }
  if (Status s = enqueue(run_fused); !s.ok()) return s.error();
  stream.synchronize();
  if (Status s = comm_->check(); !s.ok()) return s.error();
  json result = {{"region", body.value("region", 0)}, {"rank", rank}, {"iters", iters},
                 {"execution", run_name},
                 {"transport", !run_fused ? "none"
                               : executor_->last_transport() == runtime::Transport::kCopyEngine
                                   ? "copy_engine"
                                   : "nccl"}};
  if (check) {
    if (Status s = enqueue(false, true); !s.ok()) return s.error();
    stream.synchronize();
    // Fused against unfused (same kernel, so near-exact), and against float64 on sampled rows.
    json rel = json::object(), vs64 = json::object(), bound = json::object(), skipped;
    bool ok = true;
    for (size_t i = 0; i < outs.size(); ++i) {
      const Out& o = outs[i];
      const json& g = body["gemms"][i];
      std::vector<uint8_t> fused = download(o.fused, o.bytes);
      const double e = relative_error(o.dtype, fused, download(o.ref, o.bytes));
      const double limit = float64_bound(o.dtype);
      Float64Problem p{ag, m, kernels[i]->spec().n, k_dim, rank, world, mode, o.dtype,
                       body.value("input", ""), g0.value("scale_a", ""), g.value("b", ""),
                       g.value("scale_b", "")};
      auto f = float64_check(p, load_rank, fused, kFloat64Rows, seed + 977 * i + 1);
      rel[o.name] = e;
      bound[o.name] = limit;
      ok = ok && std::isfinite(e) && e <= limit;
      if (f) {
        vs64[o.name] = f->rel_error;
        ok = ok && f->rel_error <= limit;
      } else {
        vs64[o.name] = nullptr;  // another rank's .npy files are not on this host
        skipped = f.error().message;
      }
    }
    result["check"] = {{"reference", "unfused (NCCL + GEMM)"}, {"rel_error", rel},
                       {"rel_error_vs_float64", vs64}, {"float64_rows", kFloat64Rows},
                       {"bound", bound}, {"ok", ok}};
    if (!skipped.is_null()) result["check"]["float64_skipped"] = skipped;
  }
  if (Status s = barrier(stream, true); !s.ok()) return s.error();
  runtime::Event start(*d_), end(*d_);
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    if (Status s = barrier(stream, false); !s.ok()) return s.error();
    start.record(stream.get());
    if (Status s = enqueue(run_fused); !s.ok()) return s.error();
    end.record(stream.get());
    end.synchronize();
    ms.push_back(end.elapsed_ms_since(start));
  }
  if (Status s = comm_->check(); !s.ok()) return s.error();
  std::sort(ms.begin(), ms.end());
  result["ms_median"] = ms.empty() ? 0.0 : ms[ms.size() / 2];
  json written = json::array();
  const std::string outputs_dir = body.value("outputs_dir", "");
  for (auto& o : outs) {
    if (outputs_dir.empty()) break;
    if (Status s = write_output(outputs_dir, rank, o.name, o.dtype, o.shape,
                                download(o.fused, o.bytes));
        !s.ok())
      return s.error();
    written.push_back(o.name);
  }
  result["outputs"] = written;
  return result;
}

}  // namespace tpjit::worker
