// `tpjit-bench hooks`: what the overlap hooks cost the GEMM itself. On one GPU, with no copies
// and no peer, the reduce-scatter's one-launch kernel (runtime/overlap_ce.cc) is timed with
// its hooks added one at a time: the phase tile order, the own rows routed to another buffer,
// the peer's partial added to them, the checks of its flags (already raised), and the signal
// warps counting stored slabs. Each is compared with the plain launch of the same kernel, the way
// `tpjit-bench overlap` times "GEMM alone". Outputs are checked against the plain launch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tpjit::bench {

struct HooksBenchOptions {
  std::vector<std::string> layers{"o", "down"};  // Llama-3-70B TP2 reduce-scatter layers
  std::vector<int64_t> ms{2048, 4096};
  std::vector<int> chunks{1, 2, 4};   // sub-chunks of the peer's half (the one launch's S)
  int iters = 30;
  int warmup = 5;
  std::string json_path;
};

// Returns the exit code: 0, or 1 if a step failed or a hooked launch's output disagreed.
int run_hooks_bench(const HooksBenchOptions& opts);

}  // namespace tpjit::bench
