// tpjit run GRAPH.json --m M [--seed S | --inputs DIR] [--outputs DIR] [--check] [--iters N]
//           [--chunks C] [--execution plan|fused|unfused|unfused_cublaslt] [--json]
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "ipc/json.h"
#include "tools/tpjit/cli.h"

namespace tpjit::cli {
namespace {

bool parse_count(const std::string& text, int64_t low, int64_t high, int64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && *out >= low && *out <= high;
}

std::string format_run(const nlohmann::json& r) {
  std::string s = "graph " + r.value("graph", "?") + "  M=" + std::to_string(r.value("m", 0)) +
                  "  world " + std::to_string(r.value("world_size", 0)) + "  " + r.value("arch", "?") + "\n";
  for (const auto& d : r.value("devices", nlohmann::json::array())) s += "  device: " + d.get<std::string>() + "\n";
  for (const auto& g : r.value("regions", nlohmann::json::array())) {
    char line[256];
    std::snprintf(line, sizeof line, "region %d %-20s ", g.value("id", -1), g.value("kind", "?").c_str());
    s += line;
    if (!g.value("executed", false)) {
      s += "not executed (unfused): " + g.value("reason", "") + "\n";
      continue;
    }
    std::snprintf(line, sizeof line, "%-7s %.3f ms median of %d", g.value("execution", "fused").c_str(),
                  g.value("ms_median", 0.0), g.value("iters", 0));
    s += line;
    s += "\n";
    if (!g.contains("check")) continue;
    const auto& c = g["check"];
    auto number = [](const nlohmann::json& v) { return v.is_number() ? v.get<double>() : NAN; };
    const nlohmann::json none, rel = c.value("rel_error", nlohmann::json::object()),
                               f64 = c.value("rel_error_vs_float64", nlohmann::json::object()),
                               bound = c.value("bound", nlohmann::json::object());
    for (auto& [name, v] : rel.items()) {
      std::snprintf(line, sizeof line, "  check %s: vs unfused %.3g, vs float64 %.3g (bound %.0e)\n",
                    name.c_str(), number(v), number(f64.value(name, none)),
                    number(bound.value(name, none)));
      s += line;
    }
    s += c.value("ok", false) ? "  check ok\n" : "  check FAILED\n";
    if (c.contains("float64_skipped")) s += "  float64 check skipped: " + c["float64_skipped"].get<std::string>() + "\n";
  }
  return s;
}

}  // namespace

int cmd_run(const GlobalOptions& options, const std::vector<std::string>& args) {
  std::string graph_path;
  nlohmann::json body = nlohmann::json::object();
  bool as_json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") { as_json = true; continue; }
    if (a == "--check") { body["check"] = true; continue; }
    if (a == "--execution") {
      if (i + 1 >= args.size()) return usage_error("--execution needs plan, fused, unfused or unfused_cublaslt");
      const std::string& v = args[++i];
      if (v != "plan" && v != "fused" && v != "unfused" && v != "unfused_cublaslt")
        return usage_error("--execution takes plan, fused, unfused or unfused_cublaslt, got \"" + v + "\"");
      body["execution"] = v;
      continue;
    }
    if (a == "--m" || a == "--seed" || a == "--iters" || a == "--chunks" || a == "--inputs" || a == "--outputs") {
      if (i + 1 >= args.size()) return usage_error(a + " needs a value");
      const std::string& v = args[++i];
      if (a == "--inputs" || a == "--outputs") {
        body[a.substr(2)] = std::filesystem::absolute(v).string();
        continue;
      }
      int64_t n = 0;
      const int64_t high = a == "--iters" ? 10000 : a == "--chunks" ? 64 : int64_t{1} << 40;
      if (!parse_count(v, a == "--m" || a == "--chunks" ? 1 : 0, high, &n))
        return usage_error(a + " takes an integer in range, got \"" + v + "\"");
      if (a == "--seed") body["seed"] = static_cast<uint64_t>(n);
      else body[a.substr(2)] = n;
    } else if (a.size() > 1 && a[0] == '-') {
      return usage_error("run: unknown option " + a);
    } else if (graph_path.empty()) {
      graph_path = a;
    } else {
      return usage_error("run takes one graph file; got also \"" + a + "\"");
    }
  }
  if (graph_path.empty()) return usage_error("run needs a graph file: tpjit run GRAPH.json --m 4096");
  if (!body.contains("m")) return usage_error("run needs --m, the token count");
  if (body.contains("seed") && body.contains("inputs")) return usage_error("give --seed or --inputs, not both");
  auto graph = read_graph(graph_path);
  if (!graph) return print_error(graph.error());
  body["graph"] = std::move(*graph);
  auto client = connect(options);
  if (!client) return print_error(client.error());
  auto reply = client->call("run", body);
  if (!reply) return print_error(reply.error());
  if (as_json) std::printf("%s\n", ipc::dump_json(*reply).c_str());
  else std::fputs(format_run(*reply).c_str(), stdout);
  // A check out of bounds is a failure for scripts too.
  for (const auto& g : reply->value("regions", nlohmann::json::array()))
    if (g.contains("check") && !g["check"].value("ok", false)) return kExitError;
  return kExitOk;
}

}  // namespace tpjit::cli
