// A GPU and its primary context. The primary context is the one the CUDA runtime (and so
// cuBLASLt, NCCL, torch) uses too, so buffers and streams made here work with them.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <string>

#include "runtime/driver.h"
#include "util/result.h"

namespace tpjit::runtime {

struct DeviceInfo {
  int ordinal = 0;
  std::string name;          // e.g. "NVIDIA H100 80GB HBM3"
  int sm_count = 0;
  int cc_major = 0, cc_minor = 0;
  uint64_t total_memory = 0;           // bytes
  int max_smem_per_block_optin = 0;    // bytes, after raising the dynamic limit
  int l2_bytes = 0;
  std::string arch_name() const;       // "sm_90" etc.
};

// Number of devices the driver sees (0 when none).
int device_count(const Driver& d);

// Properties of device `ordinal`; kErrNoDevice if it does not exist.
Result<DeviceInfo> query_device(const Driver& d, int ordinal);

// Move-only owner of one retain of a device's primary context (released on destruction).
class PrimaryContext {
 public:
  // Retains the primary context of `ordinal` and makes it current on this thread.
  static Result<PrimaryContext> retain(const Driver& d, int ordinal);
  PrimaryContext(PrimaryContext&& o) noexcept;
  PrimaryContext& operator=(PrimaryContext&& o) noexcept;
  PrimaryContext(const PrimaryContext&) = delete;
  PrimaryContext& operator=(const PrimaryContext&) = delete;
  ~PrimaryContext();

  // Makes it current on the calling thread (each thread that launches must do this once).
  void make_current() const;
  void synchronize() const;
  CUcontext get() const { return ctx_; }
  CUdevice device() const { return dev_; }
  const Driver& driver() const { return *d_; }

 private:
  PrimaryContext(const Driver* d, CUdevice dev, CUcontext ctx) : d_(d), dev_(dev), ctx_(ctx) {}
  void reset() noexcept;
  const Driver* d_ = nullptr;
  CUdevice dev_ = 0;
  CUcontext ctx_ = nullptr;
};

}  // namespace tpjit::runtime
