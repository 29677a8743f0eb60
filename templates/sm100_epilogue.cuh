// Epilogue of the sm_100a GEMM for one thread's piece of one output row: kCols adjacent fp32
// accumulators (as tcgen05.ld 32x32b gives them: thread = row, registers = columns) get the
// tensor/row scale, bias and partial sum, then are stored. Whole 16-byte accesses where the
// row segment is inside N and aligned, element by element otherwise.
#pragma once

#include "gemm_args.cuh"
#include "gemm_epilogue.cuh"

namespace tpjit { namespace sm100 {

using kern::out_bytes;
// Elements in one 16-byte access.
template <OutKind kOut>
constexpr int vec_elems() { return 16 / out_bytes<kOut>(); }

__device__ __forceinline__ bool aligned16(const void* p) {
  return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0;
}
// Finishes v[0..kCols) = accumulators of (row, col0 .. col0+kCols) and stores them. `scale` is
// the tensor scale (1 in other modes); row scales are applied here; block scales were applied
// by the caller during the K loop. The caller skips rows >= m.
template <class Cfg, int kCols>
__device__ __forceinline__ void finish_row_chunk(const GemmArgs& args, int row, int col0, float scale, float* v) {
  constexpr OutKind kOut = Cfg::kOut;
  constexpr int kV = vec_elems<kOut>();
  static_assert(kCols % kV == 0, "chunk must be whole 16-byte vectors");
  const bool full = col0 + kCols <= Cfg::kN;
  float rs = scale;
  if constexpr (Cfg::kScale == ScaleKind::kRow) rs *= args.scale_a[row];
#pragma unroll
  for (int i = 0; i < kCols; ++i) v[i] *= rs;
  if constexpr (Cfg::kScale == ScaleKind::kRow) {
    // scale_b is fp32: 4 per 16-byte load; same addresses across the warp (broadcast).
    if (full && aligned16(args.scale_b + col0)) {
#pragma unroll
      for (int i = 0; i < kCols; i += 4) {
        const float4 s = *reinterpret_cast<const float4*>(args.scale_b + col0 + i);
        v[i] *= s.x; v[i + 1] *= s.y; v[i + 2] *= s.z; v[i + 3] *= s.w;
      }
    } else {
#pragma unroll
      for (int i = 0; i < kCols; ++i) v[i] *= col0 + i < Cfg::kN ? args.scale_b[col0 + i] : 0.0f;
    }
  }
  if constexpr (Cfg::kBias) {
    const bool vb = full && aligned16(static_cast<const char*>(args.bias) + static_cast<long long>(col0) * out_bytes<kOut>());
#pragma unroll
    for (int i = 0; i < kCols; i += kV) {
      float b[kV];
      if (vb) kern::load_vec<kOut, kV>(args.bias, col0 + i, b);
      else {
#pragma unroll
        for (int e = 0; e < kV; ++e) b[e] = col0 + i + e < Cfg::kN ? kern::load_out<kOut>(args.bias, col0 + i + e) : 0.0f;
      }
#pragma unroll
      for (int e = 0; e < kV; ++e) v[i + e] += b[e];
    }
  }
  if (Cfg::kAccumulate && args.c) {  // uniform: args.c is the same for every thread
    const long long ci = static_cast<long long>(row) * args.ldc + col0;
    const bool vc = full && aligned16(static_cast<const char*>(args.c) + ci * out_bytes<kOut>());
#pragma unroll
    for (int i = 0; i < kCols; i += kV) {
      float c[kV];
      if (vc) kern::load_vec<kOut, kV>(args.c, ci + i, c);
      else {
#pragma unroll
        for (int e = 0; e < kV; ++e) c[e] = col0 + i + e < Cfg::kN ? kern::load_out<kOut>(args.c, ci + i + e) : 0.0f;
      }
#pragma unroll
      for (int e = 0; e < kV; ++e) v[i + e] += c[e];
    }
  }
  const long long di = (args.d_row_offset + row) * args.ldd + col0;
  if (full && aligned16(static_cast<const char*>(args.d) + di * out_bytes<kOut>())) {
#pragma unroll
    for (int i = 0; i < kCols; i += kV) kern::store_vec<kOut, kV>(args.d, di + i, v + i);
  } else {
#pragma unroll
    for (int i = 0; i < kCols; ++i)
      if (col0 + i < Cfg::kN) kern::store_out<kOut>(args.d, di + i, v[i]);
  }
}

}}  // namespace tpjit::sm100
