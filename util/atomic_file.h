// AtomicFile: write a file so that readers see either the old content or the whole new one.
// Bytes go to a temp file in the target's directory (same file system, so rename is atomic);
// commit() fsyncs it, renames it over the target and fsyncs the directory. Without commit()
// the destructor removes the temp file and the target is untouched.
//
// File system errors (disk full, permissions) are the environment's, not bugs: they come back
// as a Status naming the call, the error string and the path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

#include "util/result.h"

namespace tpjit {

// Owns a file descriptor; closes it once.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { int fd = fd_; fd_ = -1; return fd; }
  // Closes the descriptor now; the close(2) result, for callers that must know the data landed.
  Status close();
  void reset();

 private:
  int fd_ = -1;
};

// Temp files are named "<target name>.tmp.XXXXXX" (mkstemp); sweepers match on this marker.
inline constexpr std::string_view kAtomicTempMarker = ".tmp.";
// Whether a file name (no directory) looks like an AtomicFile temp file.
bool is_atomic_temp_name(std::string_view file_name);

class AtomicFile {
 public:
  // Creates the temp file (mode 0600) beside target; the target's directory must exist.
  static Result<AtomicFile> create(const std::filesystem::path& target);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();  // removes the temp file unless committed

  // Appends all of bytes (retries short writes and EINTR).
  Status write(std::span<const uint8_t> bytes);
  Status write(std::string_view bytes);
  // fsync, close, rename over the target, fsync the directory. Fails if any write failed.
  Status commit();

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  AtomicFile(std::filesystem::path target, std::filesystem::path temp, UniqueFd fd);
  void discard();

  std::filesystem::path target_;
  std::filesystem::path temp_;
  UniqueFd fd_;
  bool committed_ = false;
  bool failed_ = false;  // a write failed: the temp file is incomplete
};

// An Error for a failed POSIX call: "<call> <path>: <strerror(saved_errno)>". Callers save
// errno right after the call, before anything that may allocate.
Error posix_error(std::string_view call, const std::filesystem::path& path, int saved_errno);

}  // namespace tpjit
