// tpjit-bench: measured comparisons of generated kernels against vendor libraries.
//   tpjit-bench gemm [--shapes MxNxK,...] [--variants a,b] [--iters N] [--warmup N] [--json FILE]
//   tpjit-bench overlap [--m LIST] [--layers qkv,o,gate_up,down] [--chunks LIST] [--iters N]
//                       [--sm-reserve LIST] [--warmup N] [--nccl-ctas N] [--json FILE]
//                       [--cache-dir DIR]
//   tpjit-bench tune [--cache-dir DIR] [--shapes MxNxK,...] [--scale tensor|row|block]
//                    [--iters N] [--force]
//   tpjit-bench hooks [--layers o,down] [--m LIST] [--chunks LIST] [--iters N] [--warmup N]
//                     [--json FILE]
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "bench/flags.h"
#include "bench/gemm_bench.h"
#include "bench/hooks_bench.h"
#include "bench/overlap_bench.h"
#include "bench/tune_bench.h"

namespace tpjit::bench {
namespace {

constexpr const char* kGemmUsage =
    "usage: tpjit-bench gemm [--shapes MxNxK,...] [--variants NAME,...] [--iters N]\n"
    "                        [--warmup N] [--json FILE]\n";
constexpr const char* kTuneUsage =
    "       tpjit-bench tune [--cache-dir DIR] [--shapes MxNxK,...]\n"
    "                        [--scale tensor|row|block] [--iters N] [--force]\n";
constexpr const char* kOverlapUsage =
    "       tpjit-bench overlap [--m LIST] [--layers qkv,o,gate_up,down] [--chunks LIST]\n"
    "                           [--sm-reserve LIST] [--transports nccl,ce,ce_chunked]\n"
    "                           [--iters N] [--warmup N] [--nccl-ctas N] [--json FILE]\n"
    "                           [--cache-dir DIR] [--trace]\n";
constexpr const char* kHooksUsage =
    "       tpjit-bench hooks [--layers o,down] [--m LIST] [--chunks LIST] [--iters N]\n"
    "                         [--warmup N] [--json FILE]\n";

// The usage on `out`; the exit code: 0 when it was asked for (stdout), 2 after a mistake.
int usage(FILE* out = stderr) {
  std::fprintf(out, "%s%s%s%s", kGemmUsage, kTuneUsage, kOverlapUsage, kHooksUsage);
  return out == stdout ? 0 : 2;
}

// Reads the subcommand's flags: -1 to go on; else the exit code after printing the usage
// (0 for --help, on stdout; 2 for a bad flag, after the error naming it).
int read_flags(const char* command, int argc, char** argv, const std::vector<Flag>& flags) {
  for (int i = 2; i < argc; ++i)
    if (std::strcmp(argv[i], "--help") == 0) return usage(stdout);
  const Status parsed = parse_flags(argc, argv, 2, flags);
  if (parsed.ok()) return -1;
  std::fprintf(stderr, "tpjit-bench %s: %s\n", command, parsed.error().message.c_str());
  return usage();
}

// The subcommand's exit code; an exception that escapes it is reported and gives 1.
int run_reporting(const char* command, const std::function<int()>& run) {
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tpjit-bench %s: %s\n", command, e.what());
    return 1;
  }
}

int gemm_main(int argc, char** argv) {
  GemmBenchOptions opts;
  const std::vector<Flag> flags = {
      shapes_flag("--shapes", &opts.shapes),
      name_list_flag("--variants", &opts.variants), int_flag("--iters", &opts.iters, 1),
      int_flag("--warmup", &opts.warmup, 0), text_flag("--json", &opts.json_path)};
  if (int rc = read_flags("gemm", argc, argv, flags); rc >= 0) return rc;
  return run_reporting("gemm", [&] { return run_gemm_bench(opts); });
}

int tune_main(int argc, char** argv) {
  TuneOptions opts;
  // --scale is checked by run_tune, which turns it into a scale mode.
  const std::vector<Flag> flags = {
      text_flag("--cache-dir", &opts.cache_dir), shapes_flag("--shapes", &opts.shapes),
      text_flag("--scale", &opts.scale), int_flag("--iters", &opts.iters, 1),
      switch_flag("--force", &opts.force)};
  if (int rc = read_flags("tune", argc, argv, flags); rc >= 0) return rc;
  return run_reporting("tune", [&] { return run_tune(opts); });
}

int overlap_main(int argc, char** argv) {
  OverlapBenchOptions opts;
  const std::vector<std::string> every_layer = opts.layers;  // the default is every layer
  const std::vector<Flag> flags = {
      int64_list_flag("--m", &opts.ms, 1),
      name_list_flag("--layers", &opts.layers, every_layer),
      int_list_flag("--chunks", &opts.chunks, 1),
      int_list_flag("--sm-reserve", &opts.sm_reserves, 0),
      name_list_flag("--transports", &opts.transports, {"nccl", "ce", "ce_chunked"}),
      int_flag("--iters", &opts.iters, 1), int_flag("--warmup", &opts.warmup, 0),
      int_flag("--nccl-ctas", &opts.nccl_max_ctas, 0),
      text_flag("--json", &opts.json_path),
      text_flag("--cache-dir", &opts.cache_dir), switch_flag("--trace", &opts.trace)};
  if (int rc = read_flags("overlap", argc, argv, flags); rc >= 0) return rc;
  return run_reporting("overlap", [&] { return run_overlap_bench(opts); });
}

int hooks_main(int argc, char** argv) {
  HooksBenchOptions opts;
  const std::vector<std::string> every_layer = opts.layers;
  const std::vector<Flag> flags = {
      name_list_flag("--layers", &opts.layers, every_layer), int64_list_flag("--m", &opts.ms, 2),
      int_list_flag("--chunks", &opts.chunks, 1), int_flag("--iters", &opts.iters, 1),
      int_flag("--warmup", &opts.warmup, 0), text_flag("--json", &opts.json_path)};
  if (int rc = read_flags("hooks", argc, argv, flags); rc >= 0) return rc;
  return run_reporting("hooks", [&] { return run_hooks_bench(opts); });
}

}  // namespace
}  // namespace tpjit::bench

int main(int argc, char** argv) {
  using namespace tpjit::bench;
  const std::string command = argc >= 2 ? argv[1] : "";
  if (command == "gemm") return gemm_main(argc, argv);
  if (command == "tune") return tune_main(argc, argv);
  if (command == "overlap") return overlap_main(argc, argv);
  if (command == "hooks") return hooks_main(argc, argv);
  if (command == "--help" || command == "help") return usage(stdout);
  return usage();
}
