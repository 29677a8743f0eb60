// The kernel ABI shared by every GEMM variant (CONTRACTS.md, "Kernel ABI"), and the enums the
// generated prelude uses to configure a template. Plain C++ with builtin types only: NVRTC has
// no standard headers, and the host (runtime/) includes this very file to fill GemmArgs, so
// host and device cannot drift apart.
#pragma once

namespace tpjit {

// The generated prelude names these to configure a template.
enum class ScaleKind : int { kTensor = 0, kRow = 1, kBlock = 2 };
enum class OutKind : int { kBF16 = 0, kF16 = 1, kF32 = 2 };

// D[i,j] = out( sum_k A[i,k]*B[j,k] * sa * sb (+ bias[j]) (+ C[i,j]) ), fp32 accumulation;
// block scales apply per 128-wide K block before summing across blocks.
// a and b must be 16-byte aligned with lda, ldb multiples of 16 (16-byte async copies).
struct GemmArgs {
  const void* a;          // [m, k] e4m3, row-major, lda elements between rows (K contiguous)
  const void* b;          // [n, k] e4m3: B stored K-major (torch's col-major [K,N]), ldb
  void* d;                // output [*, n] in OutDtype, ldd; rows [d_row_offset, d_row_offset + m)
  const void* c;          // with accumulate: [m, n] OutDtype partial sum, ldc (may alias d);
                          // nullptr: nothing is added (one kernel serves a ring's first step)
  const float* scale_a;   // tensor: [1]; row: [m]; block: [m, ceil(k/128)] row-major
  const float* scale_b;   // tensor: [1]; row: [n]; block: [ceil(k/128), ceil(n/128)] row-major
  const void* bias;       // [n] in OutDtype, or nullptr
  int m;                  // runtime rows
  long long lda, ldb, ldc, ldd, d_row_offset;
  // Split-K (templates/sm90_split_k.cuh), filled by the runtime's launcher, not the caller:
  // split_k K slices per output tile (1: no split, and the two pointers are unused), fp32
  // partials in workspace, one zeroed counter per output tile in tile_counters.
  float* workspace;
  unsigned* tile_counters;
  int split_k;
  // Overlap hooks (templates/overlap_hooks.cuh; runtime/overlap_ce.cc). sm90_wgmma only; all
  // zero (null, 0) when unused, which every plain launch leaves them.
  int first_m_block;         // the persistent tile order starts at this M tile and wraps
  const unsigned* a_ready;   // wait on these flags before reading a row of A (all-gather)
  const unsigned* c_ready;   // wait on these before reading an own row's C (reduce-scatter)
  unsigned* tile_done;       // +1 per stored 64-row slab x N tile, by chunk of other ranks' rows
  void* own_d;               // rows [own_begin, own_end) go to own_d at row - own_begin ...
  const void* own_c;         // ... plus own_c at row - own_begin (ldd, ldc); other rows: d, c
  int hook_shard_rows;       // row r: rank r / hook_shard_rows, sub-chunk (r % shard) / chunk_rows,
  int hook_chunk_rows;       //   flag or counter [rank * hook_stride + sub-chunk]
  int hook_stride;
  unsigned hook_epoch;       // a flag is set once (int)(flag - hook_epoch) >= 0
  int own_begin, own_end;
  int hook_group_mc;         // > 0: tile-order groups of this many cluster rows (not 16 / cluster)
  int local_shard;           // > 0: rows [(local_shard - 1) * hook_shard_rows, local_shard *
                             // hook_shard_rows) of A come from the launch's local A map, the
                             // caller's own shard, not from `a` (sm90: the third tensor map)
};
static_assert(sizeof(GemmArgs) == 200, "GemmArgs is an ABI shared with runtime/: keep its layout");

}  // namespace tpjit
