#include "bench/gemm_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/measure.h"
#include "codegen/compiler.h"
#include "codegen/variant.h"
#include "runtime/context.h"
#include "runtime/gemm_runner.h"
#include "runtime/lt_gemm.h"
#include "runtime/memory.h"
#include "runtime/stream.h"
#include "util/check.h"

namespace tpjit::bench {
namespace {

using runtime::DeviceBuffer;
using runtime::Driver;

constexpr size_t kWorkspaceBytes = size_t{32} << 20;

struct Compiled {
  std::vector<uint8_t> cubin;
  std::string error;
};

codegen::GemmSpec spec_for(const GemmShape& s, std::string_view variant, codegen::Arch arch) {
  codegen::GemmSpec spec;
  spec.arch = arch;
  spec.variant = std::string(variant);
  spec.m_hint = s.m;
  spec.n = s.n;
  spec.k = s.k;
  spec.scale = fusion::ScaleMode::kTensor;  // what cuBLASLt's per-tensor scale pointers mean
  spec.out = codegen::OutDtype::kBF16;
  spec.tile = codegen::choose_tile(spec);
  return spec;
}

// Compiles every distinct spec in parallel; NVRTC is thread-safe and needs no GPU.
std::map<std::string, Compiled> compile_all(const std::vector<codegen::GemmSpec>& specs) {
  std::map<std::string, Compiled> out;
  std::vector<const codegen::GemmSpec*> todo;
  for (const auto& s : specs)
    if (out.emplace(codegen::kernel_name(s), Compiled{}).second) todo.push_back(&s);
  auto compiler = codegen::make_nvrtc_compiler();
  std::mutex mu;
  size_t next = 0;
  auto worker = [&] {
    for (;;) {
      const codegen::GemmSpec* s;
      Compiled* slot;
      {
        std::lock_guard lock(mu);
        if (next == todo.size()) return;
        s = todo[next++];
        slot = &out[codegen::kernel_name(*s)];
      }
      Result<codegen::CompileOutput> r = compiler->compile(codegen::generate(*s), s->arch);
      if (r.ok()) slot->cubin = std::move(r->cubin);
      else slot->error = r.error().message;
    }
  };
  std::vector<std::thread> threads;
  const unsigned n = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(),
                                                     static_cast<unsigned>(todo.size())));
  for (unsigned i = 0; i < n; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return out;
}

const char* kDefaultLayers[][3] = {
    {"qkv", "8192", "5120"}, {"o", "4096", "8192"}, {"gate_up", "8192", "28672"},
    {"down", "14336", "8192"}};

}  // namespace

std::vector<GemmShape> default_gemm_shapes() {
  std::vector<GemmShape> out;
  for (int64_t m : {16, 128, 512, 2048, 4096, 16384})
    for (const auto& l : kDefaultLayers)
      out.push_back({m, std::stoll(l[2]), std::stoll(l[1]), l[0]});
  out.push_back({8192, 8192, 8192, "cube"});
  return out;
}

