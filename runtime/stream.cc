#include "runtime/stream.h"

#include <utility>

namespace tpjit::runtime {

Stream::Stream(const Driver& d) : d_(&d) { TPJIT_CU(d, cuStreamCreate(&s_, CU_STREAM_NON_BLOCKING)); }

Stream::Stream(Stream&& o) noexcept : d_(o.d_), s_(std::exchange(o.s_, nullptr)) {}

Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    reset();
    d_ = o.d_;
    s_ = std::exchange(o.s_, nullptr);
  }
  return *this;
}

Stream::~Stream() { reset(); }

void Stream::reset() noexcept {
  if (s_ != nullptr) d_->cuStreamDestroy(s_);
  s_ = nullptr;
}

void Stream::synchronize() const { TPJIT_CU(*d_, cuStreamSynchronize(s_)); }

void Stream::wait(CUevent e) const { TPJIT_CU(*d_, cuStreamWaitEvent(s_, e, 0)); }

Event::Event(const Driver& d, bool timing) : d_(&d) {
  TPJIT_CU(d, cuEventCreate(&e_, timing ? CU_EVENT_DEFAULT : CU_EVENT_DISABLE_TIMING));
}

Event::Event(Event&& o) noexcept : d_(o.d_), e_(std::exchange(o.e_, nullptr)) {}

Event& Event::operator=(Event&& o) noexcept {
  if (this != &o) {
    reset();
    d_ = o.d_;
    e_ = std::exchange(o.e_, nullptr);
  }
  return *this;
}

Event::~Event() { reset(); }

void Event::reset() noexcept {
  if (e_ != nullptr) d_->cuEventDestroy(e_);
  e_ = nullptr;
}

void Event::record(CUstream s) const { TPJIT_CU(*d_, cuEventRecord(e_, s)); }

void Event::synchronize() const { TPJIT_CU(*d_, cuEventSynchronize(e_)); }

float Event::elapsed_ms_since(const Event& start) const {
  float ms = 0;
  TPJIT_CU(*d_, cuEventElapsedTime(&ms, start.e_, e_));
  return ms;
}

}  // namespace tpjit::runtime
