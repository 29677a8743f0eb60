// tpjitd end to end with the real compile service: a recorded graph goes in over a real
// socket, NVRTC compiles for real, cubins land in a real cache directory, and bad requests get
// structured errors while the daemon keeps serving.
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "client/client.h"
#include "daemon/server.h"
#include "daemon/service.h"
#include "util/log.h"

namespace tpjit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json recorded_graph(const std::string& name) {
  std::ifstream in(fs::path(TPJIT_RECORDED_GRAPHS_DIR) / (name + ".json"));
  return json::parse(in);
}

json compile_body(const json& graph, std::vector<int64_t> m) {
  return {{"graph", graph}, {"m", m}, {"archs", {"sm_90a"}}};
}

class CompileServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_log_level("warn");
    char name[] = "/tmp/tpjit-svc-XXXXXX";
    ASSERT_NE(::mkdtemp(name), nullptr);
    dir_ = name;
    config_.socket_path = dir_ / "run" / "tpjitd.sock";
    config_.cache_dir = dir_ / "cache";
    config_.workers = 2;
    service_ = make_compile_service(config_);
    daemon::ServerLimits limits;
    limits.handle_signals = false;
    auto server = daemon::Server::create(config_, *service_, limits);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
    thread_ = std::thread([this] { server_->run(); });
  }

  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    fs::remove_all(dir_);
  }

  client::Client connect() {
    client::ClientOptions options;
    options.receive_timeout = std::chrono::seconds(240);
    auto c = client::Client::connect(config_.socket_path, options);
    EXPECT_TRUE(c.ok()) << c.error().message;
    return std::move(*c);
  }

  static std::multiset<std::string> cache_states(const json& plan) {
    std::multiset<std::string> out;
    for (const auto& k : plan["kernels"]) out.insert(k["cache"].get<std::string>());
    return out;
  }

  fs::path dir_;
  DaemonConfig config_;
  std::unique_ptr<RequestHandler> service_;
  std::unique_ptr<daemon::Server> server_;
  std::thread thread_;
};

TEST_F(CompileServiceTest, CompilesARecordedGraphThenServesItFromTheCache) {
  auto client = connect();
  auto first = client.call("compile", compile_body(recorded_graph("llama3-8b-attn-tp2"), {256}));
  ASSERT_TRUE(first.ok()) << first.error().code << ": " << first.error().message;
  const json& plan = *first;
  ASSERT_EQ(plan["regions"].size(), 2u);
  EXPECT_EQ(plan["regions"][0]["kind"], "all_gather_gemm");
  EXPECT_EQ(plan["regions"][1]["kind"], "gemm_reduce_scatter");
  EXPECT_TRUE(plan["regions"][0]["fused"].get<bool>());
  ASSERT_EQ(plan["kernels"].size(), 2u);  // qkv and o, sm_90a, one M
  for (const auto& k : plan["kernels"]) {
    EXPECT_EQ(k["cache"], "miss");
    EXPECT_GT(k["cubin_bytes"].get<int64_t>(), 1000);
    EXPECT_EQ(k["arch"], "sm_90a");
    EXPECT_EQ(k["key"].get<std::string>().size(), 64u);
  }
  EXPECT_EQ(plan["match_counts"]["all_gather->scaled_mm"], 1);

  auto second = client.call("compile", compile_body(recorded_graph("llama3-8b-attn-tp2"), {256}));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(cache_states(*second), (std::multiset<std::string>{"hit", "hit"}));
  EXPECT_EQ((*second)["kernels"][0]["key"], plan["kernels"][0]["key"]);

  auto stats = client.call("stats");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)["cache"]["entries"], 2);
  EXPECT_EQ((*stats)["compile"]["kernels_compiled"], 2);
}

