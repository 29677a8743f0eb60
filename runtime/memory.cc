#include "runtime/memory.h"

#include <utility>

#include "util/check.h"

namespace tpjit::runtime {

DeviceBuffer::DeviceBuffer(const Driver& d, size_t bytes) : d_(&d), bytes_(bytes) {
  TPJIT_CU(d, cuMemAlloc(&ptr_, bytes == 0 ? 1 : bytes));
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : d_(o.d_), ptr_(std::exchange(o.ptr_, 0)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    d_ = o.d_;
    ptr_ = std::exchange(o.ptr_, 0);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() { reset(); }

void DeviceBuffer::reset() noexcept {
  // A failed free (sticky error) cannot be handled here; the context is lost anyway.
  if (ptr_ != 0) d_->cuMemFree(ptr_);
  ptr_ = 0;
  bytes_ = 0;
}

void DeviceBuffer::upload(std::span<const uint8_t> src, size_t offset) {
  TPJIT_CHECK(offset <= bytes_ && src.size() <= bytes_ - offset, "upload out of bounds");
  if (src.empty()) return;
  TPJIT_CU(*d_, cuMemcpyHtoD(ptr_ + offset, src.data(), src.size()));
}

void DeviceBuffer::download(std::span<uint8_t> dst, size_t offset) const {
  TPJIT_CHECK(offset <= bytes_ && dst.size() <= bytes_ - offset, "download out of bounds");
  if (dst.empty()) return;
  TPJIT_CU(*d_, cuMemcpyDtoH(dst.data(), ptr_ + offset, dst.size()));
}

void DeviceBuffer::fill(uint8_t byte) {
  if (bytes_ != 0) TPJIT_CU(*d_, cuMemsetD8(ptr_, byte, bytes_));
}

void DeviceBuffer::fill_async(uint8_t byte, CUstream stream) {
  if (bytes_ != 0) TPJIT_CU(*d_, cuMemsetD8Async(ptr_, byte, bytes_, stream));
}

PinnedBuffer::PinnedBuffer(const Driver& d, size_t bytes) : d_(&d), bytes_(bytes) {
  TPJIT_CU(d, cuMemAllocHost(&ptr_, bytes == 0 ? 1 : bytes));
}

PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept
    : d_(o.d_), ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    d_ = o.d_;
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

PinnedBuffer::~PinnedBuffer() { reset(); }

void PinnedBuffer::reset() noexcept {
  if (ptr_ != nullptr) d_->cuMemFreeHost(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

}  // namespace tpjit::runtime
