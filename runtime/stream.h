// Move-only owners of a stream and an event.
#pragma once

#include <cuda.h>

#include "runtime/driver.h"

namespace tpjit::runtime {

class Stream {
 public:
  Stream() = default;
  // A non-blocking stream (does not synchronize with the legacy default stream).
  explicit Stream(const Driver& d);
  Stream(Stream&& o) noexcept;
  Stream& operator=(Stream&& o) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();

  CUstream get() const { return s_; }
  void synchronize() const;
  void wait(CUevent e) const;  // later work on this stream waits for e

 private:
  void reset() noexcept;
  const Driver* d_ = nullptr;
  CUstream s_ = nullptr;
};

class Event {
 public:
  Event() = default;
  // An event with timing enabled (for elapsed_ms) unless `timing` is false.
  explicit Event(const Driver& d, bool timing = true);
  Event(Event&& o) noexcept;
  Event& operator=(Event&& o) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event();

  CUevent get() const { return e_; }
  void record(CUstream s) const;
  void synchronize() const;
  // Milliseconds from `start` to this event; both recorded and completed.
  float elapsed_ms_since(const Event& start) const;

 private:
  void reset() noexcept;
  const Driver* d_ = nullptr;
  CUevent e_ = nullptr;
};

}  // namespace tpjit::runtime
