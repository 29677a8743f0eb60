#include "runtime/context.h"

#include <utility>

namespace tpjit::runtime {

std::string DeviceInfo::arch_name() const {
  return "sm_" + std::to_string(cc_major) + std::to_string(cc_minor);
}

int device_count(const Driver& d) {
  int n = 0;
  if (d.cuDeviceGetCount(&n) != CUDA_SUCCESS) return 0;
  return n;
}

Result<DeviceInfo> query_device(const Driver& d, int ordinal) {
  const int n = device_count(d);
  if (ordinal < 0 || ordinal >= n) {
    return make_error(kErrNoDevice,
                      "no CUDA device " + std::to_string(ordinal) + ": the driver sees " +
                          std::to_string(n) + " device(s)",
                      "runtime.device");
  }
  DeviceInfo info;
  info.ordinal = ordinal;
  CUdevice dev = 0;
  TPJIT_CU_RETURN(d, cuDeviceGet(&dev, ordinal));
  char name[256] = {};
  TPJIT_CU_RETURN(d, cuDeviceGetName(name, sizeof(name) - 1, dev));
  info.name = name;
  TPJIT_CU_RETURN(d, cuDeviceGetAttribute(&info.sm_count,
                                          CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
  TPJIT_CU_RETURN(d, cuDeviceGetAttribute(&info.cc_major,
                                          CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
  TPJIT_CU_RETURN(d, cuDeviceGetAttribute(&info.cc_minor,
                                          CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
  TPJIT_CU_RETURN(d, cuDeviceGetAttribute(&info.max_smem_per_block_optin,
                                          CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                                          dev));
  TPJIT_CU_RETURN(d, cuDeviceGetAttribute(&info.l2_bytes, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, dev));
  size_t total = 0;
  TPJIT_CU_RETURN(d, cuDeviceTotalMem(&total, dev));
  info.total_memory = total;
  return info;
}

Result<PrimaryContext> PrimaryContext::retain(const Driver& d, int ordinal) {
  const int n = device_count(d);
  if (ordinal < 0 || ordinal >= n) {
    return make_error(kErrNoDevice,
                      "no CUDA device " + std::to_string(ordinal) + ": the driver sees " +
                          std::to_string(n) + " device(s)",
                      "runtime.context");
  }
  CUdevice dev = 0;
  TPJIT_CU_RETURN(d, cuDeviceGet(&dev, ordinal));
  CUcontext ctx = nullptr;
  TPJIT_CU_RETURN(d, cuDevicePrimaryCtxRetain(&ctx, dev));
  PrimaryContext owner(&d, dev, ctx);  // released by owner if the next call fails
  TPJIT_CU_RETURN(d, cuCtxSetCurrent(ctx));
  return owner;
}

PrimaryContext::PrimaryContext(PrimaryContext&& o) noexcept
    : d_(o.d_), dev_(o.dev_), ctx_(std::exchange(o.ctx_, nullptr)) {}

PrimaryContext& PrimaryContext::operator=(PrimaryContext&& o) noexcept {
  if (this != &o) {
    reset();
    d_ = o.d_;
    dev_ = o.dev_;
    ctx_ = std::exchange(o.ctx_, nullptr);
  }
  return *this;
}

PrimaryContext::~PrimaryContext() { reset(); }

void PrimaryContext::reset() noexcept {
  if (ctx_ == nullptr) return;
  // Errors on release cannot be acted on in a destructor; the context dies with the process.
  CUcontext current = nullptr;
  if (d_->cuCtxGetCurrent(&current) == CUDA_SUCCESS && current == ctx_) {
    d_->cuCtxSetCurrent(nullptr);
  }
  d_->cuDevicePrimaryCtxRelease(dev_);
  ctx_ = nullptr;
}

void PrimaryContext::make_current() const { TPJIT_CU(*d_, cuCtxSetCurrent(ctx_)); }

void PrimaryContext::synchronize() const { TPJIT_CU(*d_, cuCtxSynchronize()); }

}  // namespace tpjit::runtime
