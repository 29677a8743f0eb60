// The real NVRTC: every epilogue combination compiles for every arch, the PTX holds the FP8
// mma, and a broken source comes back as kCompileFailed with the log.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "codegen/compiler.h"
#include "codegen/generate.h"

namespace tpjit::codegen {
namespace {

constexpr fusion::ScaleMode kAllScales[] = {fusion::ScaleMode::kTensor, fusion::ScaleMode::kRow,
                                             fusion::ScaleMode::kBlock};

constexpr const char* kMmaInstruction = "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32";

struct Job {
  GemmSpec spec;
  KernelSource source;
  Result<CompileOutput> out = make_error(errc::kInternal, "not compiled");
};

// Compiles every job on a few threads (the compiler is thread-safe).
void compile_all(const Compiler& c, std::vector<Job>& jobs) {
  std::atomic<size_t> next{0};
  const unsigned n = std::max(2u, std::min(8u, std::thread::hardware_concurrency()));
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < n; ++t)
    threads.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < jobs.size();)
        jobs[i].out = c.compile(jobs[i].source, jobs[i].spec.arch);
    });
  for (std::thread& t : threads) t.join();
}

TEST(Nvrtc, VersionAndOptions) {
  auto c = make_nvrtc_compiler();
  EXPECT_EQ(c->version().rfind("nvrtc ", 0), 0u) << c->version();
  auto o = c->options(Arch::kSm90a);
  EXPECT_EQ(o, c->options(Arch::kSm90a));
  EXPECT_NE(std::find(o.begin(), o.end(), "--gpu-architecture=sm_90a"), o.end());
  auto o100 = c->options(Arch::kSm100a);
  EXPECT_NE(std::find(o100.begin(), o100.end(), "--gpu-architecture=sm_100a"), o100.end());
}

// Every scale mode x out dtype x bias x accumulate, for sm_90a and sm_100a; the tile cycles
// through the heuristic's picks and N, K are chosen to leave partial tiles.
TEST(Nvrtc, EveryEpilogueCompilesForEveryArch) {
  auto c = make_nvrtc_compiler();
  std::vector<Job> jobs;
  int i = 0;
  for (Arch arch : {Arch::kSm90a, Arch::kSm100a})
    for (auto scale : kAllScales)
      for (auto out : {OutDtype::kBF16, OutDtype::kF16, OutDtype::kF32})
        for (int flags = 0; flags < 4; ++flags, ++i) {
          GemmSpec s;
          s.arch = arch;
          s.m_hint = std::vector<int64_t>{16, 100, 4096}[i % 3];
          s.n = i % 2 ? 5120 : 200;
          s.k = i % 2 ? 8192 : 336;  // 336: not a multiple of BK or of 128
          s.scale = scale;
          s.out = out;
          s.bias = flags & 1;
          s.accumulate = flags & 2;
          s.tile = choose_tile(s);
          jobs.push_back(Job{s, generate(s)});
        }
  const auto start = std::chrono::steady_clock::now();
  compile_all(*c, jobs);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("compiled %zu kernels in %.0f ms\n", jobs.size(), ms);

  for (const Job& j : jobs) {
    ASSERT_TRUE(j.out.ok()) << j.source.name << ": " << j.out.error().message;
    const CompileOutput& o = j.out.value();
    ASSERT_GE(o.cubin.size(), 4u);
    EXPECT_EQ(std::string(o.cubin.begin(), o.cubin.begin() + 4), "\x7f" "ELF") << j.source.name;
    EXPECT_NE(o.ptx.find(kMmaInstruction), std::string::npos) << j.source.name;
    EXPECT_NE(o.ptx.find(".entry " + j.source.name), std::string::npos) << j.source.name;
    EXPECT_NE(o.ptx.find(std::string(".target ") + arch_name(j.spec.arch)), std::string::npos);
    // Our own templates compile without a single warning.
    EXPECT_EQ(o.log, "") << j.source.name;
    EXPECT_GT(o.compile_ms, 0);
  }
}

TEST(Nvrtc, BrokenSourceGivesCompileFailedWithTheLog) {
  auto c = make_nvrtc_compiler();
  KernelSource bad{"tpjit_broken_kernel",
                   "#include \"gemm_args.cuh\"\n"
                   "extern \"C\" __global__ void tpjit_broken_kernel(tpjit::GemmArgs args) {\n"
                   "  int x = undeclared_thing + args.m;\n}\n"};
  auto r = c->compile(bad, Arch::kSm90a);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::kCompileFailed);
  EXPECT_EQ(r.error().where, "tpjit_broken_kernel");
  EXPECT_NE(r.error().message.find("undeclared_thing"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("sm_90a"), std::string::npos);
  EXPECT_NE(r.error().message.back(), '\n');  // trimmed

  KernelSource missing{"tpjit_missing_header", "#include \"no_such_header.cuh\"\n"};
  auto m = c->compile(missing, Arch::kSm100a);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, errc::kCompileFailed);
  EXPECT_NE(m.error().message.find("no_such_header.cuh"), std::string::npos);
}

TEST(Nvrtc, NoFilesystemIncludes) {
  // Standard headers are not there: templates must get by with builtins, so the cache key
  // (which holds only embedded headers) covers every input.
  auto c = make_nvrtc_compiler();
  KernelSource k{"tpjit_std", "#include <cstdint>\nextern \"C\" __global__ void tpjit_std() {}\n"};
  EXPECT_FALSE(c->compile(k, Arch::kSm90a).ok());
}

}  // namespace
}  // namespace tpjit::codegen
