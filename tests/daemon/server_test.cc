// Requests and replies over a real socket: hello, concurrency, errors, limits.
#include <sys/socket.h>

#include <thread>
#include <vector>

#include "ipc/codes.h"
#include "ipc/frame.h"
#include "ipc/message.h"
#include "tests/daemon/server_fixture.h"

namespace tpjit::daemon::testing {
namespace {

using nlohmann::json;

TEST_F(ServerTest, HelloRepliesProtocolServerAndMergedCapabilities) {
  start();
  auto client = connect();
  auto body = client.hello();
  ASSERT_TRUE(body.ok()) << body.error().message;
  EXPECT_EQ((*body)["protocol"], 1);
  EXPECT_EQ((*body)["server"], kServerVersion);
  const json& caps = (*body)["capabilities"];
  EXPECT_EQ(caps["requests"], json({"hello", "stats", "shutdown", "echo", "slow", "throw", "fail", "big", "compile", "warmup"}));
  EXPECT_EQ(caps["archs"], json({"sm_90a", "sm_100a"}));
  EXPECT_EQ(caps["max_frame_bytes"], ipc::kDefaultMaxFrameBytes);
}

TEST_F(ServerTest, HandlerWithoutARequestsListGetsEveryOtherType) {
  handler_.list_requests = false;
  start();
  auto client = connect();
  auto hello = client.hello();
  ASSERT_TRUE(hello.ok());
  EXPECT_EQ((*hello)["capabilities"]["requests"], json({"hello", "stats", "shutdown"}));
  EXPECT_TRUE(client.call("echo", {{"x", 1}}).ok());
  auto other = client.call("frobnicate", {});  // the handler's own refusal comes back
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, errc::kInternal);
}

TEST_F(ServerTest, HelloWithAnotherProtocolIsRefused) {
  start();
  auto client = connect();
  auto body = client.call("hello", {{"protocol", 2}});
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.error().code, errc::kBadRequest);
  EXPECT_EQ(body.error().where, "body.protocol");
}

TEST_F(ServerTest, ManyConcurrentClientsGetTheirOwnReplies) {
  start();
  constexpr int kClients = 16, kCalls = 25;
  std::vector<std::thread> threads;
  std::vector<int> good(kClients, 0);
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      auto client = connect();
      for (int i = 0; i < kCalls; ++i) {
        json body = {{"client", t}, {"call", i}, {"pad", std::string(static_cast<size_t>(i * 997), 'p')}};
        auto reply = client.call("echo", body);
        if (reply.ok() && *reply == body) ++good[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kClients; ++t) EXPECT_EQ(good[t], kCalls) << "client " << t;
}

TEST_F(ServerTest, PipelinedRepliesCarryTheirIds) {
  start();
  auto client = connect();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client.send_request(i, "echo", {{"i", i}}).ok());
  std::vector<bool> seen(10, false);
  for (int i = 0; i < 10; ++i) {
    auto reply = client.receive();
    ASSERT_TRUE(reply.ok() && reply->result.ok());
    int id = reply->id.get<int>();
    EXPECT_EQ((*reply->result)["i"], id);
    seen[static_cast<size_t>(id)] = true;
  }
  EXPECT_EQ(seen, std::vector<bool>(10, true));
}

TEST_F(ServerTest, SlowHandlerCallDoesNotStallOtherClients) {
  auto c = config();
  c.workers = 2;
  start(c);
  auto slow = connect();
  ASSERT_TRUE(slow.send_request("s1", "slow", {{"n", 1}}).ok());
  ASSERT_TRUE(handler_.wait_inside(1));

  auto other = connect();
  EXPECT_TRUE(other.hello().ok());
  auto stats = other.call("stats", {});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)["server"]["in_flight"], 1);
  EXPECT_TRUE(other.call("echo", {{"x", 1}}).ok());  // the second worker is free

  handler_.open_gate();
  auto reply = slow.receive();
  ASSERT_TRUE(reply.ok() && reply->result.ok());
  EXPECT_EQ(reply->id, "s1");
  EXPECT_EQ((*reply->result)["slow"], 1);
}

