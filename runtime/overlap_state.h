// Internal to the overlap executors (overlap.cc, overlap_rs.cc): their shared state and
// helpers. Not part of the runtime's API.
#pragma once

#include <dlfcn.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "runtime/memory.h"
#include "runtime/overlap.h"
#include "runtime/overlap_plan.h"
#include "runtime/peer_window.h"
#include "runtime/stream.h"
#include "util/check.h"

namespace tpjit::runtime {
namespace overlap_detail {

inline Error bad(const std::string& what) {
  return make_error(errc::kBadRequest, "overlap: " + what, "runtime.overlap");
}

// Whether cuBLASLt can stand in for a kernel of this spec (overlap.h, "Vendor GEMM") with
// these row strides; empty if so, else why not.
inline std::string lt_problem(const codegen::GemmSpec& sp, int64_t k, int64_t lda, int64_t ldb,
                              int64_t ldd) {
  if (sp.scale != fusion::ScaleMode::kTensor) return "cuBLASLt takes tensor scales only";
  if (sp.out != codegen::OutDtype::kBF16) return "cuBLASLt runs with bf16 output only";
  if (sp.bias) return "cuBLASLt runs without a bias";
  if (lda != k || ldb != k || ldd != sp.n) return "cuBLASLt needs contiguous rows (lda = ldb = K, ldd = N)";
  return "";
}

inline ncclDataType_t nccl_type(codegen::OutDtype o) {
  switch (o) {
    case codegen::OutDtype::kBF16: return ncclBfloat16;
    case codegen::OutDtype::kF16: return ncclFloat16;
    case codegen::OutDtype::kF32: return ncclFloat32;
  }
  return ncclBfloat16;
}

// The launch options for a GEMM that runs beside a collective when `overlapped`.
inline LaunchOptions reserve_sms(const GemmKernel& k, int sm_reserve, bool overlapped) {
  if (!overlapped || sm_reserve <= 0 || k.max_resident_ctas() == 0) return {};
  return {std::max(1, k.max_resident_ctas() - sm_reserve)};
}

inline const uint8_t* at(const void* p, int64_t bytes) { return static_cast<const uint8_t*>(p) + bytes; }
inline uint8_t* at(void* p, int64_t bytes) { return static_cast<uint8_t*>(p) + bytes; }

// The GEMM of rows [first_row, first_row + rows) of a reduce-scatter region's A into `d`
// (ldd = N); sf: scale_a floats per row.
inline GemmArgs rows_args(const GemmReduceScatterArgs& a, int64_t first_row, int64_t rows,
                          void* d, int64_t sf) {
  GemmArgs g{};
  g.a = at(a.a, first_row * a.lda);
  g.b = a.b;
  g.d = d;
  g.scale_a = sf > 0 ? a.scale_a + first_row * sf : a.scale_a;
  g.scale_b = a.scale_b;
  g.m = static_cast<int>(rows);
  g.lda = a.lda;
  g.ldb = a.ldb;
  g.ldd = a.kernel->spec().n;
  return g;
}

// The launch of AgGemm `g` on rows [d_row, d_row + rows) of its output, from those rows of A
// at a_rows (row stride K) with their scales.
inline GemmArgs ag_rows_args(const AllGatherGemmArgs& a, const AgGemm& g, const void* a_rows,
                             const float* scale_rows, int64_t rows, int64_t d_row) {
  GemmArgs ga{};
  ga.a = a_rows;
  ga.b = g.b;
  ga.d = g.d;
  ga.scale_a = scale_rows;
  ga.scale_b = g.scale_b;
  ga.bias = g.bias;
  ga.m = static_cast<int>(rows);
  ga.lda = a.k;
  ga.ldb = g.ldb;
  ga.ldd = g.ldd;
  ga.d_row_offset = d_row;
  return ga;
}

// Launches every GEMM of the region on rows [d_row, d_row + rows) (ag_rows_args), capped to
// leave a.sm_reserve SMs free when `overlapped` (reserve_sms); the first failure.
inline Status launch_ag_rows(const AllGatherGemmArgs& a, const void* a_rows, const float* scale_rows,
                             int64_t rows, int64_t d_row, CUstream stream, bool overlapped) {
  for (const AgGemm& g : a.gemms)
    if (Status st = g.kernel->launch(ag_rows_args(a, g, a_rows, scale_rows, rows, d_row), stream,
                                     reserve_sms(*g.kernel, a.sm_reserve, overlapped));
        !st.ok())
      return st;
  return ok_status();
}

// Runs `body`, turning a failed CUDA call (CheckError) into a Status.
template <class F>
Status guarded(F&& body) {
  try {
    return body();
  } catch (const CheckError& e) {
    return make_error(kErrCuda, e.what(), "runtime.overlap");
  }
}


// The comm stream at the context's highest priority, so NCCL's CTAs are scheduled ahead of
// the next GEMM's when both wait for SMs (a persistent GEMM would otherwise hold every SM and
// the collective would run after it, not beside it). cuStreamCreateWithPriority is not in
// runtime/driver.h's table, so it is looked up in the already loaded libcuda here.
class CommStream {
 public:
  explicit CommStream(const Driver& d) : d_(&d) {
    using Range = CUresult (*)(int*, int*);
    using Create = CUresult (*)(CUstream*, unsigned, int);
    void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    auto range = lib ? reinterpret_cast<Range>(dlsym(lib, "cuCtxGetStreamPriorityRange")) : nullptr;
    auto create = lib ? reinterpret_cast<Create>(dlsym(lib, "cuStreamCreateWithPriority")) : nullptr;
    int least = 0, greatest = 0;
    if (range && create && range(&least, &greatest) == CUDA_SUCCESS &&
        create(&s_, CU_STREAM_NON_BLOCKING, greatest) == CUDA_SUCCESS) {
      priority_ = greatest;
    } else {
      TPJIT_CU(d, cuStreamCreate(&s_, CU_STREAM_NON_BLOCKING));
    }
    if (lib) dlclose(lib);
  }
  CommStream(const CommStream&) = delete;
  CommStream& operator=(const CommStream&) = delete;
  ~CommStream() {
    if (s_) d_->cuStreamDestroy(s_);
  }
  CUstream get() const { return s_; }
  void wait(CUevent e) const { TPJIT_CU(*d_, cuStreamWaitEvent(s_, e, 0)); }
  void synchronize() const { TPJIT_CU(*d_, cuStreamSynchronize(s_)); }
  int priority() const { return priority_; }

