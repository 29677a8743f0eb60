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
  int reserved;  // zero; keeps the size a multiple of 8 on host and device alike
};
static_assert(sizeof(GemmArgs) == 128, "GemmArgs is an ABI shared with runtime/: keep its layout");

}  // namespace tpjit
