// Result<T>: the value of an operation on untrusted input, or a structured Error.
// Decoders and validators return these and never throw; the daemon turns an Error into the
// wire error {code, message, where} unchanged.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace tpjit {

// Stable error codes; docs/protocol.md lists each with what the user should do.
namespace errc {
inline constexpr const char* kBadFrame = "bad_frame";             // framing broken
inline constexpr const char* kFrameTooLarge = "frame_too_large";  // over the size cap
inline constexpr const char* kBadJson = "bad_json";               // not JSON
inline constexpr const char* kBadRequest = "bad_request";         // JSON, wrong message shape
inline constexpr const char* kUnknownRequest = "unknown_request";
inline constexpr const char* kBadGraph = "bad_graph";             // graph format broken
inline constexpr const char* kLimitExceeded = "limit_exceeded";   // counts, rank, names, nesting
inline constexpr const char* kUnknownTensor = "unknown_tensor";
inline constexpr const char* kTypeError = "type_error";           // dtype mismatch
inline constexpr const char* kShapeError = "shape_error";         // shape mismatch
inline constexpr const char* kNotDivisible = "not_divisible";     // a dim does not divide
inline constexpr const char* kUnsupportedDtype = "unsupported_dtype";
inline constexpr const char* kUnsupportedArch = "unsupported_arch";
inline constexpr const char* kUnsupportedShape = "unsupported_shape";  // kernel can't take it
inline constexpr const char* kCompileFailed = "compile_failed";
inline constexpr const char* kShuttingDown = "shutting_down";
inline constexpr const char* kBusy = "busy";
inline constexpr const char* kInternal = "internal";
}  // namespace errc

struct Error {
  std::string code;     // one of errc::*
  std::string message;  // what went wrong and how to fix it, for a person
  std::string where;    // a path into the input, e.g. "graph.nodes[3].inputs[1]"; may be empty
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}      // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->checked(); }
  T& operator*() { return checked(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  T& checked() {
    if (!ok()) throw std::logic_error("Result::value() on an error: " + error().message);
    return std::get<0>(v_);
  }
  std::variant<T, Error> v_;
};

// For operations that return nothing but may fail.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

inline Error make_error(std::string code, std::string message, std::string where = {}) {
  return Error{std::move(code), std::move(message), std::move(where)};
}

}  // namespace tpjit
