#include "ipc/paths.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace tpjit::ipc {
namespace {

// The XDG spec says relative values are invalid and must be ignored.
std::optional<std::filesystem::path> absolute_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || value[0] != '/') return std::nullopt;
  return std::filesystem::path(value);
}

std::filesystem::path home_dir() {
  if (auto home = absolute_env("HOME")) return *home;
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(getuid(), &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr &&
      found->pw_dir != nullptr && found->pw_dir[0] == '/') {
    return found->pw_dir;
  }
  // No home at all (a bare service account): a per-user directory under /tmp still works.
  return "/tmp/tpjit-home-" + std::to_string(getuid());
}

}  // namespace

std::filesystem::path default_socket_path() {
  if (auto runtime = absolute_env("XDG_RUNTIME_DIR")) return *runtime / "tpjit" / "tpjitd.sock";
  return std::filesystem::path("/tmp/tpjit-" + std::to_string(getuid())) / "tpjitd.sock";
}

std::filesystem::path default_cache_dir() {
  if (auto cache = absolute_env("XDG_CACHE_HOME")) return *cache / "tpjit";
  return home_dir() / ".cache" / "tpjit";
}

}  // namespace tpjit::ipc
