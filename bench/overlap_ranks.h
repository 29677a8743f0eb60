// The 2-GPU harness of `tpjit-bench overlap`: one thread per GPU in one process, each rank's
// handles (context, NCCL communicators and overlap executors, stream, cuBLASLt, scales), and
// timing that starts every rank together and reports the slower one.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "runtime/context.h"
#include "runtime/lt_gemm.h"
#include "runtime/memory.h"
#include "runtime/nccl.h"
#include "runtime/overlap.h"
#include "runtime/stream.h"
#include "util/result.h"

namespace tpjit::bench {

inline constexpr int kWorld = 2;
inline constexpr size_t kLtWorkspace = size_t{32} << 20;
// scale_b sits 256 bytes after scale_a in one buffer: cuBLASLt refuses (NOT_SUPPORTED) scale
// pointers that are not 16-byte aligned.
inline constexpr int kScaleB = 64;

struct Rank {
  int rank = 0;
  std::optional<runtime::PrimaryContext> ctx;
  // [0]: NCCL's default CTAs (collective alone, unfused, fused with reserve 0); then one per
  // reserve R > 0 with max CTAs R. Deques: executors point at their communicator.
  std::deque<runtime::NcclComm> comms;
  std::deque<runtime::OverlapExecutor> execs;
  runtime::NcclComm* comm = nullptr;  // comms[0]
  runtime::OverlapExecutor* exec = nullptr;
  std::optional<runtime::Stream> stream;
  std::optional<runtime::LtHandle> lt;
  std::optional<runtime::DeviceBuffer> lt_ws, scales;  // scales: sa = 0.75, sb = 0.5
};

// Throws CheckError with the status's message if it failed.
void ok_or_throw(const Status& s);

// Runs fn on one thread per rank with its context current; rethrows the first failure.
void on_ranks(std::vector<Rank>& ranks, const std::function<void(Rank&)>& fn);

// Median over iterations of the slowest rank's time (us), each iteration started on every
// rank after a host barrier (streams idle), timed with CUDA events around `op(rank, i)`.
double time_op(std::vector<Rank>& ranks, int warmup, int iters,
               const std::function<void(Rank&, int)>& op);

// kWorld ranks with every handle open. comms[0] caps NCCL's CTAs at nccl_max_ctas (> 0) or
// leaves NCCL's default; comm_of[i] is the communicator (index into comms and execs) that SM
// reserve sm_reserves[i] runs on: its own one with max CTAs R for R > 0, else comms[0].
std::vector<Rank> open_ranks(const runtime::Driver& drv, int nccl_max_ctas,
                             const std::vector<int>& sm_reserves, std::vector<int>* comm_of);

// Frees every rank's handles on its own context, in reverse order of opening.
void close_ranks(std::vector<Rank>& ranks);

}  // namespace tpjit::bench
