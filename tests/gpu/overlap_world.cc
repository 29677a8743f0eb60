#include "tests/gpu/overlap_world.h"

#include <gtest/gtest.h>

#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "codegen/compiler.h"
#include "codegen/variant.h"
#include "util/check.h"

namespace tpjit::gpu_test {
namespace {

constexpr int kWorldSize = 2;

World make_world() {
  World w;
  Result<const runtime::Driver*> d = runtime::Driver::load();
  if (!d.ok()) {
    w.skip_reason = "no CUDA device: " + d.error().message;
    return w;
  }
  w.driver = *d;
  const int count = runtime::device_count(*w.driver);
  if (count < kWorldSize) {
    w.skip_reason = "needs " + std::to_string(kWorldSize) + " GPUs for NCCL, found " +
                    std::to_string(count);
    return w;
  }
  Result<runtime::DeviceInfo> info = runtime::query_device(*w.driver, 0);
  if (!info.ok() || info->cc_major < 9) {
    w.skip_reason = "needs sm_90+ GPUs (targets: sm_90a, sm_100a)";
    return w;
  }
  w.arch = info->cc_major >= 10 ? codegen::Arch::kSm100a : codegen::Arch::kSm90a;
  Result<runtime::NcclUniqueId> id = runtime::nccl_unique_id();
  if (!id.ok()) {
    w.skip_reason = "NCCL unavailable: " + id.error().message;
    return w;
  }
  for (int r = 0; r < kWorldSize; ++r) {
    w.ranks.push_back(std::make_unique<RankState>());
    w.ranks.back()->rank = r;
  }
  // Every rank joins concurrently (init is collective).
  std::vector<std::string> errors(kWorldSize);
  std::vector<std::thread> threads;
  for (int r = 0; r < kWorldSize; ++r) {
    threads.emplace_back([&, r] {
      RankState& rs = *w.ranks[r];
      Result<runtime::PrimaryContext> ctx = runtime::PrimaryContext::retain(*w.driver, r);
      if (!ctx.ok()) {
        errors[r] = ctx.error().message;
        return;
      }
      rs.context.emplace(std::move(ctx).value());
      Result<runtime::NcclComm> comm = runtime::NcclComm::init(*id, kWorldSize, r);
      if (!comm.ok()) {
        errors[r] = comm.error().message;
        return;
      }
      rs.comm.emplace(std::move(comm).value());
      Result<runtime::OverlapExecutor> ex = runtime::OverlapExecutor::create(*w.driver, *rs.comm);
      if (!ex.ok()) {
        errors[r] = ex.error().message;
        return;
      }
      rs.exec.emplace(std::move(ex).value());
      rs.stream.emplace(*w.driver);
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < kWorldSize; ++r)
    if (!errors[r].empty()) w.skip_reason += "rank " + std::to_string(r) + ": " + errors[r] + "; ";
  // A failed setup is a failure, not a skip: 2 GPUs are there but NCCL did not work.
  if (!w.skip_reason.empty()) ADD_FAILURE() << "overlap world setup failed: " << w.skip_reason;
  return w;
}

class WorldEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { tear_down_world(); }
};
[[maybe_unused]] ::testing::Environment* const kEnv =
    ::testing::AddGlobalTestEnvironment(new WorldEnvironment);

bool g_world_made = false;

}  // namespace

World& world() {
  static World w = [] {
    g_world_made = true;
    return make_world();
  }();
  return w;
}

std::vector<std::string> run_ranks(const std::function<std::string(RankState&)>& fn) {
  World& w = world();
  std::vector<std::string> errors(w.ranks.size());
  std::vector<std::thread> threads;
  for (size_t r = 0; r < w.ranks.size(); ++r) {
    threads.emplace_back([&, r] {
      try {
        w.ranks[r]->context->make_current();
        errors[r] = fn(*w.ranks[r]);
      } catch (const std::exception& e) {
        errors[r] = std::string("exception: ") + e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  return errors;
}

const std::vector<uint8_t>& cubin_of(const codegen::GemmSpec& spec) {
  static std::mutex mu;
  static std::map<std::string, std::vector<uint8_t>> done;
  static auto compiler = codegen::make_nvrtc_compiler();
  std::lock_guard lock(mu);
  const std::string name = codegen::kernel_name(spec);
  auto it = done.find(name);
  if (it != done.end()) return it->second;
  Result<codegen::CompileOutput> out = compiler->compile(codegen::generate(spec), spec.arch);
  TPJIT_CHECK(out.ok(), out.ok() ? "" : out.error().message);
  return done[name] = std::move(out->cubin);
}

codegen::GemmSpec overlap_spec(int64_t m_hint, int64_t n, int64_t k, fusion::ScaleMode s,
                               bool bias, bool accumulate) {
  codegen::GemmSpec spec;
  spec.arch = world().arch;
  spec.variant = std::string(codegen::default_variant(spec.arch));
  spec.m_hint = m_hint;
  spec.n = n;
  spec.k = k;
  spec.scale = s;
  spec.out = codegen::OutDtype::kBF16;
  spec.bias = bias;
  spec.accumulate = accumulate;
  spec.tile = codegen::choose_tile(spec);
  return spec;
}

void tear_down_world() {
  if (!g_world_made || world().ranks.empty() || !world().skip_reason.empty()) return;
  std::vector<std::string> errors = run_ranks([](RankState& rs) -> std::string {
    rs.stream->synchronize();
    rs.exec.reset();
    rs.stream.reset();
    Status s = rs.comm->destroy();
    return s.ok() ? "" : s.error().message;
  });
  for (const std::string& e : errors) EXPECT_EQ(e, "") << "NCCL destroy";
}

}  // namespace tpjit::gpu_test
