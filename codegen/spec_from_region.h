// From a matched GEMM (fusion::GemmInfo) to the spec of the kernel that computes it.
#pragma once

#include <cstdint>
#include <optional>

#include "codegen/spec.h"
#include "fusion/match.h"

namespace tpjit::codegen {

// The spec for `gemm` run on about m_rows rows for arch: fast_variant(arch, m_rows)
// (sm90_decode, sm90_wgmma, sm100_tcgen05), or mma_sync where that variant refuses the shape;
// tiles from choose_tile.
// Refuses what no kernel takes: non-e4m3 operands, scale mode none or an output that is not
// bf16/f16/f32 (kUnsupportedDtype); K % 16 != 0, N % 8 != 0, batch != 1 or m_rows < 1
// (kUnsupportedShape). Errors name the GEMM node in `where`.
// accumulate is false; the daemon sets it for GEMM+reduce-scatter regions (the copy-engine
// ring adds the received partial sum in the epilogue).
// With `tile` (an autotuned one) the spec takes it instead of choose_tile's, for the variant
// chosen as above; a tile check_spec refuses is kUnsupportedShape, never silently replaced.
Result<GemmSpec> make_gemm_spec(const fusion::GemmInfo& gemm, int64_t m_rows, Arch arch,
                                const std::optional<TileConfig>& tile = std::nullopt);

}  // namespace tpjit::codegen
