#include "daemon/options.h"

#include <algorithm>
#include <charconv>
#include <thread>

#include "daemon/rendezvous.h"
#include "ipc/paths.h"

namespace tpjit::daemon {
namespace {

Error usage_error(const std::string& option, const std::string& message) {
  return make_error(errc::kBadRequest, message, option);
}

Result<int64_t> parse_int(const std::string& option, const std::string& text, int64_t low, int64_t high) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high) {
    return usage_error(option, option + " takes an integer in " + std::to_string(low) + ".." +
                                   std::to_string(high) + ", got \"" + text + "\"");
  }
  return value;
}

}  // namespace

std::string daemon_usage() {
  return "usage: tpjitd [--socket PATH] [--cache-dir DIR] [--log-level LEVEL] [--workers N]\n"
         "              [--cache-budget-mb N] [--max-frame-mb N]\n"
         "\n"
         "Serves tpjit compile requests on a Unix socket until SIGTERM, SIGINT or a shutdown request.\n"
         "  --socket PATH        socket (default " + ipc::default_socket_path().string() + ");\n"
         "                       its directory is created 0700 and must stay private to you\n"
         "  --cache-dir DIR      cubin cache (default " + ipc::default_cache_dir().string() + ")\n"
         "  --log-level LEVEL    trace, debug, info, warn, error or off (default info)\n"
         "  --workers N          threads serving requests, 1..256 (default: CPU count)\n"
         "  --cache-budget-mb N  cache size before least-recently-used eviction (default 4096)\n"
         "  --max-frame-mb N     largest message in either direction, 1..1024 (default 16)\n"
         "  --gpus N             GPUs to run on, one worker each (default: CUDA_VISIBLE_DEVICES' count,\n"
         "                       else every GPU the first worker sees)\n"
         "  --run-timeout-s N    a run (or NCCL init) answering later fails and restarts the workers (default 120)\n"
         "  --worker PATH        the tpjit-worker executable (default: beside tpjitd)\n"
         "  --rank R --world W --rendezvous HOST:PORT\n"
         "                       several daemons, one GPU each, form one NCCL communicator; rank 0 listens\n"
         "  --help               this text\n";
}

Result<DaemonOptions> parse_daemon_args(const std::vector<std::string>& args) {
  DaemonOptions out;
  DaemonConfig& c = out.config;
  c.socket_path = ipc::default_socket_path();
  c.cache_dir = ipc::default_cache_dir();
  c.workers = static_cast<int>(std::max(1u, std::min(256u, std::thread::hardware_concurrency())));
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::string value;
    bool has_value = false;
    if (name == "--help" || name == "-h") {
      out.help = true;
      continue;
    }
    if (name.rfind("--", 0) != 0) return usage_error(name, "unexpected argument \"" + name + "\"");
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    static const char* kKnown[] = {"--socket", "--cache-dir", "--log-level", "--workers", "--cache-budget-mb",
                                   "--max-frame-mb", "--gpus", "--run-timeout-s", "--worker", "--rank",
                                   "--world", "--rendezvous"};
    if (std::find(std::begin(kKnown), std::end(kKnown), name) == std::end(kKnown)) {
      return usage_error(name, "unknown option " + name);
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return usage_error(name, name + " needs a value");
      value = args[++i];
    }
    if (name == "--socket") {
      if (value.empty()) return usage_error(name, "--socket needs a path");
      c.socket_path = std::filesystem::absolute(value);
    } else if (name == "--cache-dir") {
      if (value.empty()) return usage_error(name, "--cache-dir needs a path");
      c.cache_dir = std::filesystem::absolute(value);
    } else if (name == "--log-level") {
      static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
      if (std::find(std::begin(kLevels), std::end(kLevels), value) == std::end(kLevels)) {
        return usage_error(name, "--log-level is one of trace, debug, info, warn, error, off; got \"" + value + "\"");
      }
      c.log_level = value;
    } else if (name == "--workers") {
      auto n = parse_int(name, value, 1, 256);
      if (!n) return n.error();
      c.workers = static_cast<int>(*n);
    } else if (name == "--cache-budget-mb") {
      auto n = parse_int(name, value, 1, int64_t{1} << 30);
      if (!n) return n.error();
      c.cache_budget_bytes = static_cast<uint64_t>(*n) << 20;
    } else if (name == "--gpus" || name == "--run-timeout-s" || name == "--rank" || name == "--world") {
      auto n = parse_int(name, value, name == "--rank" ? 0 : 1, name == "--run-timeout-s" ? 86400 : 4096);
      if (!n) return n.error();
      if (name == "--gpus") out.workers.gpus = static_cast<int>(*n);
      if (name == "--rank") out.workers.rank = static_cast<int>(*n);
      if (name == "--world") out.workers.world = static_cast<int>(*n);
      if (name == "--run-timeout-s") out.workers.timeout = std::chrono::seconds(*n);
    } else if (name == "--worker") {
      // "PATH [ARGS...]": extra words go to every worker (tests: "tpjit-worker --fake 2").
      out.workers.worker_command.clear();
      for (size_t at = 0; at < value.size();) {
        size_t end = value.find(' ', at);
        if (end == std::string::npos) end = value.size();
        if (end > at) out.workers.worker_command.push_back(value.substr(at, end - at));
        at = end + 1;
      }
      if (out.workers.worker_command.empty()) return usage_error(name, "--worker needs a path");
      out.workers.worker_command[0] = std::filesystem::absolute(out.workers.worker_command[0]).string();
    } else if (name == "--rendezvous") {
      auto a = parse_rendezvous(value);
      if (!a) return a.error();
      out.workers.rendezvous = value;
      c.ranks_on_one_host = a->host == "localhost" || a->host.rfind("127.", 0) == 0;
    } else {
      auto n = parse_int(name, value, 1, 1024);
      if (!n) return n.error();
      c.max_frame_bytes = static_cast<uint32_t>(*n) << 20;
    }
  }
  if (out.workers.worker_command.empty()) out.workers.worker_command = {default_worker_path().string()};
  out.workers.cache_dir = c.cache_dir;
  WorkerPoolConfig& w = out.workers;
  if ((w.world > 0) != !w.rendezvous.empty())
    return usage_error("--world", "--world W and --rendezvous HOST:PORT go together (with --rank R)");
  if (w.world > 0 && w.rank >= w.world)
    return usage_error("--rank", "--rank must be below --world");
  if (w.world > 0 && w.gpus > 1)
    return usage_error("--gpus", "with --world each daemon owns one GPU (set CUDA_VISIBLE_DEVICES)");
  return out;
}

}  // namespace tpjit::daemon
