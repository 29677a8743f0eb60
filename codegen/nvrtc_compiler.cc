// Compiler on NVRTC: one nvrtcProgram per compile (NVRTC is thread-safe across programs), the
// embedded template headers passed in memory, so no include path or file is read.
#include <nvrtc.h>

#include <chrono>
#include <string>
#include <vector>

#include "codegen/compiler.h"
#include "util/check.h"
#include "util/log.h"

namespace tpjit::codegen {
namespace {

// Logs past this are cut: the first errors are the useful ones.
constexpr size_t kMaxLogInMessage = 16 * 1024;

// Move-only owner of an nvrtcProgram.
class Program {
 public:
  Program() = default;
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  ~Program() {
    if (prog_) nvrtcDestroyProgram(&prog_);  // result ignored: nothing to do in a destructor
  }
  nvrtcProgram* out() { return &prog_; }
  nvrtcProgram get() const { return prog_; }

 private:
  nvrtcProgram prog_ = nullptr;
};

// An NVRTC failure that is not the source's fault: the call, its error string, the kernel.
Error nvrtc_error(const char* call, nvrtcResult r, const std::string& kernel) {
  return make_error(errc::kInternal, std::string(call) + " failed: " + nvrtcGetErrorString(r),
                    kernel);
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\0' || s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.size() > kMaxLogInMessage) {
    const size_t cut = s.size() - kMaxLogInMessage;
    s.resize(kMaxLogInMessage);
    s += "\n... (" + std::to_string(cut) + " more bytes of log)";
  }
  return s;
}

class NvrtcCompiler final : public Compiler {
 public:
  NvrtcCompiler() {
    int major = 0, minor = 0;
    const nvrtcResult r = nvrtcVersion(&major, &minor);
    if (r != NVRTC_SUCCESS)
      check_failed("nvrtcVersion", nvrtcGetErrorString(r), __FILE__, __LINE__);
    version_ = "nvrtc " + std::to_string(major) + "." + std::to_string(minor);
  }

  std::string version() const override { return version_; }

  std::vector<std::string> options(Arch arch) const override {
    // Fixed and deterministic: they are part of the cache key. No fast-math: the epilogue
    // must round as the reference does. -default-device lets templates omit __device__.
    return {std::string("--gpu-architecture=") + arch_name(arch), "-std=c++17",
            "-default-device"};
  }

  Result<CompileOutput> compile(const KernelSource& src, Arch arch) const override {
    const auto start = std::chrono::steady_clock::now();
    const auto& headers = embedded_headers();
    std::vector<const char*> names, contents;
    for (const EmbeddedHeader& h : headers) {
      names.push_back(h.name.c_str());
      contents.push_back(h.contents.c_str());
    }
    Program prog;
    const std::string file = src.name + ".cu";
    nvrtcResult r = nvrtcCreateProgram(prog.out(), src.source.c_str(), file.c_str(),
                                       static_cast<int>(headers.size()), contents.data(),
                                       names.data());
    if (r != NVRTC_SUCCESS) return nvrtc_error("nvrtcCreateProgram", r, src.name);

    const std::vector<std::string> opts = options(arch);
    std::vector<const char*> opt_ptrs;
    for (const std::string& o : opts) opt_ptrs.push_back(o.c_str());
    const nvrtcResult compiled =
        nvrtcCompileProgram(prog.get(), static_cast<int>(opt_ptrs.size()), opt_ptrs.data());

    CompileOutput out;
    size_t size = 0;
    r = nvrtcGetProgramLogSize(prog.get(), &size);
    if (r != NVRTC_SUCCESS) return nvrtc_error("nvrtcGetProgramLogSize", r, src.name);
    out.log.resize(size);
    if (size > 0) {
      r = nvrtcGetProgramLog(prog.get(), out.log.data());
      if (r != NVRTC_SUCCESS) return nvrtc_error("nvrtcGetProgramLog", r, src.name);
    }
    out.log = trimmed(std::move(out.log));

    if (compiled == NVRTC_ERROR_COMPILATION)
      return make_error(errc::kCompileFailed,
                        "NVRTC could not compile " + src.name + " for " + arch_name(arch) +
                            ":\n" + out.log,
                        src.name);
    if (compiled != NVRTC_SUCCESS) return nvrtc_error("nvrtcCompileProgram", compiled, src.name);

    r = nvrtcGetCUBINSize(prog.get(), &size);
    if (r != NVRTC_SUCCESS) return nvrtc_error("nvrtcGetCUBINSize", r, src.name);
    out.cubin.resize(size);
    r = nvrtcGetCUBIN(prog.get(), reinterpret_cast<char*>(out.cubin.data()));
    if (r != NVRTC_SUCCESS) return nvrtc_error("nvrtcGetCUBIN", r, src.name);

    // NVRTC keeps the PTX of a compile for a real arch too.
    r = nvrtcGetPTXSize(prog.get(), &size);
    if (r != NVRTC_SUCCESS) return nvrtc_error("nvrtcGetPTXSize", r, src.name);
    out.ptx.resize(size);
    r = nvrtcGetPTX(prog.get(), out.ptx.data());
    if (r != NVRTC_SUCCESS) return nvrtc_error("nvrtcGetPTX", r, src.name);
    while (!out.ptx.empty() && out.ptx.back() == '\0') out.ptx.pop_back();

    out.compile_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count();
    logger("codegen")->debug("compiled {} for {} in {:.1f} ms ({} bytes of cubin)", src.name,
                             arch_name(arch), out.compile_ms, out.cubin.size());
    return out;
  }

 private:
  std::string version_;
};

}  // namespace

std::unique_ptr<Compiler> make_nvrtc_compiler() { return std::make_unique<NvrtcCompiler>(); }

}  // namespace tpjit::codegen
