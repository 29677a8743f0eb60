// tpjit-bench: measured comparisons of generated kernels against vendor libraries.
//   tpjit-bench gemm [--shapes MxNxK,...] [--variants a,b] [--iters N] [--warmup N] [--json FILE]
//   tpjit-bench overlap [--m LIST] [--layers qkv,o,gate_up,down] [--chunks LIST] [--iters N]
//                       [--sm-reserve LIST] [--warmup N] [--nccl-ctas N] [--json FILE]
//                       [--cache-dir DIR]
//   tpjit-bench tune [--cache-dir DIR] [--shapes MxNxK,...] [--scale tensor|row|block]
//                    [--iters N] [--force]
#include <cstdio>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>

#include "bench/gemm_bench.h"
#include "bench/overlap_bench.h"
#include "bench/tune_bench.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: tpjit-bench gemm [--shapes MxNxK,...] [--variants NAME,...] [--iters N]\n"
               "                        [--warmup N] [--json FILE]\n"
               "       tpjit-bench tune [--cache-dir DIR] [--shapes MxNxK,...]\n"
               "                        [--scale tensor|row|block] [--iters N] [--force]\n"
               "       tpjit-bench overlap [--m LIST] [--layers qkv,o,gate_up,down] [--chunks LIST]\n"
               "                           [--sm-reserve LIST] [--iters N] [--warmup N]\n"
               "                           [--nccl-ctas N] [--json FILE] [--cache-dir DIR]\n");
  return 2;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);)
    if (!part.empty()) out.push_back(part);
  return out;
}

// "MxNxK,..." into shapes; false if a shape is malformed.
bool parse_shapes(const std::string& val, std::vector<tpjit::bench::GemmShape>* out) {
  for (const std::string& t : split(val, ',')) {
    const std::vector<std::string> d = split(t, 'x');
    if (d.size() != 3) return false;
    out->push_back({std::stoll(d[0]), std::stoll(d[1]), std::stoll(d[2]), ""});
  }
  return true;
}

int tune_main(int argc, char** argv) {
  using namespace tpjit::bench;
  TuneOptions opts;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--force") {
      opts.force = true;
      continue;
    }
    if (i + 1 >= argc) return usage();
    const std::string val = argv[++i];
    try {
      if (arg == "--iters") opts.iters = std::stoi(val);
      else if (arg == "--cache-dir") opts.cache_dir = val;
      else if (arg == "--scale") opts.scale = val;
      else if (arg != "--shapes" || !parse_shapes(val, &opts.shapes)) return usage();
    } catch (const std::exception&) {
      return usage();
    }
  }
  if (opts.iters < 1) return usage();
  try {
    return run_tune(opts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tpjit-bench: %s\n", e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tpjit::bench;
  if (argc >= 2 && std::strcmp(argv[1], "tune") == 0) return tune_main(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "overlap") == 0) return overlap_main(argc, argv);
  if (argc < 2 || std::strcmp(argv[1], "gemm") != 0) return usage();
  GemmBenchOptions opts;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string val = argv[++i];
    try {
      if (arg == "--iters") opts.iters = std::stoi(val);
      else if (arg == "--warmup") opts.warmup = std::stoi(val);
      else if (arg == "--json") opts.json_path = val;
      else if (arg == "--variants") opts.variants = split(val, ',');
      else if (arg == "--shapes") {
        if (!parse_shapes(val, &opts.shapes)) return usage();
      } else {
        return usage();
      }
    } catch (const std::exception&) {
      return usage();
    }
  }
  if (opts.iters < 1 || opts.warmup < 0) return usage();
  try {
    return run_gemm_bench(opts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tpjit-bench: %s\n", e.what());
    return 1;
  }
}