 private:
  const Driver* d_;
  CUstream s_ = nullptr;
  int priority_ = 0;
};

}  // namespace overlap_detail

// One region kind's copy-engine window: flags, then staging; `epoch` counts its runs.
struct CeWindow {
  PeerWindow win;
  uint32_t epoch = 0;
  bool unavailable = false;  // create() said kErrNoPeerAccess (on every rank alike)
  std::string why;
};

struct OverlapExecutor::State {
  State(const Driver& drv, const NcclComm& c) : d(&drv), comm(&c), comm_stream(drv) {}
  const Driver* d;
  const NcclComm* comm;
  overlap_detail::CommStream comm_stream;
  std::vector<Event> events;  // no timing; reused run after run
  DeviceBuffer stage, scale_stage;
  CeWindow ag_ce, rs_ce;      // copy-engine windows (overlap_ce.cc)
  DeviceBuffer rs_send;       // the ring's outgoing partial sums
  DeviceBuffer rs_done;       // one launch: stored slabs per sub-chunk (tile_done), only grow
  std::vector<uint32_t> rs_counted;  // what each rs_done counter reads once the last run's
                                     // kernel is done; empty: rs_done must be zeroed first
  Transport last = Transport::kAuto;

  // The window to run on for transport `t`, grown to `bytes` (collective; synchronizes); null
  // for NCCL. kErrNoPeerAccess only when `t` is kCopyEngine.
  Result<CeWindow*> copy_engine(CeWindow& w, Transport t, size_t bytes, CUstream stream);
  Status all_gather_gemm_ce(const AllGatherGemmArgs& a, const ChunkPlan& p, CeWindow& w,
                            CUstream stream);
  Status gemm_reduce_scatter_ce(const GemmReduceScatterArgs& a, const ChunkPlan& p,
                                CeWindow& w, CUstream stream);
  // The same with one launch over every row that waits and counts inside the kernel
  // (templates/overlap_hooks.cuh): for kernels that take the hooks; reduce-scatter on 2 ranks.
  static bool hooked(const GemmKernel& k);
  Status all_gather_gemm_one_launch(const AllGatherGemmArgs& a, const ChunkPlan& p, CeWindow& w,
                                    CUstream stream);
  Status gemm_reduce_scatter_one_launch(const GemmReduceScatterArgs& a, const ChunkPlan& p,
                                        CeWindow& w, CUstream stream);
  // The end of a copy-engine run whose comm stream recorded event(comm_done_at) after its
  // last send: `stream` waits for it (what the comm stream sends from is free again); then
  // the comm stream, once `stream` is past this run's GEMMs, raises flag `flag` in the windows
  // of ranks q + first .. q + last (mod world size): this rank has read what they sent, so
  // they may write the next run's. The flags ride on the comm stream, so the region ends on
  // `stream` without waiting for a remote write. Uses event(comm_done_at + 1).
  void end_ce_run(CUstream stream, CeWindow& w, size_t comm_done_at, int first, int last,
                  int flag, uint32_t epoch);

  // The trace (OverlapExecutor::set_trace): timed events, reused run after run.
  bool tracing = false;
  std::vector<std::pair<std::string, Event>> marks;
  size_t n_marks = 0;
  void trace_start() { n_marks = 0; }
  // Marks that `s` got here, when tracing, as "<what>[ s<step>][ j<sub>][ <edge>]" (edge "+"
  // for a begin, "-" for an end). The label is only made when tracing: runs call this often.
  void mark(CUstream s, const char* what, int step = -1, int sub = -1, const char* edge = nullptr) {
    if (!tracing) return;
    std::string label = what;
    if (step >= 0) label += " s" + std::to_string(step);
    if (sub >= 0) label += " j" + std::to_string(sub);
    if (edge) label += std::string(" ") + edge;
    if (n_marks == marks.size()) marks.emplace_back(std::string(), Event(*d, true));
    marks[n_marks].first = std::move(label);
    marks[n_marks++].second.record(s);
  }

  Event& event(size_t i) {
    while (events.size() <= i) events.emplace_back(*d, false);
    return events[i];
  }

  // Grows `buf` to at least `bytes`. The old buffer may still be in use by work enqueued on
  // the caller's or the comm stream: wait for both first (only when growing).
  void ensure(DeviceBuffer& buf, size_t bytes, CUstream stream) {
    if (buf.size() >= bytes) return;
    TPJIT_CU(*d, cuStreamSynchronize(stream));
    comm_stream.synchronize();
    buf = DeviceBuffer();
    buf = DeviceBuffer(*d, bytes);
  }
};

}  // namespace tpjit::runtime
