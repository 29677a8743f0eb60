// tpjitd: parse the command line, build the compile service, serve until told to stop.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "daemon/options.h"
#include "daemon/run_service.h"
#include "daemon/server.h"
#include "daemon/service.h"
#include "util/log.h"

int main(int argc, char** argv) {
  using namespace tpjit;
  auto options = daemon::parse_daemon_args(std::vector<std::string>(argv + 1, argv + argc));
  if (!options) {
    std::fprintf(stderr, "tpjitd: %s\nrun 'tpjitd --help' for usage\n", options.error().message.c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(daemon::daemon_usage().c_str(), stdout);
    return 0;
  }
  const DaemonConfig& config = options->config;
  set_log_level(config.log_level);
  // A client that hangs up mid-reply must cost an EPIPE, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    std::unique_ptr<RequestHandler> compile = make_compile_service(config);
    std::unique_ptr<RequestHandler> service = make_run_service(config, options->workers, *compile);
    auto server = daemon::Server::create(config, *service);
    if (!server) {
      const Error& e = server.error();
      std::fprintf(stderr, "tpjitd: error [%s]: %s\n", e.code.c_str(), e.message.c_str());
      return 1;
    }
    if (!(*server)->run()) {
      // Requests outlived the drain timeout. Destructors would wait for them; leave now.
      logger("daemon")->warn("exiting with requests still running");
      std::_Exit(0);
    }
    logger("daemon")->info("stopped");
    return 0;
  } catch (const std::exception& e) {
    logger("daemon")->critical("fatal: {}", e.what());
    return 1;
  }
}
