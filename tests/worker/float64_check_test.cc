// worker/float64_check.h against a naive reference written out here: the all-gather's row
// mapping, the reduce-scatter's sum over ranks and the three scale modes; an output rounded
// to bf16 from the truth passes, a wrong row or a NaN does not.
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "runtime/numerics.h"
#include "worker/float64_check.h"

namespace tpjit::worker {
namespace {

struct Case {
  bool all_gather;
  fusion::ScaleMode scale;
};

class Float64CheckTest : public ::testing::TestWithParam<Case> {};

constexpr int64_t kM = 8, kN = 144, kK = 384;
constexpr int kWorld = 2, kRank = 1;

Result<std::vector<uint8_t>> seeded(const std::string& name, HostKind kind, uint64_t count, int q) {
  return seeded_input(InputSpec{name, kind, count}, 42, q);
}

float f32(const std::vector<uint8_t>& v, size_t i) {
  float f;
  std::memcpy(&f, v.data() + 4 * i, 4);
  return f;
}

// out[i, n] for this rank, in the plainest form: one term per (source rank, k).
std::vector<double> naive(const Case& c) {
  const int64_t shard = kM / kWorld, kb = (kK + 127) / 128, nb = (kN + 127) / 128;
  const int64_t out_rows = c.all_gather ? kM : shard, a_rows = c.all_gather ? shard : kM;
  auto scount = [&](bool a) -> uint64_t {
    if (c.scale == fusion::ScaleMode::kRow) return uint64_t(a ? a_rows : kN);
    if (c.scale == fusion::ScaleMode::kBlock) return uint64_t(a ? a_rows * kb : kb * nb);
    return 1;
  };
  std::vector<double> out(size_t(out_rows * kN), 0.0);
  for (int64_t i = 0; i < out_rows; ++i)
    for (int q = 0; q < kWorld; ++q) {
      if (c.all_gather && q != i / shard) continue;
      const int64_t row = c.all_gather ? i % shard : kRank * shard + i;
      const int wq = c.all_gather ? kRank : q;  // whose weight and scale_b
      const int sq = c.all_gather && c.scale == fusion::ScaleMode::kTensor ? kRank : q;
      auto a = *seeded("a", HostKind::kFp8, uint64_t(a_rows * kK), q);
      auto sa = *seeded("sa", HostKind::kF32, scount(true), sq);
      auto b = *seeded("b", HostKind::kFp8, uint64_t(kN * kK), wq);
      auto sb = *seeded("sb", HostKind::kF32, scount(false), wq);
      for (int64_t n = 0; n < kN; ++n)
        for (int64_t k = 0; k < kK; ++k) {
          double s = c.scale == fusion::ScaleMode::kTensor ? double(f32(sa, 0)) * f32(sb, 0)
                     : c.scale == fusion::ScaleMode::kRow
                         ? double(f32(sa, size_t(row))) * f32(sb, size_t(n))
                         : double(f32(sa, size_t(row * kb + k / 128))) *
                               f32(sb, size_t((k / 128) * nb + n / 128));
          out[size_t(i * kN + n)] += double(runtime::e4m3_to_float(a[size_t(row * kK + k)])) *
                                     runtime::e4m3_to_float(b[size_t(n * kK + k)]) * s;
        }
    }
  return out;
}

std::vector<uint8_t> to_bf16(const std::vector<double>& v) {
  std::vector<uint8_t> out(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    uint16_t h = runtime::float_to_bf16(float(v[i]));
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

TEST_P(Float64CheckTest, AcceptsTheTruthRoundedToBf16AndCatchesAWrongRowOrANaN) {
  const Case c = GetParam();
  Float64Problem p{c.all_gather, kM, kN, kK, kRank, kWorld, c.scale, codegen::OutDtype::kBF16,
                   "a", "sa", "b", "sb"};
  const std::vector<double> truth = naive(c);
  std::vector<uint8_t> out = to_bf16(truth);
  auto good = float64_check(p, seeded, out, 1000, 7);  // more rows than there are: all of them
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->rows, c.all_gather ? kM : kM / kWorld);
  EXPECT_GT(good->rel_error, 0.0);  // bf16 rounding shows
  EXPECT_LT(good->rel_error, 4e-3);
  EXPECT_LE(good->rel_error, float64_bound(codegen::OutDtype::kBF16));

  // One row holding its neighbour's values: the kind of slip a wrong chunk offset makes.
  std::vector<uint8_t> shifted = out;
  std::memcpy(shifted.data(), out.data() + kN * 2, kN * 2);
  auto bad = float64_check(p, seeded, shifted, 1000, 7);
  ASSERT_TRUE(bad.ok());
  EXPECT_GT(bad->rel_error, float64_bound(codegen::OutDtype::kBF16));

  std::vector<uint8_t> poisoned = out;
  poisoned[5 * 2] = 0xFF, poisoned[5 * 2 + 1] = 0xFF;  // a bf16 NaN
  auto nan = float64_check(p, seeded, poisoned, 1000, 7);
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isinf(nan->rel_error));
}

INSTANTIATE_TEST_SUITE_P(
    Modes, Float64CheckTest,
    ::testing::Values(Case{true, fusion::ScaleMode::kTensor}, Case{true, fusion::ScaleMode::kRow},
                      Case{true, fusion::ScaleMode::kBlock}, Case{false, fusion::ScaleMode::kTensor},
                      Case{false, fusion::ScaleMode::kRow}, Case{false, fusion::ScaleMode::kBlock}),
    [](const auto& info) {
      return std::string(info.param.all_gather ? "AllGather" : "ReduceScatter") +
             (info.param.scale == fusion::ScaleMode::kTensor ? "Tensor"
              : info.param.scale == fusion::ScaleMode::kRow  ? "Row"
                                                             : "Block");
    });

TEST(Float64Check, AMissingRankFileIsAnErrorNotAPass) {
  Float64Problem p{false, kM, kN, kK, 0, kWorld, fusion::ScaleMode::kTensor,
                   codegen::OutDtype::kBF16, "a", "sa", "b", "sb"};
  RankLoader only_mine = [](const std::string& name, HostKind kind, uint64_t count,
                            int q) -> Result<std::vector<uint8_t>> {
    if (q != 0) return make_error("bad_input", "rank1/" + name + ".npy is not on this host", "");
    return seeded(name, kind, count, q);
  };
  auto r = float64_check(p, only_mine, std::vector<uint8_t>(size_t(kM / kWorld * kN * 2)), 64, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("rank1/"), std::string::npos);
}

}  // namespace
}  // namespace tpjit::worker