int run_gemm_bench(const GemmBenchOptions& opts) {
  std::optional<BenchDevice> bench_device = open_bench_device();
  if (!bench_device) return 1;
  const Driver& d = *bench_device->d;
  const runtime::DeviceInfo* info = &bench_device->info;
  const codegen::Arch arch =
      info->cc_major >= 10 ? codegen::Arch::kSm100a : codegen::Arch::kSm90a;
  std::printf("device: %s (%s, %d SMs, L2 %d MiB), driver %d, cuBLASLt %s, arch %s\n",
              info->name.c_str(), info->arch_name().c_str(), info->sm_count,
              info->l2_bytes >> 20, d.version, runtime::cublaslt_version().c_str(),
              codegen::arch_name(arch));

  const std::vector<GemmShape> shapes = opts.shapes.empty() ? default_gemm_shapes() : opts.shapes;
  // Adding a variant to codegen's table adds it here: every one for the arch is timed.
  std::vector<std::string> variants;
  for (const codegen::Variant& v : codegen::variants()) {
    const bool wanted = opts.variants.empty() ||
                        std::find(opts.variants.begin(), opts.variants.end(), v.name) !=
                            opts.variants.end();
    if (wanted && std::find(v.archs.begin(), v.archs.end(), arch) != v.archs.end())
      variants.emplace_back(v.name);
  }
  std::vector<codegen::GemmSpec> specs;
  for (const GemmShape& s : shapes)
    for (const std::string& v : variants)
      if (codegen::GemmSpec sp = spec_for(s, v, arch); codegen::check_spec(sp).ok())
        specs.push_back(sp);
  const auto t0 = std::chrono::steady_clock::now();
  const std::map<std::string, Compiled> cubins = compile_all(specs);
  std::printf("compiled %zu kernels in %.1f s (NVRTC, parallel)\n", cubins.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  runtime::LtHandle lt;
  DeviceBuffer workspace(d, kWorkspaceBytes);
  runtime::Stream stream(d);
  nlohmann::json rows = nlohmann::json::array();
  bool all_ok = true;
  std::printf("\n%6s %6s %6s %-8s %-10s %9s %8s %9s %8s %7s %8s %8s %9s\n", "M", "N", "K", "layer",
              "variant", "ours_us", "ours_TF", "cublas_us", "cublasTF", "ratio", "oursGB/s",
              "cublGB/s", "rel_err");
  for (size_t si = 0; si < shapes.size(); ++si) {
    const GemmShape& s = shapes[si];
    const InputSets in = make_inputs(d, s.m, s.n, s.k, info->l2_bytes, 1000 + 64 * si);
    const int sets = static_cast<int>(in.a.size());
    const float sa_host = 0.75f, sb_host = 0.5f;
    DeviceBuffer sa(d, 4), sb(d, 4);
    sa.upload({reinterpret_cast<const uint8_t*>(&sa_host), 4});
    sb.upload({reinterpret_cast<const uint8_t*>(&sb_host), 4});
    const size_t d_count = size_t(s.m * s.n);
    DeviceBuffer d_lt(d, d_count * 2), d_ours(d, d_count * 2);
    const double flop = 2.0 * s.m * s.n * s.k;
    const double bytes = double(s.m * s.k + s.n * s.k) + 2.0 * s.m * s.n;

    Result<runtime::LtFp8Gemm> plan = runtime::LtFp8Gemm::plan(lt, int(s.m), int(s.n), int(s.k),
                                             static_cast<const float*>(sa.data()),
                                             static_cast<const float*>(sb.data()),
                                             workspace.data(), kWorkspaceBytes);
    if (!plan.ok()) {
      std::printf("%6lld %6lld %6lld cuBLASLt: %s\n", (long long)s.m, (long long)s.n,
                  (long long)s.k, plan.error().message.c_str());
      all_ok = false;
      continue;
    }
    plan->run(in.a[0].data(), in.b[0].data(), d_lt.data(), stream.get());
    stream.synchronize();
    const std::vector<uint16_t> ref = download_bf16(d_lt, d_count);
    const double lt_us = median_us(d, stream.get(), opts.warmup, opts.iters, [&](int i) {
      plan->run(in.a[i % sets].data(), in.b[i % sets].data(), d_lt.data(), stream.get());
    });

    for (const std::string& v : variants) {
      nlohmann::json row = {{"m", s.m}, {"n", s.n}, {"k", s.k}, {"layer", s.layer},
                            {"variant", v}, {"input_sets", sets},
                            {"cublaslt_us", lt_us}, {"cublaslt_tflops", flop / lt_us * 1e-6},
                            {"cublaslt_algo", plan->algo_summary()}};
      const codegen::GemmSpec spec = spec_for(s, v, arch);
      std::string problem;
      if (Status st = codegen::check_spec(spec); !st.ok()) problem = st.error().message;
      const Compiled* c = problem.empty() ? &cubins.at(codegen::kernel_name(spec)) : nullptr;
      if (c && !c->error.empty()) problem = "compile failed: " + c->error.substr(0, 300);
      Result<runtime::GemmKernel> kernel =
          problem.empty() ? runtime::GemmKernel::load(d, spec, c->cubin)
                          : Result<runtime::GemmKernel>(make_error(errc::kInternal, problem));
      if (!kernel.ok()) {
        std::printf("%6lld %6lld %6lld %-8s %-10s skipped: %s\n", (long long)s.m, (long long)s.n,
                    (long long)s.k, s.layer.c_str(), v.c_str(), kernel.error().message.c_str());
        row["error"] = kernel.error().message;
        rows.push_back(row);
        continue;
      }
      const Measured got = check_then_time(d, *kernel, {s.m, s.n, s.k, &in, &sa, &sb, &d_ours},
                                           ref, opts.max_rel_error, stream.get(), opts.warmup,
                                           opts.iters);
      const double err = got.rel_error;
      const bool ok = got.correct;
      all_ok = all_ok && ok;
      row["rel_error_vs_cublaslt"] = err;
      row["correct"] = ok;
      if (!ok) {
        std::printf("%6lld %6lld %6lld %-8s %-10s WRONG: rel error %.3g vs cuBLASLt; not timed\n",
                    (long long)s.m, (long long)s.n, (long long)s.k, s.layer.c_str(), v.c_str(),
                    err);
        rows.push_back(row);
        continue;
      }
      const double us = got.us;
      row["us"] = us;
      row["tflops"] = flop / us * 1e-6;
      row["ratio_vs_cublaslt"] = lt_us / us;
      row["kernel"] = codegen::kernel_name(spec);
      char gb[2][16] = {"-", "-"};
      if (s.m <= 128) {
        row["gbps"] = bytes / us * 1e-3;
        row["cublaslt_gbps"] = bytes / lt_us * 1e-3;
        std::snprintf(gb[0], 16, "%.0f", bytes / us * 1e-3);
        std::snprintf(gb[1], 16, "%.0f", bytes / lt_us * 1e-3);
      }
      std::printf("%6lld %6lld %6lld %-8s %-10s %9.1f %8.1f %9.1f %8.1f %7.3f %8s %8s %9.2e\n",
                  (long long)s.m, (long long)s.n, (long long)s.k, s.layer.c_str(), v.c_str(), us,
                  flop / us * 1e-6, lt_us, flop / lt_us * 1e-6, lt_us / us, gb[0], gb[1], err);
      std::fflush(stdout);
      rows.push_back(row);
    }
  }
  if (!opts.json_path.empty()) {
    nlohmann::json doc = {{"device", info->name}, {"arch", info->arch_name()},
                          {"sm_count", info->sm_count}, {"driver_version", d.version},
                          {"cublaslt_version", runtime::cublaslt_version()}, {"iters", opts.iters},
                          {"warmup", opts.warmup}, {"timing", "median of per-launch CUDA events"},
                          {"results", rows}};
    std::ofstream(opts.json_path) << doc.dump(2) << "\n";
  }
  return all_ok ? 0 : 1;
}

}  // namespace tpjit::bench
