// tpjitd's command line.
#pragma once

#include <string>
#include <vector>

#include "daemon/service.h"
#include "daemon/workers.h"
#include "util/result.h"

namespace tpjit::daemon {

struct DaemonOptions {
  DaemonConfig config;  // defaults filled in; socket_path made absolute
  WorkerPoolConfig workers;  // GPU workers for run requests (worker_command, cache_dir filled in)
  bool help = false;
};

// Parses the arguments after argv[0]; "--name value" and "--name=value" both work. A usage
// error is kBadRequest with `where` naming the option.
Result<DaemonOptions> parse_daemon_args(const std::vector<std::string>& args);

std::string daemon_usage();

}  // namespace tpjit::daemon
