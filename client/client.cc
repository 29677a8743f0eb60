#include "client/client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ipc/codes.h"
#include "ipc/json.h"
#include "ipc/unix_address.h"

namespace tpjit::client {
namespace {

Error unavailable(const std::string& what) { return make_error(errc::kUnavailable, what, ""); }

}  // namespace

Client::Client(UniqueFd fd, const ClientOptions& options)
    : fd_(std::move(fd)), options_(options), decoder_(options.max_frame_bytes) {}

Result<Client> Client::connect(const std::filesystem::path& socket_path, const ClientOptions& options) {
  auto address = ipc::unix_address(socket_path);
  if (!address) return address.error();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    int err = errno;
    return posix_error("socket", socket_path, err);
  }
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(sockaddr_un));
  } while (rc == -1 && errno == EINTR);
  if (rc == -1) {
    int err = errno;
    std::string hint = (err == ENOENT || err == ECONNREFUSED)
                           ? "; is tpjitd running? start it with: tpjitd --socket " + socket_path.string()
                           : "";
    return make_error(errc::kUnavailable,
                      "cannot connect to " + socket_path.string() + ": " + std::strerror(err) + hint,
                      socket_path.string());
  }
  Client client(std::move(fd), options);
  if (auto s = client.apply_timeout(); !s) return s.error();
  return client;
}

void Client::set_receive_timeout(std::chrono::milliseconds timeout) {
  options_.receive_timeout = timeout;
  (void)apply_timeout();  // only fails on a closed descriptor, which the next call reports
}

Status Client::apply_timeout() {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(options_.receive_timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((options_.receive_timeout.count() % 1000) * 1000);
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1) {
    int err = errno;
    return posix_error("setsockopt(SO_RCVTIMEO)", "tpjitd socket", err);
  }
  return ok_status();
}

Status Client::send_raw(std::string_view bytes) {
  while (!bytes.empty()) {
    // MSG_NOSIGNAL: a daemon that went away is an error to return, not a SIGPIPE.
    ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n == -1) {
      if (errno == EINTR) continue;
      return unavailable(std::string("lost the connection to tpjitd while sending: ") + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return ok_status();
}

Status Client::send_request(const nlohmann::json& id, const std::string& type, const nlohmann::json& body) {
  // `call("stats", {})` hands us null, not an empty object: send what was meant.
  std::string frame = ipc::encode_message(ipc::make_request(id, type, body.is_null() ? nlohmann::json::object() : body));
  if (frame.size() - ipc::kFrameHeaderBytes > options_.max_frame_bytes) {
    return make_error(errc::kFrameTooLarge,
                      "request of " + std::to_string(frame.size()) + " bytes exceeds the frame cap of " +
                          std::to_string(options_.max_frame_bytes) + " bytes",
                      "");
  }
  return send_raw(frame);
}

Result<ipc::Reply> Client::receive() {
  char buffer[64 * 1024];
  for (;;) {
    auto frame = decoder_.next();
    if (!frame) {
      Error e = frame.error();
      return make_error(errc::kBadReply, "daemon sent a broken frame: " + e.message, e.where);
    }
    if (frame->has_value()) {
      auto message = ipc::parse_json(**frame);
      if (!message) {
        return make_error(errc::kBadReply, "daemon sent bad JSON: " + message.error().message, "");
      }
      return ipc::parse_reply(*message);
    }
    ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
    if (n == 0) return unavailable("tpjitd closed the connection");
    if (n == -1) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return make_error(errc::kTimeout,
                          "no reply from tpjitd within " + std::to_string(options_.receive_timeout.count()) +
                              " ms; it may be busy (tpjit stats) or raise the timeout",
                          "");
      }
      return unavailable(std::string("lost the connection to tpjitd: ") + std::strerror(errno));
    }
    decoder_.feed(buffer, static_cast<size_t>(n));
  }
}

Result<nlohmann::json> Client::call(const std::string& type, const nlohmann::json& body) {
  const int64_t id = next_id_++;
  if (auto s = send_request(id, type, body); !s) return s.error();
  auto reply = receive();
  if (!reply) return reply.error();
  // With one request at a time, any other id is the daemon speaking out of turn: a null id
  // carries a connection-level error (busy, refused, bad frame) worth returning as is.
  if (reply->id.is_null() && !reply->result) return reply->result.error();
  if (reply->id != nlohmann::json(id)) {
    return make_error(errc::kBadReply, "reply id " + ipc::dump_json(reply->id) + " does not match request id " +
                                           std::to_string(id), "id");
  }
  return std::move(reply->result);
}

Result<nlohmann::json> Client::hello() {
  return call("hello", {{"protocol", ipc::kProtocolVersion}, {"client", options_.name}});
}

}  // namespace tpjit::client
