#include "bench/measure.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bench/fill.h"
#include "runtime/numerics.h"
#include "runtime/stream.h"
#include "util/check.h"

namespace tpjit::bench {

std::optional<BenchDevice> open_bench_device() {
  Result<const runtime::Driver*> drv = runtime::Driver::load();
  if (!drv.ok()) {
    std::fprintf(stderr, "tpjit-bench: %s\n", drv.error().message.c_str());
    return std::nullopt;
  }
  Result<runtime::DeviceInfo> info = runtime::query_device(**drv, 0);
  Result<runtime::PrimaryContext> ctx = runtime::PrimaryContext::retain(**drv, 0);
  if (!info.ok() || !ctx.ok()) {
    std::fprintf(stderr, "tpjit-bench: %s\n",
                 (!info.ok() ? info.error() : ctx.error()).message.c_str());
    return std::nullopt;
  }
  return BenchDevice{*drv, std::move(info).value(), std::move(ctx).value()};
}

InputSets make_inputs(const runtime::Driver& d, int64_t m, int64_t n, int64_t k, int l2_bytes,
                      uint64_t seed) {
  const size_t a_bytes = size_t(m * k), b_bytes = size_t(n * k);
  const size_t per_set = a_bytes + b_bytes;
  const int sets = static_cast<int>(
      std::clamp<size_t>((3 * size_t(l2_bytes) + per_set - 1) / per_set, 2, 16));
  InputSets in;
  std::vector<uint8_t> host(std::max(a_bytes, b_bytes));
  for (int i = 0; i < sets; ++i) {
    fill_random_e4m3({host.data(), a_bytes}, seed + 2 * i);
    in.a.emplace_back(d, a_bytes).upload({host.data(), a_bytes});
    fill_random_e4m3({host.data(), b_bytes}, seed + 2 * i + 1);
    in.b.emplace_back(d, b_bytes).upload({host.data(), b_bytes});
  }
  return in;
}

double median_us(const runtime::Driver& d, CUstream stream, int warmup, int iters,
                 const std::function<void(int)>& launch) {
  for (int i = 0; i < warmup; ++i) launch(i);
  std::vector<runtime::Event> start, stop;
  for (int i = 0; i < iters; ++i) {
    start.emplace_back(d);
    stop.emplace_back(d);
  }
  for (int i = 0; i < iters; ++i) {
    start[i].record(stream);
    launch(warmup + i);
    stop[i].record(stream);
  }
  stop.back().synchronize();
  std::vector<double> us;
  for (int i = 0; i < iters; ++i) us.push_back(1e3 * stop[i].elapsed_ms_since(start[i]));
  std::nth_element(us.begin(), us.begin() + iters / 2, us.end());
  return us[iters / 2];
}

std::vector<uint16_t> download_bf16(const runtime::DeviceBuffer& b, size_t count) {
  std::vector<uint16_t> out(count);
  b.download({reinterpret_cast<uint8_t*>(out.data()), count * 2});
  return out;
}

double rel_error_bf16(const std::vector<uint16_t>& ours, const std::vector<uint16_t>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    const double o = runtime::bf16_to_float(ours[i]), r = runtime::bf16_to_float(ref[i]);
    if (!std::isfinite(o)) return INFINITY;
    num += (o - r) * (o - r);
    den += r * r;
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

Measured check_then_time(const runtime::Driver& d, const runtime::GemmKernel& kernel,
                         const DenseGemm& p, const std::vector<uint16_t>& ref,
                         double max_rel_error, CUstream stream, int warmup, int iters) {
  const int sets = static_cast<int>(p.in->a.size());
  GemmArgs args{};
  args.d = p.d->data();
  args.scale_a = static_cast<const float*>(p.scale_a->data());
  args.scale_b = static_cast<const float*>(p.scale_b->data());
  args.m = static_cast<int>(p.m);
  args.lda = args.ldb = p.k;
  args.ldd = p.n;
  auto launch = [&](int i) {
    args.a = p.in->a[i % sets].data();
    args.b = p.in->b[i % sets].data();
    Status st = kernel.launch(args, stream);
    if (!st.ok()) throw CheckError(st.error().message);
  };
  p.d->fill(0xFF);  // NaN in bf16: an unwritten element fails the check
  launch(0);
  TPJIT_CU(d, cuStreamSynchronize(stream));
  Measured out{};
  out.rel_error = rel_error_bf16(download_bf16(*p.d, size_t(p.m * p.n)), ref);
  out.correct = out.rel_error <= max_rel_error;
  if (out.correct) out.us = median_us(d, stream, warmup, iters, launch);
  return out;
}

}  // namespace tpjit::bench
