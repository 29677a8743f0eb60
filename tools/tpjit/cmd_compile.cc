// tpjit compile GRAPH.json --m 128,2048 [--arch sm_90a,sm_100a] [--json]
#include <cstdio>
#include <fstream>
#include <optional>
#include <iostream>
#include <sstream>

#include "ipc/frame.h"
#include "ipc/json.h"
#include "tools/tpjit/cli.h"

namespace tpjit::cli {

// Reads a graph file ("-" for stdin), refusing anything the daemon could not take anyway.
Result<nlohmann::json> read_graph(const std::string& path) {
  std::stringstream contents;
  if (path == "-") {
    contents << std::cin.rdbuf();
  } else {
    std::ifstream file(path, std::ios::binary);
    if (!file) return make_error(errc::kBadGraph, "cannot open graph file " + path, path);
    contents << file.rdbuf();
  }
  std::string text = contents.str();
  if (text.size() > ipc::kDefaultMaxFrameBytes) {
    return make_error(errc::kLimitExceeded, "graph file is " + std::to_string(text.size()) +
                                                " bytes; the daemon takes messages up to 16 MiB", path);
  }
  auto graph = ipc::parse_json(text);
  if (!graph) return make_error(graph.error().code, graph.error().message, path);
  return graph;
}

int cmd_compile(const GlobalOptions& options, const std::vector<std::string>& args) {
  std::string graph_path;
  TargetOptions target;
  bool as_json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string error;
    if (take_target_option(args, i, target, &error)) {
      if (!error.empty()) return usage_error(error);
    } else if (a == "--json") {
      as_json = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return usage_error("compile: unknown option " + a);
    } else if (graph_path.empty()) {
      graph_path = a;
    } else {
      return usage_error("compile takes one graph file; got also \"" + a + "\"");
    }
  }
  if (graph_path.empty()) return usage_error("compile needs a graph file: tpjit compile GRAPH.json --m 128,2048");
  const auto& m = target.m;
  const auto& archs = target.archs;
  if (!m) return usage_error("compile needs --m, the token counts to compile for, e.g. --m 128,2048");

  auto graph = read_graph(graph_path);
  if (!graph) return print_error(graph.error());
  nlohmann::json body = {{"graph", std::move(*graph)}, {"m", *m}};
  if (archs) body["archs"] = *archs;

  auto client = connect(options);
  if (!client) return print_error(client.error());
  auto plan = client->call("compile", body);
  if (!plan) return print_error(plan.error());
  if (as_json) {
    std::printf("%s\n", ipc::dump_json(*plan).c_str());
  } else {
    std::fputs(format_plan(*plan).c_str(), stdout);
  }
  return kExitOk;
}

}  // namespace tpjit::cli