// warmup compiles what compile would and answers with the counts: afterwards compile finds
// every kernel in the cache.
TEST_F(CompileServiceTest, WarmupFillsTheCacheThatCompileThenHits) {
  auto client = connect();
  const json body = compile_body(recorded_graph("llama3-8b-attn-tp2"), {256});
  auto warm = client.call("warmup", body);
  ASSERT_TRUE(warm.ok()) << warm.error().code << ": " << warm.error().message;
  EXPECT_EQ((*warm)["graph"], "llama3-8b-attn-tp2");
  EXPECT_EQ((*warm)["m"], json({256}));
  EXPECT_EQ((*warm)["kernels"], 2);  // qkv and o, sm_90a
  EXPECT_EQ((*warm)["compiled"], 2);
  EXPECT_EQ((*warm)["cache_hits"], 0);
  EXPECT_EQ((*warm)["fused_regions"], 2);
  EXPECT_GT((*warm)["compile_ms_total"].get<double>(), 0.0);
  auto again = client.call("warmup", body);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["compiled"], 0);
  EXPECT_EQ((*again)["cache_hits"], 2);
  auto plan = client.call("compile", body);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(cache_states(*plan), (std::multiset<std::string>{"hit", "hit"}));
  auto bad = client.call("warmup", {{"graph", body["graph"]}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, errc::kBadRequest);
  EXPECT_EQ(bad.error().where, "body.m");
}

TEST_F(CompileServiceTest, BadRequestsGetStructuredErrorsAndTheDaemonKeepsServing) {
  auto client = connect();
  json graph = recorded_graph("llama3-8b-mlp-tp2");

  auto odd = client.call("compile", compile_body(graph, {1001}));
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error().code, "not_divisible");
  EXPECT_NE(odd.error().message.find("multiple of 2"), std::string::npos) << odd.error().message;
  EXPECT_NE(odd.error().where, "");

  json broken = graph;
  broken["nodes"][1]["inputs"][0] = "no_such_tensor";
  auto unknown = client.call("compile", compile_body(broken, {256}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().where.find("nodes[1]"), std::string::npos) << unknown.error().where;

  json body = compile_body(graph, {256});
  body["archs"] = {"sm_80"};
  auto arch = client.call("compile", body);
  ASSERT_FALSE(arch.ok());
  EXPECT_EQ(arch.error().code, "unsupported_arch");
  EXPECT_EQ(arch.error().where, "body.archs[0]");

  auto no_m = client.call("compile", json{{"graph", graph}});
  ASSERT_FALSE(no_m.ok());
  EXPECT_EQ(no_m.error().where, "body.m");

  auto good = client.call("compile", compile_body(graph, {256}));
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ((*good)["kernels"].size(), 2u);
}

TEST_F(CompileServiceTest, ConcurrentClientsShareOneCompilePerKernel) {
  json body = compile_body(recorded_graph("llama3-8b-mlp-tp2"), {512});
  auto compile = [&] {
    auto c = connect();
    return c.call("compile", body);
  };
  auto a = std::async(std::launch::async, compile);
  auto b = std::async(std::launch::async, compile);
  auto ra = a.get();
  auto rb = b.get();
  ASSERT_TRUE(ra.ok()) << ra.error().message;
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ((*ra)["kernels"][i]["key"], (*rb)["kernels"][i]["key"]);
  auto stats = connect().call("stats");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)["cache"]["compiles"], 2);  // two kernels, each compiled once
}

TEST_F(CompileServiceTest, ACorruptCubinIsRecompiledNeverServed) {
  auto client = connect();
  json body = compile_body(recorded_graph("llama3-8b-attn-tp4"), {256});
  auto first = client.call("compile", body);
  ASSERT_TRUE(first.ok()) << first.error().message;
  std::string key = (*first)["kernels"][0]["key"];

  // Flip one byte in the middle of that kernel's cache entry.
  fs::path entry;
  for (const auto& e : fs::recursive_directory_iterator(config_.cache_dir)) {
    if (e.path().filename().string().rfind(key, 0) == 0) entry = e.path();
  }
  ASSERT_FALSE(entry.empty()) << "no cache file for " << key;
  {
    std::fstream f(entry, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(entry) / 2));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(fs::file_size(entry) / 2));
    f.write(&c, 1);
  }

  auto second = client.call("compile", body);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ((*second)["kernels"][0]["cache"], "miss");  // recompiled, not served corrupt
  EXPECT_EQ((*second)["kernels"][1]["cache"], "hit");
  auto stats = client.call("stats");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)["cache"]["corrupt_removed"], 1);
}

}  // namespace
}  // namespace tpjit
