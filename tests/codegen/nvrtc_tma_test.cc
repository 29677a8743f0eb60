// The TMA variants through the real NVRTC: sm90_wgmma for sm_90a and sm100_tcgen05 for
// sm_100a compile in every scale mode, and their PTX holds the instructions the variant is
// for (wgmma on e4m3 and TMA bulk tensor copies; tcgen05 MMA, TMEM alloc/load, commit), and
// the sm90 decode tiles compile their split-K path (tile counters, partials read through L2);
// the sm90_decode variant (swap AB) compiles in every scale mode to wgmma m64n16 / m64n32.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "codegen/compiler.h"
#include "codegen/generate.h"
#include "codegen/variant.h"

namespace tpjit::codegen {
namespace {

struct Job {
  GemmSpec spec;
  KernelSource source;
  Result<CompileOutput> out = make_error(errc::kInternal, "not compiled");
};

GemmSpec tma_spec(Arch arch, fusion::ScaleMode scale, OutDtype out, int64_t m_hint, bool bias,
                  bool accumulate) {
  GemmSpec s;
  s.arch = arch;
  s.variant = std::string(default_variant(arch));
  s.m_hint = m_hint;
  s.n = 1000;  // not a multiple of any BN: partial N tiles
  s.k = 1040;  // not a multiple of 128: a partial last K block
  s.scale = scale;
  s.out = out;
  s.bias = bias;
  s.accumulate = accumulate;
  s.tile = choose_tile(s);
  return s;
}

// Each wgmma/tcgen05 kernel takes seconds in NVRTC: all of them on every core at once.
std::vector<Job> compile_jobs(std::vector<GemmSpec> specs) {
  std::vector<Job> jobs;
  for (const GemmSpec& s : specs) jobs.push_back(Job{s, generate(s)});
  auto c = make_nvrtc_compiler();
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (size_t t = 0; t < jobs.size(); ++t)
    threads.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < jobs.size();)
        jobs[i].out = c->compile(jobs[i].source, jobs[i].spec.arch);
    });
  for (std::thread& t : threads) t.join();
  std::printf("compiled %zu kernels in %.0f ms\n", jobs.size(),
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count());
  return jobs;
}

void expect_ptx(const Job& j, const std::vector<std::string>& needles) {
  ASSERT_TRUE(j.out.ok()) << j.source.name << ": " << j.out.error().message;
  const CompileOutput& o = j.out.value();
  EXPECT_EQ(std::string(o.cubin.begin(), o.cubin.begin() + 4), "\x7f" "ELF") << j.source.name;
  EXPECT_NE(o.ptx.find(".entry " + j.source.name), std::string::npos) << j.source.name;
  for (const std::string& n : needles)
    EXPECT_NE(o.ptx.find(n), std::string::npos) << j.source.name << " lacks " << n;
  EXPECT_EQ(o.log, "") << j.source.name;  // no warnings from our templates
}

TEST(NvrtcTma, BothVariantsCompileWithTheirInstructions) {
  using fusion::ScaleMode;
  const std::vector<Job> jobs = compile_jobs({
      tma_spec(Arch::kSm90a, ScaleMode::kTensor, OutDtype::kBF16, 4096, true, false),
      tma_spec(Arch::kSm90a, ScaleMode::kRow, OutDtype::kF16, 1000, false, true),
      tma_spec(Arch::kSm90a, ScaleMode::kBlock, OutDtype::kF32, 4096, true, true),
      tma_spec(Arch::kSm100a, ScaleMode::kTensor, OutDtype::kBF16, 4096, true, true),
      tma_spec(Arch::kSm100a, ScaleMode::kBlock, OutDtype::kF32, 4096, false, false),
  });
  for (const Job& j : jobs) {
    EXPECT_EQ(j.spec.tile.cluster_m, 2) << j.source.name;
    if (j.spec.arch == Arch::kSm90a)
      expect_ptx(j, {"wgmma.mma_async.sync.aligned.m64n", "e4m3.e4m3", "cp.async.bulk.tensor",
                     ".target sm_90a"});
    else
      expect_ptx(j, {"tcgen05.mma", "tcgen05.alloc", "tcgen05.ld", "tcgen05.commit",
                     ".target sm_100a"});
  }
}

TEST(NvrtcTma, Sm90DecodeTilesCompileTheSplitKPath) {
  using fusion::ScaleMode;
  const std::vector<Job> jobs = compile_jobs({
      tma_spec(Arch::kSm90a, ScaleMode::kTensor, OutDtype::kBF16, 16, true, false),
      tma_spec(Arch::kSm90a, ScaleMode::kBlock, OutDtype::kF32, 64, false, true),
  });
  for (const Job& j : jobs) {
    EXPECT_EQ(j.spec.tile.cluster_m, 1) << j.source.name;
    EXPECT_GT(j.spec.tile.split_k, 1) << j.source.name;
    expect_ptx(j, {"wgmma.mma_async.sync.aligned.m64n", "cp.async.bulk.tensor",
                   "atom.global.add.u32", "ld.global.cg.v4.f32", ".target sm_90a"});
  }
}

TEST(NvrtcTma, Sm90DecodeVariantCompilesInEveryScaleMode) {
  using fusion::ScaleMode;
  auto decode = [](ScaleMode scale, OutDtype out, int64_t m_hint, bool bias, bool accumulate) {
    GemmSpec s = tma_spec(Arch::kSm90a, scale, out, m_hint, bias, accumulate);
    s.variant = kVariantSm90Decode;
    s.tile = choose_tile(s);
    return s;
  };
  const std::vector<Job> jobs = compile_jobs({
      decode(ScaleMode::kTensor, OutDtype::kBF16, 16, true, false),
      decode(ScaleMode::kRow, OutDtype::kF16, 16, false, true),
      decode(ScaleMode::kBlock, OutDtype::kF32, 32, true, true),
  });
  for (const Job& j : jobs) {
    const std::string n = j.spec.tile.bm == 16 ? "m64n16k32" : "m64n32k32";
    expect_ptx(j, {"wgmma.mma_async.sync.aligned." + n + ".f32.e4m3.e4m3",
                   "cp.async.bulk.tensor", ".target sm_90a"});
  }
}

}  // namespace
}  // namespace tpjit::codegen
