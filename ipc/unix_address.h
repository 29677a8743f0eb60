// The sockaddr for a Unix socket path, shared by the daemon and the client.
#pragma once

#include <sys/un.h>

#include <filesystem>

#include "util/result.h"

namespace tpjit::ipc {

// kLimitExceeded if the path does not fit sun_path (107 bytes on Linux) or is empty.
Result<sockaddr_un> unix_address(const std::filesystem::path& path);

}  // namespace tpjit::ipc
