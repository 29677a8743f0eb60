// Source generation and cache keys (no compiler needed: a fake stands in).
#include <fstream>
#include <iterator>
#include <set>

#include <gtest/gtest.h>

#include "codegen/compiler.h"
#include "codegen/generate.h"
#include "util/check.h"

namespace tpjit::codegen {
namespace {

constexpr fusion::ScaleMode kAllScales[] = {fusion::ScaleMode::kTensor, fusion::ScaleMode::kRow,
                                             fusion::ScaleMode::kBlock};

GemmSpec base_spec() {
  GemmSpec s;
  s.arch = Arch::kSm90a;
  s.m_hint = 4096;
  s.n = 5120;
  s.k = 8192;
  s.scale = fusion::ScaleMode::kTensor;
  s.out = OutDtype::kBF16;
  s.tile = choose_tile(s);
  return s;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class FakeCompiler : public Compiler {
 public:
  std::string version_text = "fake 1.0";
  std::vector<std::string> extra;
  std::string version() const override { return version_text; }
  std::vector<std::string> options(Arch a) const override {
    std::vector<std::string> o = {std::string("--arch=") + arch_name(a)};
    o.insert(o.end(), extra.begin(), extra.end());
    return o;
  }
  Result<CompileOutput> compile(const KernelSource&, Arch) const override {
    return CompileOutput{};
  }
};

TEST(Embedded, HeadersMatchTheTemplatesOnDisk) {
  const auto& headers = embedded_headers();
  std::set<std::string> names;
  std::string prev;
  for (const EmbeddedHeader& h : headers) {
    EXPECT_LT(prev, h.name);  // sorted, unique
    prev = h.name;
    names.insert(h.name);
    EXPECT_EQ(h.contents, read_file(std::string(TPJIT_TEMPLATES_DIR) + "/" + h.name)) << h.name;
  }
  for (const char* want : {"gemm_args.cuh", "gemm_epilogue.cuh", "gemm_fp8_mma.cuh"})
    EXPECT_TRUE(names.count(want)) << want;
}

TEST(Generate, SameSpecSameBytes) {
  const GemmSpec s = base_spec();
  const KernelSource a = generate(s), b = generate(s);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.name, kernel_name(s));
  // Arch and m_hint (same tile) do not change the source, so they share a kernel.
  GemmSpec other = s;
  other.arch = Arch::kSm100a;
  other.m_hint = 2048;
  EXPECT_EQ(generate(other).source, a.source);
}

TEST(Generate, SourceHasThePreludeAndTheKernel) {
  GemmSpec s = base_spec();
  s.scale = fusion::ScaleMode::kBlock;
  s.out = OutDtype::kF16;
  s.bias = true;
  s.accumulate = true;
  const KernelSource k = generate(s);
  const std::string& src = k.source;
  EXPECT_NE(src.find("#include \"gemm_fp8_mma.cuh\""), std::string::npos);
  EXPECT_NE(src.find("extern \"C\" __global__"), std::string::npos);
  EXPECT_NE(src.find(k.name + "(tpjit::GemmArgs args)"), std::string::npos);
  EXPECT_NE(src.find("kN = 5120;"), std::string::npos);
  EXPECT_NE(src.find("kK = 8192;"), std::string::npos);
  EXPECT_NE(src.find("kBM = " + std::to_string(s.tile.bm) + ";"), std::string::npos);
  EXPECT_NE(src.find("kScale = tpjit::ScaleKind::kBlock;"), std::string::npos);
  EXPECT_NE(src.find("kOut = tpjit::OutKind::kF16;"), std::string::npos);
  EXPECT_NE(src.find("kBias = true;"), std::string::npos);
  EXPECT_NE(src.find("kAccumulate = true;"), std::string::npos);
  EXPECT_EQ(src.find('/' + std::string("work")), std::string::npos);  // no paths
  EXPECT_EQ(src.find("m_hint"), std::string::npos);
}

TEST(Generate, DifferentSpecsDifferentNamesAndSources) {
  std::set<std::string> names, sources;
  for (auto scale : kAllScales)
    for (auto out : {OutDtype::kBF16, OutDtype::kF16, OutDtype::kF32})
      for (int flags = 0; flags < 4; ++flags)
        for (int64_t m : {16, 64, 4096}) {
          GemmSpec s = base_spec();
          s.scale = scale;
          s.out = out;
          s.bias = flags & 1;
          s.accumulate = flags & 2;
          s.m_hint = m;
          s.tile = choose_tile(s);
          const KernelSource k = generate(s);
          EXPECT_TRUE(names.insert(k.name).second) << k.name;
          EXPECT_TRUE(sources.insert(k.source).second) << k.name;
        }
  EXPECT_EQ(names.size(), 3u * 3 * 4 * 3);
}

TEST(Generate, InvalidSpecIsABug) {
  GemmSpec s = base_spec();
  s.k = 100;
  EXPECT_THROW(generate(s), CheckError);
}

TEST(CacheKey, ChangesWithEveryInput) {
  FakeCompiler c;
  const KernelSource src = generate(base_spec());
  const std::string key = cache_key(src, c, Arch::kSm90a);
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(key, cache_key(src, c, Arch::kSm90a));

  std::set<std::string> keys = {key};
  EXPECT_TRUE(keys.insert(cache_key(src, c, Arch::kSm100a)).second);  // arch
  KernelSource edited = src;
  edited.source += " ";
  EXPECT_TRUE(keys.insert(cache_key(edited, c, Arch::kSm90a)).second);  // source
  KernelSource renamed = src;
  renamed.name += "x";
  EXPECT_TRUE(keys.insert(cache_key(renamed, c, Arch::kSm90a)).second);  // name
  FakeCompiler newer;
  newer.version_text = "fake 1.1";
  EXPECT_TRUE(keys.insert(cache_key(src, newer, Arch::kSm90a)).second);  // compiler version
  FakeCompiler opts;
  opts.extra = {"-lineinfo"};
  EXPECT_TRUE(keys.insert(cache_key(src, opts, Arch::kSm90a)).second);  // options
  // Field boundaries count: moving bytes between name and source is a different key.
  KernelSource shifted{src.name + src.source.substr(0, 1), src.source.substr(1)};
  EXPECT_TRUE(keys.insert(cache_key(shifted, c, Arch::kSm90a)).second);
}

}  // namespace
}  // namespace tpjit::codegen
