// tpjit: the command line for tpjitd. Global options, then one subcommand (cmd_*.cc).
#include <charconv>
#include <csignal>
#include <cstdio>
#include <map>

#include "ipc/paths.h"
#include "tools/tpjit/cli.h"

namespace {

using namespace tpjit::cli;

std::string usage() {
  return "usage: tpjit [--socket PATH] [--timeout SECONDS] COMMAND [ARGS]\n"
         "\n"
         "commands:\n"
         "  compile GRAPH.json --m 128,2048 [--arch sm_90a,sm_100a] [--json]\n"
         "                 plan a tpjit.graph/1 file: fused regions and their kernels (GRAPH '-' reads stdin)\n"
         "  warmup GRAPH.json [GRAPH.json ...] --m 1,16,128,2048 [--arch sm_90a,sm_100a] [--jobs N] [--json]\n"
         "                 put every kernel the graphs need at those token counts into the cache, with progress;\n"
         "                 up to N requests (default 4) compile side by side\n"
         "  run GRAPH.json --m M [--seed S | --inputs DIR] [--outputs DIR] [--check] [--iters N] [--chunks C]\n"
         "      [--execution plan|fused|unfused|unfused_cublaslt] [--json]\n"
         "                 execute the plan on the local GPUs, one rank per GPU (.npy files: <DIR>/rank<R>/<tensor>.npy)\n"
         "  stats [--json] daemon counters, cache and compile statistics\n"
         "  hello [--json] protocol version and capabilities\n"
         "  shutdown       let running requests finish, then stop the daemon\n"
         "\n"
         "  --socket PATH      daemon socket (default " + tpjit::ipc::default_socket_path().string() + ")\n"
         "  --timeout SECONDS  give up waiting for a reply after this long; 0 waits for ever (default 600)\n"
         "exit status: 0 ok, 1 error (printed as \"error [code] at WHERE: message\"), 2 usage\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // the client sends with MSG_NOSIGNAL; this covers stdout too
  std::vector<std::string> args(argv + 1, argv + argc);
  GlobalOptions options;
  options.socket = tpjit::ipc::default_socket_path();
  size_t i = 0;
  for (; i < args.size() && args[i].rfind("-", 0) == 0; ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(usage().c_str(), stdout);
      return kExitOk;
    }
    if (a != "--socket" && a != "--timeout") return usage_error("unknown option " + a);
    if (i + 1 >= args.size()) return usage_error(a + " needs a value");
    const std::string& value = args[++i];
    if (a == "--socket") {
      options.socket = value;
    } else {
      int64_t seconds = -1;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (ec != std::errc() || end != value.data() + value.size() || seconds < 0 || seconds > 86400) {
        return usage_error("--timeout takes seconds in 0..86400, got \"" + value + "\"");
      }
      options.timeout = std::chrono::seconds(seconds);
    }
  }
  if (i >= args.size()) return usage_error("no command given");
  const std::map<std::string, int (*)(const GlobalOptions&, const std::vector<std::string>&)> commands = {
      {"compile", cmd_compile}, {"warmup", cmd_warmup}, {"run", cmd_run}, {"stats", cmd_stats}, {"hello", cmd_hello}, {"shutdown", cmd_shutdown}};
  auto command = commands.find(args[i]);
  if (command == commands.end()) return usage_error("unknown command \"" + args[i] + "\"");
  return command->second(options, std::vector<std::string>(args.begin() + static_cast<long>(i) + 1, args.end()));
}