TEST_F(ServerTest, InFlightLimitStopsReadingThatConnection) {
  auto limits = test_limits();
  limits.max_in_flight_per_connection = 2;
  start(config(), limits);
  auto client = connect();
  // Three requests in one write: the hello must wait until a slow reply frees a slot, so the
  // first reply to arrive is a slow one.
  std::string frames;
  for (auto [id, type] : {std::pair{1, "slow"}, std::pair{2, "slow"}, std::pair{3, "hello"}}) {
    frames += ipc::encode_message(ipc::make_request(id, type, json::object()));
  }
  ASSERT_TRUE(client.send_raw(frames).ok());
  ASSERT_TRUE(handler_.wait_inside(2));
  handler_.open_gate();
  std::vector<int> order;
  for (int i = 0; i < 3; ++i) {
    auto reply = client.receive();
    ASSERT_TRUE(reply.ok() && reply->result.ok());
    order.push_back(reply->id.get<int>());
  }
  EXPECT_NE(order[0], 3);
  EXPECT_EQ(handler_.max_inside(), 2);
}

TEST_F(ServerTest, BadJsonAndBadRequestsKeepTheConnection) {
  start();
  auto client = connect();
  auto expect_error = [&](const std::string& payload, const char* code, const json& id, const char* where) {
    ASSERT_TRUE(client.send_raw(ipc::encode_frame(payload)).ok());
    auto reply = client.receive();
    ASSERT_TRUE(reply.ok()) << payload;
    ASSERT_FALSE(reply->result.ok()) << payload;
    EXPECT_EQ(reply->result.error().code, code) << payload;
    EXPECT_EQ(reply->result.error().where, where) << payload;
    EXPECT_EQ(reply->id, id) << payload;
  };
  expect_error("{not json", errc::kBadJson, nullptr, "json");
  expect_error(std::string(100000, '['), errc::kLimitExceeded, nullptr, "json");
  expect_error(R"({"id": 5, "type": 1})", errc::kBadRequest, 5, "type");
  expect_error(R"({"id": "x", "type": "frobnicate"})", errc::kUnknownRequest, "x", "type");
  expect_error(R"({"id": 6, "type": "echo", "body": [1]})", errc::kBadRequest, 6, "body");
  EXPECT_TRUE(client.hello().ok());
}

TEST_F(ServerTest, HandlerErrorsAndExceptionsBecomeReplies) {
  start();
  auto client = connect();
  auto failed = client.call("fail", {});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, errc::kBadGraph);
  EXPECT_EQ(failed.error().where, "graph.nodes[2].op");
  auto thrown = client.call("throw", {});
  ASSERT_FALSE(thrown.ok());
  EXPECT_EQ(thrown.error().code, errc::kInternal);
  EXPECT_NE(thrown.error().message.find("boom in the handler"), std::string::npos);
  EXPECT_TRUE(client.hello().ok());
}

TEST_F(ServerTest, ReplyOverTheFrameCapIsAnError) {
  auto c = config();
  c.max_frame_bytes = 4096;
  start(c);
  auto client = connect();
  EXPECT_TRUE(client.call("big", {{"bytes", 1000}}).ok());
  auto big = client.call("big", {{"bytes", 5000}});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, errc::kLimitExceeded);
  EXPECT_TRUE(client.hello().ok());
}

