// FP8 GEMM for sm_100a (variant "sm100_tcgen05"): TMA loads into a kStages-deep mbarrier ring,
// tcgen05.mma kind::f8f6f4 (M = 128, N = kBN, K = 32 per instruction) accumulating in Tensor
// Memory, two TMEM accumulators so the epilogue of one unit overlaps the MMAs of the next,
// persistent tiles, optional 2-CTA cluster along M multicasting the shared B tile.
//
// STATUS: compiled with NVRTC 13.0 (--gpu-architecture=sm_100a -std=c++17 -default-device) for
// every scale mode x out dtype, with bias, accumulate and a 2-CTA cluster; its PTX holds
// tcgen05.alloc/relinquish_alloc_permit/dealloc, tcgen05.mma.cta_group::1.kind::f8f6f4,
// tcgen05.commit (plain and multicast), tcgen05.ld.32x32b + wait::ld and tcgen05.fence; ptxas
// 13.0 assembles it without spills, and the SASS (cuobjdump 12.8) shows 4 UTCQMMA per K block
// with idesc 0x08400010 for 128x256, LDTM, UTCBAR(.MULTICAST), UTMALDG(.MULTICAST) and the
// TMEM allocator ops (UTCATOMSWS). NOT VERIFIED: that it runs, is
// correct or is fast: no Blackwell GPU was available. Unverified assumptions, most likely first:
// the descriptor encodings (sm100_ptx.cuh documents each field and its source), the K step of
// +32 bytes on the start address inside a 128-byte swizzle row, the TMEM layout of D for M = 128
// (row i = lane i), LBO = 1 being ignored for swizzled K-major operands, and the end-of-kernel
// drain of multicast commits with a 2-CTA cluster.
//
// Roles (kWarps = 6 or 10): warp 0 lane 0 issues TMA; warp 1 allocates TMEM and its lane 0
// issues tcgen05.mma/commit; the other 4 or 8 warps (one or two epilogue groups) read TMEM and
// run the epilogue: thread = one accumulator row (its warp's TMEM lane quarter), each group a
// kBN / groups slice of the columns. Work units: a tile (tensor/row scales) or a tile's K block
// (block scales: each 128-wide K block gets its own TMEM sum, which the epilogue scales by
// scale_a[row, kb] * scale_b[kb, col/128] and adds into fp32 registers).
//
// The generated prelude defines `struct Config` and the kernel, which calls gemm<Config>:
//   extern "C" __global__ void __launch_bounds__(32 * kWarps, 1) NAME(
//       const __grid_constant__ tpjit::sm100::TmaDesc tma_a,
//       const __grid_constant__ tpjit::sm100::TmaDesc tma_b, tpjit::GemmArgs args)
//   { tpjit::sm100::gemm<Config>(tma_a, tma_b, args); }
// Config members (all static constexpr), as for sm90_wgmma:
//   int kN, kK             exact width and depth; K % 16 == 0 (TMA strides), N >= 1
//   int kBM                128 (the tcgen05 M; one TMEM lane per row)
//   int kBN                16..256, multiple of 16 (of 32 with kClusterM == 2 or kWarps == 10);
//                          with kScale == kBlock at most 64 columns per epilogue thread:
//                          kBN <= 64 (kWarps 6) or <= 128 (kWarps 10): the fp32 running sum
//                          lives in registers and 128 per thread spills
//   int kBK                128 (one 128-byte swizzle row; equals the block-scale width)
//   int kStages            2..8, within shared memory (see smem_bytes)
//   int kWarps             6 or 10 (2 + 4 per epilogue group; 10 drains TMEM twice as fast)
//   int kClusterM          1 or 2 (CTAs of a cluster take adjacent M tiles, same N tile)
//   ScaleKind kScale; OutKind kOut; bool kBias, kAccumulate
// Launch: block = 32 * kWarps threads; dynamic smem = smem_bytes<Config>() (raise
// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first); cluster (kClusterM, 1, 1);
// grid.x = kClusterM * min(ceil(ceil(m / 128) / kClusterM) * ceil(kN / kBN),
//                          cuOccupancyMaxActiveClusters(...))   (148 / kClusterM on a B200).
// TMEM: tmem_cols<Config>() columns per CTA (a power of two <= 512). Meant to run one CTA per
// SM (smem_bytes > 114 KiB guarantees it); where two fit and 2 * tmem_cols > 512, the second
// CTA's tcgen05.alloc waits until the first exits, so size the grid with the occupancy API.
// Tensor maps exactly as for sm90_wgmma (CU_TENSOR_MAP_DATA_TYPE_UINT8, rank 2, interleave
// none, SWIZZLE_128B, L2_PROMOTION_L2_256B, FLOAT_OOB_FILL_NONE = zeros, element strides {1,1}):
//   A: dims {kK, m}, strides {lda bytes}, box {128, 128}
//   B: dims {kK, kN}, strides {ldb bytes}, box {128, kBN / kClusterM}
#pragma once

