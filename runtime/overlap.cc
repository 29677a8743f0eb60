#include "runtime/overlap.h"

#include <string>

#include "runtime/overlap_plan.h"
#include "runtime/overlap_state.h"

namespace tpjit::runtime {

using namespace overlap_detail;

OverlapExecutor::OverlapExecutor(std::unique_ptr<State> s) : s_(std::move(s)) {}
OverlapExecutor::OverlapExecutor(OverlapExecutor&&) noexcept = default;
OverlapExecutor& OverlapExecutor::operator=(OverlapExecutor&&) noexcept = default;
OverlapExecutor::~OverlapExecutor() = default;

Result<OverlapExecutor> OverlapExecutor::create(const Driver& d, const NcclComm& comm) {
  if (!comm.get()) return bad("communicator is not initialized (or was destroyed)");
  Result<std::unique_ptr<State>> s = [&]() -> Result<std::unique_ptr<State>> {
    try {
      return std::unique_ptr<State>(new State(d, comm));
    } catch (const CheckError& e) {
      return make_error(kErrCuda, e.what(), "runtime.overlap");
    }
  }();
  if (!s.ok()) return s.error();
  return OverlapExecutor(std::move(s).value());
}

size_t OverlapExecutor::workspace_bytes() const {
  return s_->stage.size() + s_->scale_stage.size() + s_->rs_send.size() + s_->ag_ce.win.size() +
         s_->rs_ce.win.size();
}

Transport OverlapExecutor::last_transport() const { return s_->last; }

void OverlapExecutor::set_trace(bool on) {
  s_->tracing = on;
  s_->n_marks = 0;
}

std::vector<OverlapExecutor::TraceMark> OverlapExecutor::trace() const {
  std::vector<TraceMark> out;
  for (size_t i = 0; i < s_->n_marks; ++i) {
    const Event& e = s_->marks[i].second;
    e.synchronize();
    out.push_back({s_->marks[i].first, 1000.0 * e.elapsed_ms_since(s_->marks[0].second)});
  }
  return out;
}

namespace {

// Checks an all-gather region before anything is enqueued; the plan on success.
Result<ChunkPlan> check_ag(const AllGatherGemmArgs& a, int world_size) {
  Result<ChunkPlan> plan = plan_chunks(a.m, world_size, a.chunks);
  if (!plan.ok()) return plan.error();
  if (a.gemms.empty()) return bad("all_gather_gemm needs at least one GEMM");
  if (a.sm_reserve < 0) return bad("sm_reserve must be >= 0");
  if (a.k <= 0 || a.k % 16 != 0)
    return make_error(errc::kUnsupportedShape,
                      "overlap: K=" + std::to_string(a.k) +
                          " must be a positive multiple of 16 (gathered rows stay 16-byte "
                          "aligned for the GEMM's copies)",
                      "runtime.overlap");
  if (plan->shard_rows > 0 && (!a.a_shard || !a.scale_a_shard)) return bad("null a_shard or scale_a_shard");
  const fusion::ScaleMode mode = a.gemms[0].kernel ? a.gemms[0].kernel->spec().scale
                                                   : fusion::ScaleMode::kTensor;
  for (size_t g = 0; g < a.gemms.size(); ++g) {
    const AgGemm& x = a.gemms[g];
    const std::string which = "gemms[" + std::to_string(g) + "]: ";
    if (!x.kernel) return bad(which + "null kernel");
    const codegen::GemmSpec& sp = x.kernel->spec();
    if (sp.k != a.k) return bad(which + "kernel K=" + std::to_string(sp.k) + " != K=" + std::to_string(a.k));
    if (sp.scale != mode) return bad(which + "every GEMM sharing a gather needs the same scale mode");
    if (sp.accumulate) return bad(which + "accumulate kernels do not fit an all-gather region");
    if (!x.b || !x.scale_b || !x.d) return bad(which + "null b, scale_b or d");
    if (sp.bias != (x.bias != nullptr)) return bad(which + "bias pointer must match the kernel");
    if (x.ldd < sp.n || x.ldb < a.k) return bad(which + "ldd must be >= N and ldb >= K");
  }
  return plan;
}

}  // namespace

Status OverlapExecutor::all_gather_gemm(const AllGatherGemmArgs& a, CUstream stream) {
  State& s = *s_;
  s.trace_start();
  Result<ChunkPlan> planned = check_ag(a, s.comm->world_size());
  if (!planned.ok()) return planned.error();
  const ChunkPlan& p = *planned;
  if (p.m == 0) return ok_status();
  return guarded([&]() -> Status {
    const int ws = p.world_size, rank = s.comm->rank();
    const fusion::ScaleMode mode = a.gemms[0].kernel->spec().scale;
    const int64_t sf = scale_a_floats_per_row(mode, a.k);
    // The copy engines' window holds the gathered rows and their scales (overlap_ce.cc).
    const size_t window = size_t(p.m * a.k + 256 + p.m * sf * 4);  // both copy-engine paths
    Result<CeWindow*> ce = s.copy_engine(s.ag_ce, a.transport, window, stream);
    if (!ce.ok()) return ce.error();
    s.last = *ce ? Transport::kCopyEngine : Transport::kNccl;
    if (*ce) {
      bool one = a.one_launch;
      for (const AgGemm& g : a.gemms) one = one && State::hooked(*g.kernel);
      return one ? s.all_gather_gemm_one_launch(a, p, **ce, stream)
                 : s.all_gather_gemm_ce(a, p, **ce, stream);
    }
    // Staging: sub-chunk j of every rank, [ws][rows(j)][K], packed one after another.
    s.ensure(s.stage, size_t(p.m * a.k), stream);
    if (sf > 0) s.ensure(s.scale_stage, size_t(p.m * sf * 4), stream);

    Event& start = s.event(0);
    start.record(stream);
    s.comm_stream.wait(start.get());  // inputs ready, last run's readers of the staging done
    for (int j = 0; j < p.chunks; ++j) {
      const int64_t b = p.begin(j), rows = p.rows(j);
      if (sf > 0) if (Status st = s.comm->group_start(); !st.ok()) return st;
      if (Status st = s.comm->all_gather(at(a.a_shard, b * a.k), at(s.stage.data(), ws * b * a.k),
                                         size_t(rows * a.k), ncclUint8, s.comm_stream.get());
          !st.ok())
        return st;
      if (sf > 0) {
        if (Status st = s.comm->all_gather(a.scale_a_shard + b * sf,
                                           static_cast<float*>(s.scale_stage.data()) + ws * b * sf,
                                           size_t(rows * sf), ncclFloat32, s.comm_stream.get());
            !st.ok())
          return st;
        if (Status st = s.comm->group_end(); !st.ok()) return st;
      }
      s.event(1 + j).record(s.comm_stream.get());
    }
    if (a.gathered_a) {  // the gathered A in [M, K] order, off the GEMMs' critical path
      for (int j = 0; j < p.chunks; ++j)
        for (int r = 0; r < ws; ++r)
          TPJIT_CU(*s.d, cuMemcpyDtoDAsync(
                             reinterpret_cast<CUdeviceptr>(at(a.gathered_a, (r * p.shard_rows + p.begin(j)) * a.k)),
                             reinterpret_cast<CUdeviceptr>(at(s.stage.data(), (ws * p.begin(j) + r * p.rows(j)) * a.k)),
                             size_t(p.rows(j) * a.k), s.comm_stream.get()));
    }
    Event& comm_done = s.event(1 + p.chunks);
    comm_done.record(s.comm_stream.get());

    // The local shard needs no communication: its rows compute while the others arrive.
    if (Status st = launch_ag_rows(a, a.a_shard, a.scale_a_shard, p.shard_rows,
                                   rank * p.shard_rows, stream, true);
        !st.ok())
      return st;
    for (int j = 0; j < p.chunks; ++j) {
      TPJIT_CU(*s.d, cuStreamWaitEvent(stream, s.event(1 + j).get(), 0));
      for (int i = 1; i < ws; ++i) {
        const int r = (rank + i) % ws;  // the nearest peer's rows first
        const int64_t off = ws * p.begin(j) + r * p.rows(j);
        const float* scale = sf > 0 ? static_cast<const float*>(s.scale_stage.data()) + off * sf
                                    : a.scale_a_shard;
        // Chunk j's GEMMs run beside chunk j+1's all-gather; the last chunk's run alone.
        if (Status st = launch_ag_rows(a, at(s.stage.data(), off * a.k), scale, p.rows(j),
                                       r * p.shard_rows + p.begin(j), stream, j + 1 < p.chunks);
            !st.ok())
          return st;
      }
    }
    TPJIT_CU(*s.d, cuStreamWaitEvent(stream, comm_done.get(), 0));
    return ok_status();
  });
}

Status OverlapExecutor::all_gather_gemm_unfused(const AllGatherGemmArgs& a, CUstream stream) {
  State& s = *s_;
  Result<ChunkPlan> planned = check_ag(a, s.comm->world_size());
  if (!planned.ok()) return planned.error();
  const ChunkPlan& p = *planned;
  if (p.m == 0) return ok_status();
  for (const AgGemm& g : a.gemms)
    if (std::string why = g.lt ? lt_problem(g.kernel->spec(), a.k, a.k, g.ldb, g.ldd) : ""; !why.empty())
      return bad("all_gather_gemm_unfused: " + why);
  return guarded([&]() -> Status {
    const fusion::ScaleMode mode = a.gemms[0].kernel->spec().scale;
    const int64_t sf = scale_a_floats_per_row(mode, a.k);
    void* gathered = a.gathered_a;
    if (!gathered) {
      s.ensure(s.stage, size_t(p.m * a.k), stream);
      gathered = s.stage.data();
    }
    if (sf > 0) s.ensure(s.scale_stage, size_t(p.m * sf * 4), stream);
    if (sf > 0) if (Status st = s.comm->group_start(); !st.ok()) return st;
    if (Status st = s.comm->all_gather(a.a_shard, gathered, size_t(p.shard_rows * a.k),
                                       ncclUint8, stream);
        !st.ok())
      return st;
    if (sf > 0) {
      if (Status st = s.comm->all_gather(a.scale_a_shard, s.scale_stage.data(),
                                         size_t(p.shard_rows * sf), ncclFloat32, stream);
          !st.ok())
        return st;
      if (Status st = s.comm->group_end(); !st.ok()) return st;
    }
    for (const AgGemm& g : a.gemms) {
      const float* scale = sf > 0 ? static_cast<const float*>(s.scale_stage.data()) : a.scale_a_shard;
      Status st = g.lt ? g.lt->try_run(gathered, g.b, g.d, stream)
                       : g.kernel->launch(ag_rows_args(a, g, gathered, scale, p.m, 0), stream);
      if (!st.ok()) return st;
    }
    return ok_status();
  });
}

}  // namespace tpjit::runtime
