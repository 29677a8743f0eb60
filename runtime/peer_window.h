// Device memory that every rank of a communicator allocates together and that every rank maps:
// the copy-engine transport of the overlap executors (DESIGN.md, "Execution (overlap)").
// A rank writes into a peer's window with cuMemcpyDtoDAsync (the copy engines over NVLink, no
// SMs) and raises a flag there with cuStreamWriteValue32; the peer's stream waits on that flag
// with cuStreamWaitValue32. Nothing runs on the SMs and the host never waits.
//
// Mapping: ranks in the same process (threads, one context each: the benches and tests) enable
// peer access between their contexts and use each other's pointers; ranks in other processes
// of the same host (one tpjit-worker per GPU) open each other's CUDA IPC handles. Ranks on other
// hosts, or GPUs without peer access (or processes whose CUDA_VISIBLE_DEVICES hide each other's
// GPU), cannot map: create() then fails on every rank alike, and the caller keeps NCCL.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/driver.h"
#include "runtime/memory.h"
#include "runtime/nccl.h"
#include "util/result.h"

namespace tpjit::runtime {

// create()'s error code when some rank cannot map some peer (not a fault: use NCCL).
inline constexpr const char* kErrNoPeerAccess = "no_peer_access";

class PeerWindow {
 public:
  PeerWindow();
  // Collective: every rank of `comm` calls it with the same `bytes`, on the context `comm` was
  // made on; handles are exchanged with two small all-gathers on `stream`, which is then
  // synchronized. The memory is zeroed before any peer can see it. kErrNoPeerAccess (same
  // answer on every rank) when the window cannot be mapped everywhere; kErrNccl / kErrCuda
  // when a call fails.
  static Result<PeerWindow> create(const Driver& d, const NcclComm& comm, size_t bytes,
                                   CUstream stream);
  PeerWindow(PeerWindow&&) noexcept;
  PeerWindow& operator=(PeerWindow&&) noexcept;
  ~PeerWindow();  // unmaps the peers' windows, then frees this rank's

  size_t size() const;
  uint8_t* local() const;
  // Rank r's window as this context sees it (local() for this rank).
  uint8_t* peer(int r) const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace tpjit::runtime
