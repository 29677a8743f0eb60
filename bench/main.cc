// tpjit-bench: measured comparisons of generated kernels against vendor libraries.
//   tpjit-bench gemm [--shapes MxNxK,...] [--variants a,b] [--iters N] [--warmup N] [--json FILE]
#include <cstdio>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>

#include "bench/gemm_bench.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: tpjit-bench gemm [--shapes MxNxK,...] [--variants NAME,...] [--iters N]\n"
               "                        [--warmup N] [--json FILE]\n");
  return 2;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);)
    if (!part.empty()) out.push_back(part);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tpjit::bench;
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
        for (const std::string& t : split(val, ',')) {
          const std::vector<std::string> d = split(t, 'x');
          if (d.size() != 3) return usage();
          opts.shapes.push_back({std::stoll(d[0]), std::stoll(d[1]), std::stoll(d[2]), ""});
        }
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
