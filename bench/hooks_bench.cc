#include "bench/hooks_bench.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "bench/measure.h"
#include "bench/overlap_ranks.h"
#include "codegen/compiler.h"
#include "codegen/variant.h"
#include "runtime/gemm_runner.h"
#include "runtime/numerics.h"
#include "runtime/overlap_plan.h"
#include "runtime/stream.h"
#include "util/check.h"

namespace tpjit::bench {
namespace {

using runtime::DeviceBuffer;
using runtime::Driver;

constexpr int kMaxChunks = runtime::kMaxCeChunks;  // the flag stride of the one launch

// Which hooks a launch uses, added in this order.
struct Hooks {
  const char* name;
  bool order;  // tiles from the peer's rows, phase by phase, sub-chunk by sub-chunk
  bool own;    // this rank's rows (the first half) go to own_d
  bool own_c;  // ... with the peer's partial added
  bool flags;  // ... once its flags (already raised) are seen
  bool count;  // signal warps count each stored slab in tile_done
};
constexpr Hooks kSteps[] = {{"count only", false, false, false, false, true},
                            {"order", true, false, false, false, false},
                            {"order+own", true, true, false, false, false},
                            {"order+own+C", true, true, true, false, false},
                            {"order+own+C+flags", true, true, true, true, false},
                            {"all (one launch)", true, true, true, true, true}};

struct LayerShape {
  const char* name;
  int64_t k, n;
};
constexpr LayerShape kLayers[] = {{"o", 4096, 8192}, {"down", 14336, 8192}};

// Random bf16 partial sums of about the size the GEMM produces.
std::vector<uint16_t> random_partial(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 16.0f);
  std::vector<uint16_t> out(count);
  for (uint16_t& v : out) v = runtime::float_to_bf16(dist(rng));
  return out;
}

// Rows [r0, r0 + rows) of a bf16 [*, n] host matrix, plus `add` (same shape as the result)
// when given, rounded to bf16.
std::vector<uint16_t> expected_rows(const std::vector<uint16_t>& plain, int64_t n, int64_t r0,
                                    int64_t rows, const std::vector<uint16_t>* add) {
  std::vector<uint16_t> out(size_t(rows * n));
  for (size_t i = 0; i < out.size(); ++i) {
    const uint16_t p = plain[size_t(r0 * n) + i];
    out[i] = add ? runtime::float_to_bf16(runtime::bf16_to_float(p) + runtime::bf16_to_float((*add)[i])) : p;
  }
  return out;
}

}  // namespace

