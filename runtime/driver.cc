#include "runtime/driver.h"

#include <dlfcn.h>

#include <algorithm>
#include <mutex>

#include "util/check.h"

namespace tpjit::runtime {
namespace {

// cuLaunchKernelEx and cuTensorMapEncodeTiled came with CUDA 12.0.
constexpr int kMinDriverVersion = 12000;

using GetProcAddress = CUresult (*)(const char*, void**, int, cuuint64_t,
                                    CUdriverProcAddressQueryResult*);

Result<Driver> load_once() {
  // RTLD_NODELETE: the library must outlive every static destructor that might call into it.
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (lib == nullptr) {
    const char* why = dlerror();
    return make_error(kErrNoDriver,
                      std::string("no CUDA driver: dlopen(libcuda.so.1) failed: ") +
                          (why ? why : "unknown") +
                          "; install the NVIDIA driver or run on a machine with a GPU",
                      "runtime.driver");
  }
  auto get_proc = reinterpret_cast<GetProcAddress>(dlsym(lib, "cuGetProcAddress_v2"));
  auto get_version =
      reinterpret_cast<decltype(&::cuDriverGetVersion)>(dlsym(lib, "cuDriverGetVersion"));
  if (get_proc == nullptr || get_version == nullptr) {
    return make_error(kErrNoDriver,
                      "no CUDA driver: libcuda.so.1 lacks cuGetProcAddress_v2; a driver for "
                      "CUDA 12.0 or newer is needed",
                      "runtime.driver");
  }
  Driver d;
  if (get_version(&d.version) != CUDA_SUCCESS || d.version < kMinDriverVersion) {
    return make_error(kErrNoDriver,
                      "no CUDA driver: driver version " + std::to_string(d.version) +
                          " is older than 12.0; update the NVIDIA driver",
                      "runtime.driver");
  }
  const int ask_version = std::min(d.version, CUDA_VERSION);
  std::string missing;
#define TPJIT_CU_LOAD(name)                                                              \
  {                                                                                      \
    void* fn = nullptr;                                                                  \
    CUdriverProcAddressQueryResult status{};                                             \
    if (get_proc(#name, &fn, ask_version, CU_GET_PROC_ADDRESS_DEFAULT, &status) !=       \
            CUDA_SUCCESS ||                                                              \
        fn == nullptr) {                                                                 \
      missing += missing.empty() ? #name : ", " #name;                                   \
    }                                                                                    \
    d.name = reinterpret_cast<decltype(d.name)>(fn);                                     \
  }
  TPJIT_CU_FUNCTIONS(TPJIT_CU_LOAD)
#undef TPJIT_CU_LOAD
  if (!missing.empty()) {
    return make_error(kErrNoDriver, "no CUDA driver: libcuda.so.1 lacks " + missing,
                      "runtime.driver");
  }
  CUresult r = d.cuInit(0);
  if (r != CUDA_SUCCESS) {
    // No device, or the kernel module is absent: the driver library is there but unusable.
    return make_error(r == CUDA_ERROR_NO_DEVICE ? kErrNoDevice : kErrNoDriver,
                      "no CUDA driver: cuInit(0) failed: " + d.error_text(r),
                      "runtime.driver");
  }
  return d;
}

}  // namespace

Result<const Driver*> Driver::load() {
  static std::once_flag once;
  static Driver driver;
  static Error error;
  static bool loaded = false;
  std::call_once(once, [] {
    Result<Driver> r = load_once();
    if (r.ok()) {
      driver = std::move(r).value();
      loaded = true;
    } else {
      error = r.error();
    }
  });
  if (!loaded) return error;
  return &driver;
}

std::string Driver::error_text(CUresult r) const {
  const char* name = nullptr;
  const char* text = nullptr;
  if (cuGetErrorName == nullptr || cuGetErrorName(r, &name) != CUDA_SUCCESS) name = nullptr;
  if (cuGetErrorString == nullptr || cuGetErrorString(r, &text) != CUDA_SUCCESS) text = nullptr;
  std::string out = name ? name : "CUresult " + std::to_string(static_cast<int>(r));
  if (text) out += std::string(" (") + text + ")";
  return out;
}

void cu_failed(const Driver& d, CUresult r, const char* call, const char* file, int line) {
  check_failed(call, d.error_text(r), file, line);
}

Error cu_error(const Driver& d, CUresult r, const char* call, const char* file, int line) {
  return make_error(kErrCuda,
                    std::string(call) + " failed: " + d.error_text(r) + " (" + file + ":" +
                        std::to_string(line) + ")",
                    "runtime");
}

}  // namespace tpjit::runtime
