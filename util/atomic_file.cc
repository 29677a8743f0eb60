#include "util/atomic_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace tpjit {

Error posix_error(std::string_view call, const std::filesystem::path& path, int saved_errno) {
  return make_error(errc::kInternal,
                    std::string(call) + " " + path.string() + ": " + std::strerror(saved_errno) +
                        " (check the path, its permissions and free space)",
                    path.string());
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

Status UniqueFd::close() {
  int fd = release();
  if (fd >= 0 && ::close(fd) == -1) {
    int err = errno;
    return posix_error("close", "fd " + std::to_string(fd), err);
  }
  return ok_status();
}

void UniqueFd::reset() {
  // No one to report a close error to here; callers that care use close().
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool is_atomic_temp_name(std::string_view file_name) {
  size_t at = file_name.rfind(kAtomicTempMarker);
  return at != std::string_view::npos && file_name.size() - at == kAtomicTempMarker.size() + 6;
}

Result<AtomicFile> AtomicFile::create(const std::filesystem::path& target) {
  std::filesystem::path dir = target.parent_path().empty() ? "." : target.parent_path();
  std::string pattern = (dir / target.filename()).string() + std::string(kAtomicTempMarker) +
                        "XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  int fd = ::mkostemp(buffer.data(), O_CLOEXEC);
  if (fd == -1) {
    int err = errno;
    return posix_error("mkostemp", pattern, err);
  }
  return AtomicFile(target, std::filesystem::path(buffer.data()), UniqueFd(fd));
}

AtomicFile::AtomicFile(std::filesystem::path target, std::filesystem::path temp, UniqueFd fd)
    : target_(std::move(target)), temp_(std::move(temp)), fd_(std::move(fd)) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : target_(std::move(other.target_)),
      temp_(std::move(other.temp_)),
      fd_(std::move(other.fd_)),
      committed_(other.committed_),
      failed_(other.failed_) {
  other.temp_.clear();  // the moved-from object must not unlink our temp file
}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    discard();
    target_ = std::move(other.target_);
    temp_ = std::move(other.temp_);
    fd_ = std::move(other.fd_);
    committed_ = other.committed_;
    failed_ = other.failed_;
    other.temp_.clear();
  }
  return *this;
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
  fd_.reset();
  // Best effort: a leftover temp file is swept later by its owner (see is_atomic_temp_name).
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
}

Status AtomicFile::write(std::span<const uint8_t> bytes) {
  if (!fd_ || committed_) {
    return make_error(errc::kInternal, "write after commit or on a moved-from AtomicFile",
                      target_.string());
  }
  const uint8_t* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd_.get(), p, left);
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) {
      int err = errno;
      failed_ = true;
      return posix_error("write", temp_, err);
    }
    p += n;
    left -= size_t(n);
  }
  return ok_status();
}

Status AtomicFile::write(std::string_view bytes) {
  return write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()),
                                        bytes.size()));
}

Status AtomicFile::commit() {
  if (!fd_ || committed_) {
    return make_error(errc::kInternal, "commit twice or on a moved-from AtomicFile",
                      target_.string());
  }
  if (failed_) {
    return make_error(errc::kInternal, "not committing " + target_.string() + ": a write failed",
                      target_.string());
  }
  if (::fsync(fd_.get()) == -1) {
    int err = errno;
    return posix_error("fsync", temp_, err);
  }
  if (Status closed = fd_.close(); !closed) return closed;
  if (::rename(temp_.c_str(), target_.c_str()) == -1) {
    int err = errno;
    return posix_error("rename", temp_, err);
  }
  committed_ = true;
  // Without the directory fsync the rename itself may be lost on a crash.
  std::filesystem::path dir = target_.parent_path().empty() ? "." : target_.parent_path();
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) {
    int err = errno;
    return posix_error("open", dir, err);
  }
  if (::fsync(dir_fd.get()) == -1) {
    int err = errno;
    return posix_error("fsync", dir, err);
  }
  return dir_fd.close();
}

}  // namespace tpjit
