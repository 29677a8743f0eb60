#include "ipc/unix_address.h"

#include <sys/socket.h>

#include <cstring>
#include <string>

namespace tpjit::ipc {

Result<sockaddr_un> unix_address(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string text = path.string();
  if (text.empty() || text.size() >= sizeof(address.sun_path)) {
    return make_error(errc::kLimitExceeded,
                      "socket path \"" + text + "\" is " + std::to_string(text.size()) +
                          " bytes; a Unix socket path must be 1.." +
                          std::to_string(sizeof(address.sun_path) - 1) +
                          " bytes, choose a shorter --socket path",
                      "socket");
  }
  std::memcpy(address.sun_path, text.data(), text.size());
  return address;
}

}  // namespace tpjit::ipc
