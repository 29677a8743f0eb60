#include "daemon/server.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <exception>
#include <functional>
#include <optional>

#include <boost/asio/post.hpp>

#include "daemon/server_impl.h"
#include "ipc/codes.h"
#include "ipc/json.h"
#include "ipc/message.h"
#include "util/check.h"
#include "util/log.h"

namespace tpjit::daemon {
namespace {

using nlohmann::json;

constexpr const char* kServerRequests[] = {"hello", "stats", "shutdown"};

// The server's own types plus the handler's; nullopt when the handler lists none.
std::optional<std::vector<std::string>> request_types(const json& capabilities) {
  std::vector<std::string> types(std::begin(kServerRequests), std::end(kServerRequests));
  auto it = capabilities.find("requests");
  if (it == capabilities.end() || !it->is_array()) return std::nullopt;
  for (const auto& t : *it) {
    if (t.is_string() && std::find(types.begin(), types.end(), t.get<std::string>()) == types.end()) {
      types.push_back(t.get<std::string>());
    }
  }
  return types;
}

// A handler's capabilities()/stats() are not trusted to behave; the daemon must not die of it.
json safe_object(const char* what, const std::function<json()>& call) {
  try {
    json value = call();
    return value.is_object() ? value : json::object();
  } catch (const std::exception& e) {
    logger("daemon")->error("handler {} threw: {}", what, e.what());
  } catch (...) {
    logger("daemon")->error("handler {} threw a non-standard exception", what);
  }
  return json::object();
}

// Runs on a worker thread. Returns the reply frame and the error code sent ("" if ok).
std::pair<std::string, std::string> serve(RequestHandler& handler, uint32_t max_frame_bytes,
                                          const ipc::Request& request) {
  Result<json> result = json::object();
  try {
    result = handler.handle(request.type, request.body);
    if (result && !result->is_object()) {
      result = make_error(errc::kInternal, "handler returned a non-object body for " + request.type, "");
    }
  } catch (const std::exception& e) {
    result = make_error(errc::kInternal, std::string("request failed unexpectedly: ") + e.what(), "");
  } catch (...) {
    result = make_error(errc::kInternal, "request failed with a non-standard exception", "");
  }
  json reply = result ? ipc::make_ok_reply(request.id, std::move(*result))
                      : ipc::make_error_reply(request.id, result.error());
  std::string code = result ? "" : result.error().code;
  std::string frame = ipc::encode_message(reply);
  if (frame.size() - ipc::kFrameHeaderBytes > max_frame_bytes) {
    Error too_big = make_error(errc::kLimitExceeded,
                               "reply of " + std::to_string(frame.size()) + " bytes exceeds the frame cap of " +
                                   std::to_string(max_frame_bytes) +
                                   " bytes; ask for less per request or raise tpjitd --max-frame-mb",
                               "");
    frame = ipc::encode_message(ipc::make_error_reply(request.id, too_big));
    code = too_big.code;
  }
  return {std::move(frame), std::move(code)};
}

}  // namespace

ServerState::ServerState(const DaemonConfig& config_in, RequestHandler& handler_in, const ServerLimits& limits_in,
                   ListeningSocket listening)
    : config(config_in),
      handler(handler_in),
      limits(limits_in),
      socket_device(listening.device),
      socket_inode(listening.inode),
      acceptor(io),
      signals(io),
      drain_timer(io),
      accept_retry_timer(io),
      pool(static_cast<size_t>(config_in.workers)) {
  auto types = request_types(safe_object("capabilities()", [&] { return handler.capabilities(); }));
  if (types) {
    known_types = std::move(*types);
  } else {
    logger("daemon")->warn("the handler's capabilities() has no \"requests\" list; forwarding every request type to it");
    known_types.assign(std::begin(kServerRequests), std::end(kServerRequests));
    forward_all = true;
  }
  acceptor.assign(StreamProtocol(), listening.fd.release());
}

ServerState::~ServerState() {
  pool.join();  // a handler call past the drain deadline still uses handler and io
}

void ServerState::start_accept() {
  acceptor.async_accept([this](const boost::system::error_code& ec, StreamProtocol::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void ServerState::on_accept(const boost::system::error_code& ec, StreamProtocol::socket socket) {
  if (shutting_down) return;
  if (ec) {
    // Out of descriptors and the like: back off instead of spinning on a failing accept.
    logger("daemon")->warn("accept failed: {}; retrying in 100 ms", ec.message());
    accept_retry_timer.expires_after(std::chrono::milliseconds(100));
    accept_retry_timer.async_wait([this](const boost::system::error_code& e) {
      if (!e && !shutting_down) start_accept();
    });
    return;
  }
  start_accept();
  const uid_t allowed = limits.allowed_uid == static_cast<uid_t>(-1) ? ::getuid() : limits.allowed_uid;
  auto uid = peer_uid(socket.native_handle());
  auto conn = std::make_shared<Connection>(*this, std::move(socket));
  if (!uid || *uid != allowed) {
    std::string who = uid ? "uid " + std::to_string(*uid) : "a peer of unknown uid";
    logger("daemon")->warn("refused a connection from {} (serving uid {})", who, allowed);
    conn->refuse(make_error(errc::kPeerRefused,
                            "tpjitd serves only uid " + std::to_string(allowed) + "; " + who +
                                " must start its own daemon",
                            ""));
    return;
  }
  if (connections.size() >= static_cast<size_t>(limits.max_connections)) {
    logger("daemon")->warn("refused a connection: {} open (the limit)", connections.size());
    conn->refuse(make_error(errc::kBusy,
                            "tpjitd has " + std::to_string(connections.size()) +
                                " connections open (the limit); close idle clients or retry later",
                            ""));
    return;
  }
  connections.insert(conn);
  ++connections_total;
  conn->start();
}

void ServerState::dispatch(const std::shared_ptr<Connection>& conn, std::string payload) {
  auto message = ipc::parse_json(payload);
  if (!message) return reply_error(conn, nullptr, message.error());
  static const std::vector<std::string> kAnyType;
  auto parsed = ipc::parse_request(*message, forward_all ? kAnyType : known_types);
  if (!parsed) return reply_error(conn, ipc::request_id_of(*message), parsed.error());
  ipc::Request request = std::move(*parsed);
  ++requests[request.type];
  if (shutting_down) {
    return reply_error(conn, request.id,
                       make_error(errc::kShuttingDown, "tpjitd is shutting down; retry once it is restarted", ""));
  }
  if (request.type == "hello") {
    auto body = hello(request.body);
    if (!body) return reply_error(conn, request.id, body.error());
    return conn->send(ipc::encode_message(ipc::make_ok_reply(request.id, std::move(*body))));
  }
  if (request.type == "stats") {
    return conn->send(ipc::encode_message(ipc::make_ok_reply(request.id, stats())));
  }
  if (request.type == "shutdown") {
    // Shut the door first: once the client reads this reply, the socket file is gone.
    const int draining = handler_in_flight;
    begin_shutdown("shutdown request");
    return conn->send(ipc::encode_message(ipc::make_ok_reply(request.id, {{"draining", draining}})));
  }
  ++handler_in_flight;
  asio::post(pool, [this, conn, request = std::move(request)] {
    auto [frame, code] = serve(handler, config.max_frame_bytes, request);
    asio::post(io, [this, conn, frame = std::move(frame), code = std::move(code)]() mutable {
      --handler_in_flight;
      if (!code.empty()) count_error(code);
      conn->send(std::move(frame));
      maybe_finish();
    });
  });
}

void ServerState::reply_error(const std::shared_ptr<Connection>& conn, const json& id, const Error& error) {
  count_error(error.code);
  conn->send(ipc::encode_message(ipc::make_error_reply(id, error)));
}

Result<json> ServerState::hello(const json& body) {
  if (auto p = body.find("protocol"); p != body.end()) {
    if (!p->is_number_integer() || p->get<int64_t>() != ipc::kProtocolVersion) {
      return make_error(errc::kBadRequest,
                        "this daemon speaks protocol " + std::to_string(ipc::kProtocolVersion) +
                            "; got " + p->dump() + ". Use a matching client",
                        "body.protocol");
    }
  }
  if (auto c = body.find("client"); c != body.end() && c->is_string()) {
    logger("daemon")->debug("hello from {}", ipc::dump_json(*c));
  }
  json capabilities = safe_object("capabilities()", [&] { return handler.capabilities(); });
  capabilities["requests"] = known_types;
  capabilities["max_frame_bytes"] = config.max_frame_bytes;
  capabilities["max_json_depth"] = ipc::kMaxJsonDepth;
  capabilities["max_in_flight_per_connection"] = limits.max_in_flight_per_connection;
  return json{{"protocol", ipc::kProtocolVersion}, {"server", kServerVersion}, {"capabilities", capabilities}};
}

json ServerState::stats() {
  json body = safe_object("stats()", [&] { return handler.stats(); });
  const auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
  body["server"] = {{"version", kServerVersion},
                    {"protocol", ipc::kProtocolVersion},
                    {"uptime_s", uptime.count()},
                    {"connections_open", connections.size()},
                    {"connections_total", connections_total},
                    {"in_flight", handler_in_flight},
                    {"workers", config.workers},
                    {"requests", requests},
                    {"errors", errors}};
  return body;
}

void ServerState::begin_shutdown(const std::string& why) {
  if (shutting_down) return;
  shutting_down = true;
  logger("daemon")->info("shutting down ({}): {} request(s) in flight", why, handler_in_flight);
  boost::system::error_code ignored;
  acceptor.close(ignored);
  accept_retry_timer.cancel();
  signals.cancel(ignored);
  remove_socket_file(config.socket_path, socket_device, socket_inode);
  drain_timer.expires_after(limits.drain_timeout);
  drain_timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec || finished) return;
    logger("daemon")->warn("{} request(s) still running after {} ms; abandoning them", handler_in_flight,
                           limits.drain_timeout.count());
    drained = false;
    finish();
  });
  maybe_finish();
}

void ServerState::maybe_finish() {
  if (!shutting_down || finished || finishing || handler_in_flight > 0) return;
  // Every handler reply is queued now; each connection closes once its replies are written.
  finishing = true;
  auto open = connections;
  for (const auto& conn : open) conn->close_when_idle();
  finishing = false;
  if (connections.empty()) finish();
}

void ServerState::finish() {
  if (finished) return;
  finished = true;
  drain_timer.cancel();
  auto open = connections;
  for (const auto& conn : open) conn->close_now();
  io.stop();
}

void ServerState::on_connection_closed(const std::shared_ptr<Connection>& conn) {
  connections.erase(conn);
  maybe_finish();
}

Result<std::unique_ptr<Server>> Server::create(const DaemonConfig& config, RequestHandler& handler,
                                               const ServerLimits& limits) {
  TPJIT_CHECK(config.workers >= 1 && limits.max_connections >= 1 && limits.max_in_flight_per_connection >= 1,
              "server limits must be at least 1");
  const auto dir = config.socket_path.parent_path();
  if (auto s = prepare_socket_dir(dir.empty() ? "." : dir, ::getuid()); !s) return s.error();
  if (auto s = clear_stale_socket(config.socket_path); !s) return s.error();
  auto listening = listen_unix(config.socket_path, 128);
  if (!listening) return listening.error();
  auto impl = std::make_unique<ServerState>(config, handler, limits, std::move(*listening));
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<ServerState> impl) : impl_(std::move(impl)) {}

Server::~Server() = default;

bool Server::run() {
  ServerState& s = *impl_;
  TPJIT_CHECK(!s.ran, "Server::run() called twice");
  s.ran = true;
  if (s.limits.handle_signals) {
    s.signals.add(SIGTERM);
    s.signals.add(SIGINT);
    s.signals.async_wait([&s](const boost::system::error_code& ec, int signal) {
      if (!ec) s.begin_shutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT");
    });
  }
  s.start_accept();
  logger("daemon")->info("{} serving on {} with {} worker(s)", kServerVersion, s.config.socket_path.string(),
                         s.config.workers);
  s.io.run();
  // Reached only through finish(); if the loop stopped otherwise, the socket must still go.
  remove_socket_file(s.config.socket_path, s.socket_device, s.socket_inode);
  return s.drained;
}

void Server::stop() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->begin_shutdown("stop()"); });
}

}  // namespace tpjit::daemon
