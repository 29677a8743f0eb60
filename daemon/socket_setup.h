// The POSIX side of the daemon's socket: a private directory, stale-socket recovery, the
// listening socket and peer credentials. The directory is what keeps other users out (a
// socket's own mode is not honoured everywhere), so its checks refuse rather than repair.
#pragma once

#include <sys/types.h>

#include <filesystem>

#include "util/atomic_file.h"
#include "util/result.h"

namespace tpjit::daemon {

// Creates dir (and missing parents) with mode 0700. An existing dir must be a
// real directory owned by `uid` with no group/other permission bits, else kUnsafeSocket.
Status prepare_socket_dir(const std::filesystem::path& dir, uid_t uid);

// If something exists at path: a socket with a live listener -> kSocketInUse; a socket
// nobody listens on -> removed; anything else -> kUnsafeSocket (we never delete files).
Status clear_stale_socket(const std::filesystem::path& path);

struct ListeningSocket {
  UniqueFd fd;
  dev_t device = 0;  // identity of the socket file, so we remove only our own
  ino_t inode = 0;
};

// socket + bind + chmod 0600 + listen, non-blocking and close-on-exec.
Result<ListeningSocket> listen_unix(const std::filesystem::path& path, int backlog);

// Unlinks path if it is still the socket file we bound.
void remove_socket_file(const std::filesystem::path& path, dev_t device, ino_t inode);

// The uid of the process at the other end of a connected Unix socket (SO_PEERCRED).
Result<uid_t> peer_uid(int fd);

}  // namespace tpjit::daemon
