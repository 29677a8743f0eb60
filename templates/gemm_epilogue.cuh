// Epilogue pieces shared by the GEMM variants: conversions to and from the output dtype, whole
// vector accesses of outputs, and the per-element tail (scale, bias, accumulate, store).
// Device-only; NVRTC builtins only.
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

// Two floats into one 32-bit word of two 16-bit outputs (low half first), rounded as above.
__device__ __forceinline__ u32 pack_bf16x2(float lo, float hi) {
  u32 r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}
__device__ __forceinline__ u32 pack_f16x2(float lo, float hi) {
  u32 r;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

template <OutKind kOut>
constexpr int out_bytes() { return kOut == OutKind::kF32 ? 4 : 2; }

// kV adjacent outputs as one 8- or 16-byte access (the caller checked alignment), kept packed
// until unpack: a load can be issued early and its value waited for only where it is used.
template <int kWords> struct Words;
template <> struct Words<2> { using T = uint2; };
template <> struct Words<4> { using T = uint4; };
template <OutKind kOut, int kV>
using Packed = typename Words<kV * out_bytes<kOut>() / 4>::T;

template <OutKind kOut, int kV>
__device__ __forceinline__ Packed<kOut, kV> load_packed(const void* base, i64 idx) {
  return *reinterpret_cast<const Packed<kOut, kV>*>(static_cast<const char*>(base) + idx * out_bytes<kOut>());
}
template <OutKind kOut, int kV>
__device__ __forceinline__ void unpack(const Packed<kOut, kV>& p, float* o) {
  const u32* w = reinterpret_cast<const u32*>(&p);
  if constexpr (kOut == OutKind::kF32) {
#pragma unroll
    for (int i = 0; i < kV; ++i) o[i] = __uint_as_float(w[i]);
  } else {
#pragma unroll
    for (int i = 0; i < kV / 2; ++i) {
      const u16 lo = static_cast<u16>(w[i] & 0xFFFF), hi = static_cast<u16>(w[i] >> 16);
      o[2 * i] = kOut == OutKind::kBF16 ? bf16_to_f32(lo) : f16_to_f32(lo);
      o[2 * i + 1] = kOut == OutKind::kBF16 ? bf16_to_f32(hi) : f16_to_f32(hi);
    }
  }
}
template <OutKind kOut, int kV>
__device__ __forceinline__ void load_vec(const void* base, i64 idx, float* o) {
  unpack<kOut, kV>(load_packed<kOut, kV>(base, idx), o);
}
template <OutKind kOut, int kV>
__device__ __forceinline__ void store_vec(void* base, i64 idx, const float* o) {
  Packed<kOut, kV> p;
  u32* w = reinterpret_cast<u32*>(&p);
  if constexpr (kOut == OutKind::kF32) {
#pragma unroll
    for (int i = 0; i < kV; ++i) w[i] = __float_as_uint(o[i]);
  } else {
#pragma unroll
    for (int i = 0; i < kV / 2; ++i)
      w[i] = kOut == OutKind::kBF16 ? pack_bf16x2(o[2 * i], o[2 * i + 1]) : pack_f16x2(o[2 * i], o[2 * i + 1]);
  }
  *reinterpret_cast<Packed<kOut, kV>*>(static_cast<char*>(base) + idx * out_bytes<kOut>()) = p;
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
