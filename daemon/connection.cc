#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "daemon/server_impl.h"
#include "ipc/message.h"
#include "util/log.h"

namespace tpjit::daemon {

Connection::Connection(ServerState& server, StreamProtocol::socket socket)
    : server_(server), socket_(std::move(socket)), decoder_(server.config.max_frame_bytes) {}

void Connection::start() { read_more(); }

void Connection::refuse(const Error& error) {
  server_.count_error(error.code);
  closing_ = true;
  queue(ipc::encode_message(ipc::make_error_reply(nullptr, error)), false);
}

void Connection::send(std::string frame) { queue(std::move(frame), true); }

void Connection::close_when_idle() {
  closing_ = true;
  maybe_close();
}

void Connection::close_now() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(StreamProtocol::socket::shutdown_both, ignored);
  socket_.close(ignored);
  out_.clear();
  server_.on_connection_closed(shared_from_this());
}

void Connection::read_more() {
  // Backpressure: with the in-flight limit reached, leave further requests in the socket.
  if (closed_ || reading_ || peer_done_ || stream_broken_ || closing_ ||
      pending_ >= server_.limits.max_in_flight_per_connection) {
    return;
  }
  reading_ = true;
  socket_.async_read_some(asio::buffer(read_buffer_),
                          [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                            self->on_read(ec, n);
                          });
}

void Connection::on_read(const boost::system::error_code& ec, size_t size) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    if (ec == asio::error::eof) {
      if (decoder_.buffered() > 0) {
        logger("daemon")->debug("client left mid-frame ({} bytes unread)", decoder_.buffered());
      }
      peer_done_ = true;
      maybe_close();
    } else if (ec != asio::error::operation_aborted) {
      logger("daemon")->debug("read failed: {}", ec.message());
      close_now();
    }
    return;
  }
  decoder_.feed(read_buffer_.data(), size);
  process_frames();
}

void Connection::process_frames() {
  while (!closed_ && !stream_broken_ && pending_ < server_.limits.max_in_flight_per_connection) {
    auto frame = decoder_.next();
    if (!frame) {
      // The stream is out of sync: nothing after this point can be trusted as a frame.
      logger("daemon")->info("closing a connection: {}", frame.error().message);
      stream_broken_ = true;
      server_.count_error(frame.error().code);
      queue(ipc::encode_message(ipc::make_error_reply(nullptr, frame.error())), false);
      return;
    }
    if (!frame->has_value()) break;
    ++pending_;
    server_.dispatch(shared_from_this(), std::move(**frame));
  }
  read_more();
}

void Connection::queue(std::string bytes, bool is_reply) {
  if (closed_) return;  // the client left; a worker's late reply has nowhere to go
  out_.push_back({std::move(bytes), is_reply});
  if (!writing_) write_next();
}

void Connection::write_next() {
  writing_ = true;
  asio::async_write(socket_, asio::buffer(out_.front().bytes),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->on_write(ec);
                    });
}

void Connection::on_write(const boost::system::error_code& ec) {
  writing_ = false;
  if (closed_) return;
  if (ec) {
    logger("daemon")->debug("write failed: {}", ec.message());
    close_now();
    return;
  }
  if (out_.front().is_reply) --pending_;
  out_.pop_front();
  if (!out_.empty()) {
    write_next();
    return;
  }
  maybe_close();
  if (!closed_) process_frames();  // a reply went out: room for the next request
}

void Connection::maybe_close() {
  if (closed_ || writing_ || !out_.empty()) return;
  // A broken stream closes once its error frame is out, without waiting for workers.
  if (stream_broken_ || ((peer_done_ || closing_) && pending_ == 0)) close_now();
}

}  // namespace tpjit::daemon
