// Two (or more) GPUs in one test process: one thread per rank, each with its device's primary
// context current, an NCCL communicator and an overlap executor. Set up once per process;
// skips with the reason when fewer than 2 GPUs (or no driver) are present.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codegen/spec.h"
#include "runtime/context.h"
#include "runtime/gemm_runner.h"
#include "runtime/nccl.h"
#include "runtime/overlap.h"
#include "runtime/stream.h"

namespace tpjit::gpu_test {

struct RankState {
  int rank = 0;
  std::optional<runtime::PrimaryContext> context;
  std::optional<runtime::NcclComm> comm;
  std::optional<runtime::OverlapExecutor> exec;
  std::optional<runtime::Stream> stream;
};

struct World {
  const runtime::Driver* driver = nullptr;
  codegen::Arch arch = codegen::Arch::kSm90a;
  std::vector<std::unique_ptr<RankState>> ranks;
  std::string skip_reason;  // non-empty: the overlap tests skip
  int size() const { return static_cast<int>(ranks.size()); }
};

// The process's world of 2 ranks (devices 0 and 1), made on first use.
World& world();

// Runs fn(rank) on one thread per rank, with that rank's context current; returns every
// rank's failure ("" for none). Exceptions become failures.
std::vector<std::string> run_ranks(const std::function<std::string(RankState&)>& fn);

// The cubin of `spec`, compiled once per process by NVRTC.
const std::vector<uint8_t>& cubin_of(const codegen::GemmSpec& spec);

// The default variant's spec for the world's arch, tile chosen for m_hint.
codegen::GemmSpec overlap_spec(int64_t m_hint, int64_t n, int64_t k, fusion::ScaleMode s,
                               bool bias, bool accumulate = false);

// Destroys every communicator (in parallel, as NCCL wants); registered as a gtest environment.
void tear_down_world();

}  // namespace tpjit::gpu_test

#define TPJIT_REQUIRE_TWO_GPUS()                                             \
  do {                                                                       \
    if (!::tpjit::gpu_test::world().skip_reason.empty())                     \
      GTEST_SKIP() << ::tpjit::gpu_test::world().skip_reason;                \
  } while (0)
