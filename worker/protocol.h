// What tpjitd and a tpjit-worker say to each other over their socketpair (worker/channel.h):
// ipc envelopes (ipc/message.h), one request at a time, the worker answering each in order.
//   hello      {}                          -> {"device": {...}, "device_count": N, "pid": P,
//                                              "fake": bool}
//   nccl_id    {}                          -> {"nccl_id": HEX}  (256 hex digits; rank 0's worker)
//   init_comm  {"rank","world","nccl_id"}  -> {}   (blocks until every rank has joined)
//   run_region RegionJob (below)           -> {"ms_median","iters","execution","transport",
//                                              "outputs":[...],"check"?}
//   shutdown   {}                          -> {}   then exit 0
// Fake mode (tpjit-worker --fake N, tests only) also serves
//   die {"code": C} | {"signal": S}        -> no reply: exits or raises
//   hang {}                                -> never replies
// RegionJob: {"region": ID, "kind": "all_gather_gemm"|"gemm_reduce_scatter", "m": M (all
//   ranks' rows), "rank", "world", "iters", "chunks", "transport"?: "nccl"|"ce"|"ce_chunked"
//   (absent: copy engines with one launch where the ranks map each other, else NCCL),
//   "fused"?: bool (default true; false: the unfused executor, as the plan chose), "check":
//   bool, "seed"?: S, "inputs_dir"?,
//   "outputs_dir"?, "input": NAME (gathered shard, or the GEMM's a), "output": NAME (the
//   reduce-scatter's result; all_gather_gemm writes each GEMM's "out"),
//   "gemms": [{"node","key","spec","b","scale_a","scale_b","out"}]}
// "check" (with check: true): {"reference", "rel_error": {OUT: x}, "rel_error_vs_float64":
//   {OUT: x|null}, "bound": {OUT: b}, "float64_rows", "ok", "float64_skipped"?}
//   (worker/float64_check.h; a NaN error is null and not ok).
// .npy layout: <inputs_dir>/rank<R>/<tensor>.npy (docs/protocol.md, "run").
#pragma once

namespace tpjit::worker {

// The worker's exit status tells the daemon why it left.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitGpuError = 3;      // a CUDA or NCCL call failed: context or
                                             // communicator state unknown, so start afresh
inline constexpr int kExitChannelLost = 4;   // the daemon went away

// Error code of a reply after which the worker exits with kExitGpuError.
inline constexpr const char* kErrGpu = "gpu_error";

inline constexpr int kNcclIdBytes = 128;

}  // namespace tpjit::worker
