#include "ipc/paths.h"

#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace tpjit::ipc {
namespace {

// Sets or unsets an environment variable for one test, restoring it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Paths, SocketUnderXdgRuntimeDir) {
  ScopedEnv env("XDG_RUNTIME_DIR", "/run/user/4242");
  EXPECT_EQ(default_socket_path(), "/run/user/4242/tpjit/tpjitd.sock");
}

TEST(Paths, SocketFallsBackToTmpPerUid) {
  ScopedEnv env("XDG_RUNTIME_DIR", nullptr);
  EXPECT_EQ(default_socket_path(), "/tmp/tpjit-" + std::to_string(getuid()) + "/tpjitd.sock");
}

TEST(Paths, RelativeXdgValuesAreIgnored) {
  ScopedEnv runtime("XDG_RUNTIME_DIR", "relative/dir");
  ScopedEnv cache("XDG_CACHE_HOME", "");
  ScopedEnv home("HOME", "/home/someone");
  EXPECT_EQ(default_socket_path(), "/tmp/tpjit-" + std::to_string(getuid()) + "/tpjitd.sock");
  EXPECT_EQ(default_cache_dir(), "/home/someone/.cache/tpjit");
}

TEST(Paths, CacheUnderXdgCacheHome) {
  ScopedEnv cache("XDG_CACHE_HOME", "/var/cache/me");
  EXPECT_EQ(default_cache_dir(), "/var/cache/me/tpjit");
}

TEST(Paths, CacheWithoutHomeUsesThePasswordFile) {
  ScopedEnv cache("XDG_CACHE_HOME", nullptr);
  ScopedEnv home("HOME", nullptr);
  auto dir = default_cache_dir();
  EXPECT_TRUE(dir.is_absolute());
  EXPECT_EQ(dir.filename(), "tpjit");
}

}  // namespace
}  // namespace tpjit::ipc
