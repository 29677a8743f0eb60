// Start-up (socket directory, stale sockets) and shutdown (request, stop(), SIGTERM).
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include "daemon/socket_setup.h"
#include "ipc/codes.h"
#include "ipc/unix_address.h"
#include "tests/daemon/server_fixture.h"

namespace tpjit::daemon::testing {
namespace {

namespace fs = std::filesystem;

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST_F(ServerTest, CreatesThePrivateDirectoryAndSocketModes) {
  auto c = config();
  c.socket_path = dir_.path() / "run" / "deeper" / "d.sock";
  ::umask(0);  // the server must not rely on the umask
  start(c);
  ::umask(022);
  EXPECT_EQ(mode_of(dir_.path() / "run"), 0700u);
  EXPECT_EQ(mode_of(dir_.path() / "run" / "deeper"), 0700u);
  EXPECT_EQ(mode_of(c.socket_path), 0600u);
  auto client = connect();
  EXPECT_TRUE(client.hello().ok());
}

TEST_F(ServerTest, RefusesADirectoryOthersCanEnter) {
  auto c = config();
  fs::create_directory(dir_.path() / "open");
  ::chmod((dir_.path() / "open").c_str(), 0755);
  c.socket_path = dir_.path() / "open" / "d.sock";
  auto created = Server::create(c, handler_, test_limits());
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, errc::kUnsafeSocket);
  EXPECT_NE(created.error().message.find("chmod 700"), std::string::npos) << created.error().message;
}

TEST_F(ServerTest, RefusesADirectoryOwnedByAnotherUser) {
  const fs::path dir = dir_.path() / "theirs";
  fs::create_directory(dir);
  ::chmod(dir.c_str(), 0700);
  if (::chown(dir.c_str(), ::getuid() + 1, static_cast<gid_t>(-1)) != 0) {
    // Unprivileged: check the rule directly against a uid that is not the owner.
    auto s = prepare_socket_dir(dir, ::getuid() + 1);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, errc::kUnsafeSocket);
    return;
  }
  auto c = config();
  c.socket_path = dir / "d.sock";
  auto created = Server::create(c, handler_, test_limits());
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, errc::kUnsafeSocket);
  EXPECT_NE(created.error().message.find("owned by uid"), std::string::npos);
}

TEST_F(ServerTest, RefusesASymlinkedDirectory) {
  fs::create_directory(dir_.path() / "real");
  fs::create_directory_symlink(dir_.path() / "real", dir_.path() / "link");
  auto c = config();
  c.socket_path = dir_.path() / "link" / "d.sock";
  auto created = Server::create(c, handler_, test_limits());
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, errc::kUnsafeSocket);
}

TEST_F(ServerTest, StaleSocketFileIsReplaced) {
  auto c = config();
  {
    // A socket file with no listener: what a killed daemon leaves behind.
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    auto address = ipc::unix_address(c.socket_path);
    ASSERT_TRUE(address.ok());
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(sockaddr_un)), 0);
  }
  ASSERT_TRUE(fs::is_socket(c.socket_path));
  start(c);
  auto client = connect();
  EXPECT_TRUE(client.hello().ok());
}

TEST_F(ServerTest, LiveDaemonOnThePathIsNotDisturbed) {
  start();
  FakeHandler second_handler;
  auto second = Server::create(config(), second_handler, test_limits());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, errc::kSocketInUse);
  EXPECT_NE(second.error().message.find("another tpjitd is serving on " + socket_.string()), std::string::npos);
  auto client = connect();
  EXPECT_TRUE(client.hello().ok());
}

TEST_F(ServerTest, RegularFileAtTheSocketPathIsLeftAlone) {
  auto c = config();
  std::ofstream(c.socket_path) << "not a socket";
  auto created = Server::create(c, handler_, test_limits());
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, errc::kUnsafeSocket);
  EXPECT_TRUE(fs::is_regular_file(c.socket_path));
}

TEST_F(ServerTest, SocketPathTooLongIsAClearError) {
  auto c = config();
  c.socket_path = dir_.path() / std::string(120, 's');
  auto created = Server::create(c, handler_, test_limits());
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, errc::kLimitExceeded);
}

TEST_F(ServerTest, ShutdownRequestDrainsInFlightWorkThenRunReturns) {
  start();
  auto busy = connect();
  ASSERT_TRUE(busy.send_request(1, "slow", {{"n", 7}}).ok());
  ASSERT_TRUE(handler_.wait_inside(1));

  auto admin = connect();
  auto reply = admin.call("shutdown", {});
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ((*reply)["draining"], 1);
  EXPECT_FALSE(fs::exists(socket_));  // no new clients from here on
  EXPECT_FALSE(client::Client::connect(socket_).ok());

  // The open connection may still ask; it is told the daemon is going away.
  auto late = busy.call("echo", {});
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, errc::kShuttingDown);

  handler_.open_gate();
  auto finished = busy.receive();
  ASSERT_TRUE(finished.ok() && finished->result.ok());
  EXPECT_EQ(finished->id, 1);
  EXPECT_EQ((*finished->result)["slow"], 7);
  EXPECT_TRUE(wait_stopped());
  EXPECT_FALSE(busy.receive().ok());  // connections closed
}

TEST_F(ServerTest, StopDrainsLikeShutdown) {
  start();
  auto busy = connect();
  ASSERT_TRUE(busy.send_request(1, "slow", {}).ok());
  ASSERT_TRUE(handler_.wait_inside(1));
  server_->stop();
  handler_.open_gate();
  auto finished = busy.receive();
  ASSERT_TRUE(finished.ok() && finished->result.ok());
  EXPECT_TRUE(wait_stopped());
  EXPECT_FALSE(fs::exists(socket_));
}

TEST_F(ServerTest, DrainTimeoutAbandonsStuckRequests) {
  auto limits = test_limits();
  limits.drain_timeout = std::chrono::milliseconds(50);
  start(config(), limits);
  auto busy = connect();
  ASSERT_TRUE(busy.send_request(1, "slow", {}).ok());
  ASSERT_TRUE(handler_.wait_inside(1));
  server_->stop();
  EXPECT_FALSE(wait_stopped());  // the gate is still shut: the request was abandoned
  handler_.open_gate();          // lets ~Server join the worker
  EXPECT_FALSE(fs::exists(socket_));
}

TEST_F(ServerTest, SigtermDrains) {
  auto limits = test_limits();
  limits.handle_signals = true;
  start(config(), limits);
  auto client = connect();
  ASSERT_TRUE(client.hello().ok());  // run() is in its loop, so the signal set is armed
  ASSERT_EQ(::raise(SIGTERM), 0);
  EXPECT_TRUE(wait_stopped());
  EXPECT_FALSE(fs::exists(socket_));
}

}  // namespace
}  // namespace tpjit::daemon::testing
