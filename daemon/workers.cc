#include "daemon/workers.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "daemon/rendezvous.h"
#include "ipc/message.h"
#include "util/log.h"
#include "worker/channel.h"
#include "worker/protocol.h"

namespace tpjit::daemon {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kReapWait = std::chrono::seconds(5);

std::string worker_exit_text(int status) {
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    std::string why = code == worker::kExitGpuError ? " (a CUDA or NCCL call failed)"
                      : code == 127 ? " (could not be started: check the tpjit-worker path)"
                                    : "";
    return "exited with status " + std::to_string(code) + why;
  }
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  return "stopped (status " + std::to_string(status) + ")";
}

// Waits for pid to end (pidfd + poll, so no sleeping), killing it if it lingers.
int reap_worker(pid_t pid) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kReapWait).count()));
    while (r < 0 && errno == EINTR);
    ::close(pidfd);
    if (r == 0) ::kill(pid, SIGKILL);
  } else {
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}


std::filesystem::path default_worker_path() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::path(".") : self.parent_path()) / "tpjit-worker";
}

WorkerPool::WorkerPool(WorkerPoolConfig config) : config_(std::move(config)) {}

WorkerPool::~WorkerPool() { stop_all(true); }

int WorkerPool::world_size() const { return config_.world > 0 ? config_.world : local_gpus_; }

json WorkerPool::stats() const {
  std::lock_guard lock(stats_mutex_);
  return {{"gpus", local_gpus_}, {"spawns", spawns_}, {"deaths", deaths_},
          {"timeouts", timeouts_}, {"communicators", comms_},
          {"timeout_s", config_.timeout.count() / 1000.0}};
}

void WorkerPool::stop_all(bool graceful) {
  for (auto& w : workers_) {
    if (w->pid <= 0) continue;
    if (graceful) (void)w->channel->send(ipc::make_request(0, "shutdown", json::object()));
    else ::kill(w->pid, SIGKILL);
  }
  for (auto& w : workers_) {
    w->channel.reset();  // end of stream: a worker still reading exits
    if (w->pid > 0) reap_worker(w->pid);
  }
  workers_.clear();
  comm_ready_ = false;
}

Status WorkerPool::ensure_workers() {
  // A worker that died while idle: its communicator is gone for every rank, start afresh.
  for (auto& w : workers_) {
    int status = 0;
    if (w->pid > 0 && ::waitpid(w->pid, &status, WNOHANG) == w->pid) {
      logger("daemon")->warn("GPU worker for device {} (pid {}) {} while idle; restarting the workers",
                             w->device, w->pid, worker_exit_text(status));
      w->pid = -1;
      std::lock_guard lock(stats_mutex_);
      ++deaths_;
    }
  }
  bool all_alive = true;
  for (auto& w : workers_) all_alive = all_alive && w->pid > 0;
  if (!all_alive) stop_all(false);
  if (!workers_.empty()) return ok_status();
  auto spawn = [&](int device) -> Status {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
      return make_error(errc::kInternal, std::string("socketpair: ") + std::strerror(errno));
    std::vector<std::string> args = config_.worker_command;
    for (std::string s : {std::string("--fd"), std::to_string(sv[1]), std::string("--device"),
                          std::to_string(device), std::string("--cache-dir"),
                          config_.cache_dir.string()})
      args.push_back(s);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {  // only async-signal-safe calls until exec
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::fcntl(sv[1], F_SETFD, 0);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(sv[1]);
    if (pid < 0) {
      ::close(sv[0]);
      return make_error(errc::kInternal, std::string("fork: ") + std::strerror(errno));
    }
    auto w = std::make_unique<Worker>();
    w->pid = pid;
    w->device = device;
    w->channel = std::make_unique<worker::Channel>(UniqueFd(sv[0]));
    workers_.push_back(std::move(w));
    std::lock_guard lock(stats_mutex_);
    ++spawns_;
    return ok_status();
  };
  const auto deadline = Clock::now() + config_.timeout;
  int gpus = config_.world > 0 ? 1 : config_.gpus;
  if (gpus == 0) {
    if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES"); v && *v) {
      gpus = 1;
      for (const char* c = v; *c; ++c) gpus += *c == ',';
    }
  }
  if (Status s = spawn(0); !s.ok()) return s;
  if (gpus == 0) {
    auto hello = exchange({ipc::make_request(1, "hello", json::object())}, deadline);
    if (!hello) return make_error(kErrNoGpu, "cannot start a GPU worker: " + hello.error().message);
    gpus = (*hello)[0].value("device_count", 0);
    if (gpus < 1) {
      stop_all(true);
      return make_error(kErrNoGpu, "the GPU worker sees no CUDA device");
    }
  }
  for (int d = 1; d < gpus; ++d)
    if (Status s = spawn(d); !s.ok()) return s;
  local_gpus_ = gpus;
  return ok_status();
}

Result<std::vector<json>> WorkerPool::devices() {
  std::unique_lock lock(mutex_, std::defer_lock);
  if (!lock.try_lock_for(config_.timeout))
    return make_error(kErrRunTimeout, "the GPUs stayed busy with another run");
  if (Status s = ensure_workers(); !s.ok()) return s.error();
  std::vector<json> hellos;
  for (size_t i = 0; i < workers_.size(); ++i)
    hellos.push_back(ipc::make_request(1, "hello", json::object()));
  auto r = exchange(hellos, Clock::now() + config_.timeout);
  if (!r && r.error().code == kErrWorkerDied) return r;
  if (!r) return make_error(kErrNoGpu, "cannot start the GPU workers: " + r.error().message);
  return r;
}

Status WorkerPool::ensure_comm(Clock::time_point deadline) {
  if (comm_ready_) return ok_status();
  std::string id;
  if (first_rank() == 0) {
    auto r = exchange({ipc::make_request(1, "nccl_id", json::object())}, deadline);
    if (!r) return r.error();
    id = (*r)[0].value("nccl_id", "");
  }
  if (config_.world > 0) {
    auto address = parse_rendezvous(config_.rendezvous);
    if (!address) return address.error();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (first_rank() == 0) {
      if (Status s = rendezvous_publish(*address, config_.world, id, left); !s.ok()) return s;
    } else {
      auto got = rendezvous_fetch(*address, config_.rank, config_.world, left);
      if (!got) return got.error();
      id = *got;
    }
  }
  std::vector<json> inits;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  for (size_t i = 0; i < workers_.size(); ++i)
    inits.push_back(ipc::make_request(
        1, "init_comm",
        {{"rank", first_rank() + int(i)}, {"world", world_size()}, {"nccl_id", id},
         {"timeout_ms", std::max<int64_t>(ms.count(), 1)}}));
  auto r = exchange(inits, deadline);
  if (!r) return r.error();
  comm_ready_ = true;
  std::lock_guard lock(stats_mutex_);
  ++comms_;
  return ok_status();
}

Result<std::vector<json>> WorkerPool::call_all(const std::vector<json>& messages, bool comm) {
  std::unique_lock lock(mutex_, std::defer_lock);
  if (!lock.try_lock_for(config_.timeout))
    return make_error(kErrRunTimeout, "the GPUs stayed busy with another run for " +
                                          std::to_string(config_.timeout.count() / 1000) + " s");
  if (Status s = ensure_workers(); !s.ok()) return s.error();
  if (messages.size() != workers_.size())
    return make_error(errc::kInternal, "call_all: one message per local worker");
  const auto deadline = Clock::now() + config_.timeout;
  if (comm)
    if (Status s = ensure_comm(deadline); !s.ok()) return s.error();
  return exchange(messages, deadline);
}

}  // namespace tpjit::daemon
