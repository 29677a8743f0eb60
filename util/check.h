// Checks for broken invariants and for C API calls (POSIX, NVRTC, Driver API, NCCL).
// A failed check throws CheckError naming the call, the error string and file:line, so an
// error arrives with its trail. Untrusted input never reaches these: it gets a Result.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tpjit {

class CheckError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void check_failed(const char* what, const std::string& detail, const char* file,
                                      int line) {
  throw CheckError(std::string(what) + " failed: " + detail + " (" + file + ":" +
                   std::to_string(line) + ")");
}

}  // namespace tpjit

// An invariant of our own code.
#define TPJIT_CHECK(cond, msg)                                              \
  do {                                                                      \
    if (!(cond)) ::tpjit::check_failed("check '" #cond "'", (msg), __FILE__, __LINE__); \
  } while (0)

// A POSIX call that returns -1 and sets errno.
#define TPJIT_CHECK_POSIX(call)                                                       \
  do {                                                                                \
    if ((call) == -1) ::tpjit::check_failed(#call, std::strerror(errno), __FILE__, __LINE__); \
  } while (0)
