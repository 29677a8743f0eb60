// The overlap hooks of GemmArgs (gemm_args.cuh), used by the sm90 kernel when the fused
// executors run one launch over every row (runtime/overlap_ce.cc):
//   all-gather:     rows of other ranks arrive by copy engine while the kernel runs; the
//                   producer waits on a_ready before loading them (tiles of the local shard
//                   come first: first_m_block; local_shard reads them through the local A
//                   map, without waiting), and so do the consumers before reading scales.
//   reduce-scatter: the kernel computes the rows other ranks own first; a signal warp per
//                   consumer warpgroup counts each stored 64-row slab in tile_done so the copy
//                   engines can send a sub-chunk as soon as it is complete; this rank's rows
//                   come last, waiting on c_ready for the partial sum the peer sent, and go to
//                   own_d with it added.
// hook_group_mc makes the tiles go phase by phase and sub-chunk by sub-chunk.
// A flag is written by a copy engine's stream (cuStreamWriteValue32, after the data) and read
// here with acquire loads at system scope. Device-only; NVRTC builtins only.
#pragma once

#include "gemm_args.cuh"

namespace tpjit { namespace hooks {

__device__ __forceinline__ unsigned ld_acquire(const unsigned* p) {
  unsigned v;
  asm volatile("ld.acquire.sys.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

// Index of the flag or counter of row r, and the first row past its sub-chunk.
__device__ __forceinline__ int slot_of(const GemmArgs& a, int r, int* end) {
  const int rank = r / a.hook_shard_rows;
  const int chunk = (r - rank * a.hook_shard_rows) / a.hook_chunk_rows;
  *end = min(rank * a.hook_shard_rows + (chunk + 1) * a.hook_chunk_rows, (rank + 1) * a.hook_shard_rows);
  return rank * a.hook_stride + chunk;
}

// Waits until every flag covering rows [r0, r1) has reached the run's epoch.
__device__ __forceinline__ void wait_rows(const GemmArgs& a, const unsigned* flags, int r0, int r1) {
  for (int r = r0, end = 0; r < r1; r = end) {
    const unsigned* f = flags + slot_of(a, r, &end);
    while (static_cast<int>(ld_acquire(f) - a.hook_epoch) < 0) __nanosleep(256);
  }
}

// An early look at rows [r0, r1): the value of the one flag covering them, loaded now and
// looked at later with seen_ready (the load does not hold the caller up until then); a value
// that never counts as ready when one flag does not cover them.
__device__ __forceinline__ unsigned peek_rows(const GemmArgs& a, const unsigned* flags, int r0, int r1) {
  int end = 0;
  const int i = slot_of(a, r0, &end);
  return end >= r1 ? ld_acquire(flags + i) : a.hook_epoch - 1u;
}
__device__ __forceinline__ bool seen_ready(const GemmArgs& a, unsigned v) {
  return static_cast<int>(v - a.hook_epoch) >= 0;
}

// After wait_rows, before TMA reads what the copy engines wrote: order the generic-proxy
// acquire before the async proxy's loads.
__device__ __forceinline__ void fence_async_global() {
  asm volatile("fence.proxy.async.global;" ::: "memory");
}

__device__ __forceinline__ bool own_row(const GemmArgs& a, int r) { return r >= a.own_begin && r < a.own_end; }

// Counts a stored slab of rows [r0, r1) in tile_done, once per sub-chunk of other ranks' rows
// it covers (the runtime expects one count per 64-row slab x N tile). One thread calls it,
// after the slab's stores are fenced.
__device__ __forceinline__ void count_slab(const GemmArgs& a, int r0, int r1) {
  for (int r = r0, end = 0; r < r1; r = end) {
    const int i = slot_of(a, r, &end);
    if (!own_row(a, r)) atomicAdd(a.tile_done + i, 1u);
  }
}

}}  // namespace tpjit::hooks
