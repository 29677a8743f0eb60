#include "codegen/spec.h"

#include <algorithm>
#include <limits>

#include "codegen/variant.h"
#include "util/check.h"

namespace tpjit::codegen {

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::kSm90a: return "sm_90a";
    case Arch::kSm100a: return "sm_100a";
  }
  return "?";
}

std::optional<Arch> parse_arch(std::string_view s) {
  for (Arch a : {Arch::kSm90a, Arch::kSm100a})
    if (s == arch_name(a)) return a;
  return std::nullopt;
}

const char* out_dtype_name(OutDtype d) {
  switch (d) {
    case OutDtype::kBF16: return "bfloat16";
    case OutDtype::kF16: return "float16";
    case OutDtype::kF32: return "float32";
  }
  return "?";
}

int out_dtype_bytes(OutDtype d) { return d == OutDtype::kF32 ? 4 : 2; }

TileConfig choose_tile(const GemmSpec& s) {
  const Variant* v = find_variant(s.variant);
  return v ? v->pick_tile(s) : TileConfig{};
}

Status check_spec(const GemmSpec& s) {
  const Variant* v = find_variant(s.variant);
  if (!v) {
    std::string known;
    for (const Variant& x : variants()) known += (known.empty() ? "" : ", ") + std::string(x.name);
    return make_error(errc::kBadRequest,
                      "unknown GEMM variant '" + s.variant + "'; known: " + known, "spec.variant");
  }
  if (std::find(v->archs.begin(), v->archs.end(), s.arch) == v->archs.end())
    return make_error(errc::kUnsupportedArch,
                      "variant '" + s.variant + "' has no kernel for " + arch_name(s.arch),
                      "spec.arch");
  // K and N are baked into the kernel as int; K % 16 keeps every 16-byte copy of a row
  // either wholly inside K or wholly past it, N % 8 keeps the n8 output pairs whole.
  constexpr int64_t kMaxDim = std::numeric_limits<int>::max() / 2;
  if (s.k <= 0 || s.k > kMaxDim || s.k % 16 != 0)
    return make_error(errc::kUnsupportedShape,
                      "K = " + std::to_string(s.k) +
                          ": the FP8 GEMM needs K to be a positive multiple of 16; pad K with "
                          "zeros to the next multiple of 16",
                      "spec.k");
  if (s.n <= 0 || s.n > kMaxDim || s.n % 8 != 0)
    return make_error(errc::kUnsupportedShape,
                      "N = " + std::to_string(s.n) +
                          ": the FP8 GEMM needs N to be a positive multiple of 8; pad N with "
                          "zeros to the next multiple of 8",
                      "spec.n");
  if (s.scale == fusion::ScaleMode::kNone)
    return make_error(errc::kUnsupportedDtype,
                      "scale mode 'none' (a bf16 mm) has no FP8 kernel; it runs unfused",
                      "spec.scale");
  if (std::string problem = v->tile_problem(s); !problem.empty())
    return make_error(errc::kUnsupportedShape,
                      "variant '" + s.variant + "', tile " + std::to_string(s.tile.bm) + "x" +
                          std::to_string(s.tile.bn) + "x" + std::to_string(s.tile.bk) +
                          " (stages " + std::to_string(s.tile.stages) + ", warps " +
                          std::to_string(s.tile.warps) + ", cluster_m " +
                          std::to_string(s.tile.cluster_m) + ", split_k " +
                          std::to_string(s.tile.split_k) + ", scale " +
                          fusion::scale_mode_name(s.scale) + "): " + problem,
                      "spec.tile");
  return ok_status();
}

namespace {

const char* out_tag(OutDtype d) {
  switch (d) {
    case OutDtype::kBF16: return "bf16";
    case OutDtype::kF16: return "f16";
    case OutDtype::kF32: return "f32";
  }
  return "?";
}

}  // namespace

std::string kernel_name(const GemmSpec& s) {
  const Variant* v = find_variant(s.variant);
  const TileConfig& t = s.tile;
  std::string name = "tpjit_gemm_" + std::string(v ? v->tag : "unknown") + "_n" +
                     std::to_string(s.n) + "_k" + std::to_string(s.k) + "_" +
                     fusion::scale_mode_name(s.scale) + "_" + out_tag(s.out);
  if (s.bias) name += "_bias";
  if (s.accumulate) name += "_acc";
  name += "_t" + std::to_string(t.bm) + "x" + std::to_string(t.bn) + "x" + std::to_string(t.bk) +
          "_s" + std::to_string(t.stages) + "_w" + std::to_string(t.warps);
  if (t.cluster_m != 1) name += "_c" + std::to_string(t.cluster_m);
  if (t.split_k != 1) name += "_split" + std::to_string(t.split_k);
  return name;
}

int64_t output_tiles(const GemmSpec& s, int m) {
  const int64_t rows = std::max<int64_t>(1, (int64_t{m} + s.tile.bm - 1) / s.tile.bm);
  const int64_t c = std::max(1, s.tile.cluster_m);
  return c * ((rows + c - 1) / c) * ((s.n + s.tile.bn - 1) / s.tile.bn);
}

int split_for(const GemmSpec& s, int m, int resident_ctas) {
  if (s.tile.split_k <= 1 || m <= 0 || resident_ctas <= 0) return 1;
  const int64_t tiles = output_tiles(s, m);
  const int64_t k_blocks = (s.k + s.tile.bk - 1) / s.tile.bk;
  const int64_t split = std::min<int64_t>({s.tile.split_k, resident_ctas / tiles, k_blocks / 8});
  return split >= 3 ? static_cast<int>(split) : 1;
}

LaunchShape launch_shape(const GemmSpec& s, int m) {
  Status ok = check_spec(s);
  TPJIT_CHECK(ok.ok(), "launch_shape of an invalid spec: " + ok.error().message);
  const Variant& v = *find_variant(s.variant);
  TPJIT_CHECK(m >= 0, "m = " + std::to_string(m) + " is negative");
  const int64_t rows_of_ctas = std::max<int64_t>(1, (int64_t{m} + s.tile.bm - 1) / s.tile.bm);
  const int64_t cols_of_ctas = (s.n + s.tile.bn - 1) / s.tile.bn;
  LaunchShape l;
  l.block_x = v.threads(s.tile);
  l.smem_bytes = v.smem_bytes(s.tile);
  l.tensor_maps = v.tensor_maps;
  if (v.persistent) {
    // Work units are clusters: cluster_m adjacent M tiles sharing one N tile.
    const int64_t c = s.tile.cluster_m;
    const int64_t ctas = c * ((rows_of_ctas + c - 1) / c) * cols_of_ctas;
    TPJIT_CHECK(ctas <= std::numeric_limits<int>::max(),
                "m = " + std::to_string(m) + " needs more than 2^31 CTAs");
    l.grid_x = static_cast<unsigned>(ctas);
    l.cluster_x = static_cast<unsigned>(c);
    l.persistent = true;
    return l;
  }
  TPJIT_CHECK(rows_of_ctas <= 65535,
              "m = " + std::to_string(m) + " needs more than 65535 CTA rows");
  l.grid_x = static_cast<unsigned>(cols_of_ctas);
  l.grid_y = static_cast<unsigned>(rows_of_ctas);
  return l;
}

}  // namespace tpjit::codegen
