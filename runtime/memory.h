// Move-only owners of device memory (cuMemAlloc) and pinned host memory (cuMemAllocHost).
// Both need the owning context current on the thread that allocates and frees them.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "runtime/driver.h"

namespace tpjit::runtime {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // Allocates `bytes` (at least 1) of device memory; throws CheckError on failure.
  DeviceBuffer(const Driver& d, size_t bytes);
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  CUdeviceptr get() const { return ptr_; }
  void* data() const { return reinterpret_cast<void*>(ptr_); }
  size_t size() const { return bytes_; }

  // Synchronous copies and fills over [offset, offset + n), finished on the GPU when they
  // return (work on other streams is not waited for); bounds are checked.
  void upload(std::span<const uint8_t> src, size_t offset = 0);
  void download(std::span<uint8_t> dst, size_t offset = 0) const;
  void fill(uint8_t byte);
  void fill_async(uint8_t byte, CUstream stream);

 private:
  void reset() noexcept;
  const Driver* d_ = nullptr;
  CUdeviceptr ptr_ = 0;
  size_t bytes_ = 0;
};

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  // Allocates `bytes` of page-locked host memory; throws CheckError on failure.
  PinnedBuffer(const Driver& d, size_t bytes);
  PinnedBuffer(PinnedBuffer&& o) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer();

  uint8_t* data() const { return static_cast<uint8_t*>(ptr_); }
  size_t size() const { return bytes_; }

 private:
  void reset() noexcept;
  const Driver* d_ = nullptr;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace tpjit::runtime
