#include "tests/gpu/gemm_case.h"

#include "codegen/variant.h"
#include "tests/gpu/gpu_env.h"

namespace tpjit::gpu_test {
namespace {

const char* scale_tag(RefScale s) {
  return s == RefScale::kTensor ? "tensor" : s == RefScale::kRow ? "row" : "block";
}
const char* out_tag(RefOut o) {
  return o == RefOut::kBF16 ? "bf16" : o == RefOut::kF16 ? "f16" : "f32";
}

std::vector<GemmCase> cases_for(const std::string& v) {
  std::vector<GemmCase> out;
  auto add = [&](GemmCase c, const std::string& what) {
    c.variant = v;
    c.label = v + "_" + what + "_" + scale_tag(c.scale) + "_" + out_tag(c.out);
    out.push_back(c);
  };
  // Every scale mode x output dtype, M, N and K off the tiles (K = 272 is just above a
  // multiple of 128 and 64), with bias and accumulate spread over the grid.
  const RefScale scales[] = {RefScale::kTensor, RefScale::kRow, RefScale::kBlock};
  const RefOut outs[] = {RefOut::kBF16, RefOut::kF16, RefOut::kF32};
  int i = 0;
  for (RefScale s : scales)
    for (RefOut o : outs) {
      GemmCase c{.m_first = 100, .m_last = 100, .n = 264, .k = 272, .m_hint = 100,
                 .scale = s, .out = o, .bias = i % 2 == 1, .accumulate = i % 3 == 0};
      add(c, "m100_n264_k272" + std::string(c.bias ? "_bias" : "") +
                 (c.accumulate ? "_acc" : ""));
      ++i;
    }
  // Epilogue options one at a time, and a row offset with padded rows, on a big tile.
  add({.m_first = 257, .m_last = 257, .n = 200, .k = 144, .m_hint = 4096, .bias = true},
      "m257_n200_k144_bias");
  add({.m_first = 257, .m_last = 257, .n = 200, .k = 144, .m_hint = 4096, .scale = RefScale::kRow,
       .out = RefOut::kF16, .accumulate = true},
      "m257_n200_k144_acc");
  add({.m_first = 100, .m_last = 100, .n = 264, .k = 272, .m_hint = 100, .scale = RefScale::kBlock,
       .accumulate = true, .alias = true, .row_offset = 37, .ld_pad = 8},
      "m100_n264_k272_acc_alias_off37");
  add({.m_first = 100, .m_last = 100, .n = 264, .k = 272, .m_hint = 100, .out = RefOut::kF32,
       .bias = true, .row_offset = 64, .ld_pad = 24},
      "m100_n264_k272_bias_off64");
  // Decode: M = 1..16 on the small-M tile, and M = 1..3 on the large tile.
  add({.m_first = 1, .m_last = 16, .n = 280, .k = 144, .m_hint = 16, .bias = true,
       .row_offset = 5},
      "m1to16_n280_k144_bias_off5");
  add({.m_first = 1, .m_last = 16, .n = 280, .k = 272, .m_hint = 16, .scale = RefScale::kBlock},
      "m1to16_n280_k272");
  add({.m_first = 1, .m_last = 3, .n = 256, .k = 256, .m_hint = 4096, .scale = RefScale::kRow},
      "m1to3_bigtile_n256_k256");
  // m = 0: nothing written at all.
  add({.m_first = 0, .m_last = 0, .n = 128, .k = 128, .m_hint = 128}, "m0_n128_k128");
  // One larger shape, on each main scale mode.
  add({.m_first = 512, .m_last = 512, .n = 1024, .k = 2048, .m_hint = 512}, "m512_n1024_k2048");
  add({.m_first = 512, .m_last = 512, .n = 1024, .k = 2048, .m_hint = 512,
       .scale = RefScale::kBlock},
      "m512_n1024_k2048");
  // Persistent TMA kernels: 2-CTA clusters on each tile the heuristic picks (128x128 s6,
  // 128x160 s5, 128x192 s5, 128x256 s4), odd M-tile counts (a cluster half past m), ragged N and K, and
  // a multi-wave grid (M = 4096, N = 5120: 320 clusters for about 66 resident).
  if (const codegen::Variant* var = codegen::find_variant(v); var && var->persistent) {
    add({.m_first = 1000, .m_last = 1000, .n = 1000, .k = 528, .m_hint = 1000,
         .scale = RefScale::kRow, .bias = true},
        "m1000_n1000_k528_bias_midtile");
    add({.m_first = 1000, .m_last = 1000, .n = 1000, .k = 1040, .m_hint = 4096,
         .scale = RefScale::kBlock, .out = RefOut::kF32, .accumulate = true},
        "m1000_n1000_k1040_acc_tile192");
    add({.m_first = 4096, .m_last = 4096, .n = 5120, .k = 1024, .m_hint = 4096},
        "m4096_n5120_k1024_multiwave");
    // BN 160 (one wave of 64 clusters at N = 5120), ragged M and K.
    add({.m_first = 600, .m_last = 600, .n = 5120, .k = 272, .m_hint = 512, .bias = true,
         .accumulate = true},
        "m600_n5120_k272_bias_acc_tile160");
    add({.m_first = 2500, .m_last = 2500, .n = 8200, .k = 400, .m_hint = 4096,
         .scale = RefScale::kRow, .out = RefOut::kF16, .row_offset = 3, .ld_pad = 8},
        "m2500_n8200_k400_off3_tile256");
    // Split K (sm90_split_k.cuh) on the decode tile (BM 64): 5 N tiles x 3 slices of a
    // K = 3088 with a ragged last block, 16 launches of one kernel (the tile counters must be
    // zero again after each); 8 N tiles x 4 slices with rows 61..64 filling the tile.
    add({.m_first = 1, .m_last = 16, .n = 520, .k = 3088, .m_hint = 16, .bias = true,
         .row_offset = 2},
        "m1to16_n520_k3088_bias_off2_split");
    add({.m_first = 1, .m_last = 16, .n = 520, .k = 3088, .m_hint = 16,
         .scale = RefScale::kBlock, .out = RefOut::kF32, .accumulate = true, .alias = true,
         .row_offset = 1},
        "m1to16_n520_k3088_acc_alias_split");
    add({.m_first = 61, .m_last = 64, .n = 1000, .k = 4112, .m_hint = 64,
         .scale = RefScale::kRow, .out = RefOut::kF16, .accumulate = true},
        "m61to64_n1000_k4112_acc_split");
  }
  return out;
}

}  // namespace

const std::vector<GemmCase>& all_cases() {
  static const std::vector<GemmCase> all = [] {
    std::vector<GemmCase> out;
    for (const codegen::Variant& v : codegen::variants()) {
      std::vector<GemmCase> c = cases_for(std::string(v.name));
      out.insert(out.end(), c.begin(), c.end());
    }
    return out;
  }();
  return all;
}

codegen::Arch device_arch() {
  const GpuEnv& env = gpu_env();
  return env.info.cc_major >= 10 ? codegen::Arch::kSm100a : codegen::Arch::kSm90a;
}

Result<codegen::GemmSpec> to_spec(const GemmCase& c, codegen::Arch arch) {
  codegen::GemmSpec s;
  s.arch = arch;
  s.variant = c.variant;
  s.m_hint = c.m_hint;
  s.n = c.n;
  s.k = c.k;
  s.scale = c.scale == RefScale::kTensor ? fusion::ScaleMode::kTensor
            : c.scale == RefScale::kRow  ? fusion::ScaleMode::kRow
                                         : fusion::ScaleMode::kBlock;
  s.out = c.out == RefOut::kBF16  ? codegen::OutDtype::kBF16
          : c.out == RefOut::kF16 ? codegen::OutDtype::kF16
                                  : codegen::OutDtype::kF32;
  s.bias = c.bias;
  s.accumulate = c.accumulate;
  s.tile = codegen::choose_tile(s);
  if (Status st = codegen::check_spec(s); !st.ok()) return st.error();
  return s;
}

}  // namespace tpjit::gpu_test
