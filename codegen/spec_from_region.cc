#include "codegen/spec_from_region.h"

#include <string>

#include "codegen/variant.h"

namespace tpjit::codegen {

Result<GemmSpec> make_gemm_spec(const fusion::GemmInfo& g, int64_t m_rows, Arch arch,
                                const std::optional<TileConfig>& tile) {
  const std::string where = "gemm '" + g.node + "'";
  using graph::DType;
  if (g.a_dtype != DType::kF8E4M3 || g.b_dtype != DType::kF8E4M3)
    return make_error(errc::kUnsupportedDtype,
                      "the FP8 GEMM takes float8_e4m3fn operands; got " +
                          std::string(graph::dtype_name(g.a_dtype)) + " x " +
                          graph::dtype_name(g.b_dtype) + " (quantize both to e4m3)",
                      where);
  if (g.scale == fusion::ScaleMode::kNone)
    return make_error(errc::kUnsupportedDtype,
                      "op '" + g.op + "' has no FP8 scales (a bf16 mm): no generated kernel",
                      where);
  GemmSpec s;
  switch (g.out_dtype) {
    case DType::kBF16: s.out = OutDtype::kBF16; break;
    case DType::kF16: s.out = OutDtype::kF16; break;
    case DType::kF32: s.out = OutDtype::kF32; break;
    default:
      return make_error(errc::kUnsupportedDtype,
                        "output dtype " + std::string(graph::dtype_name(g.out_dtype)) +
                            " is not supported; use bfloat16, float16 or float32",
                        where);
  }
  if (g.batch != 1)
    return make_error(errc::kUnsupportedShape,
                      "bmm_fp8 with batch " + std::to_string(g.batch) +
                          ": the generated GEMM takes one matrix product (batch 1)",
                      where);
  if (m_rows < 1)
    return make_error(errc::kUnsupportedShape,
                      "m = " + std::to_string(m_rows) + ": a GEMM needs at least one row",
                      where);
  s.arch = arch;
  s.m_hint = m_rows;
  s.n = g.n;
  s.k = g.k;
  s.scale = g.scale;
  s.bias = !g.bias.empty();
  s.accumulate = false;
  // The arch's fast variant for these rows where it takes the shape, else the portable
  // mma_sync.
  s.variant = std::string(fast_variant(arch, m_rows));
  s.tile = choose_tile(s);
  if (!check_spec(s).ok()) {
    s.variant = kVariantMmaSync;
    s.tile = choose_tile(s);
  }
  if (tile) s.tile = *tile;
  if (Status ok = check_spec(s); !ok) {
    Error e = ok.error();
    e.message = "gemm '" + g.node + "' (" + g.op + ", N=" + std::to_string(g.n) +
                ", K=" + std::to_string(g.k) + "): " + e.message;
    e.where = where;
    return e;
  }
  return s;
}

}  // namespace tpjit::codegen
