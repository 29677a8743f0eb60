#include "worker/float64_check.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <thread>

#include "runtime/numerics.h"
#include "worker/host_data.h"

namespace tpjit::worker {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

std::vector<float> as_floats(const std::vector<uint8_t>& bytes) {
  std::vector<float> f(bytes.size() / 4);
  if (!f.empty()) std::memcpy(f.data(), bytes.data(), f.size() * 4);
  return f;
}

// One source rank's share of the sampled rows: which sampled rows it feeds, and from which
// row of its A.
struct Share {
  std::vector<size_t> sampled;  // indices into the sample
  std::vector<int64_t> a_rows;  // matching rows of A_q
};

}  // namespace

double float64_bound(codegen::OutDtype out) {
  return out == codegen::OutDtype::kBF16 ? 1e-2 : out == codegen::OutDtype::kF16 ? 2e-3 : 1e-4;
}

Result<Float64Result> float64_check(const Float64Problem& p, const RankLoader& load,
                                    const std::vector<uint8_t>& out, int rows,
                                    uint64_t sample_seed) {
  const int64_t shard = p.m / p.world, out_rows = p.all_gather ? p.m : shard;
  const int64_t kb = ceil_div(p.k, 128), nb = ceil_div(p.n, 128);
  const size_t item = static_cast<size_t>(codegen::out_dtype_bytes(p.out));
  if (out.size() != size_t(out_rows * p.n) * item)
    return make_error(errc::kInternal, "float64 check: output size does not match its shape", "");

  // Distinct rows, drawn by a partial Fisher-Yates shuffle, kept in order.
  std::vector<int64_t> sample(static_cast<size_t>(out_rows));
  std::iota(sample.begin(), sample.end(), int64_t{0});
  std::mt19937_64 rng(sample_seed);
  const size_t s = std::min<size_t>(static_cast<size_t>(std::max(rows, 1)), sample.size());
  for (size_t i = 0; i < s; ++i)
    std::swap(sample[i], sample[i + rng() % (sample.size() - i)]);
  sample.resize(s);
  std::sort(sample.begin(), sample.end());

  std::map<int, Share> shares;
  for (size_t t = 0; t < s; ++t) {
    if (p.all_gather) {
      Share& sh = shares[static_cast<int>(sample[t] / shard)];
      sh.sampled.push_back(t);
      sh.a_rows.push_back(sample[t] % shard);
    } else {
      for (int q = 0; q < p.world; ++q) {
        shares[q].sampled.push_back(t);
        shares[q].a_rows.push_back(p.rank * shard + sample[t]);
      }
    }
  }

  const int64_t a_rows = p.all_gather ? shard : p.m;
  auto scale_count = [&](bool is_a) -> uint64_t {
    if (p.scale == fusion::ScaleMode::kRow) return uint64_t(is_a ? a_rows : p.n);
    if (p.scale == fusion::ScaleMode::kBlock) return uint64_t(is_a ? a_rows * kb : kb * nb);
    return 1;
  };
  std::vector<double> ref(s * size_t(p.n), 0.0);
  std::vector<uint8_t> b_own;
  std::vector<float> sb_own, sa_own;
  if (p.all_gather) {  // one weight shard for every source rank
    auto b = load(p.b, HostKind::kFp8, uint64_t(p.n * p.k), p.rank);
    if (!b) return b.error();
    auto sb = load(p.scale_b, HostKind::kF32, scale_count(false), p.rank);
    if (!sb) return sb.error();
    auto sa = load(p.scale_a, HostKind::kF32, scale_count(true), p.rank);
    if (!sa) return sa.error();
    b_own = std::move(*b);
    sb_own = as_floats(*sb);
    sa_own = as_floats(*sa);
  }
  for (const auto& [q, share] : shares) {
    auto a = load(p.a, HostKind::kFp8, uint64_t(a_rows * p.k), q);
    if (!a) return a.error();
    std::vector<float> sa = sa_own, sb = sb_own;
    std::vector<uint8_t> b_q;
    if (!p.all_gather || p.scale != fusion::ScaleMode::kTensor) {
      auto x = load(p.scale_a, HostKind::kF32, scale_count(true), q);
      if (!x) return x.error();
      sa = as_floats(*x);
    }
    if (!p.all_gather) {
      auto b = load(p.b, HostKind::kFp8, uint64_t(p.n * p.k), q);
      if (!b) return b.error();
      auto x = load(p.scale_b, HostKind::kF32, scale_count(false), q);
      if (!x) return x.error();
      b_q = std::move(*b);
      sb = as_floats(*x);
    }
    const std::vector<uint8_t>& b = p.all_gather ? b_own : b_q;
    // The sampled rows of A_q, decoded once.
    const size_t r = share.sampled.size();
    std::vector<double> a_dec(r * size_t(p.k));
    for (size_t t = 0; t < r; ++t)
      for (int64_t k = 0; k < p.k; ++k)
        a_dec[t * size_t(p.k) + size_t(k)] =
            runtime::e4m3_to_float((*a)[size_t(share.a_rows[t] * p.k + k)]);
    auto columns = [&](int64_t n0, int64_t n1) {
      std::vector<double> brow(static_cast<size_t>(p.k));
      for (int64_t n = n0; n < n1; ++n) {
        for (int64_t k = 0; k < p.k; ++k)
          brow[size_t(k)] = runtime::e4m3_to_float(b[size_t(n * p.k + k)]);
        for (size_t t = 0; t < r; ++t) {
          const double* arow = &a_dec[t * size_t(p.k)];
          const int64_t row = share.a_rows[t];
          double v = 0;
          for (int64_t blk = 0; blk < kb; ++blk) {
            double part = 0;
            for (int64_t k = blk * 128; k < std::min(p.k, blk * 128 + 128); ++k)
              part += arow[k] * brow[size_t(k)];
            double scale = p.scale == fusion::ScaleMode::kRow   ? double(sa[size_t(row)]) * sb[size_t(n)]
                           : p.scale == fusion::ScaleMode::kBlock
                               ? double(sa[size_t(row * kb + blk)]) * sb[size_t(blk * nb + n / 128)]
                               : double(sa[0]) * sb[0];
            v += part * scale;
          }
          ref[share.sampled[t] * size_t(p.n) + size_t(n)] += v;
        }
      }
    };
    // Threads over disjoint column ranges: each writes only its own columns of ref.
    const int64_t threads =
        std::clamp<int64_t>(std::thread::hardware_concurrency() / 2, 1, std::min<int64_t>(8, p.n));
    std::vector<std::thread> pool;
    for (int64_t i = 0; i < threads; ++i)
      pool.emplace_back(columns, p.n * i / threads, p.n * (i + 1) / threads);
    for (auto& th : pool) th.join();
  }

  double diff = 0, norm = 0;
  for (size_t t = 0; t < s; ++t)
    for (int64_t n = 0; n < p.n; ++n) {
      const double x = decode_out(p.out, &out[(size_t(sample[t] * p.n + n)) * item]);
      const double r = ref[t * size_t(p.n) + size_t(n)];
      if (!std::isfinite(x))
        return Float64Result{std::numeric_limits<double>::infinity(), int64_t(s)};
      diff += (x - r) * (x - r);
      norm += r * r;
    }
  return Float64Result{norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff), int64_t(s)};
}

}  // namespace tpjit::worker
