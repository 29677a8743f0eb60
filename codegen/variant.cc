#include "codegen/variant.h"

#include <algorithm>
#include <string>

namespace tpjit::codegen {
namespace {

constexpr unsigned kMaxSmem = 227 * 1024;  // sm_90 / sm_100 opt-in limit per block

std::string str(int v) { return std::to_string(v); }

unsigned warp_threads(const TileConfig& t) { return static_cast<unsigned>(t.warps) * 32; }

std::string cluster_config(const TileConfig& t) {
  return "  static constexpr int kClusterM = " + str(t.cluster_m) + ";\n";
}

std::string sm90_config(const TileConfig& t) {
  return cluster_config(t) + "  static constexpr int kSplitK = " + str(t.split_k) + ";\n";
}

// Only the sm90 template splits K (templates/sm90_split_k.cuh).
std::string no_split_problem(const TileConfig& t) {
  return t.split_k == 1 ? std::string() : "split_k must be 1 (only sm90_wgmma splits K)";
}

// --- mma_sync: templates/gemm_fp8_mma.cuh -------------------------------------------------

// Two warp rows once the tile is tall enough, the other warps across N. Kept here (not in
// the template) so codegen checks the same warp grid the kernel uses.
int mma_warps_m(const TileConfig& t) { return t.bm >= 64 && t.warps % 2 == 0 ? 2 : 1; }

// Every pick stays within 48 KiB of shared memory, so no launch needs the opt-in attribute,
// and within ptxas's 255 registers without spills in every scale mode (block mode keeps a
// second accumulator). BK 32 with 4 stages measured leaner than BK 64/128 on registers.
TileConfig mma_pick_tile(const GemmSpec& s) {
  if (s.m_hint <= 32) return {.bm = 32, .bn = 64, .bk = 64, .stages = 4, .warps = 4};
  if (s.m_hint <= 128) return {.bm = 64, .bn = 128, .bk = 32, .stages = 4, .warps = 8};
  return {.bm = 128, .bn = 128, .bk = 32, .stages = 4, .warps = 8};
}

unsigned mma_smem_bytes(const TileConfig& t) {
  constexpr int kRowPad = 16;  // templates/gemm_fp8_mma.cuh kRowPad
  return static_cast<unsigned>(t.stages * (t.bm + t.bn) * (t.bk + kRowPad));
}

std::string mma_tile_problem(const GemmSpec& s) {
  const TileConfig& t = s.tile;
  if (t.bk != 32 && t.bk != 64 && t.bk != 128)
    return "bk must be 32, 64 or 128 (a multiple of the mma's K=32 dividing the 128-wide "
           "block-scale blocks)";
  if (t.stages < 2 || t.stages > 8) return "stages must be within [2, 8]";
  if (t.warps < 1 || t.warps > 16) return "warps must be within [1, 16]";
  if (t.cluster_m != 1) return "mma_sync runs without clusters: cluster_m must be 1";
  if (std::string p = no_split_problem(t); !p.empty()) return p;
  const int wm = mma_warps_m(t), wn = t.warps / wm;
  if (t.bm <= 0 || t.bm % (16 * wm) != 0)
    return "bm must be a positive multiple of 16 * " + str(wm) + " (warp rows)";
  if (t.bn <= 0 || t.bn % (16 * wn) != 0)
    return "bn must be a positive multiple of 16 * " + str(wn) + " (warp columns)";
  if (mma_smem_bytes(t) > kMaxSmem) return "the tile needs more than 227 KiB of shared memory";
  return {};
}

std::string mma_extra_config(const TileConfig& t) {
  const int wm = mma_warps_m(t);
  return "  static constexpr int kWarpsM = " + str(wm) + ";\n" +
         "  static constexpr int kWarpsN = " + str(t.warps / wm) + ";\n";
}

// Checks both TMA templates share: bk is one 128-byte swizzle row, bn fits the wgmma/tcgen05
// N range and splits evenly over the cluster's B multicast, the pipeline depth.
std::string tma_common_problem(const TileConfig& t) {
  if (t.bk != 128) return "bk must be 128 (one 128-byte swizzle row, one block-scale block)";
  if (t.cluster_m != 1 && t.cluster_m != 2) return "cluster_m must be 1 or 2";
  if (t.bn < 16 || t.bn > 256 || t.bn % (16 * t.cluster_m) != 0)
    return "bn must be within [16, 256] and a multiple of 16 * cluster_m (" +
           str(16 * t.cluster_m) + ")";
  if (t.stages < 2 || t.stages > 8) return "stages must be within [2, 8]";
  return {};
}

// --- sm90_wgmma: templates/gemm_fp8_sm90.cuh ----------------------------------------------

// SMs of the sm_90a parts we run (H100 SXM, H200): one CTA of these tiles fits per SM. Only
// the heuristic assumes it; the launcher asks the GPU.
constexpr int kSm90Ctas = 132;

// Decode (up to 256 rows), from `tpjit-bench tune` on an H100 (bench/RESULTS.md): no cluster
// (its second M tile would be empty; with it every decode tile ran 10-40% slower); up to 64
// rows BM 64 with split K allowed (split_for decides per launch), BN 128 up to 32 rows (best
// at 16) and 64 above (best at 64: twice the CTAs, 0.99-1.02x cuBLASLt where BN 128 ran
// 0.81-0.94x); from 65 rows BM 128 and BN 64 while that gives at most two waves of tiles,
// else BN 128, without split (the fp32 partials of 128-row tiles cost more than the split
// gained). Stages fill 192 KiB. Two CTAs a SM (BM 64, 4 stages) never won.
TileConfig sm90_small_m_tile(const GemmSpec& s) {
  if (s.m_hint <= 64)
    return {.bm = 64, .bn = s.m_hint <= 32 ? 128 : 64, .bk = 128, .stages = 8, .warps = 8,
            .cluster_m = 1, .split_k = 4};
  const int64_t rows = (s.m_hint + 127) / 128;
  if (rows * ((s.n + 63) / 64) <= 2 * kSm90Ctas)
    return {.bm = 128, .bn = 64, .bk = 128, .stages = 8, .warps = 12, .cluster_m = 1};
  return {.bm = 128, .bn = 128, .bk = 128, .stages = 6, .warps = 12, .cluster_m = 1};
}

// 257..2048 rows: whole waves of 2-CTA clusters decide. The BN in {256, 192, 160, 128}
// (stages 4, 5, 5, 6) with the fewest waves x (BN + 32) (a tile's time grows with BN, plus
// a fixed part: prologue, epilogue), the wider on a tie. Measured by tune on an H100: at
// M = 512, N = 5120 192 (one wave) ran 0.95x cuBLASLt where 128x128 (two waves) ran 0.72x;
// on an H200 160 (one wave of 64 clusters) ran 0.99x there against 192's 0.89x, and 0.99x at
// M = 2048 against 128's 0.96x (bench/RESULTS.md). Elsewhere it keeps the measured tiles.
TileConfig sm90_mid_m_tile(const GemmSpec& s) {
  const int64_t cluster_rows = ((s.m_hint + 127) / 128 + 1) / 2;
  TileConfig best;
  int64_t best_cost = 0;
  for (int bn : {256, 192, 160, 128}) {
    const int64_t clusters = cluster_rows * ((s.n + bn - 1) / bn);
    const int64_t cost = (clusters + kSm90Ctas / 2 - 1) / (kSm90Ctas / 2) * (bn + 32);
    if (best.bm == 0 || cost < best_cost) {
      best = {.bm = 128, .bn = bn, .bk = 128, .stages = bn == 256 ? 4 : bn >= 160 ? 5 : 6,
              .warps = 12, .cluster_m = 2};
      best_cost = cost;
    }
  }
  return best;
}

// Measured on an H100 SXM (docs/notes/sm90-gemm.md): 128x256 with 4 stages is the best tile
// from M = 2048 up; block scales keep a second fp32 sum, so BN 256 spills and 128x192 with 5
// stages is best at every M.
TileConfig sm90_pick_tile(const GemmSpec& s) {
  if (s.m_hint <= 256) return sm90_small_m_tile(s);
  if (s.scale == fusion::ScaleMode::kBlock)
    return {.bm = 128, .bn = 192, .bk = 128, .stages = 5, .warps = 12, .cluster_m = 2};
  if (s.m_hint <= 2048) return sm90_mid_m_tile(s);
  return {.bm = 128, .bn = 256, .bk = 128, .stages = 4, .warps = 12, .cluster_m = 2};
}

// The template's smem_bytes<Config>(): swizzle-alignment slack, the ring, one fp32 staging
// buffer per consumer warpgroup (64 rows x (32 or 16 columns + 8 pad)), two mbarriers a stage,
// 16 bytes for the split-K flag.
unsigned sm90_smem_bytes(const TileConfig& t) {
  const int epi_cols = t.bn % 32 == 0 ? 32 : 16;
  return static_cast<unsigned>(1024 + t.stages * (t.bm + t.bn) * t.bk +
                               t.bm / 64 * 64 * (epi_cols + 8) * 4 + t.stages * 16 + 16);
}

std::string sm90_tile_problem(const GemmSpec& s) {
  const TileConfig& t = s.tile;
  if (t.bm != 64 && t.bm != 128) return "bm must be 64 or 128 (one consumer warpgroup per 64 rows)";
  if (std::string p = tma_common_problem(t); !p.empty()) return p;
  if (t.warps != 4 * (1 + t.bm / 64))
    return "warps must be " + str(4 * (1 + t.bm / 64)) +
           " (one producer warpgroup + bm/64 consumer warpgroups)";
  if (s.scale == fusion::ScaleMode::kBlock && t.bn > 192)
    return "block scales need bn <= 192 (the second fp32 sum spills registers at 256)";
  if (t.split_k < 1 || t.split_k > 8) return "split_k must be within [1, 8]";
  if (sm90_smem_bytes(t) > kMaxSmem) return "the tile needs more than 227 KiB of shared memory";
  return {};
}

// --- sm90_decode: templates/gemm_fp8_sm90_decode.cuh ---------------------------------------

// Tokens per tile (wgmma N): 16 up to 16 rows, else 32; 64 weight rows (wgmma M). The ring:
// 12 stages where the weight tiles fit one wave of CTAs, else 8 (under 114 KiB: two CTAs a
// SM, so the last of several waves is shorter). Tune on an H200 at M = 16: qkv (80 tiles)
// 12 stages 0.98x cuBLASLt, 16 0.95x; gate_up (448 tiles) 8 stages 0.99x, 16 0.93x.
TileConfig decode_pick_tile(const GemmSpec& s) {
  const int bm = s.m_hint <= 16 ? 16 : 32;
  const int stages = (s.n + 63) / 64 <= kSm90Ctas ? 12 : 8;
  return {.bm = bm, .bn = 64, .bk = 128, .stages = stages, .warps = 8};
}

// The template's decode_smem_bytes<Config>(): slack, the ring, the transposed fp32 staging
// (bm tokens x (bn + 4)), two mbarriers a stage.
unsigned decode_smem_bytes(const TileConfig& t) {
  return static_cast<unsigned>(1024 + t.stages * (t.bm + t.bn) * t.bk + t.bm * (t.bn + 4) * 4 +
                               t.stages * 16);
}

std::string decode_tile_problem(const GemmSpec& s) {
  const TileConfig& t = s.tile;
  if (t.bm != 16 && t.bm != 32) return "bm (tokens per tile, the wgmma N) must be 16 or 32";
  if (t.bn != 64) return "bn (weight rows per tile, the wgmma M) must be 64";
  if (t.bk != 128) return "bk must be 128 (one 128-byte swizzle row, one block-scale block)";
  if (t.warps != 8) return "warps must be 8 (one producer and one consumer warpgroup)";
  if (t.cluster_m != 1) return "sm90_decode runs without clusters: cluster_m must be 1";
  if (t.split_k != 1) return "split_k must be 1 (sm90_decode does not split K)";
  if (t.stages < 2 || t.stages > 20) return "stages must be within [2, 20]";
  if (decode_smem_bytes(t) > kMaxSmem) return "the tile needs more than 227 KiB of shared memory";
  return {};
}

std::string no_extra_config(const TileConfig&) { return {}; }

// --- sm100_tcgen05: templates/gemm_fp8_sm100.cuh (compiled, never run: no Blackwell) -------

// Not measured. 128x256 fills the 2 x 256 TMEM columns (double-buffered accumulators) with
// 8 epilogue warps to drain them; block scales keep an fp32 sum per output in registers, at
// most 64 columns a thread, so 128x128 with 10 warps; stages as deep as 227 KiB allows.
TileConfig sm100_pick_tile(const GemmSpec& s) {
  if (s.scale == fusion::ScaleMode::kBlock)
    return {.bm = 128, .bn = 128, .bk = 128, .stages = 6, .warps = 10, .cluster_m = 2};
  return {.bm = 128, .bn = 256, .bk = 128, .stages = 4, .warps = 10, .cluster_m = 2};
}

// The template's smem_bytes<Config>(): slack, the ring, 2 mbarriers a stage + 4 for the TMEM
// accumulators, the TMEM address slot.
unsigned sm100_smem_bytes(const TileConfig& t) {
  return static_cast<unsigned>(1024 + t.stages * (t.bm + t.bn) * t.bk +
                               8 * (2 * t.stages + 4) + 16);
}

std::string sm100_tile_problem(const GemmSpec& s) {
  const TileConfig& t = s.tile;
  if (t.bm != 128) return "bm must be 128 (tcgen05 M = 128, one TMEM lane per row)";
  if (std::string p = tma_common_problem(t); !p.empty()) return p;
  if (std::string p = no_split_problem(t); !p.empty()) return p;
  if (t.warps != 6 && t.warps != 10)
    return "warps must be 6 or 10 (TMA warp, MMA warp, 4 or 8 epilogue warps)";
  const int group_cols = t.bn / ((t.warps - 2) / 4);
  if (group_cols % 16 != 0) return "with 10 warps bn must be a multiple of 32";
  if (s.scale == fusion::ScaleMode::kBlock && group_cols > 64)
    return "block scales need bn <= 64 with 6 warps or <= 128 with 10 (64 fp32 columns per "
           "epilogue thread)";
  if (sm100_smem_bytes(t) > kMaxSmem) return "the tile needs more than 227 KiB of shared memory";
  return {};
}

}  // namespace

const std::vector<Variant>& variants() {
  static const std::vector<Variant> all = {
      Variant{.name = kVariantMmaSync,
              .tag = "mma",
              .header = "gemm_fp8_mma.cuh",
              .entry = "tpjit::mma_sync::gemm",
              .params = "tpjit::GemmArgs args",
              .forward = "args",
              .archs = {Arch::kSm90a, Arch::kSm100a},
              .pick_tile = mma_pick_tile,
              .tile_problem = mma_tile_problem,
              .threads = warp_threads,
              .smem_bytes = mma_smem_bytes,
              .extra_config = mma_extra_config},
      Variant{.name = kVariantSm90Wgmma,
              .tag = "wgmma",
              .header = "gemm_fp8_sm90.cuh",
              .entry = "tpjit::sm90::gemm",
              .params = "const __grid_constant__ tpjit::sm90::TmaDesc tma_a, "
                        "const __grid_constant__ tpjit::sm90::TmaDesc tma_b, "
                        "const __grid_constant__ tpjit::sm90::TmaDesc tma_a_local, tpjit::GemmArgs args",
              .forward = "tma_a, tma_b, tma_a_local, args",
              .archs = {Arch::kSm90a},
              .tensor_maps = true,
              .persistent = true,
              .overlap_hooks = true,
              .pick_tile = sm90_pick_tile,
              .tile_problem = sm90_tile_problem,
              .threads = warp_threads,
              .smem_bytes = sm90_smem_bytes,
              .extra_config = sm90_config},
      Variant{.name = kVariantSm90Decode,
              .tag = "wgdec",
              .header = "gemm_fp8_sm90_decode.cuh",
              .entry = "tpjit::sm90::decode_gemm",
              .params = "const __grid_constant__ tpjit::sm90::TmaDesc tma_a, "
                        "const __grid_constant__ tpjit::sm90::TmaDesc tma_b, tpjit::GemmArgs args",
              .forward = "tma_a, tma_b, args",
              .archs = {Arch::kSm90a},
              .tensor_maps = true,
              .persistent = true,
              .pick_tile = decode_pick_tile,
              .tile_problem = decode_tile_problem,
              .threads = warp_threads,
              .smem_bytes = decode_smem_bytes,
              .extra_config = no_extra_config},
      Variant{.name = kVariantSm100Tcgen05,
              .tag = "tcgen05",
              .header = "gemm_fp8_sm100.cuh",
              .entry = "tpjit::sm100::gemm",
              .params = "const __grid_constant__ tpjit::sm100::TmaDesc tma_a, "
                        "const __grid_constant__ tpjit::sm100::TmaDesc tma_b, tpjit::GemmArgs args",
              .forward = "tma_a, tma_b, args",
              .archs = {Arch::kSm100a},
              .tensor_maps = true,
              .persistent = true,
              .pick_tile = sm100_pick_tile,
              .tile_problem = sm100_tile_problem,
              .threads = warp_threads,
              .smem_bytes = sm100_smem_bytes,
              .extra_config = cluster_config},
  };
  return all;
}

const Variant* find_variant(std::string_view name) {
  for (const Variant& v : variants())
    if (v.name == name) return &v;
  return nullptr;
}

std::string_view default_variant(Arch a) {
  return a == Arch::kSm100a ? kVariantSm100Tcgen05 : kVariantSm90Wgmma;
}

std::string_view fast_variant(Arch a, int64_t m_hint) {
  return a == Arch::kSm90a && m_hint <= kDecodeMaxRows ? kVariantSm90Decode : default_variant(a);
}

}  // namespace tpjit::codegen
