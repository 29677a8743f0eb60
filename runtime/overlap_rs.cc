// GEMM + reduce-scatter: the fused (chunked, two staging slots) and unfused executors.
#include <string>

#include "runtime/overlap.h"
#include "runtime/overlap_plan.h"
#include "runtime/overlap_state.h"

namespace tpjit::runtime {

using namespace overlap_detail;

namespace {

Result<ChunkPlan> check_rs(const GemmReduceScatterArgs& a, int world_size) {
  Result<ChunkPlan> plan = plan_chunks(a.m, world_size, a.chunks);
  if (!plan.ok()) return plan.error();
  if (!a.kernel) return bad("gemm_reduce_scatter: null kernel");
  if (a.sm_reserve < 0) return bad("sm_reserve must be >= 0");
  const codegen::GemmSpec& sp = a.kernel->spec();
  if (sp.k != a.k) return bad("kernel K=" + std::to_string(sp.k) + " != K=" + std::to_string(a.k));
  if (sp.bias)
    return bad("a bias in a GEMM+reduce-scatter would be summed once per rank: add it after "
               "the reduce-scatter");
  if (a.m > 0 && (!a.a || !a.b || !a.scale_a || !a.scale_b || !a.y))
    return bad("null a, b, scale_a, scale_b or y");
  if (a.lda < a.k || a.lda % 16 != 0)
    return make_error(errc::kUnsupportedShape, "overlap: lda must be >= K and a multiple of 16",
                      "runtime.overlap");
  return plan;
}

}  // namespace

Status OverlapExecutor::gemm_reduce_scatter(const GemmReduceScatterArgs& a, CUstream stream) {
  State& s = *s_;
  s.trace_start();
  Result<ChunkPlan> planned = check_rs(a, s.comm->world_size());
  if (!planned.ok()) return planned.error();
  const ChunkPlan& p = *planned;
  if (p.m == 0) return ok_status();
  return guarded([&]() -> Status {
    const codegen::GemmSpec& sp = a.kernel->spec();
    const int ws = p.world_size;
    const int64_t ob = codegen::out_dtype_bytes(sp.out);
    const int64_t sf = scale_a_floats_per_row(sp.scale, a.k);
    // The copy-engine ring adds the received partial in the epilogue: it needs a kernel that
    // can accumulate (overlap_ce.cc); kAuto keeps NCCL for one that cannot.
    Transport t = a.transport;
    if (!sp.accumulate && t == Transport::kCopyEngine)
      return bad("the copy-engine reduce-scatter needs a kernel with spec.accumulate (it adds "
                 "the received partial sum in the GEMM epilogue)");
    if (!sp.accumulate) t = Transport::kNccl;
    const size_t window = size_t((ws - 1) * p.shard_rows * sp.n * ob);  // received partials
    Result<CeWindow*> ce = s.copy_engine(s.rs_ce, t, window, stream);
    if (!ce.ok()) return ce.error();
    s.last = *ce ? Transport::kCopyEngine : Transport::kNccl;
    if (*ce)
      // One launch needs whole 64-row slabs per rank: a slab holding rows of both ranks
      // would wait for the peer's partial before it could count its other rows as sent.
      return a.one_launch && ws == 2 && p.shard_rows % 64 == 0 && State::hooked(*a.kernel)
                 ? s.gemm_reduce_scatter_one_launch(a, p, **ce, stream)
                 : s.gemm_reduce_scatter_ce(a, p, **ce, stream);
    // Two slots of [ws][chunk_rows][N] partial sums: step j+1 computes into one while step
    // j's reduce-scatter reads the other.
    const int slots = p.chunks < 2 ? 1 : 2;
    const int64_t slot_bytes = ws * p.chunk_rows * sp.n * ob;
    s.ensure(s.stage, size_t(slots * slot_bytes), stream);
    // A failed launch skips the GEMMs after it but not the reduce-scatters, which every peer
    // joins: they would wait in NCCL for this rank until the run timeout. The error comes
    // back at the end; the output is not to be read.
    Status launched = ok_status();
    for (int j = 0; j < p.chunks; ++j) {
      const int64_t b = p.begin(j), rows = p.rows(j);
      uint8_t* slot = at(s.stage.data(), (j % slots) * slot_bytes);
      if (j >= slots)  // the slot's previous reduce-scatter must have read it
        TPJIT_CU(*s.d, cuStreamWaitEvent(stream, s.event(2 * (j - slots) + 1).get(), 0));
      for (int r = 0; r < ws; ++r) {
        GemmArgs g = rows_args(a, r * p.shard_rows + b, rows, slot + r * rows * sp.n * ob, sf);
        // Step j > 0 runs beside step j-1's reduce-scatter; step 0 has every SM.
        if (launched.ok())
          launched = a.kernel->launch(g, stream, reserve_sms(*a.kernel, a.sm_reserve, j > 0));
      }
      Event& computed = s.event(2 * j);
      computed.record(stream);
      s.comm_stream.wait(computed.get());
      if (Status st = s.comm->reduce_scatter(slot, at(a.y, b * sp.n * ob), size_t(rows * sp.n),
                                             nccl_type(sp.out), s.comm_stream.get());
          !st.ok())
        return st;
      s.event(2 * j + 1).record(s.comm_stream.get());
    }
    // The comm stream runs in order: its last event covers every reduce-scatter.
    TPJIT_CU(*s.d, cuStreamWaitEvent(stream, s.event(2 * (p.chunks - 1) + 1).get(), 0));
    return launched;
  });
}

Status OverlapExecutor::gemm_reduce_scatter_unfused(const GemmReduceScatterArgs& a,
                                                    CUstream stream) {
  State& s = *s_;
  Result<ChunkPlan> planned = check_rs(a, s.comm->world_size());
  if (!planned.ok()) return planned.error();
  const ChunkPlan& p = *planned;
  if (p.m == 0) return ok_status();
  if (std::string why = a.lt ? lt_problem(a.kernel->spec(), a.k, a.lda, a.ldb, a.kernel->spec().n) : "";
      !why.empty())
    return bad("gemm_reduce_scatter_unfused: " + why);
  return guarded([&]() -> Status {
    const codegen::GemmSpec& sp = a.kernel->spec();
    const int64_t ob = codegen::out_dtype_bytes(sp.out);
    s.ensure(s.stage, size_t(p.m * sp.n * ob), stream);
    GemmArgs g = rows_args(a, 0, p.m, s.stage.data(), scale_a_floats_per_row(sp.scale, a.k));
    // As in the fused path, the peers' reduce-scatter is joined even after a failed launch.
    const Status launched = a.lt ? a.lt->try_run(a.a, a.b, s.stage.data(), stream)
                                 : a.kernel->launch(g, stream);
    if (Status st = s.comm->reduce_scatter(s.stage.data(), a.y, size_t(p.shard_rows * sp.n),
                                           nccl_type(sp.out), stream);
        !st.ok())
      return st;
    return launched;
  });
}

}  // namespace tpjit::runtime
