#include "bench/tune_bench.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <thread>

#include "bench/measure.h"
#include "cache/cubin_cache.h"
#include "cache/tuning_store.h"
#include "codegen/codegen.h"
#include "codegen/tuning.h"
#include "codegen/variant.h"
#include "ipc/paths.h"
#include "runtime/context.h"
#include "runtime/gemm_runner.h"
#include "runtime/lt_gemm.h"
#include "runtime/stream.h"
#include "util/check.h"

namespace tpjit::bench {
namespace {

using runtime::DeviceBuffer;
using runtime::Driver;

constexpr size_t kWorkspaceBytes = size_t{32} << 20;
constexpr uint64_t kCacheBudget = uint64_t{4} << 30;

std::string tile_text(const codegen::TileConfig& t) {
  return std::to_string(t.bm) + "x" + std::to_string(t.bn) + "x" + std::to_string(t.bk) + "_s" +
         std::to_string(t.stages) + "_w" + std::to_string(t.warps) + "_c" +
         std::to_string(t.cluster_m) + (t.split_k > 1 ? "_split" + std::to_string(t.split_k) : "");
}

// The heuristic's spec for the shape: the arch's variant for its rows, else mma_sync (as
// codegen::make_gemm_spec chooses for the daemon).
codegen::GemmSpec base_spec(const GemmShape& s, codegen::Arch arch, fusion::ScaleMode scale) {
  codegen::GemmSpec spec;
  spec.arch = arch;
  spec.variant = std::string(codegen::fast_variant(arch, s.m));
  spec.m_hint = s.m;
  spec.n = s.n;
  spec.k = s.k;
  spec.scale = scale;
  spec.out = codegen::OutDtype::kBF16;
  spec.tile = codegen::choose_tile(spec);
  if (!codegen::check_spec(spec).ok()) {
    spec.variant = codegen::kVariantMmaSync;
    spec.tile = codegen::choose_tile(spec);
  }
  return spec;
}

cache::TuningKey key_for(const codegen::GemmSpec& s, int64_t rows) {
  return {codegen::arch_name(s.arch), s.variant, s.n, s.k, fusion::scale_mode_name(s.scale),
          codegen::out_dtype_name(s.out), cache::tuning_m_bucket(rows)};
}

struct Cubin {
  std::vector<uint8_t> bytes;
  std::string error;
  bool hit = false;
};

// Every spec through the cubin cache, compiles in parallel (NVRTC needs no GPU).
std::vector<Cubin> compile_all(cache::CubinCache& cache, const std::vector<codegen::GemmSpec>& specs) {
  auto compiler = codegen::make_nvrtc_compiler();
  std::vector<Cubin> out(specs.size());
  std::mutex mu;
  size_t next = 0;
  auto worker = [&] {
    for (;;) {
      size_t i;
      {
        std::lock_guard lock(mu);
        if (next == specs.size()) return;
        i = next++;
      }
      const codegen::GemmSpec& s = specs[i];
      const codegen::KernelSource src = codegen::generate(s);
      const std::string arch = codegen::arch_name(s.arch);
      auto got = cache.get_or_compile(
          codegen::cache_key(src, *compiler, s.arch),
          cache::EntryInfo{src.name, compiler->version(), arch},
          [&]() -> Result<std::vector<uint8_t>> {
            auto r = compiler->compile(src, s.arch);
            if (!r) return r.error();
            return std::move(r->cubin);
          });
      if (got.ok()) out[i] = {std::move(got->cubin), "", got->hit};
      else out[i].error = got.error().message;
    }
  };
  std::vector<std::thread> threads;
  const unsigned n = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(),
                                                     static_cast<unsigned>(specs.size())));
  for (unsigned i = 0; i < n; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return out;
}

struct Device {
  const Driver* d;
  runtime::DeviceInfo info;
  codegen::Arch arch;
};

// Tunes one shape: returns false if a step failed or a candidate was wrong.
bool tune_shape(const Device& dev, const GemmShape& s, const TuneOptions& opts,
                fusion::ScaleMode scale, cache::CubinCache& cubins, cache::TuningStore& store,
                size_t seed) {
  const Driver& d = *dev.d;
  const codegen::GemmSpec base = base_spec(s, dev.arch, scale);
  const cache::TuningKey key = key_for(base, s.m);
  std::printf("\n== %lldx%lldx%lld %s scale, %s, m bucket %lld, heuristic %s\n", (long long)s.m,
              (long long)s.n, (long long)s.k, opts.scale.c_str(), base.variant.c_str(),
              (long long)key.m_bucket, tile_text(base.tile).c_str());
  if (!opts.force) {
    if (auto rec = store.lookup(key, dev.info.name)) {
      std::printf("found tuning record %s: tile %s, %.4f ms, tuned %s on %s; not re-tuned "
                  "(--force re-tunes)\n",
                  store.record_path(key).filename().c_str(), rec->tile.dump().c_str(), rec->ms,
                  rec->tuned_at.c_str(), rec->card.c_str());
      return true;
    }
  }
  std::vector<codegen::GemmSpec> specs;
  for (const codegen::TileConfig& t : codegen::candidate_tiles(base)) {
    specs.push_back(base);
    specs.back().tile = t;
  }
  const std::vector<Cubin> compiled = compile_all(cubins, specs);
  const size_t hits = std::count_if(compiled.begin(), compiled.end(), [](auto& c) { return c.hit; });
  std::printf("%zu candidates (%zu from the cubin cache)\n", specs.size(), hits);

  const InputSets in = make_inputs(d, s.m, s.n, s.k, dev.info.l2_bytes, 7000 + 64 * seed);
  const int sets = static_cast<int>(in.a.size());
  // Every scale equal, so row and block modes compute what cuBLASLt's per-tensor scales do
  // and cuBLASLt checks every mode's output (not its scale indexing: the GPU tests do that).
  const int64_t kb = (s.k + 127) / 128, nb = (s.n + 127) / 128;
  const size_t na = scale == fusion::ScaleMode::kRow     ? size_t(s.m)
                    : scale == fusion::ScaleMode::kBlock ? size_t(s.m * kb) : 1;
  const size_t nbs = scale == fusion::ScaleMode::kRow     ? size_t(s.n)
                     : scale == fusion::ScaleMode::kBlock ? size_t(kb * nb) : 1;
  const std::vector<float> ha(na, 0.75f), hb(nbs, 0.5f);
  DeviceBuffer sa(d, na * 4), sb(d, nbs * 4);
  sa.upload({reinterpret_cast<const uint8_t*>(ha.data()), na * 4});
  sb.upload({reinterpret_cast<const uint8_t*>(hb.data()), nbs * 4});
  const size_t d_count = size_t(s.m * s.n);
  DeviceBuffer d_lt(d, d_count * 2), d_ours(d, d_count * 2), workspace(d, kWorkspaceBytes);
  runtime::Stream stream(d);
  runtime::LtHandle lt;
  Result<runtime::LtFp8Gemm> plan = runtime::LtFp8Gemm::plan(lt, int(s.m), int(s.n), int(s.k),
                                           static_cast<const float*>(sa.data()),
                                           static_cast<const float*>(sb.data()),
                                           workspace.data(), kWorkspaceBytes);
  if (!plan.ok()) {
    std::printf("cuBLASLt: %s; nothing tuned\n", plan.error().message.c_str());
    return false;
  }
  plan->run(in.a[0].data(), in.b[0].data(), d_lt.data(), stream.get());
  stream.synchronize();
  const std::vector<uint16_t> ref = download_bf16(d_lt, d_count);
  const double flop = 2.0 * s.m * s.n * s.k;
  const double lt_us = median_us(d, stream.get(), opts.warmup, opts.iters, [&](int i) {
    plan->run(in.a[i % sets].data(), in.b[i % sets].data(), d_lt.data(), stream.get());
  });
  std::printf("%-24s %9s %8s %9s %s\n", "candidate", "ms", "TF/s", "rel_err", "note");
  std::printf("%-24s %9.4f %8.1f %9s (reference, not a candidate)\n", "cuBLASLt", lt_us * 1e-3,
              flop / lt_us * 1e-6, "-");

  bool ok = true;
  cache::TuningRecord rec{key, dev.info.name, "", {}, 0, {}};
  codegen::TileConfig best{};
  for (size_t i = 0; i < specs.size(); ++i) {
    const std::string name = tile_text(specs[i].tile);
    const char* note = specs[i].tile == base.tile ? "heuristic" : "";
    Result<runtime::GemmKernel> kernel =
        compiled[i].error.empty()
            ? runtime::GemmKernel::load(d, specs[i], compiled[i].bytes)
            : Result<runtime::GemmKernel>(make_error(errc::kCompileFailed, compiled[i].error));
    if (!kernel.ok()) {
      std::printf("%-24s skipped: %.200s\n", name.c_str(), kernel.error().message.c_str());
      continue;
    }
    const Measured got = check_then_time(d, *kernel, {s.m, s.n, s.k, &in, &sa, &sb, &d_ours},
                                         ref, opts.max_rel_error, stream.get(), opts.warmup,
                                         opts.iters);
    const double err = got.rel_error;
    if (!got.correct) {
      std::printf("%-24s %9s %8s %9.2e WRONG vs cuBLASLt: not timed, never stored\n",
                  name.c_str(), "-", "-", err);
      ok = false;
      continue;
    }
    const double ms = 1e-3 * got.us;
    std::printf("%-24s %9.4f %8.1f %9.2e %s\n", name.c_str(), ms, flop / ms * 1e-9, err, note);
    std::fflush(stdout);
    rec.candidates.push_back({codegen::tile_to_json(specs[i].tile), ms});
    if (rec.ms == 0 || ms < rec.ms) {
      rec.ms = ms;
      best = specs[i].tile;
    }
  }
  if (rec.candidates.empty()) {
    std::printf("no correct candidate: nothing stored\n");
    return false;
  }
  rec.tile = codegen::tile_to_json(best);
  const double heuristic_ms = [&] {
    for (const auto& c : rec.candidates)
      if (c.tile == codegen::tile_to_json(base.tile)) return c.ms;
    return 0.0;
  }();
  std::printf("winner: %s %.4f ms (%.1f TF/s, %.3fx the heuristic, %.3fx cuBLASLt)\n",
              tile_text(best).c_str(), rec.ms, flop / rec.ms * 1e-9,
              heuristic_ms > 0 ? heuristic_ms / rec.ms : 0.0, lt_us * 1e-3 / rec.ms);
  if (Status st = store.store(rec); !st.ok()) {
    std::printf("cannot store the tuning record: %s\n", st.error().message.c_str());
    return false;
  }
  std::printf("stored %s\n", store.record_path(key).c_str());
  return ok;
}

}  // namespace

