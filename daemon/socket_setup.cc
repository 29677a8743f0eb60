#include "daemon/socket_setup.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "ipc/codes.h"
#include "ipc/unix_address.h"

namespace tpjit::daemon {
namespace {

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

Error unsafe(const std::filesystem::path& path, const std::string& problem, const std::string& fix) {
  return make_error(errc::kUnsafeSocket, "socket directory " + path.string() + " " + problem +
                                             "; other users could reach the daemon. Fix: " + fix,
                    path.string());
}

}  // namespace

Status prepare_socket_dir(const std::filesystem::path& dir, uid_t uid) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == -1) {
    int err = errno;
    if (err != ENOENT) return posix_error("lstat", dir, err);
    // Missing ancestors too (mkdir -p), each private: we made them, no one else needs in.
    std::vector<std::filesystem::path> missing;
    for (auto p = dir; !p.empty() && !std::filesystem::exists(p) && p != p.parent_path(); p = p.parent_path()) {
      missing.push_back(p);
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (::mkdir(it->c_str(), 0700) == -1) {
        err = errno;
        if (err != EEXIST) return posix_error("mkdir", *it, err);
        // Lost a race with another creator: the checks below judge what is there now.
      } else if (::chmod(it->c_str(), 0700) == -1) {  // the umask may have removed bits we want
        err = errno;
        return posix_error("chmod", *it, err);
      }
    }
    if (::lstat(dir.c_str(), &st) == -1) {
      err = errno;
      return posix_error("lstat", dir, err);
    }
  }
  if (S_ISLNK(st.st_mode)) {
    return unsafe(dir, "is a symbolic link", "point --socket into a real directory you own");
  }
  if (!S_ISDIR(st.st_mode)) {
    return unsafe(dir, "is not a directory", "remove it or choose another --socket path");
  }
  if (st.st_uid != uid) {
    return unsafe(dir, "is owned by uid " + std::to_string(st.st_uid) + ", not by us (uid " +
                           std::to_string(uid) + ")",
                  "choose a --socket path in a directory you own");
  }
  if ((st.st_mode & 077) != 0) {
    return unsafe(dir, "has mode " + octal_mode(st.st_mode) + " (group/other may enter)",
                  "chmod 700 " + dir.string() + ", or choose a --socket path in a private directory");
  }
  return ok_status();
}

Status clear_stale_socket(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == -1) {
    int err = errno;
    return err == ENOENT ? ok_status() : Status(posix_error("lstat", path, err));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return make_error(errc::kUnsafeSocket,
                      path.string() + " exists and is not a socket; remove it or choose another --socket path",
                      path.string());
  }
  auto address = ipc::unix_address(path);
  if (!address) return address.error();
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) {
    int err = errno;
    return posix_error("socket", path, err);
  }
  int rc;
  do {
    rc = ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(sockaddr_un));
  } while (rc == -1 && errno == EINTR);
  if (rc == 0) {
    return make_error(errc::kSocketInUse,
                      "another tpjitd is serving on " + path.string() +
                          "; stop it (tpjit --socket " + path.string() +
                          " shutdown) or choose another --socket path",
                      path.string());
  }
  int err = errno;
  if (err == ENOENT) return ok_status();  // removed meanwhile
  if (err != ECONNREFUSED) return posix_error("connect (probing an existing socket)", path, err);
  // Nobody listens: a daemon died without cleaning up.
  if (::unlink(path.c_str()) == -1 && errno != ENOENT) {
    err = errno;
    return posix_error("unlink (stale socket)", path, err);
  }
  return ok_status();
}

Result<ListeningSocket> listen_unix(const std::filesystem::path& path, int backlog) {
  auto address = ipc::unix_address(path);
  if (!address) return address.error();
  ListeningSocket out;
  out.fd = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!out.fd) {
    int err = errno;
    return posix_error("socket", path, err);
  }
  if (::bind(out.fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(sockaddr_un)) == -1) {
    int err = errno;
    if (err == EADDRINUSE) {
      return make_error(errc::kSocketInUse,
                        path.string() + " appeared while starting (another tpjitd starting?); retry",
                        path.string());
    }
    return posix_error("bind", path, err);
  }
  // The directory already keeps others out; 0600 is the second lock on the door. Set before
  // listen(), so no one can connect while the mode is still the umask's.
  if (::chmod(path.c_str(), 0600) == -1) {
    int err = errno;
    ::unlink(path.c_str());
    return posix_error("chmod", path, err);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == -1) {
    int err = errno;
    ::unlink(path.c_str());
    return posix_error("stat", path, err);
  }
  out.device = st.st_dev;
  out.inode = st.st_ino;
  if (::listen(out.fd.get(), backlog) == -1) {
    int err = errno;
    ::unlink(path.c_str());
    return posix_error("listen", path, err);
  }
  return out;
}

void remove_socket_file(const std::filesystem::path& path, dev_t device, ino_t inode) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && st.st_dev == device && st.st_ino == inode) {
    ::unlink(path.c_str());  // best effort: a leftover socket is detected as stale next start
  }
}

Result<uid_t> peer_uid(int fd) {
  ucred cred{};
  socklen_t size = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) == -1) {
    int err = errno;
    return posix_error("getsockopt(SO_PEERCRED)", "fd " + std::to_string(fd), err);
  }
  return cred.uid;
}

}  // namespace tpjit::daemon
