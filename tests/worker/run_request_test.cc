// The "run" request through the real daemon, the real compile service (NVRTC) and the run
// service, on fake workers (tpjit-worker --fake 2): a good run, then bad input of each kind,
// each answered with a clear error while the daemon keeps serving good runs.
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "cache/overlap_store.h"
#include "cache/tuning_store.h"
#include "client/client.h"
#include "daemon/run_service.h"
#include "daemon/server.h"
#include "daemon/service.h"
#include "util/log.h"
#include "util/npy.h"

namespace tpjit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json recorded_graph(const std::string& name) {
  std::ifstream in(fs::path(TPJIT_RECORDED_GRAPHS_DIR) / (name + ".json"));
  return json::parse(in);
}

// One daemon for the whole suite: its cache keeps NVRTC to one compile per kernel.
class RunRequestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    set_log_level("off");
    char name[] = "/tmp/tpjit-run-XXXXXX";
    ASSERT_NE(::mkdtemp(name), nullptr);
    dir_ = new fs::path(name);
    config_ = new DaemonConfig;
    config_->socket_path = *dir_ / "run" / "tpjitd.sock";
    config_->cache_dir = *dir_ / "cache";
    config_->workers = 2;
    daemon::WorkerPoolConfig workers;
    workers.worker_command = {TPJIT_WORKER_PATH, "--fake", "2"};
    workers.cache_dir = config_->cache_dir;
    workers.gpus = 2;
    workers.timeout = std::chrono::seconds(60);
    compile_ = make_compile_service(*config_).release();
    run_ = make_run_service(*config_, workers, *compile_).release();
    daemon::ServerLimits limits;
    limits.handle_signals = false;
    auto server = daemon::Server::create(*config_, *run_, limits);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = server->release();
    thread_ = new std::thread([] { server_->run(); });
  }

  static void TearDownTestSuite() {
    if (server_) server_->stop();
    if (thread_ && thread_->joinable()) thread_->join();
    delete thread_;
    delete server_;
    delete run_;  // stops the fake workers
    delete compile_;
    delete config_;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static Result<json> run(const json& body) {
    client::ClientOptions options;
    options.receive_timeout = std::chrono::seconds(240);
    auto c = client::Client::connect(config_->socket_path, options);
    if (!c) return c.error();
    return c->call("run", body);
  }

  static json body(const std::string& graph, int64_t m) {
    return {{"graph", recorded_graph(graph)}, {"m", m}, {"iters", 2}};
  }

  // A good run still succeeds: every fused region executed on both fake ranks.
  static void expect_serving() {
    auto r = run(body("llama3-8b-mlp-tp2", 256));
    ASSERT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
    EXPECT_EQ((*r)["world_size"], 2);
    ASSERT_EQ((*r)["regions"].size(), 2u);
    for (const auto& region : (*r)["regions"]) EXPECT_TRUE(region["executed"].get<bool>()) << region;
  }

  static inline fs::path* dir_ = nullptr;
  static inline DaemonConfig* config_ = nullptr;
  static inline RequestHandler* compile_ = nullptr;
  static inline RequestHandler* run_ = nullptr;
  static inline daemon::Server* server_ = nullptr;
  static inline std::thread* thread_ = nullptr;
};

TEST_F(RunRequestTest, AGoodRunExecutesEveryFusedRegion) {
  auto r = run(body("llama3-8b-mlp-tp2", 256));
  ASSERT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
  EXPECT_EQ((*r)["arch"], "sm_90a");
  EXPECT_EQ((*r)["ranks"], json::array({0, 1}));
  EXPECT_EQ((*r)["regions"][0]["kind"], "all_gather_gemm");
  EXPECT_EQ((*r)["regions"][1]["kind"], "gemm_reduce_scatter");
}

// A fused region runs as the plan's execution chose for this M (at M = 256 the cost model
// keeps both unfused: fusing does not pay there), unless the request forces one way.
TEST_F(RunRequestTest, FusedRegionsRunAsThePlanChoseUnlessAsked) {
  // Every fused region of a run of `execution` ("" for none: as planned) ran `expect` over
  // `transport` (the fake workers echo what the job asked, and say "nccl" when fused).
  auto runs_as = [](const std::string& execution, const std::string& expect,
                    const std::string& transport) {
    json b = body("llama3-8b-mlp-tp2", 256);
    if (!execution.empty()) b["execution"] = execution;
    auto r = run(b);
    ASSERT_TRUE(r.ok()) << r.error().message;
    for (const auto& region : (*r)["regions"]) {
      EXPECT_EQ(region["execution"], expect) << region;
      EXPECT_EQ(region["transport"], transport) << region;
    }
  };
  runs_as("", "unfused", "none");
  runs_as("fused", "fused", "nccl");
  runs_as("unfused_cublaslt", "unfused_cublaslt", "none");
  json wrong = body("llama3-8b-mlp-tp2", 256);
  wrong["execution"] = "sometimes";
  auto w = run(wrong);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().where, "body.execution");
  expect_serving();
}

