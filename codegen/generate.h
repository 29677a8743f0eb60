// CUDA source for a GemmSpec: a prelude with the exact configuration as constexpr values, an
// #include of the variant's template header and the extern "C" kernel. The template headers
// are embedded in the binary at build time and handed to NVRTC in memory.
#pragma once

#include <string>
#include <vector>

#include "codegen/spec.h"

namespace tpjit::codegen {

struct KernelSource {
  std::string name;    // the kernel's symbol (extern "C"), == kernel_name(spec)
  std::string source;  // one translation unit; includes only embedded headers
};

// The source for a spec that check_spec() accepts (throws CheckError otherwise). Same spec,
// same bytes; m_hint and arch do not change it.
KernelSource generate(const GemmSpec&);

struct EmbeddedHeader {
  std::string name;      // include name, e.g. "gemm_fp8_mma.cuh"
  std::string contents;  // the file's bytes
};

// Every templates/*.cuh, sorted by name; generated at build time (cmake/embed_headers.cmake).
const std::vector<EmbeddedHeader>& embedded_headers();

}  // namespace tpjit::codegen
