// Epilogue pieces shared by the GEMM variants: conversions to and from the output dtype and
// the per-element tail (scale, bias, accumulate, store). Device-only; NVRTC builtins only.
#pragma once

#include "gemm_args.cuh"

namespace tpjit::kern {

using u8 = unsigned char;
using u16 = unsigned short;
using u32 = unsigned int;
using i64 = long long;

// PTX conversions round to nearest even and keep NaN/Inf, without needing cuda_bf16.h.
__device__ __forceinline__ u16 f32_to_bf16(float x) {
  u16 r;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(x));
  return r;
}
__device__ __forceinline__ u16 f32_to_f16(float x) {
  u16 r;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(x));
  return r;
}
__device__ __forceinline__ float bf16_to_f32(u16 h) { return __uint_as_float(u32(h) << 16); }
__device__ __forceinline__ float f16_to_f32(u16 h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}

template <OutKind kOut>
__device__ __forceinline__ float load_out(const void* base, i64 index) {
  if constexpr (kOut == OutKind::kBF16) return bf16_to_f32(static_cast<const u16*>(base)[index]);
  else if constexpr (kOut == OutKind::kF16) return f16_to_f32(static_cast<const u16*>(base)[index]);
  else return static_cast<const float*>(base)[index];
}

template <OutKind kOut>
__device__ __forceinline__ void store_out(void* base, i64 index, float v) {
  if constexpr (kOut == OutKind::kBF16) static_cast<u16*>(base)[index] = f32_to_bf16(v);
  else if constexpr (kOut == OutKind::kF16) static_cast<u16*>(base)[index] = f32_to_f16(v);
  else static_cast<float*>(base)[index] = v;
}

// Everything after the K loop for one in-bounds element: `acc` holds sum_k A*B, already
// multiplied by the block scales in block mode (they vary along K, so the main loop applies
// them); tensor and row scales are applied here.
template <class Cfg>
__device__ __forceinline__ void finish_element(const GemmArgs& args, int row, int col, float acc) {
  float v = acc;
  if constexpr (Cfg::kScale == ScaleKind::kTensor) v *= args.scale_a[0] * args.scale_b[0];
  if constexpr (Cfg::kScale == ScaleKind::kRow) v *= args.scale_a[row] * args.scale_b[col];
  if constexpr (Cfg::kBias) v += load_out<Cfg::kOut>(args.bias, col);
  if constexpr (Cfg::kAccumulate) if (args.c) v += load_out<Cfg::kOut>(args.c, row * args.ldc + col);
  store_out<Cfg::kOut>(args.d, (args.d_row_offset + row) * args.ldd + col, v);
}

}  // namespace tpjit::kern
