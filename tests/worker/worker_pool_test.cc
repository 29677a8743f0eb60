// The GPU worker supervisor against the fake worker (tpjit-worker --fake 2): a full run, a
// worker that dies mid-request, one that hangs; after each fault the next request respawns.
#include <chrono>
#include <filesystem>

#include <gtest/gtest.h>

#include "daemon/workers.h"
#include "ipc/message.h"
#include "util/log.h"

namespace tpjit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

class WorkerPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_log_level("off");
    char name[] = "/tmp/tpjit-pool-XXXXXX";
    ASSERT_NE(::mkdtemp(name), nullptr);
    dir_ = name;
  }
  void TearDown() override { fs::remove_all(dir_); }

  daemon::WorkerPoolConfig config(std::chrono::milliseconds timeout) const {
    daemon::WorkerPoolConfig c;
    c.worker_command = {TPJIT_WORKER_PATH, "--fake", "2"};
    c.cache_dir = dir_;
    c.gpus = 2;
    c.timeout = timeout;
    return c;
  }

  static std::vector<json> regions() {
    std::vector<json> m;
    for (int rank = 0; rank < 2; ++rank)
      m.push_back(ipc::make_request(1, "run_region", {{"region", 3}, {"rank", rank}, {"iters", 5}}));
    return m;
  }

  fs::path dir_;
};

TEST_F(WorkerPoolTest, AFakeRunReachesEveryWorkerThroughOneCommunicator) {
  daemon::WorkerPool pool(config(std::chrono::seconds(30)));
  auto devices = pool.devices();
  ASSERT_TRUE(devices.ok()) << devices.error().message;
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[1]["device"]["ordinal"], 1);
  EXPECT_EQ(pool.world_size(), 2);
  for (int round = 0; round < 2; ++round) {
    auto replies = pool.call_all(regions(), true);
    ASSERT_TRUE(replies.ok()) << replies.error().message;
    ASSERT_EQ(replies->size(), 2u);
    EXPECT_EQ((*replies)[0]["rank"], 0);
    EXPECT_EQ((*replies)[1]["rank"], 1);
    EXPECT_EQ((*replies)[1]["region"], 3);
  }
  json s = pool.stats();
  EXPECT_EQ(s["spawns"], 2);
  EXPECT_EQ(s["communicators"], 1);  // formed once, reused by the second run
  EXPECT_EQ(s["deaths"], 0);
}

TEST_F(WorkerPoolTest, AWorkerThatDiesFailsTheRequestAndTheNextOneRespawns) {
  daemon::WorkerPool pool(config(std::chrono::seconds(30)));
  auto messages = regions();
  messages[1] = ipc::make_request(1, "die", {{"code", 7}});
  auto failed = pool.call_all(messages, true);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, daemon::kErrWorkerDied);
  const std::string& why = failed.error().message;
  EXPECT_NE(why.find("device 1"), std::string::npos) << why;
  EXPECT_NE(why.find("rank 1"), std::string::npos) << why;
  EXPECT_NE(why.find("exited with status 7"), std::string::npos) << why;

  messages[1] = ipc::make_request(1, "die", {{"signal", 9}});
  failed = pool.call_all(messages, true);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, daemon::kErrWorkerDied);
  EXPECT_NE(failed.error().message.find("killed by signal 9"), std::string::npos)
      << failed.error().message;

  auto replies = pool.call_all(regions(), true);
  ASSERT_TRUE(replies.ok()) << replies.error().message;
  EXPECT_EQ(replies->size(), 2u);
  json s = pool.stats();
  EXPECT_EQ(s["deaths"], 2);
  EXPECT_EQ(s["spawns"], 6);         // two workers, three times
  EXPECT_EQ(s["communicators"], 3);  // a new one after each fault
}

TEST_F(WorkerPoolTest, AWorkerThatHangsTimesOutAndTheNextRequestRespawns) {
  daemon::WorkerPool pool(config(std::chrono::milliseconds(1000)));
  auto messages = regions();
  messages[0] = ipc::make_request(1, "hang", json::object());
  const auto start = Clock::now();
  auto failed = pool.call_all(messages, true);
  const auto took = Clock::now() - start;
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, daemon::kErrRunTimeout);
  EXPECT_NE(failed.error().message.find("device 0"), std::string::npos) << failed.error().message;
  EXPECT_NE(failed.error().message.find("--run-timeout-s"), std::string::npos);
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::seconds(15));  // the timeout, plus killing and reaping

  auto replies = pool.call_all(regions(), true);
  ASSERT_TRUE(replies.ok()) << replies.error().message;
  json s = pool.stats();
  EXPECT_EQ(s["timeouts"], 1);
  EXPECT_EQ(s["spawns"], 4);
}

TEST_F(WorkerPoolTest, AMissingWorkerBinaryIsNoGpuNotAHang) {
  auto c = config(std::chrono::seconds(10));
  c.worker_command = {(dir_ / "no-such-worker").string()};
  daemon::WorkerPool pool(c);
  auto devices = pool.devices();
  ASSERT_FALSE(devices.ok());
  EXPECT_TRUE(devices.error().code == daemon::kErrWorkerDied ||
              devices.error().code == daemon::kErrNoGpu)
      << devices.error().code;
  EXPECT_NE(devices.error().message.find("127"), std::string::npos) << devices.error().message;
}

}  // namespace
}  // namespace tpjit
