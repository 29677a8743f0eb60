// FP8 GEMM for decode on sm_90a (variant "sm90_decode"): a few tokens against a large weight
// matrix, where the time is streaming the weights once. The product is computed transposed
// ("swap AB"): a 64-row tile of weights is wgmma's A operand (M = 64) and the tokens are its
// B operand (N = kBM, 16 or 32), so no MMA row is wasted on padding and every CTA streams
// its own 64 weight rows over the whole of K. One producer warpgroup (a single thread issues
// the TMA copies) fills a deep mbarrier ring; one consumer warpgroup runs wgmma m64nKBMk32
// e4m3 and the epilogue, which transposes through shared memory so that each token's row
// goes out as whole-vector stores. Persistent over (token tile, weight tile) units; no
// cluster, no split K, no overlap hooks (fused regions launch it per sub-chunk).
//
// The generated prelude defines `struct Config` and the kernel:
//   extern "C" __global__ void __launch_bounds__(256, 1) NAME(
//       const __grid_constant__ tpjit::sm90::TmaDesc tma_a,
//       const __grid_constant__ tpjit::sm90::TmaDesc tma_b, tpjit::GemmArgs args)
//   { tpjit::sm90::decode_gemm<Config>(tma_a, tma_b, args); }
// Config members (static constexpr): kN, kK (K % 16 == 0); kBM, tokens per tile, 16 or 32;
// kBN = 64 weight rows per tile; kBK = 128; kStages 2..20; kWarps = 8; kScale, kOut, kBias,
// kAccumulate as for sm90_wgmma (gemm_args.cuh has their meaning).
// Tensor maps as gemm_fp8_sm90.cuh's: A (tokens) [m, K] with box {128, kBM}; B (weights)
// [N, K] with box {128, kBN}. Launch: 256 threads, dynamic smem decode_smem_bytes<Config>(),
// grid.x = min(ceil(m / kBM) * ceil(kN / kBN), CTAs resident at once).
#pragma once

#include "gemm_args.cuh"
#include "gemm_epilogue.cuh"
#include "sm90_ptx.cuh"
#include "sm90_wgmma_ops.cuh"

