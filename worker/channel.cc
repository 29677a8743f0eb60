#include "worker/channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ipc/codes.h"
#include "ipc/json.h"
#include "ipc/message.h"

namespace tpjit::worker {

Status Channel::send(const nlohmann::json& message) {
  const std::string frame = ipc::encode_message(message);
  size_t done = 0;
  while (done < frame.size()) {
    ssize_t n = ::send(fd_.get(), frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return make_error(errc::kUnavailable,
                        std::string("worker channel: send failed: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return ok_status();
}

Result<nlohmann::json> Channel::receive(Clock::time_point deadline) {
  char buffer[64 * 1024];
  for (;;) {
    auto frame = decoder_.next();
    if (!frame) return frame.error();
    if (*frame) return ipc::parse_json(**frame);
    int timeout_ms = -1;
    if (deadline != Clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return make_error(errc::kTimeout, "worker channel: timed out");
      timeout_ms = static_cast<int>(std::min<int64_t>(left.count() + 1, 1 << 30));
    }
    pollfd p{fd_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return make_error(errc::kInternal, std::string("worker channel: poll: ") + std::strerror(errno));
    if (r == 0) continue;  // the deadline check above decides
    ssize_t n = ::read(fd_.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return make_error(errc::kUnavailable,
                        std::string("worker channel: read failed: ") + std::strerror(errno));
    if (n == 0) return make_error(errc::kUnavailable, "worker channel: closed by the peer");
    decoder_.feed(buffer, static_cast<size_t>(n));
  }
}

}  // namespace tpjit::worker
