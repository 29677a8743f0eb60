#include "runtime/lt_gemm.h"

#include <memory>
#include <utility>

#include "runtime/driver.h"
#include "util/check.h"

// A cuBLASLt call: throws CheckError naming the call, the status name and text, file:line.
#define TPJIT_LT(call)                                                                   \
  do {                                                                                   \
    cublasStatus_t tpjit_lt_s_ = (call);                                                 \
    if (tpjit_lt_s_ != CUBLAS_STATUS_SUCCESS)                                            \
      ::tpjit::check_failed(#call,                                                       \
                            std::string(cublasLtGetStatusName(tpjit_lt_s_)) + " (" +     \
                                cublasLtGetStatusString(tpjit_lt_s_) + ")",              \
                            __FILE__, __LINE__);                                         \
  } while (0)

namespace tpjit::runtime {

LtHandle::LtHandle() { TPJIT_LT(cublasLtCreate(&h_)); }
LtHandle::LtHandle(LtHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
LtHandle::~LtHandle() {
  if (h_) cublasLtDestroy(h_);
}

std::string cublaslt_version() { return std::to_string(cublasLtGetVersion()); }

LtFp8Gemm::LtFp8Gemm(LtFp8Gemm&& o) noexcept
    : h_(o.h_),
      op_(std::exchange(o.op_, nullptr)),
      la_(std::exchange(o.la_, nullptr)),
      lb_(std::exchange(o.lb_, nullptr)),
      ld_(std::exchange(o.ld_, nullptr)),
      algo_v_(o.algo_v_),
      workspace_(o.workspace_),
      workspace_bytes_(o.workspace_bytes_),
      algo_(std::move(o.algo_)) {}

LtFp8Gemm::~LtFp8Gemm() {
  if (ld_) cublasLtMatrixLayoutDestroy(ld_);
  if (lb_) cublasLtMatrixLayoutDestroy(lb_);
  if (la_) cublasLtMatrixLayoutDestroy(la_);
  if (op_) cublasLtMatmulDescDestroy(op_);
}

Result<LtFp8Gemm> LtFp8Gemm::plan(const LtHandle& h, int m, int n, int k, const float* scale_a,
                                  const float* scale_b, void* workspace, size_t workspace_bytes) {
  // cuBLASLt is column-major and FP8 needs op(A) = T, op(B) = N. Our row-major D [M,N] is a
  // column-major [N,M] = B [N,K] . A^T, so cuBLASLt's "A" is our B (k x n, ld k, transposed)
  // and its "B" is our A (k x m, ld k); their scales swap with them.
  LtFp8Gemm g;
  g.h_ = h.get();
  g.workspace_ = workspace;
  g.workspace_bytes_ = workspace_bytes;
  TPJIT_LT(cublasLtMatmulDescCreate(&g.op_, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t t = CUBLAS_OP_T, nt = CUBLAS_OP_N;
  TPJIT_LT(cublasLtMatmulDescSetAttribute(g.op_, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof(t)));
  TPJIT_LT(cublasLtMatmulDescSetAttribute(g.op_, CUBLASLT_MATMUL_DESC_TRANSB, &nt, sizeof(nt)));
  TPJIT_LT(cublasLtMatmulDescSetAttribute(g.op_, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &scale_b,
                                          sizeof(scale_b)));
  TPJIT_LT(cublasLtMatmulDescSetAttribute(g.op_, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &scale_a,
                                          sizeof(scale_a)));
  TPJIT_LT(cublasLtMatrixLayoutCreate(&g.la_, CUDA_R_8F_E4M3, k, n, k));
  TPJIT_LT(cublasLtMatrixLayoutCreate(&g.lb_, CUDA_R_8F_E4M3, k, m, k));
  TPJIT_LT(cublasLtMatrixLayoutCreate(&g.ld_, CUDA_R_16BF, n, m, n));
  cublasLtMatmulPreference_t raw_pref = nullptr;
  TPJIT_LT(cublasLtMatmulPreferenceCreate(&raw_pref));
  std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, decltype(&cublasLtMatmulPreferenceDestroy)>
      pref(raw_pref, &cublasLtMatmulPreferenceDestroy);
  TPJIT_LT(cublasLtMatmulPreferenceSetAttribute(pref.get(),
                                                CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                &workspace_bytes, sizeof(workspace_bytes)));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(g.h_, g.op_, g.la_, g.lb_, g.ld_, g.ld_,
                                                          pref.get(), 1, &result, &found);
  if (s != CUBLAS_STATUS_SUCCESS || found == 0) {
    return make_error(errc::kUnsupportedShape,
                      "cuBLASLt has no FP8 algorithm for m=" + std::to_string(m) +
                          " n=" + std::to_string(n) + " k=" + std::to_string(k) + ": " +
                          cublasLtGetStatusName(s),
                      "runtime.cublaslt");
  }
  g.algo_v_ = result.algo;
  int id = 0, tile = 0, stages = 0;
  size_t w = 0;
  cublasLtMatmulAlgoConfigGetAttribute(&result.algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof(id), &w);
  cublasLtMatmulAlgoConfigGetAttribute(&result.algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile,
                                       sizeof(tile), &w);
  cublasLtMatmulAlgoConfigGetAttribute(&result.algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages,
                                       sizeof(stages), &w);
  g.algo_ = "algo " + std::to_string(id) + " tile " + std::to_string(tile) + " stages " +
            std::to_string(stages) + " ws " + std::to_string(result.workspaceSize);
  return g;
}

void LtFp8Gemm::run(const void* a, const void* b, void* d, void* stream) const {
  const float alpha = 1.0f, beta = 0.0f;
  // cuBLASLt's A is our B and its B our A (see plan()).
  TPJIT_LT(cublasLtMatmul(h_, op_, &alpha, b, la_, a, lb_, &beta, d, ld_, d, ld_, &algo_v_,
                          workspace_, workspace_bytes_, static_cast<cudaStream_t>(stream)));
}

Status LtFp8Gemm::try_run(const void* a, const void* b, void* d, void* stream) const {
  try {
    run(a, b, d, stream);
    return ok_status();
  } catch (const CheckError& e) {
    return make_error(kErrCuda, e.what(), "runtime.cublaslt");
  }
}

}  // namespace tpjit::runtime
