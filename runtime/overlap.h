// Executors of the two fused regions for one rank (DESIGN.md, "Execution (overlap)", phase 1):
// the generated GEMMs on the caller's stream, NCCL on the executor's own stream, ordered with
// events and never with host synchronization.
//
//   all_gather_gemm:     D_g[M, N_g] = gather(A shards)[M, K] x B_g[N_g, K]^T, for G GEMMs
//                        sharing one gather. The local shard's rows compute at once; the
//                        other ranks' rows arrive in `chunks` sub-chunks per shard, each
//                        starting its GEMMs as soon as its ncclAllGather lands.
//   gemm_reduce_scatter: Y[M/ws, N] = reduce_scatter_sum(A[M, K] x B[N, K]^T). Step j computes
//                        sub-chunk j of every destination rank's rows into a staging slot
//                        while the ncclReduceScatter of step j-1 runs (two slots in turn).
//
// Buffers are device pointers in the context current on the calling thread (the one the
// communicator was made on); shapes in elements. A is e4m3 with row stride K (contiguous:
// NCCL moves whole rows); outputs are in the kernel's out dtype. Scale pointers follow the
// kernel ABI (templates/gemm_args.cuh) for the whole tensor; for an all-gather, scale_a is the
// local shard's (tensor: the one value every rank shares; row: [M/ws]; block:
// [M/ws, ceil(K/128)]) and is gathered with the rows.
//
// Errors: kNotDivisible when the world size does not divide M; kBadRequest or
// kUnsupportedShape for inconsistent arguments (checked before anything is enqueued);
// kErrNccl / kErrCuda when a call fails. The unfused variants run the same math serially on
// the caller's stream (collective, then GEMM, or the reverse): the reference and the
// fallback the planner picks where fusion does not pay.
//
// Transport: with kAuto (the default) a fused region moves its bytes with the copy engines
// when every rank can map every peer's memory (one host, peer access: runtime/peer_window.h),
// and with NCCL otherwise. Copy engines take no SMs, so the GEMMs keep the whole GPU and
// sm_reserve is ignored:
//   all_gather_gemm:     each rank copies its shard's sub-chunk j into every peer's staging
//                        and raises a flag there; a peer's GEMMs for those rows wait on the
//                        flag (cuStreamWaitValue32), not on the host.
//   gemm_reduce_scatter: a ring of world-size steps. At step s rank q computes the partial sum
//                        of shard (q - s - 1) mod ws, adding (GEMM epilogue, args.c) the
//                        partial its predecessor sent at step s - 1, and copies it to its
//                        successor; the last step computes its own shard into y. So the add of
//                        the received partial is fused into the GEMM, the last step has no
//                        communication after it, and the kernel must have spec.accumulate
//                        (kAuto falls back to NCCL without it). chunks >= 2 lets step s + 1
//                        start while step s's copies are in flight.
// One launch: with sm90_wgmma kernels (and, for the reduce-scatter, two ranks and M / 2 a
// multiple of 64) the copy-engine paths launch each GEMM once over all M rows instead of once
// per sub-chunk, so the GEMM keeps its whole-M tiling and waves. The kernel itself waits for
// rows still in flight and counts the rows it has stored (templates/overlap_hooks.cuh); its
// tiles start with the local shard (all-gather: read from a_shard itself through a second
// tensor map when the shard is whole M tiles, else copied into the window on the caller's
// stream just before) or with the peer's rows (reduce-scatter, whose sub-chunks then leave as
// soon as they are stored), and within a shard go sub-chunk by sub-chunk when sub-chunks are
// whole cluster rows (runtime/overlap_plan.h, one_launch_order). The launches are enqueued
// before the copies. Nothing a waiting tile needs may run on this GPU's SMs, and the launch's
// CTAs must all be resident at once: true when nothing else runs on the GPU.
// one_launch = false keeps one launch per sub-chunk.
// A GEMM launch that fails (its arguments refused) skips the GEMMs after it but still sends
// and raises its flags, so the copy-engine paths never leave a peer waiting; the error is
// returned once everything is enqueued. A rank never writes a peer's staging before the peer
// has finished reading the previous run's: each run ends by raising a "consumed" flag on its senders. Flags count runs (epochs,
// compared modulo 2^32). The first fused run on an executor, and each one that needs a larger
// window, allocates and exchanges the windows (collective, synchronizing).
//
// SM reservation (NCCL transport): the persistent GEMMs (sm90_wgmma, sm100_tcgen05) fill every SM, so a
// collective on the comm stream would find none free and run after them, not beside them.
// With sm_reserve = R > 0, each GEMM launch that runs while a collective is in flight is
// capped at max_resident_ctas() - R CTAs (one CTA per SM for these kernels: R SMs stay free);
// launches with no collective in flight (the all-gather's last chunk, the reduce-scatter's
// first step) use every SM. Make the communicator with NcclOptions::max_ctas = R so NCCL's
// kernel fits the free SMs. Non-persistent variants ignore it.
//
// Vendor GEMM: an unfused run may compute its GEMMs with cuBLASLt (AgGemm::lt,
// GemmReduceScatterArgs::lt: a plan made for M rows, the GEMM's N and K and its scale
// pointers) instead of the kernel: the execution "unfused_cublaslt", for shapes where the
// library beats both the fused run and our kernel. It takes tensor scales, bf16 output, no bias, and
// contiguous rows (ldb = K, ldd = N; lda = K for the reduce-scatter); else kBadRequest.
//
// Workspace (staging for gathered chunks, partial sums) is owned by the executor and grows
// on demand; growing synchronizes the executor's streams once, so warm up with the largest
// shape. One executor per rank and thread at a time (not thread-safe); runs on one executor
// are ordered by the caller's stream.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/driver.h"
#include "runtime/gemm_runner.h"
#include "runtime/lt_gemm.h"
#include "runtime/nccl.h"
#include "util/result.h"

