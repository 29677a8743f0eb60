// What one generated GEMM kernel is: shapes, epilogue, target, variant and tiles (GemmSpec),
// its deterministic name and its launch geometry. No JSON here (spec_json.h) so runtime/
// can use specs without it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fusion/match.h"
#include "util/result.h"

namespace tpjit::codegen {

enum class Arch { kSm90a, kSm100a };
const char* arch_name(Arch);                       // "sm_90a" | "sm_100a"
std::optional<Arch> parse_arch(std::string_view);  // inverse of arch_name

enum class OutDtype { kBF16, kF16, kF32 };
const char* out_dtype_name(OutDtype);  // torch name: "bfloat16" | "float16" | "float32"
int out_dtype_bytes(OutDtype);         // 2 | 2 | 4

struct TileConfig {
  int bm = 0, bn = 0, bk = 0;  // CTA tile: rows, columns, K bytes per pipeline stage
  int stages = 0;              // shared-memory pipeline depth
  int warps = 0;               // warps per CTA
  int cluster_m = 1;           // CTAs per cluster along M (they share, multicast, B tiles)
  int split_k = 1;             // most K slices per output tile (sm90_wgmma only; the
                               // launcher picks 1..split_k per launch: split_for)
  bool operator==(const TileConfig&) const = default;
};

// Variant names (GemmSpec::variant); variant.h has what each one means.
inline constexpr const char* kVariantMmaSync = "mma_sync";

struct GemmSpec {
  Arch arch = Arch::kSm90a;
  std::string variant = kVariantMmaSync;  // picks the template (variant.h lists them)
  int64_t m_hint = 0;                     // tokens; picks tiles only. M is a runtime argument.
  int64_t n = 0, k = 0;
  fusion::ScaleMode scale = fusion::ScaleMode::kTensor;
  OutDtype out = OutDtype::kBF16;
  bool bias = false;
  bool accumulate = false;  // D = ... + C (the GEMM+reduce-scatter ring's partial sum)
  TileConfig tile;
};

// The tile the heuristic of s.variant picks for s.m_hint rows, s.n, s.k and s.scale (s.tile
// is ignored). An unknown variant gives an all-zero tile, which check_spec() refuses.
TileConfig choose_tile(const GemmSpec& s);

// OK if generate() makes a kernel that compiles and runs for this spec; else
// kUnsupportedShape (shapes, tiles), kUnsupportedArch or kBadRequest (variant) with the fix.
Status check_spec(const GemmSpec&);

// Deterministic and unique per generated source, e.g.
// "tpjit_gemm_mma_n5120_k8192_tensor_bf16_bias_t128x128x64_s2_w8", with "_c2" appended for a
// 2-CTA cluster. m_hint and arch are not in it: they change neither the source nor (m_hint)
// the kernel.
std::string kernel_name(const GemmSpec&);

struct LaunchShape {
  // Persistent variants: grid_x is the number of CTAs with work (a multiple of cluster_x);
  // the launcher caps it at cluster_x * the clusters resident at once, and each CTA loops.
  unsigned grid_x = 1, grid_y = 1, grid_z = 1;
  unsigned block_x = 1, block_y = 1, block_z = 1;
  unsigned smem_bytes = 0;  // dynamic shared memory; above 48 KiB the launcher must raise
                            // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first
  unsigned cluster_x = 1;   // > 1: launch with the cluster dimension (cluster_x, 1, 1)
  bool persistent = false;  // grid_x to be capped as above
  bool tensor_maps = false; // the kernel takes (tensor map A, tensor map B, GemmArgs)
};
inline constexpr unsigned kDefaultSmemLimit = 48 * 1024;

// How many K slices a launch of m rows on `resident_ctas` CTAs (the most that run at once)
// uses: as many as fit in one wave of units (resident_ctas / tiles), at most s.tile.split_k,
// each at least 8 K blocks (1024 of K) long, and none unless that is 3 or more. Measured on
// an H100 (bench/RESULTS.md): 3 slices of 40 decode tiles ran 3% faster than none; 2 slices
// of 64 tiles from 6% slower to 2% faster; slices past one wave always slower (up to 24%).
int split_for(const GemmSpec& s, int m, int resident_ctas);

// Output tiles (CTA tiles, bm x bn, counted in whole clusters) of a launch of m rows.
int64_t output_tiles(const GemmSpec& s, int m);

// Grid, block and dynamic shared memory to run the spec's kernel on m rows. m == 0 still
// gives one row of CTAs (or one cluster; they write nothing), so a launch is always valid.
// Throws CheckError for a spec check_spec() refuses or m outside [0, 65535 * bm] (mma_sync's
// grid_y limit) or m < 0.
LaunchShape launch_shape(const GemmSpec&, int m);

}  // namespace tpjit::codegen
