// FP8 GEMM for sm_90a (variant "sm90_wgmma"): TMA loads into a kStages-deep mbarrier ring,
// one producer warpgroup (a single thread issues the copies), kBM/64 consumer warpgroups each
// computing 64 x kBN with wgmma m64nNk32 e4m3 (QGMMA in SASS), persistent tiles, and an optional
// 2-CTA cluster along M that multicasts the shared B tile (each CTA loads half of it).
// The epilogue (scales, bias, C, the stores, the overlap hooks' counts) is sm90_epilogue.cuh.
//
// The generated prelude defines `struct Config` and the kernel, which calls gemm<Config>:
//   extern "C" __global__ void __launch_bounds__(threads(Config), 1) NAME(
//       const __grid_constant__ tpjit::sm90::TmaDesc tma_a,
//       const __grid_constant__ tpjit::sm90::TmaDesc tma_b,
//       const __grid_constant__ tpjit::sm90::TmaDesc tma_a_local, tpjit::GemmArgs args)
//   { tpjit::sm90::gemm<Config>(tma_a, tma_b, tma_a_local, args); }
// Config members (all static constexpr):
//   int kN, kK             exact width and depth; K % 16 == 0 (TMA strides), N >= 1
//   int kBM                64 or 128 (one consumer warpgroup per 64 rows)
//   int kBN                16..256, multiple of 16 (of 32 with kClusterM == 2)
//   int kBK                128 (one 128-byte swizzle row; equals the block-scale width)
//   int kStages            2..8, within shared memory (see smem_bytes)
//   int kClusterM          1 or 2 (CTAs of a cluster take adjacent M tiles, same N tile)
//   int kSplitK            1..8: the most K slices per output tile (sm90_split_k.cuh); the
//                          launcher picks args.split_k in [1, kSplitK] for each launch
//   ScaleKind kScale; OutKind kOut; bool kBias, kAccumulate
// Launch: block = 128 * (1 + kBM / 64) threads; dynamic smem = smem_bytes<Config>() (raise
// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first); cluster (kClusterM, 1, 1);
// grid.x = kClusterM * min(ceil(ceil(m / kBM) / kClusterM) * ceil(kN / kBN) * args.split_k,
//                          cuOccupancyMaxActiveClusters(...))   (132 / kClusterM on an H100 SXM).
// Tensor maps (CU_TENSOR_MAP_DATA_TYPE_UINT8, rank 2, interleave none, SWIZZLE_128B,
// L2_PROMOTION_L2_256B, FLOAT_OOB_FILL_NONE = zeros, element strides {1, 1}):
//   A: dims {kK, m}, strides {lda bytes}, box {128, kBM}
//   B: dims {kK, kN}, strides {ldb bytes}, box {128, kBN / kClusterM}
//   A local: as A over the hook_shard_rows rows of args.local_shard's shard (the all-gather's
//            one launch reads this rank's rows from the caller's buffer); else A again
// Block scales cost registers: kBN <= 192 with kScale == kBlock (256 spills).
#pragma once

#include "gemm_args.cuh"
#include "gemm_epilogue.cuh"
#include "overlap_hooks.cuh"
#include "sm90_epilogue.cuh"
#include "sm90_ptx.cuh"
#include "sm90_split_k.cuh"
#include "sm90_wgmma_ops.cuh"
#include "tile_order.cuh"

