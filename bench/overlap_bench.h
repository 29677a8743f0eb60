// `tpjit-bench overlap`: the fused collective+GEMM regions (runtime/overlap.h) on 2 GPUs of one
// host, one thread per GPU in one process, for the Llama-3-70B TP2 layers: qkv and gate_up
// (all-gather -> GEMM), o and down (GEMM -> reduce-scatter). Per layer and M it times, with
// the same inputs: our GEMM alone (the full M rows a rank computes), the NCCL collective alone,
// limit = max of the two (perfect overlap), unfused NCCL + cuBLASLt, unfused NCCL + our GEMM,
// and fused for each chunk count and SM reserve; and it prints fused/limit, unfused/fused, the
// winning chunk count and reserve, and the plan (fused or unfused) that --cache-dir records.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tpjit::bench {

struct OverlapBenchOptions {
  std::vector<int64_t> ms = {128, 512, 2048, 4096, 16384};  // total tokens M
  std::vector<std::string> layers = {"qkv", "o", "gate_up", "down"};
  std::vector<int> chunks = {1, 2, 4};
  // SMs the GEMMs leave free while a collective is in flight (runtime/overlap.h, "SM
  // reservation"); each R > 0 gets its own communicator with NCCL's max CTAs = R.
  std::vector<int> sm_reserves = {0};
  // Fused transports to time (runtime/overlap.h, "Transport"): "nccl" for each SM reserve and
  // chunk count; for each chunk count "ce" (copy engines, no SMs, one hooked launch) and
  // "ce_chunked" (copy engines, a launch per sub-chunk).
  std::vector<std::string> transports = {"nccl", "ce"};
  std::string cache_dir;  // non-empty: store each shape's choice (cache/overlap_store.h) there
  int iters = 30;
  int warmup = 5;
  int nccl_max_ctas = 0;  // > 0: cap NCCL's CTAs per collective
  std::string json_path;
  double max_rel_error = 1e-2;  // fused vs unfused (ours), bf16 outputs
  // Also run each copy-engine configuration once more with the executor's trace on and put
  // both ranks' timelines in the JSON (OverlapExecutor::set_trace).
  bool trace = false;
};

// Runs it, prints the table, writes JSON if asked; the process exit code (1: a check failed,
// fewer than 2 GPUs, or a step failed).
int run_overlap_bench(const OverlapBenchOptions& opts);

}  // namespace tpjit::bench
