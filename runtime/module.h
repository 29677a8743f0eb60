// A module loaded from a cubin image, the kernels looked up in it, and their launch.
#pragma once

#include <cuda.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "runtime/driver.h"
#include "util/result.h"

namespace tpjit::runtime {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

struct LaunchConfig {
  Dim3 grid, block;
  unsigned dynamic_smem_bytes = 0;
  CUstream stream = nullptr;
  Dim3 cluster = {0, 0, 0};  // x == 0: no cluster attribute (sm90 kernels set e.g. {2,1,1})
};

// A kernel in a loaded Module. Not an owner: valid while its Module lives.
class Function {
 public:
  Function() = default;
  CUfunction get() const { return f_; }
  const std::string& name() const { return name_; }

  // Raises the dynamic shared memory limit (needed above 48 KiB); throws CheckError.
  void set_max_dynamic_smem(int bytes) const;
  int attribute(CUfunction_attribute a) const;  // e.g. CU_FUNC_ATTRIBUTE_NUM_REGS

  // Launches with cuLaunchKernelEx; `params` points at each kernel argument in order.
  // Throws CheckError naming the kernel on a failed launch.
  void launch(const LaunchConfig& cfg, void** params) const;

 private:
  friend class Module;
  Function(const Driver* d, CUfunction f, std::string name) : d_(d), f_(f), name_(std::move(name)) {}
  const Driver* d_ = nullptr;
  CUfunction f_ = nullptr;
  std::string name_;
};

// Move-only owner of a CUmodule (cuModuleUnload on destruction).
class Module {
 public:
  // Loads a cubin into the current context; kErrCuda with the driver's reason if the image is
  // not loadable (wrong architecture, corrupt).
  static Result<Module> load(const Driver& d, std::span<const uint8_t> cubin);
  Module(Module&& o) noexcept;
  Module& operator=(Module&& o) noexcept;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  ~Module();

  // The kernel named `name` (an extern "C" name); kErrCuda if absent.
  Result<Function> function(const std::string& name) const;
  CUmodule get() const { return m_; }

 private:
  Module(const Driver* d, CUmodule m) : d_(d), m_(m) {}
  void reset() noexcept;
  const Driver* d_ = nullptr;
  CUmodule m_ = nullptr;
};

}  // namespace tpjit::runtime