namespace tpjit { namespace sm90 {

template <class Cfg>
constexpr int stage_bytes() { return (Cfg::kBM + Cfg::kBN) * Cfg::kBK; }
// 1 KiB slack to align the ring to the 128-byte swizzle atom, the ring, one epilogue staging
// buffer per consumer warpgroup, 2 mbarriers per stage, then 16 bytes for the split-K flag.
template <class Cfg>
constexpr int smem_bytes() {
  return 1024 + Cfg::kStages * stage_bytes<Cfg>() + Cfg::kBM / 64 * epi_bytes<Cfg>() + Cfg::kStages * 16 + 16;
}

// One consumer warp's release of a ring stage: with a cluster, lane i tells CTA i, whose
// producer multicasts into this CTA's copy of the stage.
template <class Cfg>
__device__ __forceinline__ void release_stage(unsigned empty_bar, int lane) {
  if constexpr (Cfg::kClusterM == 1) {
    if (lane == 0) mbar_arrive(empty_bar);
  } else {
    if (lane < Cfg::kClusterM) mbar_arrive_cluster(empty_bar, static_cast<unsigned>(lane));
  }
}


template <class Cfg>
__device__ __forceinline__ void gemm(const TmaDesc& tma_a, const TmaDesc& tma_b, const TmaDesc& tma_a_local,
                                     const GemmArgs& args) {
  constexpr int kBM = Cfg::kBM, kBN = Cfg::kBN, kBK = Cfg::kBK, kStages = Cfg::kStages;
  constexpr int kClusterM = Cfg::kClusterM;
  constexpr int kConsumers = kBM / 64;
  constexpr int kNumKBlocks = (Cfg::kK + kBK - 1) / kBK;
  constexpr int kNumNBlocks = (Cfg::kN + kBN - 1) / kBN;
  constexpr int kTileA = kBM * kBK;
  constexpr int kStage = stage_bytes<Cfg>();
  constexpr bool kBlock = Cfg::kScale == ScaleKind::kBlock;
  constexpr int kAcc = kBN / 2;
  static_assert(Cfg::kK > 0 && Cfg::kK % 16 == 0, "K must be a positive multiple of 16 (TMA row stride)");
  static_assert(kBM == 64 || kBM == 128, "kBM must be 64 or 128");
  static_assert(Cfg::kWarps == 4 * (1 + kConsumers), "kWarps: one producer + kBM/64 consumer warpgroups");
  static_assert(kBK == 128, "kBK must be 128: one 128-byte swizzle row, one block-scale block");
  static_assert(kBN >= 16 && kBN <= 256 && kBN % (16 * kClusterM) == 0, "kBN: 16..256, multiple of 16*cluster");
  static_assert(kClusterM == 1 || kClusterM == 2, "kClusterM must be 1 or 2");
  static_assert(Cfg::kSplitK >= 1 && Cfg::kSplitK <= 8, "kSplitK must be within [1, 8]");
  static_assert(kStages >= 2 && kStages <= 8, "kStages must be within [2, 8]");
  static_assert(smem_bytes<Cfg>() <= 227 * 1024, "tile ring exceeds 227 KiB of shared memory");

  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const unsigned ring = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const unsigned epi = ring + kStages * kStage;
  const unsigned bars = epi + kConsumers * epi_bytes<Cfg>();  // full[s] at bars + 8s, empty[s] after them
  const unsigned split_flag = bars + 16 * kStages;
  const int wg = threadIdx.x / 128;
  const int lane = threadIdx.x % 32;
  const unsigned rank = kClusterM > 1 ? cluster_cta_rank() : 0u;

  if (threadIdx.x == 0) {
    tma_prefetch_desc(&tma_a);
    tma_prefetch_desc(&tma_b);
    if (args.local_shard > 0) tma_prefetch_desc(&tma_a_local);
    for (int s = 0; s < kStages; ++s) {
      mbar_init(bars + 8 * s, 1);
      mbar_init(bars + 8 * (kStages + s), 4 * kConsumers * kClusterM);
    }
    fence_mbar_init();
  }
  if constexpr (kClusterM > 1) cluster_sync();
  else __syncthreads();

  const int num_mc = ((args.m + kBM - 1) / kBM + kClusterM - 1) / kClusterM;
  const int num_tiles = num_mc * kNumNBlocks;  // in clusters
  const int split = Cfg::kSplitK > 1 ? args.split_k : 1;
  const int num_units = num_tiles * split;     // unit u: cluster tile u % num_tiles, K slice u / num_tiles
  const int cluster_id = blockIdx.x / kClusterM;
  const int num_clusters = gridDim.x / kClusterM;
  // The tile order starts at M tile first_m_block (0 unless an overlap hook asks) and wraps;
  // hooked launches group rows by phase (tile_order.cuh).
  const int first_mc = args.first_m_block / kClusterM;
  const int group_mc = args.hook_group_mc > 0 ? args.hook_group_mc : 16 / kClusterM;
  // Unit u: this CTA's M tile and N tile, and the K blocks [kb0, kb1) of its slice.
  auto unit = [&](int u, int& m_block, int& nb, int& kb0, int& kb1) {
    int mc;
    tiles::tile_coords<Cfg>(u % num_tiles, num_mc, mc, nb, group_mc);
    mc = mc + first_mc < num_mc ? mc + first_mc : mc + first_mc - num_mc;
    kb0 = 0;
    kb1 = kNumKBlocks;
    if (split > 1) split_range(kNumKBlocks, u / num_tiles, split, kb0, kb1);
    m_block = mc * kClusterM + static_cast<int>(rank);
  };

  if (wg == 0) {
    // Producer warpgroup: gives its registers to the consumers; one thread issues every copy.
    if constexpr (kConsumers == 2) setmaxnreg_dec<40>();
    if (threadIdx.x == 0) {
      int s = 0;
      unsigned phase = 0;
      for (int u = cluster_id; u < num_units; u += num_clusters) {
        int m_block, nb, kb0, kb1;
        unit(u, m_block, nb, kb0, kb1);
        // This rank's own shard may come straight from the caller's buffer (local_shard),
        // ready by stream order; other rows wait for the copy that brings them.
        const TmaDesc* a_map = &tma_a;
        int a_row = m_block * kBM;
        if (args.local_shard > 0) {
          const int lo = (args.local_shard - 1) * args.hook_shard_rows;
          if (a_row >= lo && a_row < lo + args.hook_shard_rows) a_map = &tma_a_local, a_row -= lo;
        }
        if (args.a_ready && a_map == &tma_a && m_block * kBM < args.m) {
          hooks::wait_rows(args, args.a_ready, m_block * kBM, min(m_block * kBM + kBM, args.m));
          hooks::fence_async_global();
        }
        for (int kb = kb0; kb < kb1; ++kb) {
          mbar_wait(bars + 8 * (kStages + s), phase ^ 1u);
          const unsigned full = bars + 8 * s;
          const unsigned a_dst = ring + s * kStage;
          mbar_arrive_expect_tx(full, kStage);
          tma_load_2d(a_dst, a_map, full, kb * kBK, a_row);
          if constexpr (kClusterM == 1) {
            tma_load_2d(a_dst + kTileA, &tma_b, full, kb * kBK, nb * kBN);
          } else {
            constexpr int kHalf = kBN / 2;
            tma_load_2d_multicast(a_dst + kTileA + rank * kHalf * kBK, &tma_b, full, kb * kBK,
                                  nb * kBN + static_cast<int>(rank) * kHalf, static_cast<unsigned short>(3));
          }
          if (++s == kStages) { s = 0; phase ^= 1u; }
        }
      }
    } else if (args.tile_done && threadIdx.x / 32 >= 1 && threadIdx.x / 32 <= kConsumers) {
      // Signal warp of consumer warpgroup cw (the overlap hooks' reduce-scatter): for each
      // tile the warpgroup stores, wait for its arrival, make its stores visible to the copy
      // engines (a fence at system scope covers what the barrier ordered before it), then
      // count the slab. Off the consumers' path: their fence cost an o-layer launch 10-30%.
      const int cw = threadIdx.x / 32 - 1;
      for (int u = cluster_id; u < num_units; u += num_clusters) {
        int m_block, nb, kb0, kb1;
        unit(u, m_block, nb, kb0, kb1);
        const int r0 = m_block * kBM + cw * 64, r1 = min(r0 + 64, args.m);
        if (!signals(args, split, r0, r1)) continue;
        named_barrier(kStoredBarrier + cw, kSignalThreads);
        named_barrier_arrive(kTakenBarrier + cw, kSignalThreads);
        if (lane == 0) {
          __threadfence_system();
          hooks::count_slab(args, r0, r1);
        }
        __syncwarp();
      }
    }
  } else {
    if constexpr (kConsumers == 2) setmaxnreg_inc<232>();
    const int cw = wg - 1;
    const int warp = (threadIdx.x / 32) % 4;
    const int row_in_tile = cw * 64 + warp * 16 + lane / 4;
    float acc[kAcc];
    float fin[kBlock ? kAcc : 1];
    int s = 0;
    unsigned phase = 0;
    bool handed = false;  // a tile went to the signal warp, not yet known to be taken
    for (int u = cluster_id; u < num_units; u += num_clusters) {
      int m_block, nb, kb0, kb1;
      unit(u, m_block, nb, kb0, kb1);
      const int m0 = m_block * kBM;
      const int n0 = nb * kBN;
      const int row0 = m0 + row_in_tile;
      if (Cfg::kScale != ScaleKind::kTensor && args.a_ready && m0 + cw * 64 < args.m)  // its scales too
        hooks::wait_rows(args, args.a_ready, m0 + cw * 64, min(m0 + cw * 64 + 64, args.m));
      if constexpr (kBlock) {
#pragma unroll
        for (int i = 0; i < kAcc; ++i) fin[i] = 0.0f;
      }
      int prev = 0;
      unsigned c_seen = args.hook_epoch - 1u;  // the own rows' flag as prefetch_c saw it
      for (int kb = kb0; kb < kb1; ++kb) {
        // Block scales for this K block, loaded before the wait so their latency hides behind it.
        constexpr int kNumSbCols = (Cfg::kN + 127) / 128;
        constexpr int kSb = 128 % kBN == 0 ? 1 : (kBN % 128 == 0 ? kBN / 128 : (kBN + 126) / 128 + 1);
        float sa0 = 0.0f, sa1 = 0.0f, sbv[kSb];
        if constexpr (kBlock) {
          sa0 = row0 < args.m ? args.scale_a[static_cast<long long>(row0) * kNumKBlocks + kb] : 0.0f;
          sa1 = row0 + 8 < args.m ? args.scale_a[static_cast<long long>(row0 + 8) * kNumKBlocks + kb] : 0.0f;
#pragma unroll
          for (int c = 0; c < kSb; ++c) sbv[c] = args.scale_b[kb * kNumSbCols + min(n0 / 128 + c, kNumSbCols - 1)];
        }
        // C into L2 a few K blocks before the epilogue reads it (earlier, the K loop's own
        // traffic would push it out again).
        if constexpr (Cfg::kAccumulate)
          if (kb == max(kb0, kb1 - kPrefetchLead)) c_seen = prefetch_c<Cfg>(args, m0 + cw * 64, n0);
        mbar_wait(bars + 8 * s, phase);
        const unsigned a_tile = ring + s * kStage + cw * 64 * kBK;
        const unsigned long long da = make_smem_desc(a_tile);
        const unsigned long long db = make_smem_desc(ring + s * kStage + kTileA);
#pragma unroll
        for (int i = 0; i < kAcc; ++i) fence_operand(acc[i]);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kBK / 32; ++kk) {
          // +2 per step: 32 bytes along K, in the descriptor's 16-byte units.
          Wgmma<kBN>::mma(da + 2 * kk, db + 2 * kk, acc, kBlock ? kk : ((kb - kb0) | kk));
        }
        wgmma_commit();
#pragma unroll
        for (int i = 0; i < kAcc; ++i) fence_operand(acc[i]);
        if constexpr (kBlock) {
          // Two-level accumulation: this K block's wgmma sum, scaled, into fp32 registers.
          wgmma_wait<0>();
#pragma unroll
          for (int i = 0; i < kAcc; ++i) fence_operand(acc[i]);
          release_stage<Cfg>(bars + 8 * (kStages + s), lane);
#pragma unroll
          for (int j = 0; j < kBN / 8; ++j) {
            const int off = (n0 & 127) + 8 * j;
            float sb = sbv[0];
#pragma unroll
            for (int c = 1; c < kSb; ++c) sb = off >= 128 * c ? sbv[c] : sb;
            const float s0 = sa0 * sb, s1 = sa1 * sb;
            fin[4 * j + 0] += acc[4 * j + 0] * s0;
            fin[4 * j + 1] += acc[4 * j + 1] * s0;
            fin[4 * j + 2] += acc[4 * j + 2] * s1;
            fin[4 * j + 3] += acc[4 * j + 3] * s1;
          }
        } else {
          // Keep one wgmma group in flight; the stage before it is then free.
          if (kb > kb0) {
            wgmma_wait<1>();
            release_stage<Cfg>(bars + 8 * (kStages + prev), lane);
          }
          prev = s;
        }
        if (++s == kStages) { s = 0; phase ^= 1u; }
      }
      if constexpr (!kBlock) {
        wgmma_wait<0>();
#pragma unroll
        for (int i = 0; i < kAcc; ++i) fence_operand(acc[i]);
        release_stage<Cfg>(bars + 8 * (kStages + prev), lane);
        finish_tile<Cfg>(args, acc, epi, split_flag, m_block, nb, num_tiles * kClusterM, u / num_tiles, split,
                         c_seen, handed);
      } else {
        finish_tile<Cfg>(args, fin, epi, split_flag, m_block, nb, num_tiles * kClusterM, u / num_tiles, split,
                         c_seen, handed);
      }
    }
    if (handed) named_barrier(kTakenBarrier + cw, kSignalThreads);  // the signal warp's last arrival
  }
  if constexpr (kClusterM > 1) {
    // No CTA may leave while its peer can still arrive on its barriers or multicast into it.
    __syncwarp();
    cluster_sync();
  }
}

}}  // namespace tpjit::sm90
