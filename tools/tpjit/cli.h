// Shared pieces of the tpjit command line: global options, connecting, printing errors, and
// rendering replies for people. Each subcommand lives in its own cmd_*.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client.h"
#include "util/result.h"

namespace tpjit::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

struct GlobalOptions {
  std::filesystem::path socket;
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};  // 0: wait for ever
};

// Prints "error [code] at WHERE: message" (no " at WHERE" when where is empty) to stderr.
int print_error(const Error& error);
// Prints "tpjit: MESSAGE" and a pointer to --help to stderr; returns kExitUsage.
int usage_error(const std::string& message);

Result<client::Client> connect(const GlobalOptions& options);

// "128,2048" -> {128, 2048}: positive integers, comma-separated, no empties.
Result<std::vector<int64_t>> parse_int_list(const std::string& option, const std::string& text);
// "sm_90a,sm_100a" -> {"sm_90a", "sm_100a"}.
Result<std::vector<std::string>> parse_word_list(const std::string& option, const std::string& text);

// --m LIST and --arch LIST, as compile and warmup take them.
struct TargetOptions {
  std::optional<std::vector<int64_t>> m;
  std::optional<std::vector<std::string>> archs;
};
// If args[i] is --m or --arch: reads its value (advancing i) into `out` and returns true,
// with a usage message in *error when the value is missing or malformed. Else false.
bool take_target_option(const std::vector<std::string>& args, size_t& i, TargetOptions& out,
                        std::string* error);

// Human renderings of reply bodies; tolerate missing fields (printed as "?").
std::string format_plan(const nlohmann::json& plan);
std::string format_stats(const nlohmann::json& stats);
std::string format_hello(const nlohmann::json& hello);

// A graph file ("-" for stdin) as JSON, refused when over the daemon's frame cap.
Result<nlohmann::json> read_graph(const std::string& path);

int cmd_run(const GlobalOptions& options, const std::vector<std::string>& args);
int cmd_compile(const GlobalOptions& options, const std::vector<std::string>& args);
int cmd_warmup(const GlobalOptions& options, const std::vector<std::string>& args);
int cmd_stats(const GlobalOptions& options, const std::vector<std::string>& args);
int cmd_hello(const GlobalOptions& options, const std::vector<std::string>& args);
int cmd_shutdown(const GlobalOptions& options, const std::vector<std::string>& args);

}  // namespace tpjit::cli
