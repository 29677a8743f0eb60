// Split-K for the sm90 GEMM (templates/gemm_fp8_sm90.cuh): when the output tiles alone leave
// SMs idle (decode: M of 1..256 rows over a few dozen N tiles), each tile's K blocks are cut
// into args.split_k slices that run on different CTAs. Every slice writes its fp32 partial
// sums to args.workspace and counts itself in on the tile's counter; the last slice to arrive
// adds the partials and runs the ordinary epilogue (scales, bias, accumulate, store) once.
//
// The sum goes in slice order 0, 1, ... whichever slice arrives last (the last one reads its
// own partial back too), so a result does not depend on timing. The last slice resets its
// counter to zero, so the counters (zeroed once by the runtime) are zero again when the
// kernel ends.
#pragma once

#include "gemm_args.cuh"
#include "sm90_ptx.cuh"

namespace tpjit { namespace sm90 {

// K blocks [begin, end) of slice `slice` out of `split` (split <= num_k_blocks, so none is
// empty; sizes differ by at most one).
__device__ __forceinline__ void split_range(int num_k_blocks, int slice, int split, int& begin, int& end) {
  begin = slice * num_k_blocks / split;
  end = (slice + 1) * num_k_blocks / split;
}

__device__ __forceinline__ void st_global_v4(float* p, float a, float b, float c, float d) {
  asm volatile("st.global.v4.f32 [%0], {%1, %2, %3, %4};" ::"l"(p), "f"(a), "f"(b), "f"(c), "f"(d) : "memory");
}
// Through L2 (.cg): the lines were written by other SMs, whose stores L1 here does not see.
__device__ __forceinline__ float4 ld_global_cg_v4(const float* p) {
  float4 v;
  asm volatile("ld.global.cg.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w) : "l"(p) : "memory");
  return v;
}

// Called by every consumer thread (kThreads of them, named barrier 3) after slice `slice` of
// output tile `tile` has its sums in v. The workspace holds one partial per (slice, tile) in
// fragment order (float4 i of consumer thread c at i * kThreads + c), so each warp writes and
// reads whole 512-byte runs. `live` (uniform per warp) is false for a warp whose rows are all
// past m: it neither writes nor reads. `flag` is 4 bytes of shared memory. Returns true in
// the CTA that must finish the tile, with v then holding the whole sum.
template <int kThreads, int kAcc>
__device__ __forceinline__ bool split_k_reduce(const GemmArgs& args, float (&v)[kAcc], int tile, int num_tiles,
                                               int slice, bool live, unsigned flag) {
  static_assert(kAcc % 4 == 0, "accumulators go out as float4");
  constexpr long long kSlot = static_cast<long long>(kThreads) * kAcc;  // floats per partial
  const int c = threadIdx.x - 128;  // consumer threads follow the producer warpgroup
  if (live) {
    float* mine = args.workspace + (static_cast<long long>(slice) * num_tiles + tile) * kSlot;
#pragma unroll
    for (int i = 0; i < kAcc / 4; ++i)
      st_global_v4(mine + 4 * (i * kThreads + c), v[4 * i], v[4 * i + 1], v[4 * i + 2], v[4 * i + 3]);
  }
  __threadfence();  // this thread's partial is visible before the count below
  named_barrier(3, kThreads);
  if (c == 0) {
    const unsigned before = atomicAdd(args.tile_counters + tile, 1u);
    const bool last = before + 1 == static_cast<unsigned>(args.split_k);
    if (last) atomicExch(args.tile_counters + tile, 0u);
    asm volatile("st.shared.u32 [%0], %1;" ::"r"(flag), "r"(last ? 1u : 0u) : "memory");
  }
  named_barrier(3, kThreads);
  unsigned last;
  asm volatile("ld.shared.u32 %0, [%1];" : "=r"(last) : "r"(flag) : "memory");
  if (!last) return false;
  __threadfence();  // the other slices' partials, counted in before us, are read after this
  if (live) {
    // v = p0 + p1 + ... from the workspace (this slice's own partial included), so the order
    // of the sum is fixed. Loads go out kBatch float4s at a time, all in flight together: one
    // L2 round trip per batch, not one per element.
    constexpr int kBatch = kAcc / 4 < 16 ? kAcc / 4 : 16;
    static_assert(kAcc / 4 % kBatch == 0, "accumulator float4s come in whole batches");
    const float* base = args.workspace + static_cast<long long>(tile) * kSlot + 4 * c;
    const long long slice_stride = static_cast<long long>(num_tiles) * kSlot;
    for (int s = 0; s < args.split_k; ++s) {
      const float* part = base + s * slice_stride;
#pragma unroll
      for (int i0 = 0; i0 < kAcc / 4; i0 += kBatch) {
        float4 p[kBatch];
#pragma unroll
        for (int b = 0; b < kBatch; ++b) p[b] = ld_global_cg_v4(part + 4 * (i0 + b) * kThreads);
#pragma unroll
        for (int b = 0; b < kBatch; ++b) {
          float* o = v + 4 * (i0 + b);
          if (s == 0) {
            o[0] = p[b].x; o[1] = p[b].y; o[2] = p[b].z; o[3] = p[b].w;
          } else {
            o[0] += p[b].x; o[1] += p[b].y; o[2] += p[b].z; o[3] += p[b].w;
          }
        }
      }
    }
  }
  return true;
}

}}  // namespace tpjit::sm90
