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

namespace {

// cuMemsetD8 and a pageable cuMemcpyHtoD may return before the GPU has finished them, on the
// legacy stream, which our CU_STREAM_NON_BLOCKING streams do not wait for: a kernel launched
// right after could run first (a poisoned output overwritten with the poison after the kernel
// wrote it). Waiting here makes "synchronous" true.
void finish_legacy_stream(const Driver& d) { TPJIT_CU(d, cuStreamSynchronize(nullptr)); }

}  // namespace

void DeviceBuffer::upload(std::span<const uint8_t> src, size_t offset) {
  TPJIT_CHECK(offset <= bytes_ && src.size() <= bytes_ - offset, "upload out of bounds");
  if (src.empty()) return;
  TPJIT_CU(*d_, cuMemcpyHtoD(ptr_ + offset, src.data(), src.size()));
  finish_legacy_stream(*d_);
}

void DeviceBuffer::download(std::span<uint8_t> dst, size_t offset) const {
  TPJIT_CHECK(offset <= bytes_ && dst.size() <= bytes_ - offset, "download out of bounds");
  if (dst.empty()) return;
  TPJIT_CU(*d_, cuMemcpyDtoH(dst.data(), ptr_ + offset, dst.size()));
}

void DeviceBuffer::fill(uint8_t byte) {
  if (bytes_ == 0) return;
  TPJIT_CU(*d_, cuMemsetD8(ptr_, byte, bytes_));
  finish_legacy_stream(*d_);
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
