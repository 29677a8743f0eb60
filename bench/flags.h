// Command-line flags of the tpjit-bench subcommands: `--name VALUE` options and bare switches.
// Each value is checked as it is read, so a bad one is reported naming its flag and what it
// expects (`--iters expects an integer >= 1, got "x"`) instead of a bare usage line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/gemm_bench.h"
#include "util/result.h"

namespace tpjit::bench {

struct Flag {
  std::string name;     // "--iters"
  std::string expects;  // "an integer >= 1"; empty: a switch, which takes no value
  // Stores the value (a switch gets ""); false if the value is not what `expects` says.
  std::function<bool(const std::string& value)> set;
};

// An integer >= min.
Flag int_flag(std::string name, int* out, int min);
// A comma-separated, non-empty list of integers >= min; replaces the default.
Flag int_list_flag(std::string name, std::vector<int>* out, int min);
Flag int64_list_flag(std::string name, std::vector<int64_t>* out, int64_t min);
// Any text (a path, a name).
Flag text_flag(std::string name, std::string* out);
// A comma-separated, non-empty list of names, each one of `allowed` unless it is empty;
// replaces the default.
Flag name_list_flag(std::string name, std::vector<std::string>* out,
                    std::vector<std::string> allowed = {});
// "MxNxK,..." with positive sizes; repeats add to the list.
Flag shapes_flag(std::string name, std::vector<GemmShape>* out);
// A bare switch that sets *out.
Flag switch_flag(std::string name, bool* out);

// Reads argv[first..] against flags; the error (code bad_request, where = the flag) says
// which flag or argument is wrong and what it expects.
Status parse_flags(int argc, char** argv, int first, const std::vector<Flag>& flags);

}  // namespace tpjit::bench
