// What one tpjit-worker owns on its GPU: the primary context, the loaded kernels (cubins read
// from the cubin cache by key), its rank of the NCCL communicator and the overlap executor.
// Each method serves one request of worker/protocol.h. Errors with code runtime::kErrCuda or
// runtime::kErrNccl (and CheckError thrown from below) leave the context or communicator in
// an unknown state: the caller replies and exits (kExitGpuError).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cache/cubin_cache.h"
#include "runtime/context.h"
#include "runtime/gemm_runner.h"
#include "runtime/lt_gemm.h"
#include "runtime/memory.h"
#include "runtime/nccl.h"
#include "runtime/overlap.h"
#include "runtime/stream.h"
#include "util/result.h"

namespace tpjit::worker {

class GpuSession {
 public:
  // Loads the driver and retains device `ordinal`'s primary context on this thread.
  static Result<std::unique_ptr<GpuSession>> open(int ordinal,
                                                  const std::filesystem::path& cache_dir);

  nlohmann::json hello() const;
  Result<nlohmann::json> nccl_id();
  Result<nlohmann::json> init_comm(const nlohmann::json& body);
  Result<nlohmann::json> run_region(const nlohmann::json& body);

 private:
  GpuSession(const runtime::Driver* d, runtime::PrimaryContext ctx, runtime::DeviceInfo info,
             int device_count, const std::filesystem::path& cache_dir)
      : d_(d), ctx_(std::move(ctx)), info_(std::move(info)), device_count_(device_count),
        cache_(cache_dir, ~0ull >> 1) {}
  // The kernel for a plan's {key, spec}, loaded once per key.
  Result<const runtime::GemmKernel*> kernel(const nlohmann::json& gemm);
  // cuBLASLt's plan of one GEMM of an "unfused_cublaslt" run (runtime/overlap.h, "Vendor
  // GEMM"); the handle and its workspace are made on first use.
  Result<runtime::LtFp8Gemm> lt_plan(int64_t m, int64_t n, int64_t k, const float* scale_a,
                                     const float* scale_b);
  // Lines the ranks up on `stream`: a one-int all-gather, and with `wait` a host sync after
  // it. Before the timed loop (waiting) no rank times its peers' host work (the float64
  // check); before each timed run (on the GPU only) no rank times its peer's late start.
  Status barrier(const runtime::Stream& stream, bool wait);

  const runtime::Driver* d_;
  runtime::PrimaryContext ctx_;
  runtime::DeviceInfo info_;
  int device_count_;
  cache::CubinCache cache_;
  std::map<std::string, runtime::GemmKernel> kernels_;
  std::optional<runtime::NcclComm> comm_;
  std::optional<runtime::OverlapExecutor> executor_;
  std::optional<runtime::LtHandle> lt_;
  std::optional<runtime::DeviceBuffer> lt_workspace_;
  std::optional<runtime::DeviceBuffer> barrier_buf_;
};

}  // namespace tpjit::worker
