#include "codegen/overlap_cost.h"

#include <algorithm>

namespace tpjit::codegen {
namespace {

// Conservative against the 2026-11-26 measurements (bench/RESULTS.md): our FP8 GEMM reaches
// 1100-1400 TF/s at M >= 2048, NCCL on NV18 moves 160-185 GB/s per rank on large transfers.
constexpr double kGemmTflops = 600;
constexpr double kGemmLaunchUs = 10;
constexpr double kBusGBs = 150;
constexpr double kCollectiveLatencyUs = 30;
constexpr double kFusedOverheadUs = 25;  // a second stream: events, the local shard's launch
constexpr double kPerChunkUs = 40;       // each extra chunk: launches, event waits, NCCL's
                                         // host path (measured 50-150 us per chunk)
constexpr int kSms = 132;
constexpr int kSmReserve = 16;           // SMs left to NCCL while GEMMs overlap it
constexpr double kRequiredSaving = 0.9;  // fused must predict <= 90% of unfused

// The copy engines (bench/RESULTS.md, seventh run, 2x H100): 317-327 GB/s per direction on
// 32 MiB copies; a fused all-gather took 6-41 us more than the slower of its GEMM and
// collective, a reduce-scatter 26-54 us at M <= 2048 and more with a larger partial product
// (o: 63 us at 64 MiB, 173 us at 256 MiB: reading the received partial in the epilogue, the
// own rows waiting for it; the tenth run, 2x H200, measured 5-70 us). Its GEMM time is our
// GEMM's as measured on both cards, not the NCCL model's cautious one: 1300 TF/s (1330-1500
// measured at M >= 2048), or its bytes at 2.5 TB/s where that is longer (decode: 2.0-3.5
// measured). With these constants the model picks fused on the seventh and tenth runs' 40
// shapes only where fused measured faster (tests/codegen/overlap_execution_test.cc).
constexpr double kCeGemmTflops = 1300;
constexpr double kCeGemmTBs = 2.5;
constexpr double kCeGBs = 300;
constexpr double kCeLatencyUs = 10;
constexpr double kCeAllGatherUs = 30;
constexpr double kCeReduceScatterUs = 55;
constexpr double kCeReduceScatterUsPerMiB = 0.7;

double fused_us(const OverlapShape& s, double gemm, double coll, int chunks) {
  const double slow = gemm * kSms / (kSms - kSmReserve);  // overlapped GEMMs on fewer SMs
  const double extra = kFusedOverheadUs + kPerChunkUs * (chunks - 1);
  if (s.all_gather) {
    // The local shard's rows compute during the whole gather; chunk j's rows during chunk
    // j+1's transfer; the last chunk's rows after it, on every SM.
    const double local = slow / s.world_size;
    const double remote = gemm * (s.world_size - 1) / s.world_size / chunks;
    const double remote_slow = slow * (s.world_size - 1) / s.world_size / chunks;
    return std::max(coll, local + (chunks - 1) * remote_slow) + remote + extra;
  }
  // Step 0 computes alone; step j's GEMM overlaps step j-1's reduce-scatter; the last
  // reduce-scatter runs alone.
  const double g = slow / chunks, c = coll / chunks;
  return gemm / chunks + (chunks - 1) * std::max(g, c) + c + extra;
}

// The copy engines: no SM taken from the GEMM, one launch (all-gather) or two sub-chunks
// (reduce-scatter), the collective hidden behind the GEMM up to a fixed cost.
void copy_engine_estimate(const OverlapShape& s, double bytes, OverlapEstimate& e) {
  const double m = double(s.m), n = double(s.n), k = double(s.k);
  const double gemm_bytes = m * k + n * k + m * n * s.out_bytes;  // A, B (FP8) and D once
  e.gemm_us = kGemmLaunchUs + std::max(2.0 * m * n * k / (kCeGemmTflops * 1e6),
                                       gemm_bytes / (kCeGemmTBs * 1e6));
  e.unfused_us = e.gemm_us + e.collective_us;  // unfused runs NCCL's collective
  const double coll = kCeLatencyUs + bytes / (kCeGBs * 1e3);
  const double partial_mib = double(s.m) * double(s.n) * s.out_bytes / double(1 << 20);
  e.fused_us = std::max(e.gemm_us, coll) +
               (s.all_gather ? kCeAllGatherUs
                             : kCeReduceScatterUs + kCeReduceScatterUsPerMiB * partial_mib);
  e.chunks = s.all_gather ? 1 : 2;
  e.sm_reserve = 0;
  e.model = kCopyEngineCostModel;
}

}  // namespace

OverlapEstimate estimate_overlap(const OverlapShape& s) {
  OverlapEstimate e;
  const double ws = std::max(1, s.world_size);
  e.gemm_us = kGemmLaunchUs + 2.0 * double(s.m) * double(s.n) * double(s.k) / (kGemmTflops * 1e6);
  // Bytes each rank receives: the others' shards of A (fp8), or the others' partial rows.
  const double bytes = s.all_gather ? double(s.m) * double(s.k) * (ws - 1) / ws
                                    : double(s.m) * double(s.n) * s.out_bytes * (ws - 1) / ws;
  e.collective_us = kCollectiveLatencyUs + bytes / (kBusGBs * 1e3);
  e.unfused_us = e.gemm_us + e.collective_us;  // unfused runs NCCL's collective
  if (s.copy_engine && s.world_size > 1) {
    copy_engine_estimate(s, bytes, e);
    e.fused = e.fused_us <= kRequiredSaving * e.unfused_us;
    return e;
  }
  e.fused_us = 1e300;
  for (int chunks : {1, 2, 4}) {
    // A chunk pays the collective's latency again.
    const double coll = e.collective_us + kCollectiveLatencyUs * (chunks - 1);
    const double t = fused_us(s, e.gemm_us, coll, chunks);
    if (t < e.fused_us) e.fused_us = t, e.chunks = chunks;
  }
  e.sm_reserve = kSmReserve;
  e.fused = e.fused_us <= kRequiredSaving * e.unfused_us;
  return e;
}

}  // namespace tpjit::codegen
