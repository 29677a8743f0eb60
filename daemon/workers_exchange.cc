// WorkerPool::exchange: one request to each of the first N workers, replies gathered with
// poll() until the deadline; every fault turns into one error and a restart of all workers.
#include <poll.h>
#include <sys/wait.h>

#include "daemon/workers.h"
#include "ipc/message.h"
#include "util/log.h"
#include "worker/channel.h"
#include "worker/protocol.h"

namespace tpjit::daemon {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// After one worker answers with an error, the others get this long before they are presumed
// stuck in a collective that will never complete, and are killed.
constexpr auto kGraceAfterError = std::chrono::seconds(5);

std::string worker_exit_text(int status);  // workers.cc
int reap_worker(pid_t pid);                // workers.cc

Result<std::vector<json>> WorkerPool::exchange(const std::vector<json>& messages,
                                               Clock::time_point deadline) {
  const size_t n = messages.size();
  auto name = [&](size_t i) {
    return "GPU worker for device " + std::to_string(workers_[i]->device) + " (rank " +
           std::to_string(first_rank() + int(i)) + ", pid " + std::to_string(workers_[i]->pid) + ")";
  };
  const std::string type = n ? messages[0].value("type", "") : "";
  std::optional<Error> fault;   // kills every worker
  std::optional<Error> refusal; // a worker's ordinary error reply: workers stay
  std::vector<json> bodies(n);
  std::vector<bool> pending(n, true);
  for (size_t i = 0; i < n && !fault; ++i) {
    if (Status s = workers_[i]->channel->send(messages[i]); !s.ok()) pending[i] = true;
  }
  size_t left = n;
  while (left > 0 && !fault) {
    std::vector<pollfd> fds;
    std::vector<size_t> which;
    for (size_t i = 0; i < n; ++i)
      if (pending[i]) fds.push_back(pollfd{workers_[i]->channel->fd(), POLLIN, 0}), which.push_back(i);
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    int r = wait.count() > 0 ? ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()) + 1) : 0;
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      std::string who;
      for (size_t i : which) who += (who.empty() ? "" : ", ") + name(i);
      fault = make_error(kErrRunTimeout,
                         "no answer to '" + type + "' within " +
                             std::to_string(config_.timeout.count() / 1000) + " s (tpjitd "
                             "--run-timeout-s) from the " + who + "; the workers were killed" +
                             " and are re-created on the next request");
      std::lock_guard lock(stats_mutex_);
      ++timeouts_;
      break;
    }
    for (size_t f = 0; f < fds.size() && !fault; ++f) {
      if (!fds[f].revents) continue;
      const size_t i = which[f];
      auto message = workers_[i]->channel->receive(deadline);
      pending[i] = false;
      --left;
      if (!message) {
        workers_[i]->channel.reset();
        const std::string who = name(i);
        int status = reap_worker(workers_[i]->pid);
        workers_[i]->pid = -1;
        fault = make_error(kErrWorkerDied, "the " + who + " " + worker_exit_text(status) +
                                               " while serving '" + type + "'" +
                                               "; the request failed, and the GPU workers and "
                                               "the NCCL communicator are re-created on the "
                                               "next request");
        std::lock_guard lock(stats_mutex_);
        ++deaths_;
        break;
      }
      auto reply = ipc::parse_reply(*message);
      if (!reply) {
        fault = make_error(errc::kInternal, "the " + name(i) + " sent a bad reply: " +
                                                reply.error().message);
      } else if (!reply->result) {
        Error e = reply->result.error();
        if (e.code == worker::kErrGpu) {
          e.message = "the " + name(i) + " failed: " + e.message +
                      "; the request failed, and the GPU workers and the NCCL communicator are "
                      "re-created on the next request";
          fault = e;
        } else if (!refusal) {
          refusal = e;
          deadline = std::min(deadline, Clock::now() + kGraceAfterError);
        }
      } else {
        bodies[i] = reply->result.value();
      }
    }
  }
  if (fault) {
    logger("daemon")->error("{}", fault->message);
    for (auto& w : workers_)
      if (w->pid > 0) ::kill(w->pid, SIGKILL);
    for (auto& w : workers_) {
      w->channel.reset();
      if (w->pid > 0) reap_worker(w->pid);
    }
    workers_.clear();
    comm_ready_ = false;
    return *fault;
  }
  if (refusal) return *refusal;
  return bodies;
}

}  // namespace tpjit::daemon
