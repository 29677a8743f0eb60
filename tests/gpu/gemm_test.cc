// Every generated GEMM variant the device can run, against a float64 CPU reference computed
// from the exact e4m3 inputs: every scale mode x output dtype, bias, accumulate (C separate
// and C aliasing D), a row offset into D, decode-sized M, M and N and K off the tiles, and one
// larger shape. Outputs are poisoned (0xFF bytes: NaN in bf16/f16/f32) before each launch:
// every element in [d_row_offset, d_row_offset + m) x [0, n) must be written, every other
// byte of D left alone.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <thread>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "codegen/compiler.h"
#include "codegen/variant.h"
#include "runtime/gemm_runner.h"
#include "runtime/memory.h"
#include "runtime/stream.h"
#include "tests/gpu/gemm_case.h"
#include "tests/gpu/gpu_env.h"

namespace tpjit::gpu_test {
namespace {

using runtime::DeviceBuffer;

// Error bounds on ||out - ref|| / ||ref||. The products of e4m3 values are exact in fp32 and
// the kernel sums them in fp32, so the accumulation adds only about sqrt(K) * 2^-24 relative
// error; what remains is the rounding of the output: bf16 keeps 8 significant bits (at most
// 2^-9 relative per element, about 1e-3 as an rms), fp16 11 bits (2^-12), fp32 24 bits.
// bf16: 1e-2 leaves 10x room for rounding alone yet fails any wrong index or scale;
// fp16: 2e-3; fp32: 1e-3 (far above fp32 accumulation error, far below any real bug).
double error_bound(RefOut o) {
  switch (o) {
    case RefOut::kBF16: return 1e-2;
    case RefOut::kF16: return 2e-3;
    case RefOut::kF32: return 1e-3;
  }
  return 0;
}

// Compiled cubins by kernel name. The first request compiles the specs of every test selected
// to run, in parallel (NVRTC is thread-safe), so the run pays the longest compile, not the sum.
struct Compiled {
  std::vector<uint8_t> cubin;
  std::string error;  // non-empty: the compile failed
};

const std::vector<uint8_t>* cubin_for(const codegen::GemmSpec& spec, std::string* error) {
  static std::mutex mu;
  static std::map<std::string, Compiled> done;
  std::lock_guard lock(mu);
  if (done.empty()) {
    auto compiler = codegen::make_nvrtc_compiler();
    std::set<std::string> selected;  // labels of the cases this process runs
    const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
    for (int i = 0; i < unit.total_test_suite_count(); ++i) {
      const ::testing::TestSuite& suite = *unit.GetTestSuite(i);
      for (int j = 0; j < suite.total_test_count(); ++j) {
        const ::testing::TestInfo& t = *suite.GetTestInfo(j);
        if (t.should_run() && t.value_param() != nullptr) selected.insert(t.value_param());
      }
    }
    std::vector<codegen::GemmSpec> specs;
    for (const GemmCase& c : all_cases()) {
      Result<codegen::GemmSpec> s = to_spec(c, device_arch());
      if (!s.ok()) continue;
      const std::string name = codegen::kernel_name(*s);
      if (!selected.count(c.label) && name != codegen::kernel_name(spec)) continue;
      if (done.emplace(name, Compiled{}).second) specs.push_back(*s);
    }
    std::vector<std::thread> threads;
    for (const codegen::GemmSpec& sp : specs) {
      Compiled* slot = &done[codegen::kernel_name(sp)];  // map nodes stay put
      threads.emplace_back([&compiler, sp, slot] {
        Result<codegen::CompileOutput> out = compiler->compile(codegen::generate(sp), sp.arch);
        if (out.ok()) slot->cubin = std::move(out->cubin);
        else slot->error = out.error().message;
      });
    }
    for (std::thread& t : threads) t.join();
  }
  auto it = done.find(codegen::kernel_name(spec));
  if (it == done.end()) {
    *error = "spec not in the suite's list";
    return nullptr;
  }
  if (!it->second.error.empty()) {
    *error = it->second.error;
    return nullptr;
  }
  return &it->second.cubin;
}

class GemmTest : public ::testing::TestWithParam<GemmCase> {};

// Uploads, launches and checks one problem of `c` with m rows; adds a failure on mismatch.
void run_and_check(const runtime::GemmKernel& kernel, const GemmCase& c, int m,
                   std::mt19937_64& rng) {
  const runtime::Driver& d = *gpu_env().driver;
  HostProblem p = make_problem(m, c.n, c.k, c.scale, c.out, c.bias, c.accumulate, rng);
  const std::vector<double> ref = reference(p);
  const int ob = out_bytes(c.out);
  const int64_t ldd = c.n + c.ld_pad;
  const int64_t rows = c.row_offset + m + 3;  // 3 rows past the written ones stay poisoned
  std::vector<uint8_t> dhost(size_t(rows * ldd * ob), 0xFF);
  if (c.alias) {  // C lives in D's rows: the kernel reads and overwrites each element
    for (int i = 0; i < m; ++i)
      std::memcpy(&dhost[size_t((c.row_offset + i) * ldd * ob)], &p.c[size_t(i) * c.n * ob],
                  size_t(c.n) * ob);
  }
  auto upload = [&](const void* src, size_t bytes) {
    DeviceBuffer b(d, bytes);
    b.upload({static_cast<const uint8_t*>(src), bytes});
    return b;
  };
  DeviceBuffer a = upload(p.a.data(), p.a.size()), b = upload(p.b.data(), p.b.size());
  DeviceBuffer sa = upload(p.scale_a.data(), p.scale_a.size() * 4);
  DeviceBuffer sb = upload(p.scale_b.data(), p.scale_b.size() * 4);
  DeviceBuffer dd = upload(dhost.data(), dhost.size());
  DeviceBuffer bias = c.bias ? upload(p.bias_v.data(), p.bias_v.size()) : DeviceBuffer();
  DeviceBuffer cc = (c.accumulate && !c.alias) ? upload(p.c.data(), p.c.size()) : DeviceBuffer();

  GemmArgs args{};
  args.a = a.data();
  args.b = b.data();
  args.d = dd.data();
  args.scale_a = static_cast<const float*>(sa.data());
  args.scale_b = static_cast<const float*>(sb.data());
  args.bias = c.bias ? bias.data() : nullptr;
  args.m = m;
  args.lda = p.lda;
  args.ldb = p.ldb;
  args.ldd = ldd;
  args.d_row_offset = c.row_offset;
  if (c.accumulate) {
    args.c = c.alias ? static_cast<uint8_t*>(dd.data()) + c.row_offset * ldd * ob : cc.data();
    args.ldc = c.alias ? ldd : c.n;
  }
  runtime::Stream s(d);
  Status st = kernel.launch(args, s.get());
  ASSERT_TRUE(st.ok()) << st.error().message;
  s.synchronize();
  std::vector<uint8_t> out(dhost.size());
  dd.download(out);

  std::vector<double> got(size_t(m) * c.n);
  int64_t unwritten = 0, clobbered = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < ldd; ++j) {
      const uint8_t* e = &out[size_t((r * ldd + j) * ob)];
      const bool inside = r >= c.row_offset && r < c.row_offset + m && j < c.n;
      if (inside) {
        got[size_t((r - c.row_offset) * c.n + j)] = decode_out(c.out, e);
        if (std::isnan(got[size_t((r - c.row_offset) * c.n + j)])) ++unwritten;
      } else {
        for (int q = 0; q < ob; ++q) clobbered += e[q] != 0xFF;
      }
    }
  }
  const double err = rel_error(got, ref);
  EXPECT_EQ(unwritten, 0) << "elements left poisoned (NaN), m=" << m;
  EXPECT_EQ(clobbered, 0) << "bytes written outside the output rows/columns, m=" << m;
  EXPECT_LE(err, error_bound(c.out)) << "m=" << m << " rel error " << err;
  char text[32];
  std::snprintf(text, sizeof(text), "%.3e", err);
  ::testing::Test::RecordProperty("rel_error_m" + std::to_string(m), text);
}

TEST_P(GemmTest, MatchesFloat64Reference) {
  TPJIT_REQUIRE_GPU();
  const GemmCase& c = GetParam();
  if (gpu_env().info.cc_major < 9) GTEST_SKIP() << "needs sm_90+ (targets: sm_90a, sm_100a)";
  Result<codegen::GemmSpec> spec = to_spec(c, device_arch());
  if (!spec.ok()) GTEST_SKIP() << "variant " << c.variant << " refuses: " << spec.error().message;
  std::string why;
  const std::vector<uint8_t>* cubin = cubin_for(*spec, &why);
  ASSERT_NE(cubin, nullptr) << why;
  Result<runtime::GemmKernel> kernel = runtime::GemmKernel::load(*gpu_env().driver, *spec, *cubin);
  ASSERT_TRUE(kernel.ok()) << kernel.error().message;
  std::mt19937_64 rng(std::hash<std::string>{}(c.label));
  for (int m = c.m_first; m <= c.m_last; ++m) {
    run_and_check(*kernel, c, m, rng);
    if (HasFailure()) break;
  }
}

INSTANTIATE_TEST_SUITE_P(Generated, GemmTest, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return info.param.label; });

}  // namespace
}  // namespace tpjit::gpu_test