int run_hooks_bench(const HooksBenchOptions& opts) {
  std::optional<BenchDevice> dev = open_bench_device();
  if (!dev) return 1;
  const Driver& d = *dev->d;
  if (dev->info.cc_major != 9) {
    std::fprintf(stderr, "tpjit-bench hooks: the hooks are sm90_wgmma's; this GPU is %s\n",
                 dev->info.arch_name().c_str());
    return 1;
  }
  std::printf("device: %s, %d SMs\n", dev->info.name.c_str(), dev->info.sm_count);
  auto compiler = codegen::make_nvrtc_compiler();
  runtime::Stream stream(d);
  nlohmann::json rows = nlohmann::json::array();
  bool all_ok = true;
  std::printf("\n%-5s %6s %2s %-18s %9s %8s %9s\n", "layer", "M", "S", "hooks", "us",
              "vs_plain", "rel_err");
  for (const LayerShape& l : kLayers) {
    if (std::find(opts.layers.begin(), opts.layers.end(), l.name) == opts.layers.end()) continue;
    for (int64_t m : opts.ms) {
      const int64_t shard = m / 2, n = l.n;
      codegen::GemmSpec spec;
      spec.arch = codegen::Arch::kSm90a;
      spec.variant = std::string(codegen::kVariantSm90Wgmma);
      spec.m_hint = m;
      spec.n = n;
      spec.k = l.k;
      spec.scale = fusion::ScaleMode::kTensor;
      spec.out = codegen::OutDtype::kBF16;
      spec.accumulate = true;  // as the daemon compiles a reduce-scatter region's kernel
      spec.tile = codegen::choose_tile(spec);
      Result<codegen::CompileOutput> cubin = compiler->compile(codegen::generate(spec), spec.arch);
      if (!cubin.ok()) throw CheckError("compile " + codegen::kernel_name(spec) + ": " + cubin.error().message);
      const runtime::GemmKernel kernel =
          runtime::GemmKernel::load(d, spec, cubin->cubin).value();
      const InputSets in = make_inputs(d, m, n, l.k, dev->info.l2_bytes, 7000 + m);
      const int sets = int(in.a.size());
      const float scales[2] = {0.75f, 0.5f};
      DeviceBuffer sc(d, sizeof(scales)), plain_d(d, size_t(m * n * 2)), send(d, size_t(m * n * 2));
      sc.upload({reinterpret_cast<const uint8_t*>(scales), sizeof(scales)});
      DeviceBuffer own_d(d, size_t(shard * n * 2)), own_c(d, size_t(shard * n * 2));
      const std::vector<uint16_t> partial = random_partial(size_t(shard * n), 11 + m);
      own_c.upload({reinterpret_cast<const uint8_t*>(partial.data()), partial.size() * 2});
      std::vector<uint32_t> raised(2 * kMaxChunks, 1u);
      DeviceBuffer ready(d, raised.size() * 4), done(d, raised.size() * 4);
      ready.upload({reinterpret_cast<const uint8_t*>(raised.data()), raised.size() * 4});
      done.fill(0);

      auto args_for = [&](const Hooks* h, int chunks, int64_t rows) {
        GemmArgs g{};
        g.d = h ? send.data() : plain_d.data();
        g.scale_a = static_cast<const float*>(sc.data());
        g.scale_b = g.scale_a + 1;
        g.m = int(rows);
        g.lda = g.ldb = l.k;
        g.ldd = g.ldc = n;
        if (!h) return g;
        const runtime::ChunkPlan p = runtime::plan_chunks(m, 2, chunks).value();
        g.hook_shard_rows = int(p.shard_rows);
        g.hook_chunk_rows = int(p.chunk_rows);
        g.hook_stride = kMaxChunks;
        g.hook_epoch = 1;
        if (h->order) {
          const runtime::OneLaunchOrder o = runtime::one_launch_order(
              m, spec.tile.bm, spec.tile.cluster_m, p.shard_rows, p.chunk_rows, shard, true);
          g.first_m_block = o.first_m_block;
          g.hook_group_mc = o.group_mc;
        }
        if (h->own) g.own_d = own_d.data(), g.own_begin = 0, g.own_end = int(shard);
        if (h->own_c) g.own_c = own_c.data();
        if (h->flags) g.c_ready = static_cast<const unsigned*>(ready.data());
        if (h->count) g.tile_done = static_cast<unsigned*>(done.data());
        return g;
      };
      auto time_args = [&](GemmArgs g) {
        return median_us(d, stream.get(), opts.warmup, opts.iters, [&](int i) {
          g.a = in.a[i % sets].data();
          g.b = in.b[i % sets].data();
          ok_or_throw(kernel.launch(g, stream.get()));
        });
      };
      // The plain launch: the reference output and the time every hook is compared with.
      GemmArgs g0 = args_for(nullptr, 1, m);
      g0.a = in.a[0].data();
      g0.b = in.b[0].data();
      ok_or_throw(kernel.launch(g0, stream.get()));
      stream.synchronize();
      const std::vector<uint16_t> plain = download_bf16(plain_d, size_t(m * n));
      const double plain_us = time_args(args_for(nullptr, 1, m));
      const double half_us = time_args(args_for(nullptr, 1, shard));
      auto report = [&](const char* name, int chunks, double us, double err) {
        std::printf("%-5s %6lld %2d %-18s %9.1f %8.3f %9.2e\n", l.name, (long long)m, chunks, name,
                    us, us / plain_us, err);
        std::fflush(stdout);
        rows.push_back({{"layer", l.name}, {"m", m}, {"n", n}, {"k", l.k}, {"chunks", chunks},
                        {"hooks", name}, {"us", us}, {"over_plain", us / plain_us},
                        {"rel_error", err}, {"kernel", codegen::kernel_name(spec)}});
      };
      report("plain", 0, plain_us, 0);
      report("plain, half rows", 0, half_us, 0);
      for (int chunks : opts.chunks)
        for (const Hooks& h : kSteps) {
          if (!h.order && chunks != opts.chunks.front()) continue;  // the same for every S
          GemmArgs g = args_for(&h, chunks, m);
          // Check first, outputs poisoned: peer rows as the plain launch; own rows plus C.
          send.fill(0xFF);
          own_d.fill(0xFF);
          g.a = in.a[0].data();
          g.b = in.b[0].data();
          ok_or_throw(kernel.launch(g, stream.get()));
          stream.synchronize();
          const std::vector<uint16_t> got = download_bf16(send, size_t(m * n));
          const int64_t first = h.own ? shard : 0;
          double err = rel_error_bf16(
              std::vector<uint16_t>(got.begin() + first * n, got.end()),
              expected_rows(plain, n, first, m - first, nullptr));
          if (h.own)
            err = std::max(err, rel_error_bf16(download_bf16(own_d, size_t(shard * n)),
                                               expected_rows(plain, n, 0, shard,
                                                             h.own_c ? &partial : nullptr)));
          if (!(err <= 1e-2)) {
            std::printf("%-5s %6lld %2d %-18s WRONG: rel error %.3g; not timed\n", l.name,
                        (long long)m, chunks, h.name, err);
            all_ok = false;
            continue;
          }
          report(h.name, h.order ? chunks : 0, time_args(g), err);
        }
    }
  }
  if (!opts.json_path.empty())
    std::ofstream(opts.json_path) << nlohmann::json{{"device", dev->info.name},
                                                    {"iters", opts.iters},
                                                    {"results", rows}}.dump(2)
                                  << "\n";
  return all_ok ? 0 : 1;
}

}  // namespace tpjit::bench
