// One spdlog logger per subsystem ("ipc", "graph", "fusion", "codegen", "cache", "daemon",
// "runtime"), all writing to stderr at one level set by set_log_level(). Cheap when off.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace tpjit {

// The logger for a subsystem, created on first use.
std::shared_ptr<spdlog::logger> logger(const std::string& subsystem);

// "trace", "debug", "info", "warn", "error", "off"; false if the name is unknown.
bool set_log_level(const std::string& level);

}  // namespace tpjit
