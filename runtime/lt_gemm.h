// cuBLASLt's FP8 GEMM, the vendor library: e4m3 A [M,K] and B [N,K], both K-major ("TN"),
// per-tensor scale pointers, bf16 D [M,N] row-major, the heuristic's first algorithm. The
// benchmarks' baseline, and the GEMM of the "unfused_cublaslt" execution (runtime/overlap.h,
// "Vendor GEMM").
#pragma once

#include <cublasLt.h>

#include <cstdint>
#include <string>

#include "util/result.h"

namespace tpjit::runtime {

// Move-only owner of a cublasLtHandle_t.
class LtHandle {
 public:
  LtHandle();  // throws CheckError if cuBLASLt cannot start
  LtHandle(LtHandle&& o) noexcept;
  LtHandle& operator=(LtHandle&&) = delete;
  LtHandle(const LtHandle&) = delete;
  ~LtHandle();
  cublasLtHandle_t get() const { return h_; }

 private:
  cublasLtHandle_t h_ = nullptr;
};

// One planned FP8 matmul; the descriptors are owned and freed in reverse order.
class LtFp8Gemm {
 public:
  // Plans D = sa*sb * A B^T for the given device pointers; kUnsupportedShape if the heuristic
  // finds no algorithm. `workspace` of `workspace_bytes` stays valid for every run().
  static Result<LtFp8Gemm> plan(const LtHandle& h, int m, int n, int k, const float* scale_a,
                                const float* scale_b, void* workspace, size_t workspace_bytes);
  LtFp8Gemm(LtFp8Gemm&& o) noexcept;
  LtFp8Gemm& operator=(LtFp8Gemm&&) = delete;
  LtFp8Gemm(const LtFp8Gemm&) = delete;
  ~LtFp8Gemm();

  // Enqueues one product on `stream` (a CUstream); throws CheckError on failure.
  void run(const void* a, const void* b, void* d, void* stream) const;
  // The same, with a failure as kErrCuda.
  Status try_run(const void* a, const void* b, void* d, void* stream) const;
  const std::string& algo_summary() const { return algo_; }

 private:
  LtFp8Gemm() = default;
  cublasLtHandle_t h_ = nullptr;
  cublasLtMatmulDesc_t op_ = nullptr;
  cublasLtMatrixLayout_t la_ = nullptr, lb_ = nullptr, ld_ = nullptr;
  cublasLtMatmulAlgo_t algo_v_{};
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::string algo_;
};

std::string cublaslt_version();

}  // namespace tpjit::runtime
