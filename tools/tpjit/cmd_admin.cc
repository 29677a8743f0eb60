// tpjit hello | stats [--json] | shutdown: small requests the server answers itself.
#include <cstdio>

#include "ipc/json.h"
#include "tools/tpjit/cli.h"

namespace tpjit::cli {
namespace {

// Parses an optional --json flag and nothing else.
Result<bool> json_flag(const std::string& command, const std::vector<std::string>& args) {
  bool as_json = false;
  for (const auto& a : args) {
    if (a != "--json") return make_error(errc::kBadRequest, command + ": unexpected argument " + a, a);
    as_json = true;
  }
  return as_json;
}

int simple_call(const GlobalOptions& options, const std::string& type, const std::vector<std::string>& args,
                std::string (*format)(const nlohmann::json&)) {
  auto as_json = json_flag(type, args);
  if (!as_json) return usage_error(as_json.error().message);
  auto client = connect(options);
  if (!client) return print_error(client.error());
  auto body = type == "hello" ? client->hello() : client->call(type, nlohmann::json::object());
  if (!body) return print_error(body.error());
  if (*as_json) {
    std::printf("%s\n", ipc::dump_json(*body).c_str());
  } else {
    std::fputs(format(*body).c_str(), stdout);
  }
  return kExitOk;
}

std::string format_shutdown(const nlohmann::json& body) {
  auto it = body.find("draining");
  return "tpjitd is shutting down" +
         (it != body.end() && it->is_number() ? " (" + it->dump() + " request(s) finishing)" : std::string()) +
         "\n";
}

}  // namespace

int cmd_hello(const GlobalOptions& options, const std::vector<std::string>& args) {
  return simple_call(options, "hello", args, format_hello);
}

int cmd_stats(const GlobalOptions& options, const std::vector<std::string>& args) {
  return simple_call(options, "stats", args, format_stats);
}

int cmd_shutdown(const GlobalOptions& options, const std::vector<std::string>& args) {
  return simple_call(options, "shutdown", args, format_shutdown);
}

}  // namespace tpjit::cli
