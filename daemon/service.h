// The daemon's configuration and the compile service the lead implements in service.cc.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "daemon/handler.h"

namespace tpjit {

struct DaemonConfig {
  std::filesystem::path socket_path;  // Unix socket; its directory must be private (0700)
  std::filesystem::path cache_dir;    // cubin cache
  std::string log_level = "info";     // trace|debug|info|warn|error|off
  int workers = 4;                    // threads serving handler requests
  uint64_t cache_budget_bytes = 4ull << 30;
  uint32_t max_frame_bytes = 16u << 20;  // payload cap for frames in both directions
  // Every rank is on this host (one daemon's workers, or daemons that meet on a loopback
  // rendezvous): fused regions move their bytes with the copy engines, and the planner's cost
  // model predicts that transport (codegen/overlap_cost.h); false: NCCL's.
  bool ranks_on_one_host = true;
};

// The handler for compile (and later run, warmup) requests.
std::unique_ptr<RequestHandler> make_compile_service(const DaemonConfig& config);

}  // namespace tpjit
