// The tpjit command line against a real server with the fake handler.
#include <fstream>
#include <set>

#include "tests/daemon/server_fixture.h"
#include "tools/tpjit/cli.h"

namespace tpjit::daemon::testing {
namespace {

using nlohmann::json;

class CliTest : public ServerTest {
 protected:
  cli::GlobalOptions options() {
    cli::GlobalOptions o;
    o.socket = socket_;
    o.timeout = std::chrono::seconds(20);
    return o;
  }
  std::string write_graph(const std::string& name) {
    auto path = dir_.path() / (name + ".json");
    std::ofstream(path) << json{{"format", "tpjit.graph/1"}, {"name", name}, {"nodes", json::array()}}.dump();
    return path.string();
  }
};

TEST_F(CliTest, CompilePrintsRegionsKernelsAndTotals) {
  start();
  const std::string graph = write_graph("attn");
  ::testing::internal::CaptureStdout();
  int rc = cli::cmd_compile(options(), {graph, "--m", "128,2048", "--arch", "sm_90a"});
  std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(rc, cli::kExitOk);
  for (const char* expected :
       {"plan for attn (world size 2), m 128,2048, archs sm_90a", "#0 all_gather_gemm  all_gather->scaled_mm  fused: yes",
        "reason: gather feeds one GEMM", "#1 unfused", "fused: no", "region #0 mm_q", "m=128", "hit", "miss",
        "44.6 KiB", "tpjit_gemm_mma_n5120_k8192", "all_gather->scaled_mm  1",
        "total: 2 kernel(s), 1 cache hit(s), 1 miss(es), compile 12.2 ms"}) {
    EXPECT_NE(out.find(expected), std::string::npos) << "missing \"" << expected << "\" in\n" << out;
  }
}

TEST_F(CliTest, CompileJsonIsTheReplyBody) {
  start();
  const std::string graph = write_graph("attn");
  ::testing::internal::CaptureStdout();
  int rc = cli::cmd_compile(options(), {graph, "--m", "64", "--json"});
  std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(rc, cli::kExitOk);
  json plan = json::parse(out);
  EXPECT_EQ(plan["graph"], "attn");
  EXPECT_EQ(plan["m"], json({64}));
  EXPECT_EQ(plan["kernels"].size(), 1u);
}

// One warmup request per graph and token count; progress a line a step (stderr is no terminal
// here), totals on stdout; a graph that fails is reported, the rest still run, exit 1.
TEST_F(CliTest, WarmupCachesEveryGraphAndTokenCountWithProgress) {
  start();
  const std::string attn = write_graph("attn"), mlp = write_graph("mlp");
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int rc = cli::cmd_warmup(options(), {attn, mlp, "--m", "128,2048", "--arch", "sm_90a", "--jobs", "1"});
  std::string out = ::testing::internal::GetCapturedStdout();
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(rc, cli::kExitOk) << err;
  EXPECT_NE(err.find("[1/4] " + attn + " m=128: 1 kernel(s): 0 compiled, 1 from the cache, 12.2 ms"),
            std::string::npos) << err;
  EXPECT_NE(err.find("[4/4] " + mlp + " m=2048: 1 kernel(s): 1 compiled, 0 from the cache"),
            std::string::npos) << err;
  EXPECT_EQ(out, "warmup: 2 graph(s) x 2 token count(s): 4 kernel(s), 2 compiled, 2 from the cache, "
                 "49.0 ms in the daemon; 0 step(s) failed\n");

  const std::string broken = write_graph("broken");
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  rc = cli::cmd_warmup(options(), {broken, (dir_.path() / "missing.json").string(), attn, "--m", "64",
                                   "--json"});
  out = ::testing::internal::GetCapturedStdout();
  err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, cli::kExitError);
  EXPECT_NE(err.find(broken + " m=64: error [bad_graph] at graph.nodes[1].op: node mm_q has no op"),
            std::string::npos) << err;
  EXPECT_NE(err.find("missing.json: error [bad_graph]"), std::string::npos) << err;
  const json report = json::parse(out);
  ASSERT_EQ(report.size(), 3u);
  EXPECT_EQ(report[0]["error"], "bad_graph");
  EXPECT_EQ(report[1]["error"], "bad_graph");
  EXPECT_EQ(report[2]["graph"], "attn");
  EXPECT_EQ(report[2]["compiled"], 1);
  EXPECT_EQ(report[2]["file"], attn);

