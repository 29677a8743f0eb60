#include "runtime/module.h"

#include <utility>

#include "util/check.h"

namespace tpjit::runtime {

void Function::set_max_dynamic_smem(int bytes) const {
  TPJIT_CU(*d_, cuFuncSetAttribute(f_, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));
}

int Function::attribute(CUfunction_attribute a) const {
  int v = 0;
  TPJIT_CU(*d_, cuFuncGetAttribute(&v, a, f_));
  return v;
}

void Function::launch(const LaunchConfig& cfg, void** params) const {
  CUlaunchConfig c{};
  c.gridDimX = cfg.grid.x;
  c.gridDimY = cfg.grid.y;
  c.gridDimZ = cfg.grid.z;
  c.blockDimX = cfg.block.x;
  c.blockDimY = cfg.block.y;
  c.blockDimZ = cfg.block.z;
  c.sharedMemBytes = cfg.dynamic_smem_bytes;
  c.hStream = cfg.stream;
  // Attributes live on this stack frame: no shared static array, so launches are thread-safe.
  CUlaunchAttribute attrs[1] = {};
  if (cfg.cluster.x != 0) {
    attrs[0].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    attrs[0].value.clusterDim.x = cfg.cluster.x;
    attrs[0].value.clusterDim.y = cfg.cluster.y;
    attrs[0].value.clusterDim.z = cfg.cluster.z;
    c.attrs = attrs;
    c.numAttrs = 1;
  }
  CUresult r = d_->cuLaunchKernelEx(&c, f_, params, nullptr);
  if (r != CUDA_SUCCESS) {
    check_failed(("cuLaunchKernelEx(" + name_ + ")").c_str(), d_->error_text(r), __FILE__,
                 __LINE__);
  }
}

Result<Module> Module::load(const Driver& d, std::span<const uint8_t> cubin) {
  if (cubin.empty()) {
    return make_error(kErrCuda, "cannot load an empty cubin image", "runtime.module");
  }
  CUmodule m = nullptr;
  TPJIT_CU_RETURN(d, cuModuleLoadData(&m, cubin.data()));
  return Module(&d, m);
}

Module::Module(Module&& o) noexcept : d_(o.d_), m_(std::exchange(o.m_, nullptr)) {}

Module& Module::operator=(Module&& o) noexcept {
  if (this != &o) {
    reset();
    d_ = o.d_;
    m_ = std::exchange(o.m_, nullptr);
  }
  return *this;
}

Module::~Module() { reset(); }

void Module::reset() noexcept {
  if (m_ != nullptr) d_->cuModuleUnload(m_);
  m_ = nullptr;
}

Result<Function> Module::function(const std::string& name) const {
  CUfunction f = nullptr;
  CUresult r = d_->cuModuleGetFunction(&f, m_, name.c_str());
  if (r != CUDA_SUCCESS) {
    return make_error(kErrCuda,
                      "kernel '" + name + "' not found in the module: " + d_->error_text(r),
                      "runtime.module");
  }
  return Function(d_, f, name);
}

}  // namespace tpjit::runtime
