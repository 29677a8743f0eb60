// The CUDA Driver API, loaded at run time with dlopen("libcuda.so.1") and cuGetProcAddress.
// Nothing in tpjit links libcuda: CI machines and the daemon's host may have no driver, and a
// binary linked against the toolkit's stub would not even start there. A missing driver is a
// Result error ("no CUDA driver: ..."), not a crash.
#pragma once

#include <cuda.h>

#include <string>

#include "util/result.h"

namespace tpjit::runtime {

// Error codes of this layer (errc-style; util/result.h has no GPU codes yet).
inline constexpr const char* kErrNoDriver = "no_driver";   // libcuda absent or too old
inline constexpr const char* kErrNoDevice = "no_device";   // driver loaded, no usable GPU
inline constexpr const char* kErrCuda = "cuda_error";      // a Driver API call failed

// Every Driver API entry point tpjit uses. Each signature is unchanged since CUDA 12.0, so
// asking the driver for min(its version, the header's) yields a matching ABI.
#define TPJIT_CU_FUNCTIONS(X)                                                             \
  X(cuInit) X(cuDriverGetVersion) X(cuGetErrorName) X(cuGetErrorString)                    \
  X(cuDeviceGet) X(cuDeviceGetCount) X(cuDeviceGetName) X(cuDeviceGetAttribute)            \
  X(cuDeviceTotalMem) X(cuDevicePrimaryCtxRetain) X(cuDevicePrimaryCtxRelease)             \
  X(cuCtxSetCurrent) X(cuCtxGetCurrent) X(cuCtxSynchronize)                                \
  X(cuModuleLoadData) X(cuModuleUnload) X(cuModuleGetFunction)                             \
  X(cuFuncSetAttribute) X(cuFuncGetAttribute) X(cuLaunchKernelEx)                          \
  X(cuStreamCreate) X(cuStreamDestroy) X(cuStreamSynchronize) X(cuStreamWaitEvent)         \
  X(cuEventCreate) X(cuEventDestroy) X(cuEventRecord) X(cuEventSynchronize)                \
  X(cuEventElapsedTime)                                                                    \
  X(cuMemAlloc) X(cuMemFree) X(cuMemAllocHost) X(cuMemFreeHost)                            \
  X(cuMemcpyHtoD) X(cuMemcpyDtoH) X(cuMemcpyDtoD) X(cuMemcpyHtoDAsync)                     \
  X(cuMemcpyDtoHAsync) X(cuMemcpyDtoDAsync) X(cuMemsetD8) X(cuMemsetD8Async)               \
  X(cuTensorMapEncodeTiled) X(cuOccupancyMaxActiveClusters)                               \
  X(cuCtxEnablePeerAccess) X(cuDeviceCanAccessPeer) X(cuCtxGetDevice)                      \
  X(cuIpcGetMemHandle) X(cuIpcOpenMemHandle) X(cuIpcCloseMemHandle)                        \
  X(cuStreamWriteValue32) X(cuStreamWaitValue32)

// The loaded entry points. One per process, never unloaded (unloading libcuda while other
// libraries, cuBLASLt say, still hold its state is unsafe).
struct Driver {
#define TPJIT_CU_MEMBER(name) decltype(&::name) name = nullptr;
  TPJIT_CU_FUNCTIONS(TPJIT_CU_MEMBER)
#undef TPJIT_CU_MEMBER
  int version = 0;  // cuDriverGetVersion, e.g. 13000

  // The process-wide driver, loaded and cuInit'ed on first call; thread-safe.
  static Result<const Driver*> load();

  // "CUDA_ERROR_X (description)" for a result code.
  std::string error_text(CUresult r) const;
};

// Throws CheckError "<call> failed: CUDA_ERROR_X (text) (file:line)".
[[noreturn]] void cu_failed(const Driver& d, CUresult r, const char* call, const char* file,
                            int line);
// The same text as a Result error with code kErrCuda, for paths that return Result.
Error cu_error(const Driver& d, CUresult r, const char* call, const char* file, int line);

}  // namespace tpjit::runtime

// A Driver API call through a loaded Driver `drv`: TPJIT_CU(drv, cuMemFree(ptr)).
// Throws CheckError naming the call, cuGetErrorName/String and file:line.
#define TPJIT_CU(drv, call)                                                        \
  do {                                                                             \
    const ::tpjit::runtime::Driver& tpjit_cu_drv_ = (drv);                         \
    CUresult tpjit_cu_r_ = tpjit_cu_drv_.call;                                     \
    if (tpjit_cu_r_ != CUDA_SUCCESS)                                               \
      ::tpjit::runtime::cu_failed(tpjit_cu_drv_, tpjit_cu_r_, #call, __FILE__, __LINE__); \
  } while (0)

// The same for Result-returning code: returns the Error from the enclosing function.
#define TPJIT_CU_RETURN(drv, call)                                                         \
  do {                                                                                     \
    const ::tpjit::runtime::Driver& tpjit_cu_drv_ = (drv);                                 \
    CUresult tpjit_cu_r_ = tpjit_cu_drv_.call;                                             \
    if (tpjit_cu_r_ != CUDA_SUCCESS)                                                       \
      return ::tpjit::runtime::cu_error(tpjit_cu_drv_, tpjit_cu_r_, #call, __FILE__, __LINE__); \
  } while (0)
