// Internals of Server, shared by server.cc (accept, dispatch, lifecycle) and connection.cc
// (one client's byte stream). Everything here runs on the event-loop thread unless marked.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "daemon/server.h"
#include "daemon/socket_setup.h"
#include "ipc/frame.h"

namespace tpjit::daemon {

namespace asio = boost::asio;
using StreamProtocol = asio::local::stream_protocol;

class Connection;

struct ServerState {
  ServerState(const DaemonConfig& config, RequestHandler& handler, const ServerLimits& limits,
       ListeningSocket listening);
  ~ServerState();

  // server.cc
  void start_accept();
  void on_accept(const boost::system::error_code& ec, StreamProtocol::socket socket);
  // One frame's payload from conn; always produces exactly one reply (now or from a worker).
  void dispatch(const std::shared_ptr<Connection>& conn, std::string payload);
  void reply_error(const std::shared_ptr<Connection>& conn, const nlohmann::json& id, const Error& error);
  void count_error(const std::string& code) { ++errors[code]; }
  void begin_shutdown(const std::string& why);
  void maybe_finish();
  void finish();
  void on_connection_closed(const std::shared_ptr<Connection>& conn);
  Result<nlohmann::json> hello(const nlohmann::json& body);
  nlohmann::json stats();

  DaemonConfig config;
  RequestHandler& handler;
  ServerLimits limits;
  std::vector<std::string> known_types;  // what hello lists and the envelope check allows
  bool forward_all = false;              // the handler listed no types: send it any other
  dev_t socket_device;
  ino_t socket_inode;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  asio::io_context io;
  StreamProtocol::acceptor acceptor;
  asio::signal_set signals;
  asio::steady_timer drain_timer;
  asio::steady_timer accept_retry_timer;
  std::set<std::shared_ptr<Connection>> connections;

  uint64_t connections_total = 0;
  std::map<std::string, uint64_t> requests;  // per known type
  std::map<std::string, uint64_t> errors;    // per error code sent
  int handler_in_flight = 0;                 // requests on the worker pool
  bool shutting_down = false;
  bool finishing = false;
  bool finished = false;
  bool drained = true;
  bool ran = false;

  asio::thread_pool pool;  // declared last: joined before anything it touches goes away
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerState& server, StreamProtocol::socket socket);

  void start();                              // reads and dispatches frames
  void refuse(const Error& error);           // one error frame, then close
  void send(std::string frame);              // queues the reply to one dispatched request
  void close_when_idle();                    // shutdown: close once every reply is written
  void close_now();

 private:
  struct Outgoing {
    std::string bytes;
    bool is_reply;  // answers a dispatched request (counts against the in-flight limit)
  };
  void read_more();
  void on_read(const boost::system::error_code& ec, size_t size);
  void process_frames();
  void queue(std::string bytes, bool is_reply);
  void write_next();
  void on_write(const boost::system::error_code& ec);
  void maybe_close();

  ServerState& server_;
  StreamProtocol::socket socket_;
  ipc::FrameDecoder decoder_;
  std::array<char, 64 * 1024> read_buffer_;
  std::deque<Outgoing> out_;
  int pending_ = 0;  // dispatched requests whose reply is not yet written
  bool reading_ = false;
  bool writing_ = false;
  bool peer_done_ = false;   // EOF: write what is owed, then close
  bool stream_broken_ = false;  // framing error: flush the error frame, then close
  bool closing_ = false;     // shutdown or refusal: close once idle
  bool closed_ = false;
};

}  // namespace tpjit::daemon