#include "gemm_args.cuh"
#include "gemm_epilogue.cuh"
#include "sm100_epilogue.cuh"
#include "sm100_ptx.cuh"
#include "sm90_ptx.cuh"
#include "tile_order.cuh"

namespace tpjit { namespace sm100 {

using sm90::mbar_arrive;
using sm90::mbar_arrive_expect_tx;
using sm90::mbar_init;
using sm90::mbar_wait;
using sm90::smem_addr;

// Block scales keep a running fp32 sum per output in registers: columns per epilogue thread.
constexpr int kMaxBlockCols = 64;  // 128 spills (ptxas 13.0: 255 registers + stack)

template <class Cfg>
constexpr int stage_bytes() { return (Cfg::kBM + Cfg::kBN) * Cfg::kBK; }
// 1 KiB slack to align the ring to the swizzle atom, the ring, then the mbarriers (full and
// empty per stage, full and empty per TMEM accumulator) and the TMEM address slot.
template <class Cfg>
constexpr int smem_bytes() { return 1024 + Cfg::kStages * stage_bytes<Cfg>() + 8 * (2 * Cfg::kStages + 4) + 16; }
// Two accumulators of kBN fp32 columns, rounded up to an allocatable power of two.
template <class Cfg>
constexpr unsigned tmem_cols() {
  unsigned c = 32;
  while (c < 2u * Cfg::kBN) c *= 2;
  return c;
}
// Epilogue warpgroups: each covers all 128 rows (one TMEM lane quarter per warp) and its own
// kBN / kEpiGroups columns.
template <class Cfg>
constexpr int epi_groups() { return (Cfg::kWarps - 2) / 4; }
template <class Cfg>
constexpr int group_cols() { return Cfg::kBN / epi_groups<Cfg>(); }
// Columns read from TMEM at a time: 32 where they divide a group's columns, else 16.
template <class Cfg>
constexpr int chunk_cols() { return group_cols<Cfg>() % 32 == 0 ? 32 : 16; }

// Producer: one thread streams the A and B tiles of every (tile, K block) into the ring, then
// waits until every stage has been released once more, so that no commit (from either CTA of
// a cluster) can still arrive on this CTA's barriers after it exits.
template <class Cfg>
__device__ __forceinline__ void produce(const TmaDesc& tma_a, const TmaDesc& tma_b, unsigned ring, unsigned full0,
                                       unsigned empty0, int num_mc, int num_tiles, int first, int step, unsigned rank) {
  constexpr int kBK = Cfg::kBK, kStages = Cfg::kStages, kStage = stage_bytes<Cfg>();
  constexpr int kNumKBlocks = (Cfg::kK + kBK - 1) / kBK;
  int s = 0;
  unsigned phase = 0;
  for (int t = first; t < num_tiles; t += step) {
    int mc, nb;
    tiles::tile_coords<Cfg>(t, num_mc, mc, nb);
    const int m_block = mc * Cfg::kClusterM + static_cast<int>(rank);
    for (int kb = 0; kb < kNumKBlocks; ++kb) {
      mbar_wait(empty0 + 8 * s, phase ^ 1u);
      const unsigned full = full0 + 8 * s, a_dst = ring + s * kStage, b_dst = a_dst + Cfg::kBM * kBK;
      mbar_arrive_expect_tx(full, kStage);
      sm90::tma_load_2d(a_dst, &tma_a, full, kb * kBK, m_block * Cfg::kBM);
      if constexpr (Cfg::kClusterM == 1) {
        sm90::tma_load_2d(b_dst, &tma_b, full, kb * kBK, nb * Cfg::kBN);
      } else {
        constexpr int kHalf = Cfg::kBN / 2;
        sm90::tma_load_2d_multicast(b_dst + rank * kHalf * kBK, &tma_b, full, kb * kBK,
                                    nb * Cfg::kBN + static_cast<int>(rank) * kHalf, static_cast<unsigned short>(3));
      }
      if (++s == kStages) { s = 0; phase ^= 1u; }
    }
  }
  for (int i = 0; i < kStages; ++i) {
    mbar_wait(empty0 + 8 * s, phase ^ 1u);
    if (++s == kStages) { s = 0; phase ^= 1u; }
  }
}

// MMA issuer: one thread. Per unit it waits for a free TMEM accumulator, then per K block for
// the stage's bytes, issues kBK/32 MMAs and commits: to the stage's empty barrier (every CTA of
// the cluster, whose producers wrote into this stage) and, at the end of a unit, to the
// accumulator's full barrier.
template <class Cfg>
__device__ __forceinline__ void issue_mma(unsigned ring, unsigned full0, unsigned empty0, unsigned tfull0,
                                          unsigned tempty0, unsigned tmem, int num_tiles, int first, int step) {
  constexpr int kBK = Cfg::kBK, kStages = Cfg::kStages, kStage = stage_bytes<Cfg>();
  constexpr int kNumKBlocks = (Cfg::kK + kBK - 1) / kBK;
  constexpr bool kBlock = Cfg::kScale == ScaleKind::kBlock;
  constexpr unsigned kIdesc = make_idesc_e4m3_f32<Cfg::kBM, Cfg::kBN>();
  int s = 0, acc = 0;
  unsigned phase = 0, acc_phase = 0;
  for (int t = first; t < num_tiles; t += step) {
    for (int kb = 0; kb < kNumKBlocks; ++kb) {
      if (kBlock || kb == 0) {
        mbar_wait(tempty0 + 8 * acc, acc_phase ^ 1u);
        tc_fence_after();
      }
      mbar_wait(full0 + 8 * s, phase);
      tc_fence_after();
      const unsigned long long da = make_smem_desc_sw128(ring + s * kStage);
      const unsigned long long db = make_smem_desc_sw128(ring + s * kStage + Cfg::kBM * kBK);
      const unsigned d = tmem + static_cast<unsigned>(acc * Cfg::kBN);
#pragma unroll
      for (int kk = 0; kk < kBK / 32; ++kk) {
        // +2 per step: 32 bytes along K, in the descriptor's 16-byte units.
        const unsigned accumulate = kBlock ? (kk > 0) : (kb > 0 || kk > 0);
        mma_e4m3(d, da + 2 * kk, db + 2 * kk, kIdesc, accumulate);
      }
      if constexpr (Cfg::kClusterM == 1) mma_commit(empty0 + 8 * s);
      else mma_commit_multicast(empty0 + 8 * s, static_cast<unsigned short>((1u << Cfg::kClusterM) - 1));
      if (kBlock || kb == kNumKBlocks - 1) {
        mma_commit(tfull0 + 8 * acc);
        if (++acc == 2) { acc = 0; acc_phase ^= 1u; }
      }
      if (++s == kStages) { s = 0; phase ^= 1u; }
    }
  }
}

// Epilogue warps: thread = one row of the 128-row tile (its warp's TMEM lane quarter) and
// group_cols() columns of it.
template <class Cfg>
__device__ __forceinline__ void drain_accumulators(const GemmArgs& args, unsigned tfull0, unsigned tempty0,
                                                   unsigned tmem, int num_mc, int num_tiles, int first, int step,
                                                   unsigned rank) {
  constexpr int kBN = Cfg::kBN, kCols = group_cols<Cfg>(), kC = chunk_cols<Cfg>();
  constexpr int kNumKBlocks = (Cfg::kK + Cfg::kBK - 1) / Cfg::kBK;
  constexpr bool kBlock = Cfg::kScale == ScaleKind::kBlock;
  constexpr int kNumSbCols = (Cfg::kN + 127) / 128;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int quarter = warp % 4;  // hardware: warp w reads TMEM lanes [32*(w%4), 32*(w%4)+32)
  const int col_base = (warp - 2) / 4 * kCols;
  const unsigned lane_addr = tmem + (static_cast<unsigned>(quarter * 32) << 16) + static_cast<unsigned>(col_base);
  float tensor_scale = 1.0f;
  if constexpr (Cfg::kScale == ScaleKind::kTensor) tensor_scale = args.scale_a[0] * args.scale_b[0];
  int acc = 0;
  unsigned acc_phase = 0;
  for (int t = first; t < num_tiles; t += step) {
    int mc, nb;
    tiles::tile_coords<Cfg>(t, num_mc, mc, nb);
    const int row = (mc * Cfg::kClusterM + static_cast<int>(rank)) * Cfg::kBM + quarter * 32 + lane;
    const int n0 = nb * kBN + col_base;
    const bool live = row < args.m;
    if constexpr (kBlock) {
      float fin[kCols];
#pragma unroll
      for (int i = 0; i < kCols; ++i) fin[i] = 0.0f;
      for (int kb = 0; kb < kNumKBlocks; ++kb) {
        const float sa = live ? args.scale_a[static_cast<long long>(row) * kNumKBlocks + kb] : 0.0f;
        mbar_wait(tfull0 + 8 * acc, acc_phase);
        __syncwarp();  // reconverge after the spin: tcgen05.ld is .sync.aligned
        tc_fence_after();
#pragma unroll
        for (int c0 = 0; c0 < kCols; c0 += kC) {
          // A chunk never straddles a 128-column scale block (n0, c0 are multiples of kC).
          const float sb = args.scale_b[kb * kNumSbCols + min((n0 + c0) / 128, kNumSbCols - 1)];
          float v[kC];
          tmem_load<kC>(lane_addr + static_cast<unsigned>(acc * kBN + c0), v);
#pragma unroll
          for (int i = 0; i < kC; ++i) fin[c0 + i] += v[i] * (sa * sb);
        }
        tc_fence_before();
        __syncwarp();
        if (lane == 0) mbar_arrive(tempty0 + 8 * acc);
        if (++acc == 2) { acc = 0; acc_phase ^= 1u; }
      }
      if (live) {
#pragma unroll
        for (int c0 = 0; c0 < kCols; c0 += kC) finish_row_chunk<Cfg, kC>(args, row, n0 + c0, 1.0f, fin + c0);
      }
    } else {
      mbar_wait(tfull0 + 8 * acc, acc_phase);
      __syncwarp();
      tc_fence_after();
#pragma unroll 1
      for (int c0 = 0; c0 < kCols; c0 += kC) {
        float v[kC];
        tmem_load<kC>(lane_addr + static_cast<unsigned>(acc * kBN + c0), v);  // whole warp, even dead rows
        if (live) finish_row_chunk<Cfg, kC>(args, row, n0 + c0, tensor_scale, v);
      }
      tc_fence_before();
      __syncwarp();
      if (lane == 0) mbar_arrive(tempty0 + 8 * acc);
      if (++acc == 2) { acc = 0; acc_phase ^= 1u; }
    }
  }
}

template <class Cfg>
__device__ __forceinline__ void gemm(const TmaDesc& tma_a, const TmaDesc& tma_b, const GemmArgs& args) {
  constexpr int kBN = Cfg::kBN, kStages = Cfg::kStages, kClusterM = Cfg::kClusterM;
  static_assert(Cfg::kK > 0 && Cfg::kK % 16 == 0, "K must be a positive multiple of 16 (TMA row stride)");
  static_assert(Cfg::kN > 0, "N must be positive");
  static_assert(Cfg::kBM == 128, "kBM must be 128 (tcgen05 M = 128, one TMEM lane per row)");
  static_assert(Cfg::kBK == 128, "kBK must be 128: one 128-byte swizzle row, one block-scale block");
  static_assert(Cfg::kWarps == 6 || Cfg::kWarps == 10, "kWarps: TMA warp, MMA warp, 4 or 8 epilogue warps");
  static_assert(kBN >= 16 && kBN <= 256 && kBN % (16 * kClusterM) == 0, "kBN: 16..256, multiple of 16*cluster");
  static_assert(group_cols<Cfg>() % 16 == 0, "with 8 epilogue warps kBN must be a multiple of 32");
  static_assert(Cfg::kScale != ScaleKind::kBlock || group_cols<Cfg>() <= kMaxBlockCols,
                "block scales: at most 64 columns per epilogue thread (the fp32 sum lives in registers)");
  static_assert(kClusterM == 1 || kClusterM == 2, "kClusterM must be 1 or 2");
  static_assert(kStages >= 2 && kStages <= 8, "kStages must be within [2, 8]");
  static_assert(smem_bytes<Cfg>() <= 227 * 1024, "tile ring exceeds 227 KiB of shared memory");

  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const unsigned ring = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const unsigned full0 = ring + kStages * stage_bytes<Cfg>();
  const unsigned empty0 = full0 + 8 * kStages;
  const unsigned tfull0 = empty0 + 8 * kStages;  // two TMEM accumulators
  const unsigned tempty0 = tfull0 + 16;
  const unsigned tmem_slot = tempty0 + 16;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const unsigned rank = kClusterM > 1 ? sm90::cluster_cta_rank() : 0u;

  if (threadIdx.x == 0) {
    sm90::tma_prefetch_desc(&tma_a);
    sm90::tma_prefetch_desc(&tma_b);
    for (int s = 0; s < kStages; ++s) {
      mbar_init(full0 + 8 * s, 1);
      mbar_init(empty0 + 8 * s, kClusterM);  // one commit from each CTA's MMA thread
    }
    for (int a = 0; a < 2; ++a) {
      mbar_init(tfull0 + 8 * a, 1);
      mbar_init(tempty0 + 8 * a, 4 * epi_groups<Cfg>());  // one arrive per epilogue warp
    }
    sm90::fence_mbar_init();
  }
  if (warp == 1) {
    tmem_alloc(tmem_slot, tmem_cols<Cfg>());
    tmem_relinquish();
  }
  tc_fence_before();
  if constexpr (kClusterM > 1) sm90::cluster_sync();
  else __syncthreads();
  tc_fence_after();
  const unsigned tmem = ld_shared_u32(tmem_slot);

  const int num_mc = ((args.m + Cfg::kBM - 1) / Cfg::kBM + kClusterM - 1) / kClusterM;
  const int num_tiles = num_mc * ((Cfg::kN + kBN - 1) / kBN);
  const int first = blockIdx.x / kClusterM, step = gridDim.x / kClusterM;

  if (warp == 0) {
    if (lane == 0) produce<Cfg>(tma_a, tma_b, ring, full0, empty0, num_mc, num_tiles, first, step, rank);
  } else if (warp == 1) {
    if (lane == 0) issue_mma<Cfg>(ring, full0, empty0, tfull0, tempty0, tmem, num_tiles, first, step);
  } else {
    drain_accumulators<Cfg>(args, tfull0, tempty0, tmem, num_mc, num_tiles, first, step, rank);
  }

  // Every MMA has completed (the epilogue saw each unit's commit) and every TMEM read has
  // waited (tcgen05.wait::ld), so the allocating warp may free the columns.
  __syncwarp();
  tc_fence_before();
  __syncthreads();
  if (warp == 1) {
    tc_fence_after();
    tmem_dealloc(tmem, tmem_cols<Cfg>());
  }
  if constexpr (kClusterM > 1) sm90::cluster_sync();
}

}}  // namespace tpjit::sm100
