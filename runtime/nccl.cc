#include "runtime/nccl.h"

#include <cstring>
#include <thread>

#include "util/check.h"
#include "util/log.h"

namespace tpjit::runtime {
namespace {

Error nccl_error(ncclResult_t r, ncclComm_t comm, const char* call, const char* file, int line) {
  return make_error(kErrNccl, nccl_error_text(r, comm, call, file, line), "runtime.nccl");
}

}  // namespace

std::string nccl_error_text(ncclResult_t r, ncclComm_t comm, const char* call, const char* file,
                            int line) {
  const char* last = ncclGetLastError(comm);
  std::string text = std::string(call) + " failed: " + ncclGetErrorString(r);
  if (last && *last) text += std::string(" (last error: ") + last + ")";
  return text + " (" + file + ":" + std::to_string(line) + ")";
}

void nccl_failed(ncclResult_t r, ncclComm_t comm, const char* call, const char* file, int line) {
  throw CheckError(nccl_error_text(r, comm, call, file, line));
}

Result<NcclUniqueId> nccl_unique_id() {
  ncclUniqueId raw;
  if (ncclResult_t r = ncclGetUniqueId(&raw); r != ncclSuccess)
    return nccl_error(r, nullptr, "ncclGetUniqueId(&raw)", __FILE__, __LINE__);
  NcclUniqueId id;
  std::memcpy(id.bytes.data(), &raw, sizeof(raw));
  return id;
}

int nccl_version() {
  int v = 0;
  TPJIT_NCCL(nullptr, ncclGetVersion(&v));
  return v;
}

Result<NcclComm> NcclComm::init(const NcclUniqueId& id, int world_size, int rank,
                                const NcclOptions& opts) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    return make_error(errc::kBadRequest,
                      "rank " + std::to_string(rank) + " outside world size " +
                          std::to_string(world_size),
                      "runtime.nccl");
  }
  ncclUniqueId raw;
  std::memcpy(&raw, id.bytes.data(), sizeof(raw));
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = opts.nonblocking ? 0 : 1;
  if (opts.max_ctas > 0) config.maxCTAs = opts.max_ctas;
  ncclComm_t comm = nullptr;
  ncclResult_t r = ncclCommInitRankConfig(&comm, world_size, raw, rank, &config);
  if (r != ncclSuccess && r != ncclInProgress) {
    if (comm) ncclCommAbort(comm);
    return nccl_error(r, nullptr, "ncclCommInitRankConfig", __FILE__, __LINE__);
  }
  NcclComm c(comm, world_size, rank, opts.timeout);
  if (Status s = c.settle(r, "ncclCommInitRankConfig", __FILE__, __LINE__); !s.ok()) {
    Error e = s.error();
    e.message = "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + ": " +
                e.message;
    return e;  // c's destructor aborts it
  }
  logger("runtime")->debug("nccl: rank {} of {} joined (NCCL {})", rank, world_size,
                           nccl_version());
  return c;
}

NcclComm::NcclComm(NcclComm&& o) noexcept
    : comm_(o.comm_), world_size_(o.world_size_), rank_(o.rank_), timeout_(o.timeout_) {
  o.comm_ = nullptr;
}

NcclComm& NcclComm::operator=(NcclComm&& o) noexcept {
  if (this != &o) {
    abort();
    comm_ = o.comm_;
    world_size_ = o.world_size_;
    rank_ = o.rank_;
    timeout_ = o.timeout_;
    o.comm_ = nullptr;
  }
  return *this;
}

NcclComm::~NcclComm() { abort(); }

Status NcclComm::settle(ncclResult_t r, const char* call, const char* file, int line) const {
  // A nonblocking communicator finishes in NCCL's own threads; poll its state. Every
  // collective on such a communicator comes back in progress while NCCL's thread launches it
  // (tens of microseconds), and the caller's next launch waits on this: spin for the first
  // millisecond (a 200 us sleep per poll is the likely cause of the ~300 us floor every
  // collective showed in the first bench run, 2026-11-26), then sleep a little per poll.
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + timeout_;
  while (r == ncclInProgress) {
    const auto now = std::chrono::steady_clock::now();
    if (now - t0 < std::chrono::milliseconds(1)) std::this_thread::yield();
    else std::this_thread::sleep_for(std::chrono::microseconds(50));
    if (now > deadline) {
      return make_error(kErrNccl,
                        std::string(call) + " still in progress after " +
                            std::to_string(timeout_.count()) +
                            " ms: a peer did not join or answer (every rank must call it with "
                            "the same unique id and world size); the communicator is aborted (" +
                            file + ":" + std::to_string(line) + ")",
                        "runtime.nccl");
    }
    if (ncclResult_t q = ncclCommGetAsyncError(comm_, &r); q != ncclSuccess)
      return nccl_error(q, comm_, "ncclCommGetAsyncError", file, line);
  }
  if (r != ncclSuccess) return nccl_error(r, comm_, call, file, line);
  return ok_status();
}

Status NcclComm::all_gather(const void* send, void* recv, size_t count, ncclDataType_t type,
                            CUstream stream) const {
  return settle(ncclAllGather(send, recv, count, type, comm_, stream), "ncclAllGather", __FILE__,
                __LINE__);
}

Status NcclComm::reduce_scatter(const void* send, void* recv, size_t count, ncclDataType_t type,
                                CUstream stream) const {
  return settle(ncclReduceScatter(send, recv, count, type, ncclSum, comm_, stream),
                "ncclReduceScatter", __FILE__, __LINE__);
}

Status NcclComm::group_start() const {
  return settle(ncclGroupStart(), "ncclGroupStart", __FILE__, __LINE__);
}

Status NcclComm::group_end() const {
  return settle(ncclGroupEnd(), "ncclGroupEnd", __FILE__, __LINE__);
}

Status NcclComm::check() const {
  ncclResult_t state = ncclSuccess;
  if (ncclResult_t q = ncclCommGetAsyncError(comm_, &state); q != ncclSuccess)
    return nccl_error(q, comm_, "ncclCommGetAsyncError", __FILE__, __LINE__);
  if (state != ncclSuccess && state != ncclInProgress)
    return nccl_error(state, comm_, "communicator (asynchronous error)", __FILE__, __LINE__);
  return ok_status();
}

Status NcclComm::destroy() {
  if (!comm_) return ok_status();
  Status s = settle(ncclCommFinalize(comm_), "ncclCommFinalize", __FILE__, __LINE__);
  if (!s.ok()) {
    abort();
    return s;
  }
  ncclResult_t r = ncclCommDestroy(comm_);
  ncclComm_t c = comm_;
  comm_ = nullptr;
  if (r != ncclSuccess) {
    ncclCommAbort(c);
    return nccl_error(r, nullptr, "ncclCommDestroy", __FILE__, __LINE__);
  }
  return ok_status();
}

void NcclComm::abort() noexcept {
  if (!comm_) return;
  ncclCommAbort(comm_);  // nothing to do on failure: the handle is gone either way
  comm_ = nullptr;
}

}  // namespace tpjit::runtime
