// PTX wrappers for the sm_100a GEMM: Tensor Memory (TMEM) allocation, tcgen05.mma with its
// descriptors, tcgen05.commit to mbarriers, tcgen05.ld. The mbarrier and TMA wrappers come from
// sm90_ptx.cuh: the same PTX (mbarrier.*, cp.async.bulk.tensor) is valid on sm_100a.
// Self-contained for NVRTC: no standard headers. Instruction syntax as in the PTX ISA 8.6+,
// section 9.7.16 "TensorCore 5th Generation Family Instructions" (tcgen05).
//
// Encodings (what the tensor core reads; not run on a Blackwell GPU here, see gemm_fp8_sm100.cuh):
//
// Shared-memory matrix descriptor, 64 bits (PTX ISA 9.7.16.4.1 "Shared Memory Descriptor",
// anchor tcgen05-shared-memory-desc-layout; same fields as CUTLASS cute/arch/mma_sm100_desc.hpp
// UMMA::SmemDescriptor):
//   [0,14)  start address >> 4          [16,30) leading byte offset >> 4 (LBO)
//   [32,46) stride byte offset >> 4     [46,49) fixed 0b001 ("version"; sm_90 wgmma has 0 here)
//   [49,52) base offset (0: atoms 1024-byte aligned)   [52] LBO mode (0: relative)
//   [61,64) swizzle: 0 none, 1 128B with 32B atom, 2 128B, 4 64B, 6 32B
// Used: K-major, 128-byte swizzle (what TMA SWIZZLE_128B writes): rows of 128 bytes, 8-row
// atoms of 1024 bytes -> SBO = 1024; LBO unused for swizzled K-major layouts (set to 1, as the
// verified sm_90 kernel does); swizzle 2. Stepping K inside the 128-byte row adds bytes>>4 to
// the start address, as on sm_90.
//
// Instruction descriptor, 32 bits, .kind::f16/.tf32/.f8f6f4/.i8 (PTX ISA 9.7.16.4.2
// "Instruction Descriptor", Table 42; same as CUTLASS UMMA::InstrDescriptor):
//   [0,2) sparsity selector = 0   [2] sparse = 0   [3] saturate = 0   [4,6) D type: F32 = 1
//   [6] reserved   [7,10) A type: E4M3 = 0   [10,13) B type: E4M3 = 0   [13] negate A = 0
//   [14] negate B = 0   [15] transpose A (0 = K-major)   [16] transpose B (0 = K-major)
//   [17,23) N >> 3   [23] reserved   [24,29) M >> 4   [29] reserved   [30,32) max shift = 0
//
// TMEM address: bits [31,16) lane, [16,0) column. For cta_group::1 with M = 128, row i of D
// lives in lane i, column j in column (base + j), one 32-bit fp32 per cell. Warp w of the CTA
// may access lanes [32*(w%4), 32*(w%4)+32) only (tcgen05 data-path restriction).
#pragma once

#include "sm90_ptx.cuh"

