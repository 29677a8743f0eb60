// tpjit warmup GRAPH.json [GRAPH.json ...] --m 1,16,128,2048 [--arch sm_90a,sm_100a]
//              [--jobs N] [--json]
// Puts every kernel the graphs need at those token counts into the daemon's cache: one
// "warmup" request per graph and token count, up to --jobs of them in flight on one
// connection (the daemon compiles them side by side), with progress on stderr (a bar on a
// terminal, a line per finished step elsewhere). A step that fails is reported and the rest
// still run.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <optional>

#include "ipc/codes.h"
#include "ipc/json.h"
#include "tools/tpjit/cli.h"

namespace tpjit::cli {
namespace {

using nlohmann::json;

constexpr int kDefaultJobs = 4;
constexpr int kMaxJobs = 32;  // the daemon's default in-flight cap per connection

struct Step {
  std::string path;
  int64_t m = 0;
  const json* graph = nullptr;
};

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

// Progress and results as steps finish, in whatever order the daemon answers.
class Progress {
 public:
  Progress(size_t total, bool terminal) : total_(total), terminal_(terminal) {}

  void failed(const std::string& path, const json& m, const Error& e) {
    ++totals_.failed;
    clear_bar();
    std::fprintf(stderr, "%s%s: ", path.c_str(), m.is_null() ? "" : (" m=" + m.dump()).c_str());
    print_error(e);
    add({{"file", path}, {"m", m}, {"error", e.code}, {"message", e.message}, {"where", e.where}});
  }

  void finished(const Step& step, json summary) {
    totals_.kernels += summary.value("kernels", int64_t{0});
    totals_.compiled += summary.value("compiled", int64_t{0});
    totals_.hits += summary.value("cache_hits", int64_t{0});
    totals_.compile_ms += summary.value("compile_ms_total", 0.0);
    summary["file"] = step.path;
    clear_bar();
    if (!terminal_)
      std::fprintf(stderr, "[%zu/%zu] %s m=%lld: %s\n", done_ + 1, total_, step.path.c_str(),
                   static_cast<long long>(step.m), step_text(summary).c_str());
    add(std::move(summary));
  }

  // A graph file that could not be read: its steps are done, with one error.
  void skipped(size_t steps) { done_ += steps - 1; }

  const Totals& totals() const { return totals_; }
  const json& report() const { return report_; }
  void end() { clear_bar(); }

 private:
  void add(json entry) {
    report_.push_back(std::move(entry));
    ++done_;
    if (terminal_) std::fprintf(stderr, "%s %zu/%zu", bar(done_, total_).c_str(), done_, total_);
    std::fflush(stderr);
  }
  void clear_bar() {
    if (terminal_) std::fputs("\r\033[K", stderr);
  }

  size_t total_, done_ = 0;
  bool terminal_;
  Totals totals_;
  json report_ = json::array();
};

}  // namespace

int cmd_warmup(const GlobalOptions& options, const std::vector<std::string>& args) {
  std::vector<std::string> graph_paths;
  TargetOptions target;
  int jobs = kDefaultJobs;
  bool as_json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string error;
    if (take_target_option(args, i, target, &error)) {
      if (!error.empty()) return usage_error(error);
    } else if (a == "--json") {
      as_json = true;
    } else if (a == "--jobs") {
      if (i + 1 >= args.size()) return usage_error(a + " needs a value");
      const std::string& value = args[++i];
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), jobs);
      if (ec != std::errc() || end != value.data() + value.size() || jobs < 1 || jobs > kMaxJobs)
        return usage_error("--jobs takes 1.." + std::to_string(kMaxJobs) + ", got \"" + value + "\"");
    } else if (a.size() > 1 && a[0] == '-') {
      return usage_error("warmup: unknown option " + a);
    } else {
      graph_paths.push_back(a);
    }
  }
  if (graph_paths.empty())
    return usage_error("warmup needs graph files: tpjit warmup GRAPH.json [GRAPH.json ...] --m 1,128,2048");
  const auto& m = target.m;
  const auto& archs = target.archs;
  if (!m) return usage_error("warmup needs --m, the token counts to serve, e.g. --m 1,16,128,2048");

  auto client = connect(options);
  if (!client) return print_error(client.error());
  Progress progress(graph_paths.size() * m->size(), ::isatty(STDERR_FILENO) == 1);
  std::vector<json> graphs;
  graphs.reserve(graph_paths.size());  // steps point into it
  std::vector<Step> steps;
  for (const std::string& path : graph_paths) {
    auto graph = read_graph(path);
    if (!graph) {
      progress.failed(path, nullptr, graph.error());
      progress.skipped(m->size());
      continue;
    }
    graphs.push_back(std::move(*graph));
    for (int64_t tokens : *m) steps.push_back({path, tokens, &graphs.back()});
  }

  // A sliding window of requests; the request id is the step's index.
  std::map<size_t, const Step*> in_flight;
  size_t next = 0;
  std::optional<Error> lost;  // the connection failed: every step not answered fails with it
  while (!lost && (next < steps.size() || !in_flight.empty())) {
    while (!lost && next < steps.size() && in_flight.size() < static_cast<size_t>(jobs)) {
      json body = {{"graph", *steps[next].graph}, {"m", {steps[next].m}}};
      if (archs) body["archs"] = *archs;
      if (Status s = client->send_request(next, "warmup", body); !s.ok()) {
        lost = s.error();  // this step and the rest fail below
        break;
      }
      in_flight[next] = &steps[next];
      ++next;
    }
    if (lost || in_flight.empty()) break;
    Result<ipc::Reply> reply = client->receive();
    if (!reply) {
      lost = reply.error();
      break;
    }
    const size_t id = reply->id.is_number_unsigned() ? reply->id.get<size_t>() : steps.size();
    auto it = in_flight.find(id);
    if (it == in_flight.end()) {
      lost = make_error(errc::kBadReply, "the daemon answered request id " + reply->id.dump() +
                                             ", which is not in flight", "id");
      break;
    }
    const Step& step = *it->second;
    in_flight.erase(it);
    if (reply->result) progress.finished(step, std::move(*reply->result));
    else progress.failed(step.path, step.m, reply->result.error());
  }
  if (lost) {
    for (const auto& [id, step] : in_flight) progress.failed(step->path, step->m, *lost);
    for (; next < steps.size(); ++next) progress.failed(steps[next].path, steps[next].m, *lost);
  }
  progress.end();

  const Totals& t = progress.totals();
  if (as_json) {
    std::printf("%s\n", ipc::dump_json(progress.report()).c_str());
  } else {
    std::printf("warmup: %zu graph(s) x %zu token count(s): %lld kernel(s), %lld compiled, %lld "
                "from the cache, %.1f ms in the daemon; %lld step(s) failed\n",
                graph_paths.size(), m->size(), static_cast<long long>(t.kernels),
                static_cast<long long>(t.compiled), static_cast<long long>(t.hits),
                t.compile_ms, static_cast<long long>(t.failed));
  }
  return t.failed ? kExitError : kExitOk;
}

}  // namespace tpjit::cli