int run_tune(const TuneOptions& opts) {
  std::optional<fusion::ScaleMode> scale;
  for (auto m : {fusion::ScaleMode::kTensor, fusion::ScaleMode::kRow, fusion::ScaleMode::kBlock})
    if (opts.scale == fusion::scale_mode_name(m)) scale = m;
  if (!scale) {
    std::fprintf(stderr, "tpjit-bench tune: --scale must be tensor, row or block\n");
    return 2;
  }
  std::optional<BenchDevice> bench_device = open_bench_device();
  if (!bench_device) return 1;
  const Driver& d = *bench_device->d;
  const runtime::DeviceInfo* info = &bench_device->info;
  const Device dev{&d, *info,
                   info->cc_major >= 10 ? codegen::Arch::kSm100a : codegen::Arch::kSm90a};
  const std::string dir = opts.cache_dir.empty() ? ipc::default_cache_dir().string()
                                                 : opts.cache_dir;
  std::printf("device: %s (%s, %d SMs), cuBLASLt %s, arch %s, cache %s\n", info->name.c_str(),
              info->arch_name().c_str(), info->sm_count, runtime::cublaslt_version().c_str(),
              codegen::arch_name(dev.arch), dir.c_str());
  cache::CubinCache cubins(dir, kCacheBudget);
  cache::TuningStore store(dir);
  std::vector<GemmShape> shapes = opts.shapes;
  if (shapes.empty())
    shapes = {{4096, 5120, 8192, ""}, {2048, 8192, 4096, ""}, {16384, 28672, 8192, ""}};
  bool ok = true;
  for (size_t i = 0; i < shapes.size(); ++i)
    ok = tune_shape(dev, shapes[i], opts, *scale, cubins, store, i) && ok;
  return ok ? 0 : 1;
}

}  // namespace tpjit::bench
