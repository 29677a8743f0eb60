#include "daemon/rendezvous.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <set>
#include <thread>

#include "daemon/workers.h"
#include "util/atomic_file.h"

namespace tpjit::daemon {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kMagic[4] = {'T', 'P', 'J', 'R'};
constexpr size_t kIdHex = 256;

Error failed(const std::string& what) { return make_error(kErrRendezvous, "rendezvous: " + what); }

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

void put32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xff);
}
uint32_t get32(const char* p) {
  return (uint32_t(uint8_t(p[0])) << 24) | (uint32_t(uint8_t(p[1])) << 16) |
         (uint32_t(uint8_t(p[2])) << 8) | uint32_t(uint8_t(p[3]));
}

// Reads exactly n bytes before the deadline.
Status read_exact(int fd, char* out, size_t n, Clock::time_point deadline) {
  size_t got = 0;
  while (got < n) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, ms_left(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return failed("timed out waiting for the peer's message");
    ssize_t k = ::read(fd, out + got, n - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return failed("the peer closed the connection mid-message");
    got += static_cast<size_t>(k);
  }
  return ok_status();
}

bool write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t k = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    done += static_cast<size_t>(k);
  }
  return true;
}

Result<sockaddr_in> to_sockaddr(const RendezvousAddress& a) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(a.port);
  const std::string host = a.host == "localhost" ? "127.0.0.1" : a.host;
  if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1)
    return make_error(errc::kBadRequest, "rendezvous host '" + a.host + "' is not an IPv4 address",
                      "--rendezvous");
  return sa;
}

}  // namespace

Result<RendezvousAddress> parse_rendezvous(const std::string& text) {
  auto colon = text.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0) port = -1;
  else {
    auto [end, ec] = std::from_chars(text.data() + colon + 1, text.data() + text.size(), port);
    if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) port = -1;
  }
  if (port < 0)
    return make_error(errc::kBadRequest, "--rendezvous takes HOST:PORT (e.g. 127.0.0.1:29500), got \"" + text + "\"",
                      "--rendezvous");
  RendezvousAddress a{text.substr(0, colon), static_cast<uint16_t>(port)};
  if (auto sa = to_sockaddr(a); !sa) return sa.error();
  return a;
}

Status rendezvous_publish(const RendezvousAddress& address, int world, const std::string& id,
                          std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto sa = to_sockaddr(address);
  if (!sa) return sa.error();
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!listener || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&*sa), sizeof *sa) < 0 ||
      ::listen(listener.get(), 64) < 0)
    return failed("cannot listen on " + address.host + ":" + std::to_string(address.port) + ": " +
                  std::strerror(errno));
  std::set<uint32_t> served;
  while (served.size() + 1 < static_cast<size_t>(world)) {
    pollfd p{listener.get(), POLLIN, 0};
    int r = ::poll(&p, 1, ms_left(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      std::string missing;
      for (int k = 1; k < world; ++k)
        if (!served.count(k)) missing += (missing.empty() ? "" : ", ") + std::to_string(k);
      return failed("rank(s) " + missing + " did not connect to " + address.host + ":" +
                    std::to_string(address.port) + " within " +
                    std::to_string(timeout.count() / 1000) + " s; start their tpjitd with "
                    "--rendezvous " + address.host + ":" + std::to_string(address.port) +
                    " and send them the same run");
    }
    UniqueFd peer(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!peer) continue;
    char hello[16];
    if (!read_exact(peer.get(), hello, sizeof hello, std::min(deadline, Clock::now() + std::chrono::seconds(5))).ok() ||
        std::memcmp(hello, kMagic, 4) != 0)
      continue;  // not one of ours
    const uint32_t version = get32(hello + 4), rank = get32(hello + 8), w = get32(hello + 12);
    uint32_t status = version != kRendezvousVersion ? 1
                      : w != uint32_t(world)        ? 2
                      : rank < 1 || rank >= uint32_t(world) || served.count(rank) ? 3 : 0;
    std::string answer(kMagic, 4);
    put32(answer, kRendezvousVersion);
    put32(answer, status);
    answer += status == 0 ? id : std::string(kIdHex, '0');
    if (write_all(peer.get(), answer) && status == 0) served.insert(rank);
  }
  return ok_status();
}

Result<std::string> rendezvous_fetch(const RendezvousAddress& address, int rank, int world,
                                     std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto sa = to_sockaddr(address);
  if (!sa) return sa.error();
  for (;;) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return failed(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&*sa), sizeof *sa) < 0) {
      if (ms_left(deadline) == 0)
        return failed("nobody listened on " + address.host + ":" + std::to_string(address.port) +
                      " within " + std::to_string(timeout.count() / 1000) +
                      " s (last error: " + std::strerror(errno) + "); is the rank 0 tpjitd running "
                      "with the same --rendezvous, and did it get the run request too?");
      // Rank 0 listens only while it forms a communicator: retrying is the protocol.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    std::string hello(kMagic, 4);
    put32(hello, kRendezvousVersion);
    put32(hello, uint32_t(rank));
    put32(hello, uint32_t(world));
    if (!write_all(fd.get(), hello)) continue;
    char answer[12 + kIdHex];
    if (Status s = read_exact(fd.get(), answer, sizeof answer, deadline); !s.ok()) return s.error();
    if (std::memcmp(answer, kMagic, 4) != 0) return failed("the peer is not a tpjitd rendezvous");
    static const char* kWhy[] = {"", "protocol versions differ", "world sizes differ (--world)",
                                 "rank out of range or already taken (--rank)"};
    uint32_t status = get32(answer + 8);
    if (status != 0)
      return failed("rank 0 refused rank " + std::to_string(rank) + ": " +
                    (status < 4 ? kWhy[status] : "unknown status"));
    return std::string(answer + 12, kIdHex);
  }
}

}  // namespace tpjit::daemon
