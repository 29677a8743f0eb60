// Epilogue of the sm_90a GEMM (gemm_fp8_sm90.cuh) for one consumer warpgroup's 64 x kBN
// accumulators: scales, bias, the partial sum C, through shared memory to whole-row global
// stores; the overlap hooks' own rows and slab counts (overlap_hooks.cuh); split K's hand-off
// (sm90_split_k.cuh). Device-only; NVRTC builtins only.
#pragma once

#include "gemm_args.cuh"
#include "gemm_epilogue.cuh"
#include "overlap_hooks.cuh"
#include "sm90_ptx.cuh"
#include "sm90_split_k.cuh"

namespace tpjit { namespace sm90 {

// Four adjacent outputs in one access (gemm_epilogue.cuh), the width of the staging reads.
template <OutKind kOut>
using Packed4 = kern::Packed<kOut, 4>;

__device__ __forceinline__ bool aligned(const void* p, unsigned bytes) {
  return (reinterpret_cast<unsigned long long>(p) & (bytes - 1)) == 0;
}

// Staging chunk of the epilogue: kCols fp32 columns of the warpgroup's 64 rows, rows padded by
// 8 floats so the fragment writes (float2) and the row reads (float4) are free of bank conflicts.
template <class Cfg>
constexpr int epi_cols() { return Cfg::kBN % 32 == 0 ? 32 : 16; }
template <class Cfg>
constexpr int epi_bytes() { return 64 * (epi_cols<Cfg>() + 8) * 4; }

// Where a slab's rows go: D row r at d + (r + d_row) * ldd, its C at c + (r + c_row) * ldc.
struct Dest {
  void* d;
  long long d_row;
  const void* c;
  long long c_row;
};
__device__ __forceinline__ Dest plain_dest(const GemmArgs& a) { return {a.d, a.d_row_offset, a.c, 0}; }
__device__ __forceinline__ Dest own_dest(const GemmArgs& a) {  // overlap_hooks.cuh: own rows
  return {a.own_d, -static_cast<long long>(a.own_begin), a.own_c, -static_cast<long long>(a.own_begin)};
}

// This thread's part of C for one column chunk, loaded packed where the 4-wide path applies
// (the same test the epilogue makes before using it); elsewhere the epilogue loads it itself.
template <class Cfg, bool kOwnRows, int kIters>
__device__ __forceinline__ void issue_c(const GemmArgs& args, const Dest& base, bool vc, int row_base, int col0,
                                        Packed4<Cfg::kOut> (&out)[kIters]) {
  constexpr int kCols = epi_cols<Cfg>();
  const int tid = threadIdx.x % 128;
#pragma unroll
  for (int i = 0; i < kIters; ++i) {
    const int idx = tid + 128 * i, row = row_base + idx / (kCols / 4), col = col0 + 4 * (idx % (kCols / 4));
    const Dest t = kOwnRows && hooks::own_row(args, row) ? own_dest(args) : base;
    if (row < args.m && col + 4 <= Cfg::kN && vc && t.c)
      out[i] = kern::load_packed<Cfg::kOut, 4>(t.c, (row + t.c_row) * args.ldc + col);
  }
}

// Scale, bias, accumulate and store one consumer warpgroup's 64 x kBN accumulators into
// `base` (with kOwnRows, rows in [own_begin, own_end) into own_dest instead: a slab that
// straddles the boundary). The wgmma fragment (v[4j + 2h + e]: row warp*16 + lane/4 + 8h,
// column 8j + 2*(lane%4) + e) goes through shared memory in column chunks so that global
// accesses are 4 adjacent elements per thread and whole rows per warp.
template <class Cfg, bool kOwnRows>
__device__ __forceinline__ void epilogue_rows(const GemmArgs& args, const Dest& base, const float* v, unsigned buf,
                                              int row_base, int n0, int cw) {
  constexpr OutKind kOut = Cfg::kOut;
  constexpr int kOB = kOut == OutKind::kF32 ? 4 : 2;
  constexpr int kCols = epi_cols<Cfg>(), kPitch = kCols + 8;
  const int tid = threadIdx.x % 128, warp = tid / 32, lane = tid % 32;
  const int r1 = warp * 16 + lane / 4, q2 = 2 * (lane % 4);
  // Uniform: may this warpgroup use 4-wide accesses (then every index below is a multiple of 4)?
  const bool vd = args.ldd % 4 == 0 && aligned(base.d, 4 * kOB) && (!kOwnRows || aligned(args.own_d, 4 * kOB));
  const bool vc = Cfg::kAccumulate && args.ldc % 4 == 0 && (!base.c || aligned(base.c, 4 * kOB)) &&
                  (!kOwnRows || !args.own_c || aligned(args.own_c, 4 * kOB));
  const bool vb = Cfg::kBias && aligned(args.bias, 4 * kOB);
  const bool vs = Cfg::kScale == ScaleKind::kRow && aligned(args.scale_b, 16);
  float tensor_scale = 1.0f;
  if constexpr (Cfg::kScale == ScaleKind::kTensor) tensor_scale = args.scale_a[0] * args.scale_b[0];
  constexpr int kIters = 64 * kCols / 4 / 128;
  // C one column chunk ahead: the next chunk's loads are in flight while this one goes
  // through shared memory, so a tile waits for C's latency once, not once per chunk.
  Packed4<kOut> cp[2][Cfg::kAccumulate ? kIters : 1];
  if constexpr (Cfg::kAccumulate) issue_c<Cfg, kOwnRows>(args, base, vc, row_base, n0, cp[0]);
#pragma unroll
  for (int c0 = 0; c0 < Cfg::kBN; c0 += kCols) {
    const int b = (c0 / kCols) % 2;
    if constexpr (Cfg::kAccumulate)
      if (c0 + kCols < Cfg::kBN) issue_c<Cfg, kOwnRows>(args, base, vc, row_base, n0 + c0 + kCols, cp[b ^ 1]);
#pragma unroll
    for (int jj = 0; jj < kCols / 8; ++jj) {
      const int j = c0 / 8 + jj;
#pragma unroll
      for (int h = 0; h < 2; ++h)
        st_shared_v2(buf + ((r1 + 8 * h) * kPitch + 8 * jj + q2) * 4, v[4 * j + 2 * h], v[4 * j + 2 * h + 1]);
    }
    named_barrier(1 + cw, 128);
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int idx = tid + 128 * i, r = idx / (kCols / 4), c4 = idx % (kCols / 4);
      const int row = row_base + r, col = n0 + c0 + 4 * c4;
      if (row >= args.m || col >= Cfg::kN) continue;
      const bool full = col + 4 <= Cfg::kN;
      const Dest t = kOwnRows && hooks::own_row(args, row) ? own_dest(args) : base;
      const float4 x = ld_shared_v4(buf + (r * kPitch + 4 * c4) * 4);
      float o[4] = {x.x * tensor_scale, x.y * tensor_scale, x.z * tensor_scale, x.w * tensor_scale};
      if constexpr (Cfg::kScale == ScaleKind::kRow) {
        const float rs = args.scale_a[row];
        float sb[4];
        if (full && vs) {
          const float4 q = *reinterpret_cast<const float4*>(args.scale_b + col);
          sb[0] = q.x; sb[1] = q.y; sb[2] = q.z; sb[3] = q.w;
        } else {
#pragma unroll
          for (int e = 0; e < 4; ++e) sb[e] = col + e < Cfg::kN ? args.scale_b[col + e] : 0.0f;
        }
#pragma unroll
        for (int e = 0; e < 4; ++e) o[e] *= rs * sb[e];
      }
      if constexpr (Cfg::kBias) {
        float bv[4];
        if (full && vb) kern::load_vec<kOut, 4>(args.bias, col, bv);
        else {
#pragma unroll
          for (int e = 0; e < 4; ++e) bv[e] = col + e < Cfg::kN ? kern::load_out<kOut>(args.bias, col + e) : 0.0f;
        }
#pragma unroll
        for (int e = 0; e < 4; ++e) o[e] += bv[e];
      }
      if constexpr (Cfg::kAccumulate) {
        if (t.c) {
          float cv[4];
          if (full && vc) kern::unpack<kOut, 4>(cp[b][i], cv);  // issued a chunk earlier
          else {
            const long long ci = (row + t.c_row) * args.ldc + col;
#pragma unroll
            for (int e = 0; e < 4; ++e) cv[e] = col + e < Cfg::kN ? kern::load_out<kOut>(t.c, ci + e) : 0.0f;
          }
#pragma unroll
          for (int e = 0; e < 4; ++e) o[e] += cv[e];
        }
      }
      const long long di = (row + t.d_row) * args.ldd + col;
      if (full && vd) kern::store_vec<kOut, 4>(t.d, di, o);
      else {
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (col + e < Cfg::kN) kern::store_out<kOut>(t.d, di + e, o[e]);
      }
    }
    named_barrier(1 + cw, 128);
  }
}

// A slab wholly inside or outside the own rows (the overlap hooks' reduce-scatter) takes the
// common instance with its destination chosen once; only a slab across the boundary tests
// each row (a per-row test in every slab cost an o-layer launch 4%).
template <class Cfg>
__device__ __forceinline__ void epilogue(const GemmArgs& args, const float* v, unsigned buf, int row_base, int n0, int cw) {
  const int row_end = min(row_base + 64, args.m);
  const bool any_own = row_base < args.own_end && row_end > args.own_begin;
  const bool all_own = args.own_end > args.own_begin && row_base >= args.own_begin && row_end <= args.own_end;
  if (any_own && !all_own) epilogue_rows<Cfg, true>(args, plain_dest(args), v, buf, row_base, n0, cw);
  else epilogue_rows<Cfg, false>(args, all_own ? own_dest(args) : plain_dest(args), v, buf, row_base, n0, cw);
}

// Named barriers: 0 the CTA, 1 + cw a consumer warpgroup's epilogue, 3 split K; and for the
// overlap hooks' counts, between consumer warpgroup cw and its signal warp (gemm()):
// kStoredBarrier + cw "a tile's stores are issued" (the warpgroup arrives, the warp waits) and
// kTakenBarrier + cw "the warp has taken it" (the warp arrives, the warpgroup waits before
// its next arrival, so neither side gets two tiles ahead and each barrier's phases alternate).
constexpr int kStoredBarrier = 4, kTakenBarrier = 6, kSignalThreads = 128 + 32;

// K blocks before the end of a tile at which its C is pulled into L2.
constexpr int kPrefetchLead = 4;

// Near the end of a tile that accumulates: pull this warpgroup's 64 rows of C into L2, so the
// epilogue's loads hit there. An own row's C (the peer's partial, overlap_hooks.cuh) may not
// have landed yet: the prefetch is only a hint, and L2 stays coherent with the peer's writes.
// Returns an early look at the own rows' flag (peek_rows), for finish_tile.
template <class Cfg>
__device__ __forceinline__ unsigned prefetch_c(const GemmArgs& args, int r0, int n0) {
  constexpr int kOB = Cfg::kOut == OutKind::kF32 ? 4 : 2;
  constexpr int kLines = (Cfg::kBN * kOB + 127) / 128;  // per row, when n0 is line-aligned
  const int r1 = min(r0 + 64, args.m);
  for (int i = threadIdx.x % 128; i < 64 * kLines; i += 128) {
    const int row = r0 + i / kLines, col = n0 + (i % kLines) * (128 / kOB);
    if (row >= r1 || col >= Cfg::kN) continue;
    const Dest t = hooks::own_row(args, row) ? own_dest(args) : plain_dest(args);
    if (!t.c) continue;
    const char* line = static_cast<const char*>(t.c) + ((row + t.c_row) * args.ldc + col) * kOB;
    asm volatile("prefetch.global.L2 [%0];" ::"l"(line));
  }
  const int o0 = max(r0, args.own_begin), o1 = min(r1, args.own_end);
  return args.c_ready && o0 < o1 ? hooks::peek_rows(args, args.c_ready, o0, o1) : args.hook_epoch - 1u;
}

// Whether a consumer warpgroup hands the tile of rows [r0, r1) to its signal warp.
__device__ __forceinline__ bool signals(const GemmArgs& args, int split, int r0, int r1) {
  return args.tile_done && split == 1 && r0 < r1;
}

// After the K loop of one unit: with split K, hand the partial to split_k_reduce and stop
// unless this CTA is the tile's last slice; then the epilogue. Counters and partials are per
// CTA tile (not per cluster): each CTA of a cluster finishes its own rows.
template <class Cfg, int kAcc>
__device__ __forceinline__ void finish_tile(const GemmArgs& args, float (&v)[kAcc], unsigned epi, unsigned split_flag,
                                            int m_block, int nb, int cta_tiles, int slice, int split,
                                            unsigned c_seen, bool& handed) {
  constexpr int kConsumers = Cfg::kBM / 64;
  constexpr int kNumNBlocks = (Cfg::kN + Cfg::kBN - 1) / Cfg::kBN;
  const int cw = threadIdx.x / 128 - 1, warp = (threadIdx.x / 32) % 4;
  const int m0 = m_block * Cfg::kBM;
  if constexpr (Cfg::kSplitK > 1) {
    if (split > 1) {
      const bool live = m0 + cw * 64 + warp * 16 < args.m;
      if (!split_k_reduce<128 * kConsumers>(args, v, m_block * kNumNBlocks + nb, cta_tiles, slice, live, split_flag))
        return;
    }
  }
  // Overlap hooks: an own row's C is the peer's partial sum, read once it has landed (seen
  // already by prefetch_c's early look, or waited for here); a slab of other ranks' rows is
  // counted once stored, so the copy engines can send it.
  const int r0 = m0 + cw * 64, r1 = min(r0 + 64, args.m);
  if (args.c_ready && r0 < r1 && !hooks::seen_ready(args, c_seen)) {
    const int o0 = max(r0, args.own_begin), o1 = min(r1, args.own_end);
    if (o0 < o1) hooks::wait_rows(args, args.c_ready, o0, o1);
  }
  epilogue<Cfg>(args, v, epi + cw * epi_bytes<Cfg>(), m0 + cw * 64, nb * Cfg::kBN, cw);
  // The slab's stores are issued: hand the count to this warpgroup's signal warp (gemm()),
  // which waits for them to be visible; this warpgroup goes on to its next tile.
  if (signals(args, split, r0, r1)) {
    if (handed) named_barrier(kTakenBarrier + cw, kSignalThreads);  // the last one was taken
    named_barrier_arrive(kStoredBarrier + cw, kSignalThreads);
    handed = true;
  }
}

}}  // namespace tpjit::sm90
