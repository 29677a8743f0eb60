// A blocking client for tpjitd over its Unix socket (POSIX sockets, no event loop). One
// request at a time per Client; not thread-safe (use one Client per thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "ipc/frame.h"
#include "ipc/message.h"
#include "util/atomic_file.h"
#include "util/result.h"

namespace tpjit::client {

struct ClientOptions {
  std::chrono::milliseconds receive_timeout{0};  // 0: wait for ever
  uint32_t max_frame_bytes = ipc::kDefaultMaxFrameBytes;
  std::string name = "tpjit-client";  // for logs on the daemon side
};

class Client {
 public:
  // Connects; kUnavailable (with how to start the daemon) if nobody serves on path.
  static Result<Client> connect(const std::filesystem::path& socket_path, const ClientOptions& options = {});

  // Sends one request and waits for its reply: the body, or the daemon's Error as sent.
  // Transport failures: kUnavailable (connection lost), kTimeout, kBadReply.
  Result<nlohmann::json> call(const std::string& type, const nlohmann::json& body = nlohmann::json::object());

  // hello with our protocol version; the reply body.
  Result<nlohmann::json> hello();

  // Lower level, for pipelining and tests: send a request / raw bytes, read the next reply.
  Status send_request(const nlohmann::json& id, const std::string& type, const nlohmann::json& body);
  Status send_raw(std::string_view bytes);
  Result<ipc::Reply> receive();

  void set_receive_timeout(std::chrono::milliseconds timeout);
  int fd() const { return fd_.get(); }

 private:
  Client(UniqueFd fd, const ClientOptions& options);
  Status apply_timeout();

  UniqueFd fd_;
  ClientOptions options_;
  ipc::FrameDecoder decoder_;
  int64_t next_id_ = 1;
};

}  // namespace tpjit::client
