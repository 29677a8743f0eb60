#include "runtime/peer_window.h"

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <type_traits>

#include "util/check.h"

namespace tpjit::runtime {
namespace {

// What a rank tells the others about its window. Pointers and the context are meaningful only
// to ranks with the same pid; the IPC handle to the other processes of the same host.
struct Record {
  uint64_t host = 0;  // FNV-1a of the host name and boot id
  int64_t pid = 0;
  uint64_t ctx = 0;
  uint64_t ptr = 0;
  CUipcMemHandle ipc{};
  int32_t ipc_ok = 0;
  int32_t pad = 0;
};
static_assert(std::is_trivially_copyable_v<Record>);

uint64_t host_id() {
  std::string id(256, '\0');
  if (gethostname(id.data(), id.size()) != 0) id.clear();
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string b;
  std::getline(boot, b);
  id += "/" + b;
  uint64_t h = 1469598103934665603ull;
  for (char c : id) h = (h ^ uint8_t(c)) * 1099511628211ull;
  return h;
}

Error no_peer(const std::string& why) {
  return make_error(kErrNoPeerAccess, "peer window: " + why, "runtime.peer_window");
}

// All-gathers one trivially copyable value per rank through device memory on `stream`.
template <class T>
Result<std::vector<T>> exchange(const Driver& d, const NcclComm& comm, const T& mine,
                                CUstream stream) {
  const int ws = comm.world_size();
  DeviceBuffer buf(d, sizeof(T) * ws);
  buf.upload({reinterpret_cast<const uint8_t*>(&mine), sizeof(T)}, sizeof(T) * comm.rank());
  uint8_t* base = static_cast<uint8_t*>(buf.data());
  if (Status st = comm.all_gather(base + sizeof(T) * comm.rank(), base, sizeof(T), ncclUint8, stream);
      !st.ok())
    return st.error();
  TPJIT_CU(d, cuStreamSynchronize(stream));
  if (Status st = comm.check(); !st.ok()) return st.error();
  std::vector<T> all(ws);
  buf.download({reinterpret_cast<uint8_t*>(all.data()), sizeof(T) * ws});
  return all;
}

}  // namespace

struct PeerWindow::State {
  const Driver* d = nullptr;
  DeviceBuffer local;
  std::vector<uint8_t*> peers;
  std::vector<CUdeviceptr> opened;  // IPC mappings to close

  ~State() {
    for (CUdeviceptr p : opened) d->cuIpcCloseMemHandle(p);  // nothing to do on failure
  }
};

PeerWindow::PeerWindow() = default;
PeerWindow::PeerWindow(PeerWindow&&) noexcept = default;
PeerWindow& PeerWindow::operator=(PeerWindow&&) noexcept = default;
PeerWindow::~PeerWindow() = default;

size_t PeerWindow::size() const { return s_ ? s_->local.size() : 0; }
uint8_t* PeerWindow::local() const { return s_ ? static_cast<uint8_t*>(s_->local.data()) : nullptr; }
uint8_t* PeerWindow::peer(int r) const { return s_->peers.at(size_t(r)); }

Result<PeerWindow> PeerWindow::create(const Driver& d, const NcclComm& comm, size_t bytes,
                                      CUstream stream) {
  try {
    auto s = std::make_unique<State>();
    s->d = &d;
    s->local = DeviceBuffer(d, bytes);
    TPJIT_CU(d, cuMemsetD8(s->local.get(), 0, s->local.size()));
    Record mine;
    mine.host = host_id();
    mine.pid = getpid();
    CUcontext ctx = nullptr;
    TPJIT_CU(d, cuCtxGetCurrent(&ctx));
    mine.ctx = reinterpret_cast<uint64_t>(ctx);
    mine.ptr = s->local.get();
    mine.ipc_ok = d.cuIpcGetMemHandle(&mine.ipc, s->local.get()) == CUDA_SUCCESS;
    Result<std::vector<Record>> all = exchange(d, comm, mine, stream);
    if (!all.ok()) return all.error();

    // Map every peer; the first failure is remembered, and every rank learns of any failure.
    const int ws = comm.world_size();
    std::string why;
    s->peers.assign(size_t(ws), nullptr);
    for (int r = 0; r < ws && why.empty(); ++r) {
      const Record& p = (*all)[size_t(r)];
      const std::string who = "rank " + std::to_string(r);
      if (r == comm.rank() || (p.pid == mine.pid && p.ctx == mine.ctx)) {
        s->peers[size_t(r)] = reinterpret_cast<uint8_t*>(p.ptr);
      } else if (p.host != mine.host) {
        why = who + " is on another host (NCCL carries it)";
      } else if (p.pid == mine.pid) {
        const CUresult e = d.cuCtxEnablePeerAccess(reinterpret_cast<CUcontext>(p.ctx), 0);
        if (e != CUDA_SUCCESS && e != CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED)
          why = who + ": cuCtxEnablePeerAccess failed: " + d.error_text(e);
        else
          s->peers[size_t(r)] = reinterpret_cast<uint8_t*>(p.ptr);
      } else if (!p.ipc_ok) {
        why = who + " could not export a CUDA IPC handle";
      } else {
        CUdeviceptr q = 0;
        const CUresult e = d.cuIpcOpenMemHandle(&q, p.ipc, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS);
        if (e != CUDA_SUCCESS) {
          why = who + ": cuIpcOpenMemHandle failed: " + d.error_text(e) +
                " (its GPU may be hidden by CUDA_VISIBLE_DEVICES or lack peer access)";
        } else {
          s->opened.push_back(q);
          s->peers[size_t(r)] = reinterpret_cast<uint8_t*>(q);
        }
      }
    }
    const int32_t ok = why.empty() ? 1 : 0;
    Result<std::vector<int32_t>> oks = exchange(d, comm, ok, stream);
    if (!oks.ok()) return oks.error();
    for (int r = 0; r < ws; ++r)
      if (!(*oks)[size_t(r)])
        return no_peer(r == comm.rank() ? why
                                        : "rank " + std::to_string(r) + " cannot map every peer");
    PeerWindow w;
    w.s_ = std::move(s);
    return w;
  } catch (const CheckError& e) {
    return make_error(kErrCuda, e.what(), "runtime.peer_window");
  }
}

}  // namespace tpjit::runtime