namespace tpjit::runtime {

// How a fused region moves its bytes (see "Transport" above).
enum class Transport {
  kAuto,        // copy engines where every rank maps every peer, else NCCL
  kNccl,        // NCCL collectives on the comm stream
  kCopyEngine,  // copy engines only; kErrNoPeerAccess where the peers cannot be mapped
};

// One GEMM fed by the gather.
struct AgGemm {
  const GemmKernel* kernel = nullptr;  // spec().k == K; every GEMM of a region: same scale mode
  const void* b = nullptr;             // [N, K] e4m3, ldb elements between rows
  int64_t ldb = 0;
  const float* scale_b = nullptr;
  const void* bias = nullptr;  // [N] when the kernel's spec has a bias, else nullptr
  void* d = nullptr;           // [M, N], ldd elements between rows
  int64_t ldd = 0;
  // Unfused only: cuBLASLt runs this GEMM instead of the kernel (see "Vendor GEMM" above).
  const LtFp8Gemm* lt = nullptr;
};

struct AllGatherGemmArgs {
  int64_t m = 0;  // rows after the gather (world size x shard rows)
  int64_t k = 0;
  const void* a_shard = nullptr;         // [M/ws, K] e4m3, row stride K
  const float* scale_a_shard = nullptr;  // see the header comment
  std::vector<AgGemm> gemms;             // at least one
  void* gathered_a = nullptr;  // optional [M, K] e4m3: also materialize the gathered A
  int chunks = 1;              // sub-chunks per shard (fused only)
  int sm_reserve = 0;          // fused only: see "SM reservation" above
  Transport transport = Transport::kAuto;  // fused only
  bool one_launch = true;  // copy engines: see "One launch" above
};

struct GemmReduceScatterArgs {
  int64_t m = 0;  // rows of the local partial product (world size x output rows)
  int64_t k = 0;
  // No bias (it would be summed world-size times). spec.accumulate lets the copy-engine ring
  // add the received partial in the epilogue; the NCCL paths never pass it a C.
  const GemmKernel* kernel = nullptr;
  const void* a = nullptr;             // [M, K] e4m3, lda elements between rows
  int64_t lda = 0;
  const float* scale_a = nullptr;  // tensor [1]; row [M]; block [M, ceil(K/128)]
  const void* b = nullptr;         // [N, K] e4m3
  int64_t ldb = 0;
  const float* scale_b = nullptr;
  void* y = nullptr;  // [M/ws, N] contiguous: this rank's rows of the sum
  int chunks = 1;     // fused only
  int sm_reserve = 0; // fused only: see "SM reservation" above
  Transport transport = Transport::kAuto;  // fused only
  bool one_launch = true;  // copy engines: see "One launch" above
  const LtFp8Gemm* lt = nullptr;  // unfused only: see "Vendor GEMM" above
};

class OverlapExecutor {
 public:
  // An executor for `comm`'s rank on the current context; `comm` must outlive it.
  static Result<OverlapExecutor> create(const Driver& d, const NcclComm& comm);
  OverlapExecutor(OverlapExecutor&&) noexcept;
  OverlapExecutor& operator=(OverlapExecutor&&) noexcept;
  ~OverlapExecutor();

  // Enqueue one region on `stream`; when `stream` reaches the end of it, every output (and
  // gathered_a) is complete. Every rank must make the same calls in the same order.
  Status all_gather_gemm(const AllGatherGemmArgs& args, CUstream stream);
  Status all_gather_gemm_unfused(const AllGatherGemmArgs& args, CUstream stream);
  Status gemm_reduce_scatter(const GemmReduceScatterArgs& args, CUstream stream);
  Status gemm_reduce_scatter_unfused(const GemmReduceScatterArgs& args, CUstream stream);

  // Bytes of workspace held now (staging, and the peer windows of the copy engines).
  size_t workspace_bytes() const;
  // The transport the last fused region ran with (kAuto before the first).
  Transport last_transport() const;

  // A timeline of the copy-engine runs, for tuning (tpjit-bench overlap --trace). While on,
  // each fused run records timed events where its GEMM launches and its copies begin and end
  // (a copy "begins" once its stream has passed the waits before it). trace() waits for the
  // last fused run's events and gives each one's microseconds after that run's first.
  struct TraceMark {
    std::string what;  // e.g. "gemm s1 j0 +", "copy s0 j1 -" (+ begin, - end)
    double us = 0;
  };
  void set_trace(bool on);
  std::vector<TraceMark> trace() const;

 private:
  struct State;
  explicit OverlapExecutor(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace tpjit::runtime
