// The GPU worker supervisor: one tpjit-worker process per local GPU (fork + exec over a
// socketpair, worker/protocol.h), spawned lazily at the first run, and the NCCL communicator
// across them. tpjitd itself never touches CUDA or NCCL: rank 0's worker makes the NCCL unique
// id (ncclGetUniqueId needs no CUDA context, but it starts NCCL's bootstrap root thread in the
// calling process, which must outlive the communicator's init; keeping it in a worker keeps
// libnccl out of the daemon) and the daemon relays it to the other workers, or, across
// daemons, publishes it through daemon/rendezvous.h.
//
// Faults: a worker that dies (end of stream on its socket, then waitpid), replies kErrGpu, or
// does not answer within the request timeout fails the request in flight with an error naming
// the device and the exit status or signal; every worker is then stopped (the communicator
// is broken for all ranks) and the next request spawns them and forms a new communicator.
// Calls are serialized: one run holds the GPUs at a time.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.h"
#include "worker/channel.h"

namespace tpjit::daemon {

// Error codes of runs (docs/protocol.md).
inline constexpr const char* kErrNoGpu = "no_gpu";              // no worker could start
inline constexpr const char* kErrWorkerDied = "worker_died";    // a worker exited mid-request
inline constexpr const char* kErrGpu = "gpu_error";             // a CUDA/NCCL call failed
inline constexpr const char* kErrRunTimeout = "run_timeout";    // no answer within the timeout
inline constexpr const char* kErrRendezvous = "rendezvous_failed";

struct WorkerPoolConfig {
  std::vector<std::string> worker_command;  // argv prefix; --fd/--device/--cache-dir appended
  std::filesystem::path cache_dir;
  int gpus = 0;          // 0: CUDA_VISIBLE_DEVICES' count if set, else worker 0's device_count
  int rank = 0;          // multi-node: this daemon's rank (it owns one GPU)
  int world = 0;         // multi-node: ranks across daemons; 0: single node
  std::string rendezvous;  // multi-node: HOST:PORT rank 0 listens on
  std::chrono::milliseconds timeout{120000};  // per request (also bounds NCCL init)
};

// The tpjit-worker next to the running executable (/proc/self/exe's directory).
std::filesystem::path default_worker_path();

class WorkerPool {
 public:
  explicit WorkerPool(WorkerPoolConfig config);
  ~WorkerPool();  // asks workers to shut down, then kills what remains
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // The local workers' hello replies (spawning them if needed), one per local GPU.
  Result<std::vector<nlohmann::json>> devices();
  // Ranks across every daemon (local GPUs on a single node); after devices() succeeded.
  int world_size() const;
  int first_rank() const { return config_.world > 0 ? config_.rank : 0; }

  // Sends messages[i] (an ipc request: id, type, body) to local worker i and waits for all
  // replies; with `comm`, forms the communicator first if there is none. One error for the
  // whole call (the first fault). Bodies of the ok replies in worker order.
  Result<std::vector<nlohmann::json>> call_all(const std::vector<nlohmann::json>& messages,
                                               bool comm);
  nlohmann::json stats() const;

 private:
  struct Worker {
    int pid = -1;  // -1 once reaped
    int device = 0;
    std::unique_ptr<worker::Channel> channel;
  };
  Status ensure_workers();
  Status ensure_comm(std::chrono::steady_clock::time_point deadline);
  Result<std::vector<nlohmann::json>> exchange(const std::vector<nlohmann::json>& messages,
                                               std::chrono::steady_clock::time_point deadline);
  void stop_all(bool graceful);

  const WorkerPoolConfig config_;
  std::timed_mutex mutex_;  // held by the call in flight
  std::vector<std::unique_ptr<Worker>> workers_;
  int local_gpus_ = 0;
  bool comm_ready_ = false;
  uint64_t spawns_ = 0, deaths_ = 0, timeouts_ = 0, comms_ = 0;
  mutable std::mutex stats_mutex_;
};

}  // namespace tpjit::daemon
