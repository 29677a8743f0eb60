// Portable FP8 GEMM (variant "mma_sync", sm_89 and later): warp-level
// mma.sync.m16n8k32 e4m3 x e4m3 -> f32, operands staged through shared memory by a
// multi-stage cp.async pipeline and read with ldmatrix.
//
// The generated prelude defines a config struct and calls tpjit::mma_sync::gemm<Cfg>(args):
//   kN, kK                       exact GEMM width and depth (K % 16 == 0, N % 8 == 0)
//   kBM, kBN, kBK, kStages       CTA tile and pipeline depth (kBK % 32 == 0, kBK divides 128)
//   kWarps = kWarpsM * kWarpsN   warp grid; the CTA has kWarps * 32 threads
//   kScale (ScaleKind), kOut (OutKind), kBias, kAccumulate
// Grid: x = ceil(kN / kBN), y = ceil(m / kBM); dynamic shared memory = smem_bytes<Cfg>().
#pragma once

#include "gemm_args.cuh"
#include "gemm_epilogue.cuh"

namespace tpjit::mma_sync {

using kern::i64;
using kern::u32;
using kern::u8;

// Rows padded by 16 bytes: with a row stride of 16 mod 128 bytes, the 8 rows one ldmatrix
// phase reads land in 8 distinct 16-byte bank groups, so the reads are conflict-free.
constexpr int kRowPad = 16;

template <class Cfg>
constexpr int smem_bytes() {
  return Cfg::kStages * (Cfg::kBM + Cfg::kBN) * (Cfg::kBK + kRowPad);
}

__device__ __forceinline__ u32 smem_addr(const void* p) {
  u32 a;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
  return a;
}

// Copies 16 bytes, or writes 16 zero bytes when !valid (src is then not read), so tiles past
// the edges of M, N and K contribute exact zeros to the products.
__device__ __forceinline__ void cp_async16(u32 dst, const void* src, bool valid) {
  const int bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(u32 (&r)[4], u32 addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

// d += A(16x32, row) * B(32x8, col); fragments as in the PTX ISA "m16n8k32" figures.
__device__ __forceinline__ void mma_e4m3(float (&d)[4], const u32 (&a)[4], const u32 (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <class Cfg>
__device__ __forceinline__ void gemm(const GemmArgs& args) {
  constexpr int kThreads = Cfg::kWarpsM * Cfg::kWarpsN * 32;
  constexpr int kWarpM = Cfg::kBM / Cfg::kWarpsM;  // rows per warp
  constexpr int kWarpN = Cfg::kBN / Cfg::kWarpsN;  // columns per warp
  constexpr int kMI = kWarpM / 16;                 // m16 fragments per warp
  constexpr int kNI = kWarpN / 8;                  // n8 fragments per warp
  constexpr int kStride = Cfg::kBK + kRowPad;      // bytes between shared-memory rows
  constexpr int kStageBytes = (Cfg::kBM + Cfg::kBN) * kStride;
  constexpr int kChunksPerRow = Cfg::kBK / 16;
  constexpr int kKTiles = (Cfg::kK + Cfg::kBK - 1) / Cfg::kBK;
  constexpr int kKBlocks = (Cfg::kK + 127) / 128;  // block-scale blocks along K
  constexpr int kNBlocks = (Cfg::kN + 127) / 128;  // block-scale blocks along N
  constexpr int kTilesPerKBlock = 128 / Cfg::kBK;
  constexpr bool kBlockScale = Cfg::kScale == ScaleKind::kBlock;
  static_assert(Cfg::kK > 0 && Cfg::kK % 16 == 0, "K must be a positive multiple of 16");
  static_assert(Cfg::kN > 0 && Cfg::kN % 8 == 0, "N must be a positive multiple of 8");
  static_assert(Cfg::kBK % 32 == 0 && 128 % Cfg::kBK == 0, "BK: a multiple of 32 dividing 128");
  static_assert(kWarpM * Cfg::kWarpsM == Cfg::kBM && kWarpM % 16 == 0, "BM / warps_m % 16");
  static_assert(kWarpN * Cfg::kWarpsN == Cfg::kBN && kWarpN % 16 == 0, "BN / warps_n % 16");
  static_assert(Cfg::kStages >= 2, "at least two pipeline stages");
  static_assert(Cfg::kWarps == Cfg::kWarpsM * Cfg::kWarpsN, "warp grid must cover kWarps");

  extern __shared__ __align__(128) u8 smem[];
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int warp_row = (warp / Cfg::kWarpsN) * kWarpM;
  const int warp_col = (warp % Cfg::kWarpsN) * kWarpN;
  const int block_row = blockIdx.y * Cfg::kBM;
  const int block_col = blockIdx.x * Cfg::kBN;
  const u8* a = static_cast<const u8*>(args.a);
  const u8* b = static_cast<const u8*>(args.b);
  const u32 smem_base = smem_addr(smem);

  // Each thread copies the same chunk slots of every tile; the loops unroll fully.
  constexpr int kChunksA = Cfg::kBM * kChunksPerRow, kChunksB = Cfg::kBN * kChunksPerRow;
  auto load_tile = [&](int stage, int kt) {
    const u32 sa = smem_base + stage * kStageBytes;
    const u32 sb = sa + Cfg::kBM * kStride;
    const int k0 = kt * Cfg::kBK;
#pragma unroll
    for (int it = 0; it < (kChunksA + kThreads - 1) / kThreads; ++it) {
      const int i = tid + it * kThreads;
      if (kChunksA % kThreads != 0 && i >= kChunksA) break;
      const int r = i / kChunksPerRow, ch = i % kChunksPerRow;
      const int row = block_row + r, k = k0 + ch * 16;
      const bool valid = row < args.m && k < Cfg::kK;
      cp_async16(sa + r * kStride + ch * 16, valid ? a + row * args.lda + k : a, valid);
    }
#pragma unroll
    for (int it = 0; it < (kChunksB + kThreads - 1) / kThreads; ++it) {
      const int i = tid + it * kThreads;
      if (kChunksB % kThreads != 0 && i >= kChunksB) break;
      const int r = i / kChunksPerRow, ch = i % kChunksPerRow;
      const int col = block_col + r, k = k0 + ch * 16;
      const bool valid = col < Cfg::kN && k < Cfg::kK;
      cp_async16(sb + r * kStride + ch * 16, valid ? b + col * args.ldb + k : b, valid);
    }
  };

  float acc[kMI][kNI][4];
  float part[kMI][kNI][4];  // block mode: the sum over the current 128-wide K block
  for (int mi = 0; mi < kMI; ++mi)
    for (int ni = 0; ni < kNI; ++ni)
      for (int e = 0; e < 4; ++e) acc[mi][ni][e] = part[mi][ni][e] = 0.0f;

  auto compute_tile = [&](int stage) {
    const u32 sa = smem_base + stage * kStageBytes;
    const u32 sb = sa + Cfg::kBM * kStride;
#pragma unroll
    for (int kk = 0; kk < Cfg::kBK; kk += 32) {
      // ldmatrix.x4: lanes 8q..8q+7 address the rows of 8x16-byte matrix q.
      // A: q bit 0 -> rows +8, bit 1 -> k +16 (fragment regs a0..a3 in PTX order).
      // B: q bit 0 -> k +16, bit 1 -> n +8 (b0,b1 of one n8 fragment, then the next).
      u32 af[kMI][4];
      u32 bf[kNI][2];
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi) {
        const int r = warp_row + mi * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
        ldmatrix_x4(af[mi], sa + r * kStride + kk + (lane >> 4) * 16);
      }
#pragma unroll
      for (int nj = 0; nj < kNI / 2; ++nj) {
        const int r = warp_col + nj * 16 + (lane & 7) + (lane >> 4) * 8;
        u32 t[4];
        ldmatrix_x4(t, sb + r * kStride + kk + ((lane >> 3) & 1) * 16);
        bf[2 * nj][0] = t[0];
        bf[2 * nj][1] = t[1];
        bf[2 * nj + 1][0] = t[2];
        bf[2 * nj + 1][1] = t[3];
      }
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni) {
          if constexpr (kBlockScale) mma_e4m3(part[mi][ni], af[mi], bf[ni]);
          else mma_e4m3(acc[mi][ni], af[mi], bf[ni]);
        }
    }
  };

  // Folds the finished K block `kb` into acc with its scales: sa[row, kb] * sb[kb, col / 128].
  auto fold_block = [&](int kb) {
    const int group = lane >> 2, pair = (lane & 3) * 2;
#pragma unroll
    for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int row = block_row + warp_row + mi * 16 + group + h * 8;
        const float s_row = row < args.m ? args.scale_a[i64(row) * kKBlocks + kb] : 0.0f;
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni) {
          const int col = block_col + warp_col + ni * 8 + pair;  // col, col+1: same N block
          const float s = col < Cfg::kN ? s_row * args.scale_b[kb * kNBlocks + col / 128] : 0.0f;
          acc[mi][ni][2 * h] += part[mi][ni][2 * h] * s;
          acc[mi][ni][2 * h + 1] += part[mi][ni][2 * h + 1] * s;
          part[mi][ni][2 * h] = part[mi][ni][2 * h + 1] = 0.0f;
        }
      }
  };

  // Pipeline: tile kt lives in stage kt % kStages; kStages - 1 tiles are in flight while one
  // is computed. Every iteration commits a group (maybe empty) so wait_group counts line up.
#pragma unroll
  for (int s = 0; s < Cfg::kStages - 1; ++s) {
    if (s < kKTiles) load_tile(s, s);
    cp_async_commit();
  }
  for (int kt = 0; kt < kKTiles; ++kt) {
    cp_async_wait<Cfg::kStages - 2>();
    // Tile kt has landed for every thread, and every warp is done with tile kt - 1, whose
    // stage the prefetch below overwrites.
    __syncthreads();
    const int next = kt + Cfg::kStages - 1;
    if (next < kKTiles) load_tile(next % Cfg::kStages, next);
    cp_async_commit();
    compute_tile(kt % Cfg::kStages);
    if constexpr (kBlockScale) {
      if ((kt + 1) % kTilesPerKBlock == 0 || kt == kKTiles - 1) fold_block(kt / kTilesPerKBlock);
    }
  }
  cp_async_wait<0>();

  const int group = lane >> 2, pair = (lane & 3) * 2;
#pragma unroll
  for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int row = block_row + warp_row + mi * 16 + group + h * 8;
      if (row >= args.m) continue;
#pragma unroll
      for (int ni = 0; ni < kNI; ++ni) {
        const int col = block_col + warp_col + ni * 8 + pair;
        if (col >= Cfg::kN) continue;  // N % 8 == 0, so col + 1 < kN too
        kern::finish_element<Cfg>(args, row, col, acc[mi][ni][2 * h]);
        kern::finish_element<Cfg>(args, row, col + 1, acc[mi][ni][2 * h + 1]);
      }
    }
}

}  // namespace tpjit::mma_sync
