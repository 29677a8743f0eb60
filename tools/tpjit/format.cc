// Human renderings of reply bodies. The daemon's replies are trusted to be JSON objects, not
// to have every field: anything missing prints as "?".
#include <map>

#include <fmt/format.h>

#include "ipc/json.h"
#include "tools/tpjit/cli.h"

namespace tpjit::cli {
namespace {

using nlohmann::json;

std::string text(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "?";
  if (j.is_boolean()) return j.get<bool>() ? "yes" : "no";
  if (j.is_number_float()) return fmt::format("{:.1f}", j.get<double>());
  return ipc::dump_json(j);
}

std::string field(const json& object, const char* key) {
  if (!object.is_object()) return "?";
  auto it = object.find(key);
  return it == object.end() ? "?" : text(*it);
}

std::string join(const json& list, const char* separator = ",") {
  if (!list.is_array()) return text(list);
  std::string out;
  for (const auto& item : list) out += (out.empty() ? "" : separator) + text(item);
  return out;
}

const json& member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// The array itself, or an empty one: lets loops keep pointers into the reply.
const json& array_of(const json& j) {
  static const json kEmpty = json::array();
  return j.is_array() ? j : kEmpty;
}

double number(const json& object, const char* key) {
  const json& v = member(object, key);
  return v.is_number() ? v.get<double>() : 0.0;
}

std::string bytes(const json& v) {
  if (!v.is_number()) return "?";
  double b = v.get<double>();
  if (b >= 1 << 20) return fmt::format("{:.1f} MiB", b / (1 << 20));
  if (b >= 1 << 10) return fmt::format("{:.1f} KiB", b / (1 << 10));
  return fmt::format("{} B", text(v));
}

}  // namespace

std::string format_plan(const json& plan) {
  std::string out = fmt::format("plan for {} (world size {}), m {}, archs {}\n", field(plan, "graph"),
                                field(plan, "world_size"), join(member(plan, "m")), join(member(plan, "archs")));
  const json& regions = member(plan, "regions");
  const json& kernels = member(plan, "kernels");
  out += fmt::format("regions ({}):\n", regions.is_array() ? regions.size() : 0);
  for (const auto& r : array_of(regions)) {
    out += fmt::format("  #{} {}  {}  fused: {}", field(r, "id"), field(r, "kind"), field(r, "pattern"),
                       field(r, "fused"));
    if (member(r, "collective").is_string()) out += "  collective " + field(r, "collective");
    if (!member(r, "gemms").empty()) out += "  gemms " + join(member(r, "gemms"), ", ");
    out += "\n";
    if (member(r, "reason").is_string()) out += "      reason: " + field(r, "reason") + "\n";
  }
  // Kernels grouped by region and GEMM, in the order the daemon listed them.
  std::vector<std::pair<std::string, std::vector<const json*>>> groups;
  int hits = 0, misses = 0;
  for (const auto& k : array_of(kernels)) {
    std::string group = "region #" + field(k, "region") + " " + field(k, "gemm");
    if (groups.empty() || groups.back().first != group) groups.push_back({group, {}});
    groups.back().second.push_back(&k);
    (field(k, "cache") == "hit" ? hits : misses) += 1;
  }
  out += fmt::format("kernels ({}):\n", kernels.is_array() ? kernels.size() : 0);
  for (const auto& [group, list] : groups) {
    out += "  " + group + "\n";
    for (const json* k : list) {
      out += fmt::format("    {:<8} m={:<6} {:<4} {:>9} ms {:>10}  {}\n", field(*k, "arch"), field(*k, "m"),
                         field(*k, "cache"), fmt::format("{:.1f}", number(*k, "compile_ms")),
                         bytes(member(*k, "cubin_bytes")), field(*k, "name"));
    }
  }
  const json& counts = member(plan, "match_counts");
  if (counts.is_object() && !counts.empty()) {
    out += "match counts:\n";
    for (const auto& [pattern, count] : counts.items()) out += fmt::format("  {}  {}\n", pattern, text(count));
  }
  out += fmt::format("total: {} kernel(s), {} cache hit(s), {} miss(es), compile {:.1f} ms\n", hits + misses, hits,
                     misses, number(plan, "compile_ms_total"));
  return out;
}

std::string format_stats(const json& stats) {
  const json& s = member(stats, "server");
  std::string out = fmt::format("{}, up {:.1f} s, {} worker(s)\n", field(s, "version"), number(s, "uptime_s"),
                                field(s, "workers"));
  out += fmt::format("connections: {} open, {} total; requests in flight: {}\n", field(s, "connections_open"),
                     field(s, "connections_total"), field(s, "in_flight"));
  for (const char* section : {"requests", "errors"}) {
    std::string line;
    for (const auto& [name, count] : member(s, section).items()) {
      line += (line.empty() ? "" : ", ") + name + " " + text(count);
    }
    out += fmt::format("{}: {}\n", section, line.empty() ? "none" : line);
  }
  // The service's own sections (cache, compiles, matches...), one level deep.
  for (const auto& [key, value] : stats.items()) {
    if (key == "server") continue;
    if (!value.is_object()) {
      out += key + ": " + text(value) + "\n";
      continue;
    }
    out += key + ":\n";
    for (const auto& [name, v] : value.items()) out += "  " + name + ": " + text(v) + "\n";
  }
  return out;
}

std::string format_hello(const json& hello) {
  const json& caps = member(hello, "capabilities");
  std::string out = fmt::format("{}, protocol {}\n", field(hello, "server"), field(hello, "protocol"));
  for (const auto& [key, value] : caps.items()) out += key + ": " + join(value, ", ") + "\n";
  return out;
}

}  // namespace tpjit::cli
