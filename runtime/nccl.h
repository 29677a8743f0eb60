// NCCL for one rank: a check macro that names the call, NCCL's error string and its last
// error; the unique id as a plain 128-byte value (the daemon ships it between hosts); and a
// move-only communicator owner with an explicit destroy() or abort().
//
// Only NCCL 2.28.3 API is used (the device machines have 2.28.3; the headers here may be
// newer): ncclGetUniqueId, ncclCommInitRankConfig, ncclAllGather, ncclReduceScatter,
// ncclGroupStart/End, ncclCommGetAsyncError, ncclCommFinalize, ncclCommDestroy, ncclCommAbort.
//
// Communicators are blocking by default (NcclOptions::nonblocking says why); a nonblocking
// one polls init, and any call NCCL answers with ncclInProgress, through ncclCommGetAsyncError
// until NcclOptions::timeout, then aborts and fails with kErrNccl naming the rank and timeout.
#pragma once

#include <cuda.h>
#include <nccl.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "util/result.h"

namespace tpjit::runtime {

inline constexpr const char* kErrNccl = "nccl_error";  // an NCCL call failed or timed out

// "<call> failed: <ncclGetErrorString> (last error: <ncclGetLastError>) (file:line)".
std::string nccl_error_text(ncclResult_t r, ncclComm_t comm, const char* call, const char* file,
                            int line);
[[noreturn]] void nccl_failed(ncclResult_t r, ncclComm_t comm, const char* call,
                              const char* file, int line);

// An ncclUniqueId as bytes: copyable, comparable, serializable without NCCL's header.
struct NcclUniqueId {
  std::array<uint8_t, 128> bytes{};
  bool operator==(const NcclUniqueId&) const = default;
};
static_assert(sizeof(ncclUniqueId) == 128, "NCCL's unique id is 128 bytes");

// A fresh id from rank 0's process (ncclGetUniqueId); every rank must init with the same one.
Result<NcclUniqueId> nccl_unique_id();

// NCCL's runtime version, e.g. 22803.
int nccl_version();

struct NcclOptions {
  // How long init, and any call NCCL reports as in progress, may take before the
  // communicator is aborted: long enough for every rank's process to start and connect.
  std::chrono::milliseconds timeout{60000};
  int max_ctas = 0;  // > 0: cap NCCL's CTAs (SMs) per collective, leaving the rest to GEMMs
  // Nonblocking puts `timeout` on every call but costs 100-300 us per collective: NCCL answers
  // "in progress" until its own thread has launched the kernel (measured on 2x H100,
  // bench/RESULTS.md, 2026-11-26). Blocking (the default for the data path) launches inline;
  // a peer that never comes then hangs init, so callers bound it from outside: tpjitd kills
  // workers whose run outlives the run timeout.
  bool nonblocking = false;
};

// One rank of a communicator. Move-only; the destructor aborts one that was neither
// destroyed nor aborted (abort never waits on peers, so an unwinding error path cannot hang).
class NcclComm {
 public:
  // Joins communicator `id` as `rank` of `world_size` on the CUDA context current on this
  // thread. Every rank must call it concurrently. kErrNccl with the reason, or on timeout.
  static Result<NcclComm> init(const NcclUniqueId& id, int world_size, int rank,
                               const NcclOptions& opts = {});
  NcclComm(NcclComm&& o) noexcept;
  NcclComm& operator=(NcclComm&& o) noexcept;
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;
  ~NcclComm();

  ncclComm_t get() const { return comm_; }
  int rank() const { return rank_; }
  int world_size() const { return world_size_; }

  // Enqueue a collective on `stream`; counts are elements of `type` per rank (NCCL's
  // convention: all_gather sends `count`, receives world_size * count; reduce_scatter
  // receives `count`). Asynchronous; errors that surface later come from check().
  Status all_gather(const void* send, void* recv, size_t count, ncclDataType_t type,
                    CUstream stream) const;
  Status reduce_scatter(const void* send, void* recv, size_t count, ncclDataType_t type,
                        CUstream stream) const;
  // ncclGroupStart/End around several collectives (one fused launch); group_end waits out
  // ncclInProgress like every other call.
  Status group_start() const;
  Status group_end() const;

  // The communicator's asynchronous error state (a failed peer, a network error).
  Status check() const;
  // Flushes and frees the communicator (ncclCommFinalize, then ncclCommDestroy); every rank
  // should do the same. On failure the communicator is aborted instead.
  Status destroy();
  // Frees it at once without waiting on peers or pending work (after an error).
  void abort() noexcept;

 private:
  NcclComm(ncclComm_t c, int ws, int rank, std::chrono::milliseconds timeout)
      : comm_(c), world_size_(ws), rank_(rank), timeout_(timeout) {}
  // Polls ncclCommGetAsyncError while the state is ncclInProgress, up to the timeout.
  Status settle(ncclResult_t r, const char* call, const char* file, int line) const;
  ncclComm_t comm_ = nullptr;
  int world_size_ = 0, rank_ = 0;
  std::chrono::milliseconds timeout_{0};
};

}  // namespace tpjit::runtime

// An NCCL call that must succeed: throws CheckError with the call, error string, last error
// and file:line. For code that returns Result, NcclComm's methods return the same text.
#define TPJIT_NCCL(comm, call)                                                       \
  do {                                                                               \
    ncclResult_t tpjit_nccl_r_ = (call);                                             \
    if (tpjit_nccl_r_ != ncclSuccess)                                                \
      ::tpjit::runtime::nccl_failed(tpjit_nccl_r_, (comm), #call, __FILE__, __LINE__); \
  } while (0)
