// tpjit warmup GRAPH.json [GRAPH.json ...] --m 1,16,128,2048 [--arch sm_90a,sm_100a] [--json]
// Puts every kernel the graphs need at those token counts into the daemon's cache, one
// "warmup" request per graph and token count, with progress on stderr (a bar on a terminal,
// a line per step elsewhere). A graph that fails is reported and the rest still run.
#include <unistd.h>

#include <cstdio>
#include <optional>

#include "ipc/json.h"
#include "tools/tpjit/cli.h"

namespace tpjit::cli {
namespace {

using nlohmann::json;

struct Totals {
  int64_t kernels = 0, compiled = 0, hits = 0, failed = 0;
  double compile_ms = 0;
};

std::string bar(size_t done, size_t total) {
  constexpr size_t kWidth = 24;
  const size_t filled = total ? done * kWidth / total : kWidth;
  return "[" + std::string(filled, '#') + std::string(kWidth - filled, '-') + "]";
}

std::string step_text(const json& s) {
  char line[256];
  std::snprintf(line, sizeof line, "%lld kernel(s): %lld compiled, %lld from the cache, %.1f ms",
                static_cast<long long>(s.value("kernels", int64_t{0})),
                static_cast<long long>(s.value("compiled", int64_t{0})),
                static_cast<long long>(s.value("cache_hits", int64_t{0})),
                s.value("compile_ms_total", 0.0));
  return line;
}

}  // namespace

int cmd_warmup(const GlobalOptions& options, const std::vector<std::string>& args) {
  std::vector<std::string> graph_paths;
  std::optional<std::vector<int64_t>> m;
  std::optional<std::vector<std::string>> archs;
  bool as_json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      as_json = true;
    } else if (a == "--m" || a == "--arch") {
      if (i + 1 >= args.size()) return usage_error(a + " needs a value");
      const std::string& value = args[++i];
      if (a == "--m") {
        auto list = parse_int_list(a, value);
        if (!list) return usage_error(list.error().message);
        m = *list;
      } else {
        auto list = parse_word_list(a, value);
        if (!list) return usage_error(list.error().message);
        archs = *list;
      }
    } else if (a.size() > 1 && a[0] == '-') {
      return usage_error("warmup: unknown option " + a);
    } else {
      graph_paths.push_back(a);
    }
  }
  if (graph_paths.empty())
    return usage_error("warmup needs graph files: tpjit warmup GRAPH.json [GRAPH.json ...] --m 1,128,2048");
  if (!m) return usage_error("warmup needs --m, the token counts to serve, e.g. --m 1,16,128,2048");

  auto client = connect(options);
  if (!client) return print_error(client.error());
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  const size_t steps = graph_paths.size() * m->size();
  size_t done = 0;
  Totals totals;
  json report = json::array();
  auto failed = [&](const std::string& path, const json& tokens, const Error& e) {
    ++totals.failed;
    std::fprintf(stderr, "%s%s: ", path.c_str(), tokens.is_null() ? "" : (" m=" + tokens.dump()).c_str());
    print_error(e);
    report.push_back({{"file", path}, {"m", tokens}, {"error", e.code}, {"message", e.message},
                      {"where", e.where}});
  };
  for (const std::string& path : graph_paths) {
    auto graph = read_graph(path);
    if (!graph) {  // one error for the file; its steps count as done
      if (terminal) std::fputs("\r\033[K", stderr);
      failed(path, nullptr, graph.error());
      done += m->size();
      continue;
    }
    for (int64_t tokens : *m) {
      ++done;
      const std::string what = path + " m=" + std::to_string(tokens);
      json body = {{"graph", *graph}, {"m", {tokens}}};
      if (archs) body["archs"] = *archs;
      Result<json> summary = client->call("warmup", body);
      if (terminal) std::fputs("\r\033[K", stderr);  // clear the bar before any line
      if (!summary) {
        failed(path, tokens, summary.error());
      } else {
        totals.kernels += summary->value("kernels", int64_t{0});
        totals.compiled += summary->value("compiled", int64_t{0});
        totals.hits += summary->value("cache_hits", int64_t{0});
        totals.compile_ms += summary->value("compile_ms_total", 0.0);
        (*summary)["file"] = path;
        report.push_back(*summary);
        if (!terminal)
          std::fprintf(stderr, "[%zu/%zu] %s: %s\n", done, steps, what.c_str(), step_text(*summary).c_str());
      }
      if (terminal) std::fprintf(stderr, "%s %zu/%zu %s", bar(done, steps).c_str(), done, steps, what.c_str());
      std::fflush(stderr);
    }
  }
  if (terminal) std::fputs("\r\033[K", stderr);
  if (as_json) {
    std::printf("%s\n", ipc::dump_json(report).c_str());
  } else {
    std::printf("warmup: %zu graph(s) x %zu token count(s): %lld kernel(s), %lld compiled, %lld "
                "from the cache, %.1f ms in the daemon; %lld step(s) failed\n",
                graph_paths.size(), m->size(), static_cast<long long>(totals.kernels),
                static_cast<long long>(totals.compiled), static_cast<long long>(totals.hits),
                totals.compile_ms, static_cast<long long>(totals.failed));
  }
  return totals.failed ? kExitError : kExitOk;
}

}  // namespace tpjit::cli
