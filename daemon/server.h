// tpjitd's socket server: a Unix stream socket in a private directory, one event-loop thread
// for all I/O (the thread that calls run()), and a pool of `workers` threads for handler
// requests, so a long compile never stalls another client. Replies carry their request's id
// and may leave in any order.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>

#include "daemon/handler.h"
#include "daemon/service.h"
#include "util/result.h"

namespace tpjit::daemon {

inline constexpr const char* kServerVersion = "tpjitd 0.1.0";

struct ServerLimits {
  int max_connections = 64;            // more get one "busy" error frame and are closed
  int max_in_flight_per_connection = 32;  // beyond it the server stops reading that connection
  std::chrono::milliseconds drain_timeout{30000};  // shutdown waits this long for requests
  bool handle_signals = true;          // SIGTERM/SIGINT start a shutdown
  uid_t allowed_uid = static_cast<uid_t>(-1);  // peers must run as this uid; -1: our own uid
};

struct ServerState;  // server_impl.h: keeps Asio out of this header

class Server {
 public:
  // Prepares the socket directory, clears a stale socket, binds and listens; clients may
  // connect as soon as this returns (they wait in the backlog until run()).
  static Result<std::unique_ptr<Server>> create(const DaemonConfig& config, RequestHandler& handler,
                                                const ServerLimits& limits = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves until shutdown (request, stop(), or a signal). Returns true when every in-flight
  // request finished within the drain timeout, false when some were abandoned. The socket
  // file is removed either way. Call once.
  bool run();

  // Starts a shutdown from any thread (same as a "shutdown" request); run() returns after.
  void stop();

 private:
  explicit Server(std::unique_ptr<ServerState> state);
  std::unique_ptr<ServerState> impl_;
};

}  // namespace tpjit::daemon
