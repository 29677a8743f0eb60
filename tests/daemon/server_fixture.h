// A real Server on a socket in a fresh private temp dir, run on a thread, plus clients.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "client/client.h"
#include "daemon/server.h"
#include "tests/daemon/fake_handler.h"
#include "util/log.h"

namespace tpjit::daemon::testing {

// mkdtemp under /tmp: short enough for sun_path, mode 0700 as the server wants.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/tpjit-test-XXXXXX";
    if (::mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = name;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() { set_log_level("warn"); }  // keep stderr for what tests capture

  DaemonConfig config() {
    DaemonConfig c;
    c.socket_path = dir_.path() / "tpjitd.sock";
    c.cache_dir = dir_.path() / "cache";
    c.workers = 4;
    return c;
  }
  static ServerLimits test_limits() {
    ServerLimits l;
    l.handle_signals = false;
    return l;
  }

  // Creates the server (must succeed) and runs it on a thread.
  void start(const DaemonConfig& c, const ServerLimits& limits = test_limits()) {
    auto created = Server::create(c, handler_, limits);
    ASSERT_TRUE(created.ok()) << created.error().message;
    server_ = std::move(*created);
    socket_ = c.socket_path;
    std::promise<bool> promise;
    run_result_ = promise.get_future();
    thread_ = std::thread([this, p = std::move(promise)]() mutable { p.set_value(server_->run()); });
  }
  void start() { start(config()); }

  // Waits for run() to return (it must, within the safety timeout) and gives its result.
  bool wait_stopped() {
    EXPECT_EQ(run_result_.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    bool drained = run_result_.get();
    thread_.join();
    return drained;
  }

  client::Client connect() {
    client::ClientOptions options;
    options.receive_timeout = std::chrono::seconds(20);  // a hung test fails, not hangs
    auto c = client::Client::connect(socket_, options);
    EXPECT_TRUE(c.ok()) << c.error().message;
    return std::move(*c);
  }

  void TearDown() override {
    handler_.open_gate();
    if (thread_.joinable()) {
      server_->stop();
      wait_stopped();
    }
  }

  TempDir dir_;
  FakeHandler handler_;
  std::filesystem::path socket_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::future<bool> run_result_;
};

}  // namespace tpjit::daemon::testing
