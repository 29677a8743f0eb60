#include "daemon/options.h"

#include <gtest/gtest.h>

namespace tpjit::daemon {
namespace {

TEST(DaemonOptions, Defaults) {
  auto o = parse_daemon_args({});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->help);
  EXPECT_EQ(o->config.socket_path.filename(), "tpjitd.sock");
  EXPECT_EQ(o->config.log_level, "info");
  EXPECT_GE(o->config.workers, 1);
  EXPECT_EQ(o->config.max_frame_bytes, 16u << 20);
}

TEST(DaemonOptions, AllOptionsBothSpellings) {
  auto o = parse_daemon_args({"--socket", "/tmp/x/s.sock", "--cache-dir=/tmp/c", "--log-level", "debug",
                              "--workers=3", "--cache-budget-mb", "10", "--max-frame-mb=2"});
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->config.socket_path, "/tmp/x/s.sock");
  EXPECT_EQ(o->config.cache_dir, "/tmp/c");
  EXPECT_EQ(o->config.log_level, "debug");
  EXPECT_EQ(o->config.workers, 3);
  EXPECT_EQ(o->config.cache_budget_bytes, 10u << 20);
  EXPECT_EQ(o->config.max_frame_bytes, 2u << 20);
}

TEST(DaemonOptions, RelativeSocketBecomesAbsolute) {
  auto o = parse_daemon_args({"--socket", "s.sock"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->config.socket_path.is_absolute());
}

TEST(DaemonOptions, UsageErrorsNameTheOption) {
  struct Case {
    std::vector<std::string> args;
    const char* where;
  };
  const Case cases[] = {{{"--workers", "0"}, "--workers"},      {{"--workers", "x"}, "--workers"},
                        {{"--workers", "2x"}, "--workers"},     {{"--max-frame-mb", "2048"}, "--max-frame-mb"},
                        {{"--log-level", "loud"}, "--log-level"}, {{"--socket"}, "--socket"},
                        {{"--frobnicate", "1"}, "--frobnicate"}, {{"stray"}, "stray"}};
  for (const auto& c : cases) {
    auto o = parse_daemon_args(c.args);
    ASSERT_FALSE(o.ok()) << c.args[0];
    EXPECT_EQ(o.error().where, c.where);
  }
}

// The planner's cost model assumes the copy engines only when every rank is on this host.
TEST(DaemonOptions, RanksOnOneHostUnlessTheRendezvousIsElsewhere) {
  auto alone = parse_daemon_args({});
  ASSERT_TRUE(alone.ok());
  EXPECT_TRUE(alone->config.ranks_on_one_host);
  for (const char* at : {"127.0.0.1:29500", "localhost:29500"}) {
    auto o = parse_daemon_args({"--rank", "1", "--world", "2", "--rendezvous", at});
    ASSERT_TRUE(o.ok()) << at << ": " << o.error().message;
    EXPECT_TRUE(o->config.ranks_on_one_host) << at;
  }
  auto far = parse_daemon_args({"--rank", "1", "--world", "2", "--rendezvous", "10.0.0.7:29500"});
  ASSERT_TRUE(far.ok()) << far.error().message;
  EXPECT_FALSE(far->config.ranks_on_one_host);
}

TEST(DaemonOptions, Help) {
  auto o = parse_daemon_args({"--help"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->help);
  EXPECT_NE(daemon_usage().find("--max-frame-mb"), std::string::npos);
}

}  // namespace
}  // namespace tpjit::daemon