TEST_F(ServerTest, BadFrameGetsOneErrorAndCloseOthersKeepWorking) {
  start();
  auto good = connect();
  auto http = connect();
  auto huge = connect();
  ASSERT_TRUE(http.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  ASSERT_TRUE(huge.send_raw(std::string("TPJF\xff\xff\xff\xff", 8)).ok());
  for (auto [client, code] : {std::pair{&http, errc::kBadFrame}, std::pair{&huge, errc::kFrameTooLarge}}) {
    auto reply = client->receive();
    ASSERT_TRUE(reply.ok());
    EXPECT_TRUE(reply->id.is_null());
    ASSERT_FALSE(reply->result.ok());
    EXPECT_EQ(reply->result.error().code, code);
    auto after = client->receive();  // then the daemon hangs up
    ASSERT_FALSE(after.ok());
    EXPECT_EQ(after.error().code, errc::kUnavailable);
  }
  EXPECT_TRUE(good.hello().ok());
  auto stats = good.call("stats", {});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)["server"]["errors"]["bad_frame"], 1);
  EXPECT_EQ((*stats)["server"]["errors"]["frame_too_large"], 1);
}

TEST_F(ServerTest, ClientVanishingMidFrameOrMidRequestDisturbsNoOne) {
  start();
  {
    auto half = connect();
    std::string frame = ipc::encode_message(ipc::make_request(1, "echo", {{"x", 1}}));
    ASSERT_TRUE(half.send_raw(frame.substr(0, frame.size() / 2)).ok());
  }  // closed mid-frame
  {
    auto gone = connect();
    ASSERT_TRUE(gone.send_request(2, "slow", {}).ok());
    ASSERT_TRUE(handler_.wait_inside(1));
  }  // closed with a request in flight; its reply has nowhere to go
  handler_.open_gate();
  auto other = connect();
  EXPECT_TRUE(other.hello().ok());
  EXPECT_TRUE(other.call("slow", {{"n", 2}}).ok());
  EXPECT_TRUE(other.call("stats", {}).ok());
}

TEST_F(ServerTest, StatsMergeServerCountersWithTheHandlers) {
  start();
  auto client = connect();
  ASSERT_TRUE(client.call("echo", {}).ok());
  ASSERT_TRUE(client.call("echo", {}).ok());
  ASSERT_FALSE(client.call("fail", {}).ok());
  auto stats = client.call("stats", {});
  ASSERT_TRUE(stats.ok());
  const json& server = (*stats)["server"];
  EXPECT_EQ(server["requests"]["echo"], 2);
  EXPECT_EQ(server["requests"]["stats"], 1);
  EXPECT_EQ(server["errors"]["bad_graph"], 1);
  EXPECT_EQ(server["connections_open"], 1);
  EXPECT_EQ(server["connections_total"], 1);
  EXPECT_GE(server["uptime_s"].get<double>(), 0.0);
  EXPECT_EQ((*stats)["fake"]["calls"], 3);
}

TEST_F(ServerTest, ConnectionsOverTheLimitGetBusy) {
  auto limits = test_limits();
  limits.max_connections = 2;
  start(config(), limits);
  auto a = connect();
  auto b = connect();
  ASSERT_TRUE(a.hello().ok());  // both registered before the third arrives
  ASSERT_TRUE(b.hello().ok());
  auto c = connect();
  auto reply = c.receive();
  ASSERT_TRUE(reply.ok());
  ASSERT_FALSE(reply->result.ok());
  EXPECT_EQ(reply->result.error().code, errc::kBusy);
  EXPECT_FALSE(c.receive().ok());  // closed
  EXPECT_TRUE(a.hello().ok());
}

TEST_F(ServerTest, PeerWithAnotherUidIsRefused) {
  auto limits = test_limits();
  limits.allowed_uid = ::getuid() + 1;  // we play the stranger
  start(config(), limits);
  auto client = connect();
  auto reply = client.receive();  // refused at accept, before any request
  ASSERT_TRUE(reply.ok());
  EXPECT_TRUE(reply->id.is_null());
  ASSERT_FALSE(reply->result.ok());
  EXPECT_EQ(reply->result.error().code, errc::kPeerRefused);
  EXPECT_FALSE(client.receive().ok());  // closed
}

}  // namespace
}  // namespace tpjit::daemon::testing