namespace tpjit { namespace sm90 {

template <class Cfg>
constexpr int decode_stage_bytes() { return (Cfg::kBN + Cfg::kBM) * Cfg::kBK; }
// The epilogue's staging: the tile transposed, kBM token rows of kBN fp32 plus 4 of padding
// (a float4-aligned pitch whose fragment writes hit 32 different banks).
template <class Cfg>
constexpr int decode_epi_pitch() { return Cfg::kBN + 4; }
template <class Cfg>
constexpr int decode_smem_bytes() {
  return 1024 + Cfg::kStages * decode_stage_bytes<Cfg>() + Cfg::kBM * decode_epi_pitch<Cfg>() * 4 +
         Cfg::kStages * 16;
}

// Scale, bias, C and the store for 4 adjacent weights (columns col..col+3 of D) of one token
// (row); `o` holds the sums, block scales already applied.
template <class Cfg>
__device__ __forceinline__ void decode_store4(const GemmArgs& args, int row, int col, float (&o)[4], bool vec) {
  constexpr OutKind kOut = Cfg::kOut;
  const bool full = col + 4 <= Cfg::kN;
  if constexpr (Cfg::kScale == ScaleKind::kTensor) {
    const float s = args.scale_a[0] * args.scale_b[0];
#pragma unroll
    for (int e = 0; e < 4; ++e) o[e] *= s;
  }
  if constexpr (Cfg::kScale == ScaleKind::kRow) {
    const float rs = args.scale_a[row];
#pragma unroll
    for (int e = 0; e < 4; ++e) o[e] *= rs * (col + e < Cfg::kN ? args.scale_b[col + e] : 0.0f);
  }
  if constexpr (Cfg::kBias) {
#pragma unroll
    for (int e = 0; e < 4; ++e) o[e] += col + e < Cfg::kN ? kern::load_out<kOut>(args.bias, col + e) : 0.0f;
  }
  if constexpr (Cfg::kAccumulate) {
    if (args.c) {
      const long long ci = static_cast<long long>(row) * args.ldc + col;
      float cv[4];
      if (full && vec && args.ldc % 4 == 0) kern::load_vec<kOut, 4>(args.c, ci, cv);
      else {
#pragma unroll
        for (int e = 0; e < 4; ++e) cv[e] = col + e < Cfg::kN ? kern::load_out<kOut>(args.c, ci + e) : 0.0f;
      }
#pragma unroll
      for (int e = 0; e < 4; ++e) o[e] += cv[e];
    }
  }
  const long long di = (args.d_row_offset + row) * args.ldd + col;
  if (full && vec) kern::store_vec<kOut, 4>(args.d, di, o);
  else {
#pragma unroll
    for (int e = 0; e < 4; ++e)
      if (col + e < Cfg::kN) kern::store_out<kOut>(args.d, di + e, o[e]);
  }
}

template <class Cfg>
__device__ __forceinline__ void decode_gemm(const TmaDesc& tma_a, const TmaDesc& tma_b, const GemmArgs& args) {
  constexpr int kBM = Cfg::kBM, kBN = Cfg::kBN, kBK = Cfg::kBK, kStages = Cfg::kStages;
  constexpr int kNumKBlocks = (Cfg::kK + kBK - 1) / kBK;
  constexpr int kNumNBlocks = (Cfg::kN + kBN - 1) / kBN;
  constexpr int kStage = decode_stage_bytes<Cfg>();
  constexpr int kTileW = kBN * kBK;  // the weights' part of a stage, first
  constexpr bool kBlock = Cfg::kScale == ScaleKind::kBlock;
  constexpr int kAcc = kBM / 2;      // m64nKBM: kBM / 2 fp32 per thread
  constexpr int kPitch = decode_epi_pitch<Cfg>();
  static_assert(Cfg::kK > 0 && Cfg::kK % 16 == 0, "K must be a positive multiple of 16 (TMA row stride)");
  static_assert(kBM == 16 || kBM == 32, "kBM (tokens per tile, wgmma N) must be 16 or 32");
  static_assert(kBN == 64, "kBN (weights per tile, wgmma M) must be 64: one consumer warpgroup");
  static_assert(kBK == 128, "kBK must be 128: one 128-byte swizzle row, one block-scale block");
  static_assert(Cfg::kWarps == 8, "kWarps must be 8: one producer and one consumer warpgroup");
  static_assert(kStages >= 2 && kStages <= 20, "kStages must be within [2, 20]");
  static_assert(kStage % 1024 == 0, "stages must keep the 1024-byte swizzle alignment");
  static_assert(decode_smem_bytes<Cfg>() <= 227 * 1024, "the ring exceeds 227 KiB of shared memory");

  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const unsigned ring = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const unsigned epi = ring + kStages * kStage;
  const unsigned bars = epi + kBM * kPitch * 4;  // full[s] at bars + 8s, empty[s] after them
  const int lane = threadIdx.x % 32;

  if (threadIdx.x == 0) {
    tma_prefetch_desc(&tma_a);
    tma_prefetch_desc(&tma_b);
    for (int s = 0; s < kStages; ++s) {
      mbar_init(bars + 8 * s, 1);
      mbar_init(bars + 8 * (kStages + s), 4);  // lane 0 of each consumer warp
    }
    fence_mbar_init();
  }
  __syncthreads();

  // Unit u: token tile u / kNumNBlocks, weight tile u % kNumNBlocks (CTAs side by side share
  // the token tile, which stays in L2; each weight byte is read once per token tile).
  const int num_units = (args.m + kBM - 1) / kBM * kNumNBlocks;

  if (threadIdx.x < 128) {
    if (threadIdx.x == 0) {
      int s = 0;
      unsigned phase = 0;
      for (int u = blockIdx.x; u < num_units; u += gridDim.x) {
        const int mt = u / kNumNBlocks, nt = u % kNumNBlocks;
        for (int kb = 0; kb < kNumKBlocks; ++kb) {
          mbar_wait(bars + 8 * (kStages + s), phase ^ 1u);
          const unsigned full = bars + 8 * s, dst = ring + s * kStage;
          mbar_arrive_expect_tx(full, kStage);
          tma_load_2d(dst, &tma_b, full, kb * kBK, nt * kBN);
          tma_load_2d(dst + kTileW, &tma_a, full, kb * kBK, mt * kBM);
          if (++s == kStages) { s = 0; phase ^= 1u; }
        }
      }
    }
    return;
  }

  // Consumer warpgroup. Fragment v[4j + 2h + e]: weight row warp*16 + lane/4 + 8h of the
  // tile, token column 8j + 2*(lane%4) + e.
  const int tid = threadIdx.x - 128, warp = tid / 32;
  float acc[kAcc];
  float fin[kBlock ? kAcc : 1];
  int s = 0;
  unsigned phase = 0;
  for (int u = blockIdx.x; u < num_units; u += gridDim.x) {
    const int m0 = u / kNumNBlocks * kBM, n0 = u % kNumNBlocks * kBN;
    if constexpr (kBlock) {
#pragma unroll
      for (int i = 0; i < kAcc; ++i) fin[i] = 0.0f;
    }
    int prev = 0;
    for (int kb = 0; kb < kNumKBlocks; ++kb) {
      // Block scales of this K block, loaded before the wait: the weights' one value for the
      // tile (64 rows inside one 128-row block) and each of this thread's tokens'.
      float sa[kAcc / 2], sb = 0.0f;
      if constexpr (kBlock) {
        constexpr int kNumSbCols = (Cfg::kN + 127) / 128;
        sb = args.scale_b[kb * kNumSbCols + n0 / 128];
#pragma unroll
        for (int j = 0; j < kBM / 8; ++j)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int t = m0 + 8 * j + 2 * (lane % 4) + e;
            sa[2 * j + e] = t < args.m ? args.scale_a[static_cast<long long>(t) * kNumKBlocks + kb] : 0.0f;
          }
      }
      mbar_wait(bars + 8 * s, phase);
      const unsigned long long dw = make_smem_desc(ring + s * kStage);
      const unsigned long long dt = make_smem_desc(ring + s * kStage + kTileW);
#pragma unroll
      for (int i = 0; i < kAcc; ++i) fence_operand(acc[i]);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kBK / 32; ++kk) Wgmma<kBM>::mma(dw + 2 * kk, dt + 2 * kk, acc, kBlock ? kk : (kb | kk));
      wgmma_commit();
#pragma unroll
      for (int i = 0; i < kAcc; ++i) fence_operand(acc[i]);
      if constexpr (kBlock) {
        wgmma_wait<0>();
#pragma unroll
        for (int i = 0; i < kAcc; ++i) fence_operand(acc[i]);
        if (lane == 0) mbar_arrive(bars + 8 * (kStages + s));
#pragma unroll
        for (int j = 0; j < kBM / 8; ++j)
#pragma unroll
          for (int h = 0; h < 2; ++h)
#pragma unroll
            for (int e = 0; e < 2; ++e) fin[4 * j + 2 * h + e] += acc[4 * j + 2 * h + e] * sa[2 * j + e] * sb;
      } else {
        // One wgmma group in flight; the stage before it is then free.
        if (kb > 0) {
          wgmma_wait<1>();
          if (lane == 0) mbar_arrive(bars + 8 * (kStages + prev));
        }
        prev = s;
      }
      if (++s == kStages) { s = 0; phase ^= 1u; }
    }
    if constexpr (!kBlock) {
      wgmma_wait<0>();
#pragma unroll
      for (int i = 0; i < kAcc; ++i) fence_operand(acc[i]);
      if (lane == 0) mbar_arrive(bars + 8 * (kStages + prev));
    }
    const float* v = kBlock ? fin : acc;
    // Transpose through shared memory: stage[token][weight].
    const int w_row = warp * 16 + lane / 4;
#pragma unroll
    for (int j = 0; j < kBM / 8; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int t = 8 * j + 2 * (lane % 4) + e;
          asm volatile("st.shared.f32 [%0], %1;" ::"r"(epi + (t * kPitch + w_row + 8 * h) * 4), "f"(v[4 * j + 2 * h + e])
                       : "memory");
        }
    named_barrier(1, 128);
    // Each thread: 4 adjacent weights of one token per step; a warp covers two tokens' rows.
    constexpr OutKind kOut = Cfg::kOut;
    constexpr int kOB = kOut == OutKind::kF32 ? 4 : 2;
    const bool vec = args.ldd % 4 == 0 && (reinterpret_cast<unsigned long long>(args.d) & (4 * kOB - 1)) == 0 &&
                     (!Cfg::kAccumulate || !args.c || (reinterpret_cast<unsigned long long>(args.c) & (4 * kOB - 1)) == 0);
#pragma unroll
    for (int i = 0; i < kBM * kBN / 4 / 128; ++i) {
      const int idx = tid + 128 * i, t = idx / (kBN / 4), c4 = idx % (kBN / 4);
      const int row = m0 + t, col = n0 + 4 * c4;
      if (row >= args.m || col >= Cfg::kN) continue;
      const float4 x = ld_shared_v4(epi + (t * kPitch + 4 * c4) * 4);
      float o[4] = {x.x, x.y, x.z, x.w};
      decode_store4<Cfg>(args, row, col, o, vec);
    }
    named_barrier(1, 128);  // the staging is free for the next unit
  }
}

}}  // namespace tpjit::sm90
