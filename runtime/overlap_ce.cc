// The copy-engine transport of the fused executors (overlap.h, "Transport"): bytes move with
// cuMemcpyDtoDAsync into a peer's window, flags with cuStreamWriteValue32 / WaitValue32.
// Two ways to launch the GEMMs: one launch per sub-chunk after a stream wait (all_gather_gemm_ce,
// gemm_reduce_scatter_ce: the ring), or one launch over all rows that waits inside the kernel
// (the *_one_launch functions; templates/overlap_hooks.cuh).
//
// Window layout (each rank's, the same on every rank): flag_bytes(ws) of uint32 flags, then
// the staging. Each flag has one writer (a peer's stream, or this rank's own for its local
// shard in the one launch), and this rank's streams or kernels read it:
//   all-gather:     ready[src * kMaxChunks + j]   src's sub-chunk j landed here (this run)
//                   consumed[ws * kMaxChunks + r] rank r has read what this rank sent it
//   reduce-scatter: ready[s * kMaxChunks + j]     ring: the predecessor's step s, sub-chunk j
//                   ready[q * kMaxChunks + j]     one launch (2 ranks): the peer's partial of
//                                                 this rank q's sub-chunk j
//                   consumed[ws * kMaxChunks]     the successor has read this rank's partials
// The one-launch reduce-scatter also counts stored slabs per sub-chunk in rs_done (local
// device memory; running totals over runs), which its comm stream waits on before each send.
#include <string>

#include "codegen/variant.h"
#include "runtime/overlap.h"
#include "runtime/overlap_state.h"