// A record that measured cuBLASLt's GEMM fastest for a region's shape (as `tpjit-bench overlap
// --cache-dir` writes them) makes the plan run that region as unfused_cublaslt; the other
// region keeps the cost model's choice.
TEST_F(RunRequestTest, ARecordChoosingCublasLtRunsThatRegionWithIt) {
  cache::OverlapStore store(config_->cache_dir);
  cache::OverlapRecord rec;
  // llama3-8b-mlp-tp2's down projection: N = 4096, K = 7168.
  rec.key = {"gemm_reduce_scatter", 2, 4096, 7168, "tensor", cache::tuning_m_bucket(256)};
  rec.card = "Test Card";
  rec.cublaslt = true;
  rec.fused_us = 60, rec.unfused_us = 50, rec.limit_us = 40;
  ASSERT_TRUE(store.store(rec));
  auto r = run(body("llama3-8b-mlp-tp2", 256));
  fs::remove(store.record_path(rec.key));  // the other tests plan without it
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ((*r)["regions"].size(), 2u);
  EXPECT_EQ((*r)["regions"][0]["execution"], "unfused") << (*r)["regions"][0];
  EXPECT_EQ((*r)["regions"][1]["execution"], "unfused_cublaslt") << (*r)["regions"][1];
  expect_serving();
}

TEST_F(RunRequestTest, AGraphForAnotherGroupSizeSaysHowManyGpusItSees) {
  auto r = run(body("llama3-8b-mlp-tp4", 256));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kErrWorldMismatch);
  const std::string& why = r.error().message;
  EXPECT_NE(why.find("group of 4 ranks"), std::string::npos) << why;
  EXPECT_NE(why.find("2 local GPU(s)"), std::string::npos) << why;
  EXPECT_NE(why.find("--gpus"), std::string::npos) << why;
  EXPECT_EQ(r.error().where, "graph.group.world_size");
  expect_serving();
}

TEST_F(RunRequestTest, AMissingNpyInputNamesTheFileAndTheShapeItNeeds) {
  const fs::path inputs = *dir_ / "empty-inputs";
  fs::create_directories(inputs);
  json b = body("llama3-8b-mlp-tp2", 256);
  b["inputs"] = inputs.string();
  auto r = run(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kErrBadInput);
  const std::string& why = r.error().message;
  EXPECT_NE(why.find((inputs / "rank0" / "x_shard.npy").string()), std::string::npos) << why;
  EXPECT_NE(why.find("(128, 4096)"), std::string::npos) << why;  // M/2 rows, K columns
  EXPECT_NE(why.find("'<u1'"), std::string::npos) << why;
  expect_serving();
}

TEST_F(RunRequestTest, AMisShapedNpyInputIsBadInput) {
  const fs::path inputs = *dir_ / "bad-inputs";
  fs::create_directories(inputs / "rank0");
  // The whole gathered A instead of this rank's shard: [M, K] where [M/2, K] belongs.
  ASSERT_TRUE(write_npy(inputs / "rank0" / "x_shard.npy", "<u1", {256, 4096},
                        std::vector<uint8_t>(256 * 4096, 0x38))
                  .ok());
  json b = body("llama3-8b-mlp-tp2", 256);
  b["inputs"] = inputs.string();
  auto r = run(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kErrBadInput);
  const std::string& why = r.error().message;
  EXPECT_NE(why.find("of shape (256, 4096)"), std::string::npos) << why;
  EXPECT_NE(why.find("needs '<u1' (FP8 e4m3 bytes) of shape (128, 4096)"), std::string::npos) << why;
  EXPECT_NE(r.error().where.find("x_shard.npy"), std::string::npos);
  expect_serving();
}

TEST_F(RunRequestTest, TheWorkersShowInStats) {
  expect_serving();
  client::ClientOptions options;
  options.receive_timeout = std::chrono::seconds(30);
  auto c = client::Client::connect(config_->socket_path, options);
  ASSERT_TRUE(c.ok());
  auto s = c->call("stats");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)["workers"]["gpus"], 2);
  EXPECT_EQ((*s)["workers"]["deaths"], 0);
  EXPECT_EQ((*s)["workers"]["spawns"], 2);  // spawned once, kept across runs
}

}  // namespace
}  // namespace tpjit
