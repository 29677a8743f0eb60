// The overlap executors on 2 GPUs (one thread per rank, NCCL between them) against a float64
// CPU reference of the whole gathered or reduced result: tensor, row and block scales, bf16
// out, chunk counts 1, 2 and 4, ragged shards (M = 2 x 333), more chunks than rows, two GEMMs
// sharing one gather (one with a bias), the gathered A materialized, the unfused paths, both
// transports of the fused paths (NCCL; the copy engines with one hooked launch and with one
// launch per sub-chunk, also several runs in a row on one executor, each poisoned and
// checked), and M not divisible by the world size. Random e4m3 inputs (never zero); outputs
// poisoned (0xFF: NaN in bf16) before each run, so an unwritten element fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/memory.h"
#include "runtime/overlap_plan.h"
#include "tests/gpu/overlap_world.h"
#include "tests/gpu/reference.h"

namespace tpjit::gpu_test {
namespace {

using runtime::DeviceBuffer;
constexpr double kBound = 1e-2;  // bf16 outputs (gemm_test.cc: error_bound), plus one bf16 sum

struct Case {
  fusion::ScaleMode mode;
  int chunks;
  int64_t m;  // total rows
  bool fused;
  int sm_reserve = 0;  // > 0: the capped persistent grid (SM reservation; NCCL)
  runtime::Transport transport = runtime::Transport::kCopyEngine;  // fused only
  int runs = 1;        // runs in a row on one executor; the last one is checked
  bool one_launch = true;  // copy engines: one hooked launch over all rows (sm90)
};

using runtime::Transport;
constexpr Transport kNccl = Transport::kNccl;

std::string label(const Case& c) {
  return std::string(fusion::scale_mode_name(c.mode)) + "_s" + std::to_string(c.chunks) + "_m" +
         std::to_string(c.m) +
         (!c.fused ? "_unfused" : c.transport == kNccl ? "_nccl" : "_ce") +
         (c.sm_reserve ? "_r" + std::to_string(c.sm_reserve) : "") +
         (c.runs > 1 ? "_x" + std::to_string(c.runs) : "") +
         (c.fused && c.transport != kNccl && !c.one_launch ? "_per_chunk" : "");
}

// Runs `body` (one region) c.runs times, each on freshly poisoned outputs; "" or the error.
template <class F>
std::string run_repeated(const Case& c, RankState& rs, const std::vector<DeviceBuffer*>& outs,
                         F&& body) {
  for (int i = 0; i < c.runs; ++i) {
    for (DeviceBuffer* o : outs) o->fill(0xFF);
    Status st = body();
    if (!st.ok()) return st.error().message;
    rs.stream->synchronize();
    if (Status cs = rs.comm->check(); !cs.ok()) return cs.error().message;
    if (c.fused && rs.exec->last_transport() != c.transport)
      return std::string("ran on the ") +
             (rs.exec->last_transport() == kNccl ? "NCCL" : "copy-engine") + " transport";
  }
  return "";
}
std::string case_name(const ::testing::TestParamInfo<Case>& i) { return label(i.param); }
// gtest prints a case by its label (not its bytes, padding included).
void PrintTo(const Case& c, std::ostream* os) { *os << label(c); }

RefScale ref_scale(fusion::ScaleMode m) {
  return m == fusion::ScaleMode::kRow ? RefScale::kRow
         : m == fusion::ScaleMode::kBlock ? RefScale::kBlock : RefScale::kTensor;
}

DeviceBuffer upload(const void* src, size_t bytes) {
  DeviceBuffer b(*world().driver, bytes ? bytes : 1);
  if (bytes) b.upload({static_cast<const uint8_t*>(src), bytes});
  return b;
}

std::vector<double> decode_bf16(const std::vector<uint8_t>& raw) {
  std::vector<double> out(raw.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = decode_out(RefOut::kBF16, &raw[2 * i]);
  return out;
}

size_t nan_count(const std::vector<double>& v) {
  size_t n = 0;
  for (double x : v) n += std::isnan(x);
  return n;
}

class AllGatherGemmTest : public ::testing::TestWithParam<Case> {};

TEST_P(AllGatherGemmTest, MatchesFloat64Reference) {
  TPJIT_REQUIRE_TWO_GPUS();
  const Case c = GetParam();
  const int ws = world().size();
  const int k = 256, n0 = 384, n1 = 200;
  std::mt19937_64 rng(1234 + c.chunks * 7 + int(c.mode) * 31 + c.m);
  // Two GEMMs sharing A: the second takes the first's A and scale_a.
  HostProblem p0 = make_problem(int(c.m), n0, k, ref_scale(c.mode), RefOut::kBF16, false, false, rng);
  HostProblem p1 = make_problem(int(c.m), n1, k, ref_scale(c.mode), RefOut::kBF16, true, false, rng);
  p1.a = p0.a;
  p1.scale_a = p0.scale_a;
  ASSERT_EQ(p0.lda, k);
  const std::vector<double> ref0 = reference(p0), ref1 = reference(p1);
  const codegen::GemmSpec s0 = overlap_spec(c.m, n0, k, c.mode, false);
  const codegen::GemmSpec s1 = overlap_spec(c.m, n1, k, c.mode, true);
  const std::vector<uint8_t>&cb0 = cubin_of(s0), &cb1 = cubin_of(s1);
  const int64_t shard = c.m / ws;
  const int64_t sf = runtime::scale_a_floats_per_row(c.mode, k);

  std::vector<std::vector<uint8_t>> d0(ws), d1(ws), gathered(ws);
  std::vector<std::string> errors = run_ranks([&](RankState& rs) -> std::string {
    const runtime::Driver& d = *world().driver;
    auto k0 = runtime::GemmKernel::load(d, s0, cb0);
    auto k1 = runtime::GemmKernel::load(d, s1, cb1);
    if (!k0.ok() || !k1.ok()) return "kernel load failed";
    const int r = rs.rank;
    DeviceBuffer a = upload(p0.a.data() + r * shard * k, size_t(shard * k));
    DeviceBuffer sa = sf ? upload(p0.scale_a.data() + r * shard * sf, size_t(shard * sf * 4))
                         : upload(p0.scale_a.data(), 4);
    DeviceBuffer b0 = upload(p0.b.data(), p0.b.size()), b1 = upload(p1.b.data(), p1.b.size());
    DeviceBuffer sb0 = upload(p0.scale_b.data(), p0.scale_b.size() * 4);
    DeviceBuffer sb1 = upload(p1.scale_b.data(), p1.scale_b.size() * 4);
    DeviceBuffer bias = upload(p1.bias_v.data(), p1.bias_v.size());
    DeviceBuffer o0(d, size_t(c.m * n0 * 2)), o1(d, size_t(c.m * n1 * 2)), g(d, size_t(c.m * k));
    runtime::AllGatherGemmArgs args;
    args.m = c.m;
    args.k = k;
    args.a_shard = a.data();
    args.scale_a_shard = static_cast<const float*>(sa.data());
    args.gemms.push_back({&*k0, b0.data(), p0.ldb, static_cast<const float*>(sb0.data()), nullptr,
                          o0.data(), n0});
    args.gemms.push_back({&*k1, b1.data(), p1.ldb, static_cast<const float*>(sb1.data()),
                          bias.data(), o1.data(), n1});
    args.gathered_a = g.data();
    args.chunks = c.chunks;
    args.sm_reserve = c.sm_reserve;
    args.transport = c.transport;
    args.one_launch = c.one_launch;
    const std::string e = run_repeated(c, rs, {&o0, &o1, &g}, [&] {
      return c.fused ? rs.exec->all_gather_gemm(args, rs.stream->get())
                     : rs.exec->all_gather_gemm_unfused(args, rs.stream->get());
    });
    if (!e.empty()) return e;
    d0[r].resize(o0.size());
    d1[r].resize(o1.size());
    gathered[r].resize(g.size());
    o0.download(d0[r]);
    o1.download(d1[r]);
    g.download(gathered[r]);
    return "";
  });
  for (int r = 0; r < ws; ++r) {
    ASSERT_EQ(errors[r], "") << "rank " << r;
    const std::vector<double> got0 = decode_bf16(d0[r]), got1 = decode_bf16(d1[r]);
    EXPECT_EQ(nan_count(got0), 0u) << "rank " << r << ": GEMM 0 left elements unwritten";
    EXPECT_EQ(nan_count(got1), 0u) << "rank " << r << ": GEMM 1 left elements unwritten";
    EXPECT_LE(rel_error(got0, ref0), kBound) << "rank " << r << " GEMM 0";
    EXPECT_LE(rel_error(got1, ref1), kBound) << "rank " << r << " GEMM 1 (bias)";
    EXPECT_TRUE(gathered[r] == p0.a) << "rank " << r << ": gathered A differs from the full A";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Overlap, AllGatherGemmTest,
    ::testing::Values(Case{fusion::ScaleMode::kTensor, 1, 666, true},
                      Case{fusion::ScaleMode::kTensor, 2, 666, true},
                      Case{fusion::ScaleMode::kTensor, 4, 666, true},
                      Case{fusion::ScaleMode::kRow, 1, 666, true},
                      Case{fusion::ScaleMode::kRow, 4, 666, true},
                      Case{fusion::ScaleMode::kBlock, 2, 666, true},
                      Case{fusion::ScaleMode::kBlock, 4, 1024, true},
                      // shards of whole M tiles: the one launch reads its own from a_shard
                      Case{fusion::ScaleMode::kTensor, 2, 2048, true},
                      Case{fusion::ScaleMode::kRow, 4, 1024, true, 0, Transport::kCopyEngine, 2},
                      Case{fusion::ScaleMode::kTensor, 4, 6, true},  // more chunks than rows
                      Case{fusion::ScaleMode::kBlock, 1, 666, false},
                      Case{fusion::ScaleMode::kTensor, 1, 666, false},
                      Case{fusion::ScaleMode::kTensor, 2, 666, true, 0, kNccl},
                      Case{fusion::ScaleMode::kRow, 4, 666, true, 0, kNccl},
                      Case{fusion::ScaleMode::kBlock, 2, 666, true, 0, kNccl},
                      Case{fusion::ScaleMode::kBlock, 2, 1024, true, 0, Transport::kCopyEngine, 3},
                      Case{fusion::ScaleMode::kRow, 2, 666, true, 0, Transport::kCopyEngine, 2, false},
                      Case{fusion::ScaleMode::kTensor, 1, 2048, true, 0, Transport::kCopyEngine, 3, false},
                      // 128 of 132 SMs reserved: the few CTAs left loop over every tile
                      Case{fusion::ScaleMode::kTensor, 2, 2048, true, 128, kNccl},
                      Case{fusion::ScaleMode::kBlock, 4, 666, true, 16, kNccl}),
    case_name);

class GemmReduceScatterTest : public ::testing::TestWithParam<Case> {};

TEST_P(GemmReduceScatterTest, MatchesFloat64Reference) {
  TPJIT_REQUIRE_TWO_GPUS();
  const Case c = GetParam();
  const int ws = world().size();
  const int k = 272, n = 384;
  std::mt19937_64 rng(777 + c.chunks * 7 + int(c.mode) * 31 + c.m);
  std::vector<HostProblem> p;
  std::vector<double> sum(size_t(c.m) * n, 0.0);
  for (int r = 0; r < ws; ++r) {  // each rank: its own A (a K slice) and B
    p.push_back(make_problem(int(c.m), n, k, ref_scale(c.mode), RefOut::kBF16, false, false, rng));
    const std::vector<double> ref = reference(p.back());
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += ref[i];
  }
  // An accumulating kernel, as the daemon compiles for these regions: the copy-engine ring
  // adds the received partial with it; the NCCL paths pass it no C.
  const codegen::GemmSpec spec = overlap_spec(c.m, n, k, c.mode, false, true);
  const std::vector<uint8_t>& cubin = cubin_of(spec);
  const int64_t shard = c.m / ws;
  std::vector<std::vector<uint8_t>> y(ws);
  std::vector<std::string> errors = run_ranks([&](RankState& rs) -> std::string {
    const runtime::Driver& d = *world().driver;
    auto kernel = runtime::GemmKernel::load(d, spec, cubin);
    if (!kernel.ok()) return kernel.error().message;
    const HostProblem& q = p[rs.rank];
    DeviceBuffer a = upload(q.a.data(), q.a.size()), b = upload(q.b.data(), q.b.size());
    DeviceBuffer sa = upload(q.scale_a.data(), q.scale_a.size() * 4);
    DeviceBuffer sb = upload(q.scale_b.data(), q.scale_b.size() * 4);
    DeviceBuffer out(d, size_t(shard * n * 2));
    runtime::GemmReduceScatterArgs args;
    args.m = c.m;
    args.k = k;
    args.kernel = &*kernel;
    args.a = a.data();
    args.lda = q.lda;
    args.scale_a = static_cast<const float*>(sa.data());
    args.b = b.data();
    args.ldb = q.ldb;
    args.scale_b = static_cast<const float*>(sb.data());
    args.y = out.data();
    args.chunks = c.chunks;
    args.sm_reserve = c.sm_reserve;
    args.transport = c.transport;
    args.one_launch = c.one_launch;
    const std::string e = run_repeated(c, rs, {&out}, [&] {
      return c.fused ? rs.exec->gemm_reduce_scatter(args, rs.stream->get())
                     : rs.exec->gemm_reduce_scatter_unfused(args, rs.stream->get());
    });
    if (!e.empty()) return e;
    y[rs.rank].resize(out.size());
    out.download(y[rs.rank]);
    return "";
  });
  for (int r = 0; r < ws; ++r) {
    ASSERT_EQ(errors[r], "") << "rank " << r;
    const std::vector<double> got = decode_bf16(y[r]);
    const std::vector<double> want(sum.begin() + r * shard * n, sum.begin() + (r + 1) * shard * n);
    EXPECT_EQ(nan_count(got), 0u) << "rank " << r << ": output rows left unwritten";
    EXPECT_LE(rel_error(got, want), kBound) << "rank " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Overlap, GemmReduceScatterTest,
    ::testing::Values(Case{fusion::ScaleMode::kTensor, 1, 666, true},
                      Case{fusion::ScaleMode::kTensor, 2, 666, true},
                      Case{fusion::ScaleMode::kTensor, 4, 666, true},
                      Case{fusion::ScaleMode::kRow, 2, 666, true},
                      Case{fusion::ScaleMode::kRow, 4, 1024, true},
                      Case{fusion::ScaleMode::kBlock, 1, 666, true},
                      Case{fusion::ScaleMode::kBlock, 4, 666, true},
                      Case{fusion::ScaleMode::kTensor, 4, 6, true},  // more chunks than rows
                      Case{fusion::ScaleMode::kRow, 1, 666, false},
                      Case{fusion::ScaleMode::kTensor, 2, 666, true, 0, kNccl},
                      Case{fusion::ScaleMode::kBlock, 4, 666, true, 0, kNccl},
                      Case{fusion::ScaleMode::kRow, 2, 1024, true, 0, Transport::kCopyEngine, 3},
                      Case{fusion::ScaleMode::kBlock, 2, 666, true, 0, Transport::kCopyEngine, 2, false},
                      Case{fusion::ScaleMode::kTensor, 4, 2048, true, 0, Transport::kCopyEngine, 3, false},
                      Case{fusion::ScaleMode::kTensor, 2, 2048, true, 128, kNccl},
                      Case{fusion::ScaleMode::kRow, 4, 666, true, 16, kNccl}),
    case_name);

// M not divisible by the world size: refused before anything is enqueued (no rank hangs).
TEST(OverlapErrors, MNotDivisibleByWorldSize) {
  TPJIT_REQUIRE_TWO_GPUS();
  const codegen::GemmSpec spec = overlap_spec(667, 256, 256, fusion::ScaleMode::kTensor, false);
  const std::vector<uint8_t>& cubin = cubin_of(spec);
  std::vector<std::string> errors = run_ranks([&](RankState& rs) -> std::string {
    auto kernel = runtime::GemmKernel::load(*world().driver, spec, cubin);
    if (!kernel.ok()) return kernel.error().message;
    DeviceBuffer buf(*world().driver, 1 << 20);
    runtime::AllGatherGemmArgs ag;
    ag.m = 667;
    ag.k = 256;
    ag.a_shard = buf.data();
    ag.scale_a_shard = static_cast<const float*>(buf.data());
    ag.gemms.push_back({&*kernel, buf.data(), 256, static_cast<const float*>(buf.data()), nullptr,
                        buf.data(), 256});
    Status s1 = rs.exec->all_gather_gemm(ag, rs.stream->get());
    runtime::GemmReduceScatterArgs rsa;
    rsa.m = 667;
    rsa.k = 256;
    rsa.kernel = &*kernel;
    rsa.a = rsa.b = rsa.y = buf.data();
    rsa.lda = rsa.ldb = 256;
    rsa.scale_a = rsa.scale_b = static_cast<const float*>(buf.data());
    Status s2 = rs.exec->gemm_reduce_scatter(rsa, rs.stream->get());
    if (s1.ok() || s2.ok()) return "M=667 accepted";
    if (s1.error().code != errc::kNotDivisible || s2.error().code != errc::kNotDivisible)
      return "wrong codes: " + s1.error().code + ", " + s2.error().code;
    if (s1.error().message.find("667") == std::string::npos) return "message lacks M: " + s1.error().message;
    return "";
  });
  for (const std::string& e : errors) EXPECT_EQ(e, "");
}

}  // namespace
}  // namespace tpjit::gpu_test