namespace tpjit::runtime {

using namespace overlap_detail;

namespace {

constexpr int kMaxChunks = kMaxCeChunks;
// The all-gather's one launch enqueues its GEMMs before its sends from this many shard rows.
constexpr int64_t kLaunchFirstRows = 1024;

size_t round256(size_t b) { return (b + 255) / 256 * 256; }
size_t flag_bytes(int ws) { return round256(sizeof(uint32_t) * size_t(ws) * (kMaxChunks + 1)); }
int ready(int src_or_step, int j) { return src_or_step * kMaxChunks + j; }
int consumed(int ws, int r) { return ws * kMaxChunks + r; }

CUdeviceptr dptr(const void* p) { return reinterpret_cast<CUdeviceptr>(p); }

// Raise flag `i` of the window at `flags` (a peer's) to `v` once `s` gets here. The default
// write is fenced: every write `s` made before it is visible first.
void signal(const Driver& d, CUstream s, uint8_t* flags, int i, uint32_t v) {
  TPJIT_CU(d, cuStreamWriteValue32(s, dptr(flags + 4 * i), v, CU_STREAM_WRITE_VALUE_DEFAULT));
}
// Hold `s` until flag `i` of this rank's window reaches `v` (modulo 2^32).
void await(const Driver& d, CUstream s, uint8_t* flags, int i, uint32_t v) {
  TPJIT_CU(d, cuStreamWaitValue32(s, dptr(flags + 4 * i), v, CU_STREAM_WAIT_VALUE_GEQ));
}
void copy(const Driver& d, CUstream s, void* dst, const void* src, int64_t bytes) {
  TPJIT_CU(d, cuMemcpyDtoDAsync(dptr(dst), dptr(src), size_t(bytes), s));
}

// The row geometry, epoch and tile order of a one-launch GEMM (overlap_hooks.cuh): flags and
// counters by (rank, sub-chunk) of `p`; tiles from `first_row`'s M tile, phase by phase.
void set_hooks(GemmArgs& g, const GemmKernel& k, const ChunkPlan& p, uint32_t epoch,
               int64_t first_row, bool round_up) {
  g.hook_shard_rows = int(p.shard_rows);
  g.hook_chunk_rows = int(p.chunk_rows);
  g.hook_stride = kMaxChunks;
  g.hook_epoch = epoch;
  const codegen::TileConfig& t = k.spec().tile;
  const OneLaunchOrder order =
      one_launch_order(p.m, t.bm, t.cluster_m, p.shard_rows, p.chunk_rows, first_row, round_up);
  g.first_m_block = order.first_m_block;
  g.hook_group_mc = order.group_mc;
}

Error too_many_chunks(int chunks) {
  return make_error(errc::kBadRequest,
                    "overlap: the copy-engine transport takes at most " +
                        std::to_string(kMaxChunks) + " chunks (got " + std::to_string(chunks) +
                        "); ask for fewer",
                    "runtime.overlap");
}

}  // namespace

Result<CeWindow*> OverlapExecutor::State::copy_engine(CeWindow& w, Transport t, size_t bytes,
                                                      CUstream stream) {
  if (t == Transport::kNccl || comm->world_size() == 1) return static_cast<CeWindow*>(nullptr);
  if (!w.unavailable && w.win.size() < bytes) {
    // Every rank gets here in the same call; once all streams are idle, no peer writes into
    // the old window any more, and create()'s exchange is the barrier before it is freed.
    TPJIT_CU(*d, cuStreamSynchronize(stream));
    comm_stream.synchronize();
    Result<PeerWindow> made = PeerWindow::create(*d, *comm, bytes + flag_bytes(comm->world_size()),
                                                 comm_stream.get());
    if (made.ok()) {
      w.win = std::move(made).value();
      w.epoch = 0;
    } else if (made.error().code == kErrNoPeerAccess) {
      w.unavailable = true;
      w.why = made.error().message;
    } else {
      return made.error();
    }
  }
  if (!w.unavailable) return &w;
  if (t == Transport::kCopyEngine)
    return make_error(kErrNoPeerAccess, "overlap: no copy-engine transport here: " + w.why,
                      "runtime.overlap");
  return static_cast<CeWindow*>(nullptr);
}

void OverlapExecutor::State::end_ce_run(CUstream stream, CeWindow& w, size_t comm_done_at,
                                        int first, int last, int flag, uint32_t epoch) {
  Event& gemms_done = event(comm_done_at + 1);  // first: event() may grow the vector
  Event& comm_done = event(comm_done_at);
  TPJIT_CU(*d, cuStreamWaitEvent(stream, comm_done.get(), 0));
  mark(stream, "end");
  gemms_done.record(stream);
  comm_stream.wait(gemms_done.get());
  const int ws = comm->world_size(), q = comm->rank();
  for (int i = first; i <= last; ++i) signal(*d, comm_stream.get(), w.win.peer((q + i) % ws), flag, epoch);
}

Status OverlapExecutor::State::all_gather_gemm_ce(const AllGatherGemmArgs& a, const ChunkPlan& p,
                                                  CeWindow& w, CUstream stream) {
  if (p.chunks > kMaxChunks) return too_many_chunks(p.chunks);
  const int ws = p.world_size, q = comm->rank();
  const int64_t sf = scale_a_floats_per_row(a.gemms[0].kernel->spec().scale, a.k);
  // Staging as in the NCCL path: sub-chunk j of rank r at rows ws * begin(j) + r * rows(j).
  const size_t a_at = flag_bytes(ws), scale_at = round256(a_at + size_t(p.m * a.k));
  auto row_of = [&](int j, int r) { return ws * p.begin(j) + r * p.rows(j); };
  uint8_t* mine = w.win.local();
  const uint32_t e = ++w.epoch;
  const CUstream cs = comm_stream.get();

  mark(stream, "start");
  Event& start = event(0);
  start.record(stream);
  // The local shard first, on every SM, while the copy engines bring the others' rows; it is
  // enqueued before the copies, so the GPU does not wait for the host to enqueue them.
  mark(stream, "gemm local +");
  // A failed launch skips the GEMMs after it but not the copies and flags (no peer waits
  // forever); the error comes back at the end.
  // No SM is left free: the copy engines take none (overlapped = false).
  Status launched =
      launch_ag_rows(a, a.a_shard, a.scale_a_shard, p.shard_rows, q * p.shard_rows, stream, false);
  mark(stream, "gemm local -");
  comm_stream.wait(start.get());  // the shard (and its scales) are written
  for (int i = 1; i < ws; ++i) await(*d, cs, mine, consumed(ws, (q + i) % ws), e - 1);
  for (int j = 0; j < p.chunks; ++j) {
    mark(cs, "copy", -1, j, "+");
    for (int i = 1; i < ws; ++i) {
      const int r = (q + i) % ws;
      uint8_t* peer = w.win.peer(r);
      copy(*d, cs, peer + a_at + row_of(j, q) * a.k, at(a.a_shard, p.begin(j) * a.k), p.rows(j) * a.k);
      if (sf > 0)
        copy(*d, cs, peer + scale_at + row_of(j, q) * sf * 4, a.scale_a_shard + p.begin(j) * sf,
             p.rows(j) * sf * 4);
      signal(*d, cs, peer, ready(q, j), e);
    }
    mark(cs, "copy", -1, j, "-");
  }
  if (a.gathered_a) {  // the gathered A in [M, K] order, off the GEMMs' critical path
    copy(*d, cs, at(a.gathered_a, q * p.shard_rows * a.k), a.a_shard, p.shard_rows * a.k);
    for (int j = 0; j < p.chunks; ++j)
      for (int i = 1; i < ws; ++i) {
        const int r = (q + i) % ws;
        await(*d, cs, mine, ready(r, j), e);
        copy(*d, cs, at(a.gathered_a, (r * p.shard_rows + p.begin(j)) * a.k),
             mine + a_at + row_of(j, r) * a.k, p.rows(j) * a.k);
      }
  }
  Event& comm_done = event(1);
  comm_done.record(cs);

  for (int j = 0; j < p.chunks; ++j)
    for (int i = 1; i < ws; ++i) {
      const int r = (q + i) % ws;
      await(*d, stream, mine, ready(r, j), e);
      const int64_t row = row_of(j, r);
      const float* scale = sf > 0 ? reinterpret_cast<const float*>(mine + scale_at) + row * sf
                                  : a.scale_a_shard;
      mark(stream, "gemm", i, j, "+");
      if (launched.ok())
        launched = launch_ag_rows(a, mine + a_at + row * a.k, scale, p.rows(j),
                                  r * p.shard_rows + p.begin(j), stream, false);
      mark(stream, "gemm", i, j, "-");
    }
  end_ce_run(stream, w, 1, 1, ws - 1, consumed(ws, q), e);
  return launched;
}

Status OverlapExecutor::State::gemm_reduce_scatter_ce(const GemmReduceScatterArgs& a,
                                                      const ChunkPlan& p, CeWindow& w,
                                                      CUstream stream) {
  if (p.chunks > kMaxChunks) return too_many_chunks(p.chunks);
  const codegen::GemmSpec& sp = a.kernel->spec();
  const int ws = p.world_size, q = comm->rank();
  const int succ = (q + 1) % ws;
  const int64_t row_bytes = sp.n * codegen::out_dtype_bytes(sp.out);
  const int64_t sf = scale_a_floats_per_row(sp.scale, a.k);
  const size_t recv_at = flag_bytes(ws);
  // Step s's sub-chunk j sits at row s * shard_rows + begin(j) of the send and receive areas.
  auto slot = [&](int s, int j) { return (s * p.shard_rows + p.begin(j)) * row_bytes; };
  ensure(rs_send, size_t((ws - 1) * p.shard_rows * row_bytes), stream);
  uint8_t* mine = w.win.local();
  uint8_t* next = w.win.peer(succ);
  const uint32_t e = ++w.epoch;
  const CUstream cs = comm_stream.get();

  mark(stream, "start");
  // The successor's receive area is free once it has read the last run's partials.
  await(*d, cs, mine, consumed(ws, 0), e - 1);
  // A failed launch skips the GEMMs after it but not the copies and flags, so that no other
  // rank waits forever for this one; the error comes back at the end.
  Status launched = ok_status();
  for (int s = 0; s < ws; ++s) {
    const int target = (q - s - 1 + 2 * ws) % ws;  // whose rows this step sums
    const bool last = s == ws - 1;
    for (int j = 0; j < p.chunks; ++j) {
      void* d_rows = last ? at(a.y, p.begin(j) * row_bytes) : at(rs_send.data(), slot(s, j));
      GemmArgs g = rows_args(a, target * p.shard_rows + p.begin(j), p.rows(j), d_rows, sf);
      if (s > 0) {  // add the predecessor's partial of the same rows, once it has landed
        await(*d, stream, mine, ready(s - 1, j), e);
        g.c = mine + recv_at + slot(s - 1, j);
        g.ldc = sp.n;
      }
      mark(stream, "gemm", s, j, "+");
      if (launched.ok()) launched = a.kernel->launch(g, stream);
      mark(stream, "gemm", s, j, "-");
      if (last) continue;
      Event& computed = event(size_t(s * p.chunks + j));
      computed.record(stream);
      comm_stream.wait(computed.get());
      mark(cs, "copy", s, j, "+");
      copy(*d, cs, next + recv_at + slot(s, j), at(rs_send.data(), slot(s, j)), p.rows(j) * row_bytes);
      signal(*d, cs, next, ready(s, j), e);
      mark(cs, "copy", s, j, "-");
    }
  }
  Event& comm_done = event(size_t((ws - 1) * p.chunks));
  comm_done.record(cs);
  // The predecessor (q + ws - 1) may send the next run once this one's partials are read.
  end_ce_run(stream, w, size_t((ws - 1) * p.chunks), ws - 1, ws - 1, consumed(ws, 0), e);
  return launched;
}

bool OverlapExecutor::State::hooked(const GemmKernel& k) {
  return codegen::find_variant(k.spec().variant)->overlap_hooks;
}

Status OverlapExecutor::State::all_gather_gemm_one_launch(const AllGatherGemmArgs& a,
                                                          const ChunkPlan& p, CeWindow& w,
                                                          CUstream stream) {
  if (p.chunks > kMaxChunks) return too_many_chunks(p.chunks);
  const int ws = p.world_size, q = comm->rank();
  const int64_t sf = scale_a_floats_per_row(a.gemms[0].kernel->spec().scale, a.k);
  // The window holds the gathered A in [M, K] order and its scales. This rank's own rows are
  // read from a.a_shard itself (the kernels' local A map) when the shard is whole M tiles of
  // every GEMM; else they are copied in too.
  const size_t a_at = flag_bytes(ws), scale_at = round256(a_at + size_t(p.m * a.k));
  bool direct = true;
  for (const AgGemm& g : a.gemms) direct = direct && p.shard_rows % g.kernel->spec().tile.bm == 0;
  uint8_t* mine = w.win.local();
  const uint32_t e = ++w.epoch;
  const CUstream cs = comm_stream.get();
  auto send = [&](CUstream on, uint8_t* to, int j) {  // this rank's sub-chunk j into a window
    const int64_t row = q * p.shard_rows + p.begin(j);
    if (to != mine || !direct)
      copy(*d, on, to + a_at + row * a.k, at(a.a_shard, p.begin(j) * a.k), p.rows(j) * a.k);
    if (sf > 0)
      copy(*d, on, to + scale_at + row * sf * 4, a.scale_a_shard + p.begin(j) * sf,
           p.rows(j) * sf * 4);
    signal(*d, on, to, ready(q, j), e);
  };

  mark(stream, "start");
  // The local shard (when direct, only its scales and flags; with tensor scales nothing) goes
  // in on the GEMMs' stream, before them: a copy within one GPU may run as a kernel, which
  // would find no SM free beside a launch that waits for it. The sends to the peers start
  // after it: copies share the copy engines, and queued behind a peer's sub-chunk the local
  // one held the launch back by a whole transfer (qkv, M = 4096: 60-90 us on 2x H100).
  mark(stream, "local copy +");
  if (!direct || sf > 0)  // else nothing waits for the local rows (the kernel reads them in place)
    for (int j = 0; j < p.chunks; ++j) send(stream, mine, j);
  Event& start = event(0);
  start.record(stream);
  // Launches and sends go in the order that keeps the GPU busy while the host enqueues: the
  // benchmark (and a caller with an idle GPU) starts each region from an empty queue. With a
  // long local phase, the GEMMs first (the copies enqueued before them cost qkv 10 us at
  // M = 2048 on 2x H100); with a short one, the sends first (the kernel would only wait for
  // the peer's host to enqueue its sends: 50 -> 76 us at qkv M = 128). A failed launch still
  // lets the sends go, so no peer waits forever for this rank's rows; the error comes after.
  Status launched = ok_status();
  auto launch_all = [&] {
    mark(stream, "gemm +");
    for (const AgGemm& g : a.gemms) {
      GemmArgs ga = ag_rows_args(
          a, g, mine + a_at,
          sf > 0 ? reinterpret_cast<const float*>(mine + scale_at) : a.scale_a_shard, p.m, 0);
      ga.a_ready = reinterpret_cast<const unsigned*>(mine);
      set_hooks(ga, *g.kernel, p, e, q * p.shard_rows, false);  // the local rows first
      LaunchOptions lo;
      if (direct) ga.local_shard = q + 1, lo.a_local = a.a_shard;
      if (launched.ok()) launched = g.kernel->launch(ga, stream, lo);
    }
    mark(stream, "gemm -");
  };
  const bool gemms_first = p.shard_rows >= kLaunchFirstRows;
  if (gemms_first) launch_all();
  comm_stream.wait(start.get());
  for (int i = 1; i < ws; ++i) await(*d, cs, mine, consumed(ws, (q + i) % ws), e - 1);
  for (int j = 0; j < p.chunks; ++j) {
    mark(cs, "copy", -1, j, "+");
    for (int i = 1; i < ws; ++i) send(cs, w.win.peer((q + i) % ws), j);
    mark(cs, "copy", -1, j, "-");
  }
  if (a.gathered_a) {
    for (int j = 0; j < p.chunks; ++j)
      for (int i = 1; i < ws; ++i) await(*d, cs, mine, ready((q + i) % ws, j), e);
    copy(*d, cs, a.gathered_a, mine + a_at, p.m * a.k);
    if (direct)  // the window has no copy of this rank's rows
      copy(*d, cs, at(a.gathered_a, q * p.shard_rows * a.k), a.a_shard, p.shard_rows * a.k);
  }
  Event& comm_done = event(1);
  comm_done.record(cs);
  if (!gemms_first) launch_all();
  end_ce_run(stream, w, 1, 1, ws - 1, consumed(ws, q), e);
  return launched;
}

Status OverlapExecutor::State::gemm_reduce_scatter_one_launch(const GemmReduceScatterArgs& a,
                                                              const ChunkPlan& p, CeWindow& w,
                                                              CUstream stream) {
  if (p.chunks > kMaxChunks) return too_many_chunks(p.chunks);
  const codegen::GemmSpec& sp = a.kernel->spec();
  const int ws = p.world_size, q = comm->rank(), peer = 1 - q;  // two ranks
  const int64_t row_bytes = sp.n * codegen::out_dtype_bytes(sp.out);
  const int64_t n_tiles = (sp.n + sp.tile.bn - 1) / sp.tile.bn;
  const size_t recv_at = flag_bytes(ws);
  ensure(rs_send, size_t(p.m * row_bytes), stream);  // indexed by row; the peer's rows used
  // The counters are never reset between runs, which would cost a memset and a stream wait
  // ahead of every launch; the comm stream waits for the running totals instead (cyclic
  // comparison, so they may wrap). They start from zero once, and again after a failed launch.
  const size_t slots = size_t(ws) * kMaxChunks;
  if (rs_counted.size() != slots) {
    ensure(rs_done, sizeof(uint32_t) * slots, stream);
    TPJIT_CU(*d, cuStreamSynchronize(stream));  // no earlier kernel still counts, and no
    comm_stream.synchronize();                  // send still waits on the old totals
    rs_done.fill(0);
    rs_counted.assign(slots, 0);
  }
  uint8_t* mine = w.win.local();
  const uint32_t e = ++w.epoch;
  const CUstream cs = comm_stream.get();

  mark(stream, "start");
  GemmArgs g = rows_args(a, 0, p.m, rs_send.data(), scale_a_floats_per_row(sp.scale, a.k));
  g.own_d = a.y;
  g.own_c = mine + recv_at;
  g.ldc = sp.n;
  g.own_begin = int(q * p.shard_rows);
  g.own_end = int((q + 1) * p.shard_rows);
  g.c_ready = reinterpret_cast<const unsigned*>(mine);
  g.tile_done = static_cast<unsigned*>(rs_done.data());
  set_hooks(g, *a.kernel, p, e, g.own_end, true);  // the peer's rows first
  mark(stream, "gemm +");
  // A failed launch still sends (what rs_send holds) and raises the flags, so the peer does
  // not wait forever; the error comes back at the end.
  const Status launched = a.kernel->launch(g, stream);
  mark(stream, "gemm -");
  if (!launched.ok()) rs_counted.clear();  // this run counts nothing

  // Each sub-chunk of the peer's rows goes as soon as the kernel has stored all of it.
  await(*d, cs, mine, consumed(ws, 0), e - 1);
  for (int j = 0; j < p.chunks; ++j) {
    const int64_t row = peer * p.shard_rows + p.begin(j);
    if (launched.ok()) {
      uint32_t& total = rs_counted[size_t(ready(peer, j))];
      total += uint32_t(slabs_touching(row, p.rows(j)) * n_tiles);
      await(*d, cs, static_cast<uint8_t*>(rs_done.data()), ready(peer, j), total);
    }
    mark(cs, "copy", -1, j, "+");
    copy(*d, cs, w.win.peer(peer) + recv_at + p.begin(j) * row_bytes,
         at(rs_send.data(), row * row_bytes), p.rows(j) * row_bytes);
    signal(*d, cs, w.win.peer(peer), ready(peer, j), e);
    mark(cs, "copy", -1, j, "-");
  }
  Event& comm_done = event(1);
  comm_done.record(cs);
  end_ce_run(stream, w, 1, 1, 1, consumed(ws, 0), e);
  return launched;
}

}  // namespace tpjit::runtime
