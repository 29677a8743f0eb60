// Compiling generated sources to cubins, behind an interface so tests and the daemon can use a
// fake; the real one is NVRTC (needs no GPU and no CUDA context). Also the cache key of a
// compile: everything that can change its output.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codegen/generate.h"
#include "codegen/spec.h"
#include "util/result.h"

namespace tpjit::codegen {

struct CompileOutput {
  std::vector<uint8_t> cubin;
  std::string ptx;  // the PTX the cubin came from (for checks and debugging)
  std::string log;  // compiler messages, warnings included; may be empty
  double compile_ms = 0;
};

class Compiler {
 public:
  virtual ~Compiler() = default;
  // Name and version of the compiler, e.g. "nvrtc 13.0"; part of the cache key.
  virtual std::string version() const = 0;
  // The exact options a compile for this arch uses; part of the cache key.
  virtual std::vector<std::string> options(Arch) const = 0;
  // Compiles one source with the embedded headers. Thread-safe. A source that does not
  // compile gives kCompileFailed with the log in the message and the kernel name in `where`.
  virtual Result<CompileOutput> compile(const KernelSource&, Arch) const = 0;
};

// The NVRTC compiler of the CUDA toolkit tpjit was built with.
std::unique_ptr<Compiler> make_nvrtc_compiler();

// SHA-256 hex over the kernel name, source, every embedded header (name and bytes), the
// compiler version, its options for arch, and arch. Fields are length-prefixed so no two
// different inputs hash the same bytes.
std::string cache_key(const KernelSource&, const Compiler&, Arch);

}  // namespace tpjit::codegen