namespace tpjit { namespace sm100 {

using sm90::TmaDesc;

// ---- descriptors ----
__device__ __forceinline__ unsigned long long make_smem_desc_sw128(unsigned addr) {
  unsigned long long d = 0;
  d |= static_cast<unsigned long long>((addr & 0x3FFFF) >> 4);   // start address
  d |= static_cast<unsigned long long>(1) << 16;                  // LBO (unused here)
  d |= static_cast<unsigned long long>(1024 >> 4) << 32;          // SBO: 8 rows x 128 bytes
  d |= static_cast<unsigned long long>(1) << 46;                  // fixed 0b001
  d |= static_cast<unsigned long long>(2) << 61;                  // SWIZZLE_128B
  return d;
}

// e4m3 x e4m3 -> f32, both K-major, dense, M x N.
template <int M, int N>
constexpr unsigned make_idesc_e4m3_f32() {
  static_assert(M == 64 || M == 128, "cta_group::1 M is 64 or 128");
  static_assert(N >= 8 && N <= 256 && N % (M == 128 ? 16 : 8) == 0, "N range for kind::f8f6f4");
  return (1u << 4)                                // D = F32
         | (0u << 7) | (0u << 10)                 // A, B = E4M3
         | (static_cast<unsigned>(N >> 3) << 17)  // N >> 3
         | (static_cast<unsigned>(M >> 4) << 24); // M >> 4
}

// ---- TMEM allocation (whole warp) ----
// Writes the base address of `cols` columns (a power of two >= 32) to shared memory at `slot`.
__device__ __forceinline__ void tmem_alloc(unsigned slot, unsigned cols) {
  asm volatile("tcgen05.alloc.cta_group::1.sync.aligned.shared::cta.b32 [%0], %1;" ::"r"(slot), "r"(cols) : "memory");
}
__device__ __forceinline__ void tmem_relinquish() {
  asm volatile("tcgen05.relinquish_alloc_permit.cta_group::1.sync.aligned;" ::: "memory");
}
__device__ __forceinline__ void tmem_dealloc(unsigned taddr, unsigned cols) {
  asm volatile("tcgen05.dealloc.cta_group::1.sync.aligned.b32 %0, %1;" ::"r"(taddr), "r"(cols) : "memory");
}

// ---- ordering of tcgen05 operations around thread synchronisation ----
__device__ __forceinline__ void tc_fence_before() { asm volatile("tcgen05.fence::before_thread_sync;" ::: "memory"); }
__device__ __forceinline__ void tc_fence_after() { asm volatile("tcgen05.fence::after_thread_sync;" ::: "memory"); }

// ---- MMA (one thread issues) ----
// D[tmem] (+)= A[smem] * B[smem]^T; accumulate == 0 overwrites D.
__device__ __forceinline__ void mma_e4m3(unsigned d_tmem, unsigned long long a_desc, unsigned long long b_desc,
                                        unsigned idesc, unsigned accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %4, 0;\n"
      "tcgen05.mma.cta_group::1.kind::f8f6f4 [%0], %1, %2, %3, p;\n}" ::"r"(d_tmem),
      "l"(a_desc), "l"(b_desc), "r"(idesc), "r"(accumulate)
      : "memory");
}
// Arrives (count 1) on the local mbarrier once every earlier tcgen05 op of this thread is done.
__device__ __forceinline__ void mma_commit(unsigned bar) {
  asm volatile("tcgen05.commit.cta_group::1.mbarrier::arrive::one.shared::cluster.b64 [%0];" ::"r"(bar) : "memory");
}
// Same, arriving on the barrier at this shared offset in every CTA of `mask` in the cluster.
__device__ __forceinline__ void mma_commit_multicast(unsigned bar, unsigned short mask) {
  asm volatile("tcgen05.commit.cta_group::1.mbarrier::arrive::one.shared::cluster.multicast::cluster.b64 [%0], %1;" ::"r"(
                   bar),
               "h"(mask)
               : "memory");
}

// ---- TMEM -> registers (whole warp) ----
// Lane `lane0 + laneid` of the warp's TMEM quarter, kCols consecutive columns from taddr. The
// wait is in the same statement so no use of the registers can be scheduled before it.
template <int kCols>
__device__ __forceinline__ void tmem_load(unsigned taddr, float* v);

template <>
__device__ __forceinline__ void tmem_load<16>(unsigned taddr, float* v) {
  unsigned r[16];
  asm volatile(
      "tcgen05.ld.sync.aligned.32x32b.x16.b32 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, [%16];\n"
      "tcgen05.wait::ld.sync.aligned;"
      : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]), "=r"(r[4]), "=r"(r[5]), "=r"(r[6]), "=r"(r[7]), "=r"(r[8]),
        "=r"(r[9]), "=r"(r[10]), "=r"(r[11]), "=r"(r[12]), "=r"(r[13]), "=r"(r[14]), "=r"(r[15])
      : "r"(taddr)
      : "memory");
#pragma unroll
  for (int i = 0; i < 16; ++i) v[i] = __uint_as_float(r[i]);
}

template <>
__device__ __forceinline__ void tmem_load<32>(unsigned taddr, float* v) {
  unsigned r[32];
  asm volatile(
      "tcgen05.ld.sync.aligned.32x32b.x32.b32 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, [%32];\n"
      "tcgen05.wait::ld.sync.aligned;"
      : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]), "=r"(r[4]), "=r"(r[5]), "=r"(r[6]), "=r"(r[7]), "=r"(r[8]),
        "=r"(r[9]), "=r"(r[10]), "=r"(r[11]), "=r"(r[12]), "=r"(r[13]), "=r"(r[14]), "=r"(r[15]), "=r"(r[16]),
        "=r"(r[17]), "=r"(r[18]), "=r"(r[19]), "=r"(r[20]), "=r"(r[21]), "=r"(r[22]), "=r"(r[23]), "=r"(r[24]),
        "=r"(r[25]), "=r"(r[26]), "=r"(r[27]), "=r"(r[28]), "=r"(r[29]), "=r"(r[30]), "=r"(r[31])
      : "r"(taddr)
      : "memory");
#pragma unroll
  for (int i = 0; i < 32; ++i) v[i] = __uint_as_float(r[i]);
}

__device__ __forceinline__ unsigned ld_shared_u32(unsigned addr) {
  unsigned v;
  asm volatile("ld.shared.u32 %0, [%1];" : "=r"(v) : "r"(addr) : "memory");
  return v;
}

}}  // namespace tpjit::sm100
