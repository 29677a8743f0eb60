// The GEMM variants codegen knows: which template header holds each kernel body, the kernel
// ABI it takes, the archs it runs on, its tile heuristic and resource needs. Adding a variant
// is one entry in variant.cc plus its header; spec, generate, launch_shape and the runtime go
// through this table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/spec.h"

namespace tpjit::codegen {

// Variant names beside kVariantMmaSync (spec.h).
inline constexpr const char* kVariantSm90Wgmma = "sm90_wgmma";      // templates/gemm_fp8_sm90.cuh
inline constexpr const char* kVariantSm90Decode = "sm90_decode";    // gemm_fp8_sm90_decode.cuh
inline constexpr const char* kVariantSm100Tcgen05 = "sm100_tcgen05";  // gemm_fp8_sm100.cuh

struct Variant {
  std::string_view name;    // GemmSpec::variant
  std::string_view tag;     // short form used in kernel names
  std::string_view header;  // template header (embedded name) with the kernel body
  std::string_view entry;   // device function template the kernel calls: entry<Config>(...)
  std::string_view params;  // the __global__ parameter list: the kernel ABI
  std::string_view forward; // what the kernel passes to entry<Config>
  std::vector<Arch> archs;  // targets this variant compiles for
  // The kernel takes (tensor map A, tensor map B, GemmArgs): the runtime encodes A as
  // [m, K] with box {128, bm} and B as [N, K] with box {128, bn / cluster_m}, UINT8,
  // 128-byte swizzle, and launches clusters of (cluster_m, 1, 1).
  bool tensor_maps = false;
  // Persistent kernel: launch_shape's grid_x counts the work tiles; the launcher caps it at
  // cluster_m * (clusters resident at once, from the occupancy API).
  bool persistent = false;
  // The kernel takes GemmArgs' overlap hooks (templates/overlap_hooks.cuh) and, after the two
  // maps, a third: A over the caller's own shard (GemmArgs::local_shard).
  bool overlap_hooks = false;
  // The tile for the spec's m_hint, n, k and scale (spec.tile is ignored).
  TileConfig (*pick_tile)(const GemmSpec&);
  // Empty if the spec's tile suits the variant (for its scale mode), else why not.
  std::string (*tile_problem)(const GemmSpec&);
  unsigned (*threads)(const TileConfig&);
  unsigned (*smem_bytes)(const TileConfig&);
  // Extra `static constexpr` members of the generated config struct, one per line.
  std::string (*extra_config)(const TileConfig&);
};

// The variant with this name, or nullptr.
const Variant* find_variant(std::string_view name);
// Every variant, in a fixed order.
const std::vector<Variant>& variants();
// The fastest variant for an arch: sm_90a -> sm90_wgmma, sm_100a -> sm100_tcgen05.
// mma_sync runs on both and is the fallback for specs the default refuses.
std::string_view default_variant(Arch);

// Up to this many rows sm_90a runs the decode kernel (fast_variant).
inline constexpr int64_t kDecodeMaxRows = 32;
// The variant for m_hint rows: sm90_decode on sm_90a up to kDecodeMaxRows rows (on an H200
// it ran 0.95-1.02x cuBLASLt on the Llama-3-70B TP2 layers at M = 1..32, where sm90_wgmma ran
// 0.68-0.96x; bench/RESULTS.md), else default_variant. sm90_decode takes no overlap hooks:
// fused regions of that size launch per sub-chunk.
std::string_view fast_variant(Arch, int64_t m_hint);

}  // namespace tpjit::codegen
