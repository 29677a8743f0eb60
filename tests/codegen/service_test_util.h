// Shared by the codegen tests that go through the daemon's compile service (tuned tiles, overlap
// execution): a service over a fresh cache directory, and its compile request for the
// Llama-3-8B MLP TP2 graph. Needs TPJIT_GRAPHS_DIR (tests/data/graphs).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/service.h"
#include "tests/util/temp_dir.h"

namespace tpjit::testing {

// The compile request for llama3-8b-mlp-tp2.json at token counts ms, for sm_90a.
inline nlohmann::json mlp_compile_body(const std::vector<int64_t>& ms) {
  std::ifstream in(std::string(TPJIT_GRAPHS_DIR) + "/llama3-8b-mlp-tp2.json");
  return {{"graph", nlohmann::json::parse(in)}, {"m", ms}, {"archs", {"sm_90a"}}};
}

class CompileServiceTest : public ::testing::Test {
 protected:
  CompileServiceTest() {
    config_.cache_dir = dir_.path() / "cache";
    config_.workers = 2;
    service_ = make_compile_service(config_);
  }

  TempDir dir_;
  DaemonConfig config_;
  std::unique_ptr<RequestHandler> service_;
};

}  // namespace tpjit::testing
