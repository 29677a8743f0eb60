#include "tests/gpu/reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

namespace tpjit::gpu_test {

using runtime::e4m3_to_float;

int out_bytes(RefOut o) { return o == RefOut::kF32 ? 4 : 2; }

double decode_out(RefOut o, const uint8_t* p) {
  if (o == RefOut::kF32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return o == RefOut::kBF16 ? runtime::bf16_to_float(h) : runtime::f16_to_float(h);
}

void encode_out(RefOut o, double v, uint8_t* p) {
  const float f = static_cast<float>(v);
  if (o == RefOut::kF32) {
    std::memcpy(p, &f, 4);
    return;
  }
  const uint16_t h = o == RefOut::kBF16 ? runtime::float_to_bf16(f) : runtime::float_to_f16(f);
  std::memcpy(p, &h, 2);
}

namespace {

uint8_t random_e4m3(std::normal_distribution<float>& nd, std::mt19937_64& rng) {
  for (;;) {
    const uint8_t v = runtime::float_to_e4m3(nd(rng));
    if ((v & 0x7F) != 0) return v;  // never +-0
  }
}

}  // namespace

HostProblem make_problem(int m, int n, int k, RefScale s, RefOut o, bool bias, bool accumulate,
                         std::mt19937_64& rng) {
  HostProblem p;
  p.m = m, p.n = n, p.k = k, p.scale = s, p.out = o, p.bias = bias, p.accumulate = accumulate;
  p.lda = (k + 15) / 16 * 16;
  p.ldb = p.lda;
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(0.5f, 2.0f);
  p.a.assign(static_cast<size_t>(m) * p.lda, 0);
  p.b.assign(static_cast<size_t>(n) * p.ldb, 0);
  for (int i = 0; i < m; ++i)
    for (int x = 0; x < k; ++x) p.a[i * p.lda + x] = random_e4m3(nd, rng);
  for (int j = 0; j < n; ++j)
    for (int x = 0; x < k; ++x) p.b[j * p.ldb + x] = random_e4m3(nd, rng);
  const int kb = (k + 127) / 128, nb = (n + 127) / 128;
  const size_t na = s == RefScale::kTensor ? 1 : s == RefScale::kRow ? m : size_t(m) * kb;
  const size_t ns = s == RefScale::kTensor ? 1 : s == RefScale::kRow ? n : size_t(kb) * nb;
  for (size_t i = 0; i < na; ++i) p.scale_a.push_back(ud(rng));
  for (size_t i = 0; i < ns; ++i) p.scale_b.push_back(ud(rng));
  const int ob = out_bytes(o);
  // Bias and C of the size of a typical output (sum of k products of N(0,1)-ish values).
  std::normal_distribution<double> big(0.0, std::sqrt(static_cast<double>(k)));
  if (bias) {
    p.bias_v.resize(size_t(n) * ob);
    for (int j = 0; j < n; ++j) encode_out(o, big(rng), &p.bias_v[size_t(j) * ob]);
  }
  if (accumulate) {
    p.c.resize(size_t(m) * n * ob);
    for (size_t i = 0; i < size_t(m) * n; ++i) encode_out(o, big(rng), &p.c[i * ob]);
  }
  return p;
}

std::vector<double> reference(const HostProblem& p) {
  const int kb = (p.k + 127) / 128, nb = (p.n + 127) / 128;
  const int ob = out_bytes(p.out);
  std::vector<double> av(size_t(p.m) * p.k), bv(size_t(p.n) * p.k);
  for (int i = 0; i < p.m; ++i)
    for (int x = 0; x < p.k; ++x) av[size_t(i) * p.k + x] = e4m3_to_float(p.a[i * p.lda + x]);
  for (int j = 0; j < p.n; ++j)
    for (int x = 0; x < p.k; ++x) bv[size_t(j) * p.k + x] = e4m3_to_float(p.b[j * p.ldb + x]);
  std::vector<double> d(size_t(p.m) * p.n);
  // Rows split over the cores: the large persistent-kernel cases need ~20 G multiply-adds.
  auto rows = [&](int first, int last) {
  for (int i = first; i < last; ++i) {
    const double* ar = &av[size_t(i) * p.k];
    for (int j = 0; j < p.n; ++j) {
      const double* br = &bv[size_t(j) * p.k];
      double v = 0;
      if (p.scale == RefScale::kBlock) {
        for (int q = 0; q < kb; ++q) {
          double part = 0;
          for (int x = q * 128; x < std::min(p.k, (q + 1) * 128); ++x) part += ar[x] * br[x];
          v += part * p.scale_a[size_t(i) * kb + q] * p.scale_b[size_t(q) * nb + j / 128];
        }
      } else {
        for (int x = 0; x < p.k; ++x) v += ar[x] * br[x];
        v *= p.scale == RefScale::kTensor ? double(p.scale_a[0]) * p.scale_b[0]
                                          : double(p.scale_a[i]) * p.scale_b[j];
      }
      if (p.bias) v += decode_out(p.out, &p.bias_v[size_t(j) * ob]);
      if (p.accumulate) v += decode_out(p.out, &p.c[(size_t(i) * p.n + j) * ob]);
      d[size_t(i) * p.n + j] = v;
    }
  }
  };
  const int workers = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 32u));
  const int per = (p.m + workers - 1) / workers;
  std::vector<std::thread> threads;
  for (int first = 0; first < p.m; first += per)
    threads.emplace_back(rows, first, std::min(p.m, first + per));
  for (std::thread& t : threads) t.join();
  return d;
}

double rel_error(const std::vector<double>& out, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) return std::numeric_limits<double>::infinity();
    num += (out[i] - ref[i]) * (out[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

}  // namespace tpjit::gpu_test