  ::testing::internal::CaptureStderr();
  EXPECT_EQ(cli::cmd_warmup(options(), {attn}), cli::kExitUsage);            // no --m
  EXPECT_EQ(cli::cmd_warmup(options(), {"--m", "128"}), cli::kExitUsage);    // no graph
  EXPECT_EQ(cli::cmd_warmup(options(), {attn, "--m", "1", "--fast"}), cli::kExitUsage);
  EXPECT_EQ(cli::cmd_warmup(options(), {attn, "--m", "1", "--jobs", "0"}), cli::kExitUsage);
  EXPECT_EQ(cli::cmd_warmup(options(), {attn, "--m", "1", "--jobs", "33"}), cli::kExitUsage);
  ::testing::internal::GetCapturedStderr();
}

// Several requests in flight at once (the daemon runs them side by side): every step is
// answered once, whatever the order, and the totals are the same as one at a time.
TEST_F(CliTest, WarmupKeepsSeveralRequestsInFlight) {
  start();
  std::vector<std::string> args;
  for (int g = 0; g < 6; ++g) args.push_back(write_graph("g" + std::to_string(g)));
  for (const char* a : {"--m", "128,256,512,1024,2048", "--jobs", "8", "--json"}) args.push_back(a);
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int rc = cli::cmd_warmup(options(), args);
  std::string out = ::testing::internal::GetCapturedStdout();
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(rc, cli::kExitOk) << err;
  const json report = json::parse(out);
  ASSERT_EQ(report.size(), 30u);
  std::set<std::string> seen;
  int compiled = 0;
  for (const json& step : report) {
    seen.insert(step["file"].get<std::string>() + "@" + step["m"].dump());
    compiled += step["compiled"].get<int>();
  }
  EXPECT_EQ(seen.size(), 30u);
  EXPECT_EQ(compiled, 24);  // the fake handler finds m = 128 in its cache
  EXPECT_NE(err.find("[30/30] "), std::string::npos) << err;
}

TEST_F(CliTest, DaemonErrorsPrintCodeWhereMessageAndExitOne) {
  start();
  const std::string graph = write_graph("broken");
  ::testing::internal::CaptureStderr();
  int rc = cli::cmd_compile(options(), {graph, "--m", "128"});
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, cli::kExitError);
  EXPECT_EQ(err, "error [bad_graph] at graph.nodes[1].op: node mm_q has no op\n");
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(cli::cmd_compile(options(), {"g.json"}), cli::kExitUsage);  // no --m
  EXPECT_EQ(cli::cmd_compile(options(), {"--m", "128"}), cli::kExitUsage);  // no graph
  EXPECT_EQ(cli::cmd_compile(options(), {"g.json", "--m", "128,,2"}), cli::kExitUsage);
  EXPECT_EQ(cli::cmd_compile(options(), {"g.json", "--m", "-5"}), cli::kExitUsage);
  EXPECT_EQ(cli::cmd_stats(options(), {"--verbose"}), cli::kExitUsage);
  ::testing::internal::GetCapturedStderr();
}

TEST_F(CliTest, NoDaemonIsUnavailable) {
  const std::string graph = write_graph("attn");
  auto o = options();
  o.socket = dir_.path() / "nobody.sock";
  ::testing::internal::CaptureStderr();
  int rc = cli::cmd_compile(o, {graph, "--m", "128"});
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, cli::kExitError);
  EXPECT_EQ(err.rfind("error [unavailable] at ", 0), 0u) << err;
  EXPECT_NE(err.find("is tpjitd running?"), std::string::npos) << err;
}

TEST_F(CliTest, StatsHelloShutdown) {
  start();
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(cli::cmd_hello(options(), {}), cli::kExitOk);
  EXPECT_EQ(cli::cmd_stats(options(), {}), cli::kExitOk);
  EXPECT_EQ(cli::cmd_stats(options(), {"--json"}), cli::kExitOk);
  EXPECT_EQ(cli::cmd_shutdown(options(), {}), cli::kExitOk);
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("tpjitd 0.1.0, protocol 1"), std::string::npos) << out;
  EXPECT_NE(out.find("requests: hello, stats, shutdown, echo"), std::string::npos) << out;
  EXPECT_NE(out.find("requests: hello 1"), std::string::npos) << out;
  EXPECT_NE(out.find("fake:\n  calls: 0"), std::string::npos) << out;
  EXPECT_NE(out.find("\"connections_total\":"), std::string::npos) << out;
  EXPECT_NE(out.find("tpjitd is shutting down (0 request(s) finishing)"), std::string::npos) << out;
  EXPECT_TRUE(wait_stopped());
}

TEST(CliLists, ParseIntAndWordLists) {
  auto m = cli::parse_int_list("--m", "128,2048,16384");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m, (std::vector<int64_t>{128, 2048, 16384}));
  for (const char* bad : {"", ",", "1,", "a", "1,0", "1.5", "99999999999999999999"}) {
    EXPECT_FALSE(cli::parse_int_list("--m", bad).ok()) << bad;
  }
  auto a = cli::parse_word_list("--arch", "sm_90a,sm_100a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (std::vector<std::string>{"sm_90a", "sm_100a"}));
}

TEST(CliFormat, PlanWithMissingFieldsDoesNotThrow) {
  EXPECT_NE(cli::format_plan(json::object()).find("plan for ? (world size ?)"), std::string::npos);
  EXPECT_NO_THROW(cli::format_plan(json{{"regions", {1, "x"}}, {"kernels", {{{"m", "?"}}}}}));
  EXPECT_NO_THROW(cli::format_stats(json{{"server", 5}}));
}

}  // namespace
}  // namespace tpjit::daemon::testing
