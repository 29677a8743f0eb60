// The daemon <-> tpjit-worker link: one socketpair end, ipc frames holding one JSON object
// each (the same framing as the client socket). Blocking, with deadlines, for one thread.
#pragma once

#include <chrono>

#include <nlohmann/json.hpp>

#include "ipc/frame.h"
#include "util/atomic_file.h"
#include "util/result.h"

namespace tpjit::worker {

using Clock = std::chrono::steady_clock;

class Channel {
 public:
  explicit Channel(UniqueFd fd, uint32_t max_frame_bytes = ipc::kDefaultMaxFrameBytes)
      : fd_(std::move(fd)), decoder_(max_frame_bytes) {}

  // Writes one frame (all of it, retrying EINTR); kUnavailable when the peer is gone.
  Status send(const nlohmann::json& message);
  // The next message; kUnavailable at end of stream ("closed"), kTimeout once `deadline`
  // passes, kBadFrame/kBadJson for garbage. Clock::time_point::max() waits for ever.
  Result<nlohmann::json> receive(Clock::time_point deadline = Clock::time_point::max());

  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  ipc::FrameDecoder decoder_;
};

}  // namespace tpjit::worker
