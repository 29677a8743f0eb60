#include "runtime/numerics.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>

namespace tpjit::runtime {

float e4m3_to_float(uint8_t v) {
  const int sign = v >> 7, exp = (v >> 3) & 0xF, man = v & 0x7;
  if (exp == 0xF && man == 0x7) return std::numeric_limits<float>::quiet_NaN();
  // Subnormals: man/8 * 2^-6; normals: (1 + man/8) * 2^(exp-7). Both exact in float.
  const float mag = exp == 0 ? std::ldexp(static_cast<float>(man), -9)
                             : std::ldexp(static_cast<float>(8 + man), exp - 10);
  return sign ? -mag : mag;
}

uint8_t float_to_e4m3(float x) {
  if (std::isnan(x)) return 0x7F;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  const float a = std::fabs(x);
  // The 127 non-negative finite codes are ordered by value, so the nearest code is found by
  // binary search; ties go to the even code, which is the even mantissa.
  static const std::array<float, 127> kValues = [] {
    std::array<float, 127> t{};
    for (int c = 0; c < 127; ++c) t[c] = e4m3_to_float(static_cast<uint8_t>(c));
    return t;
  }();
  if (a >= kValues[126]) return sign | 126;  // saturate (also +-inf)
  int lo = 0, hi = 126;                       // kValues[lo] <= a < kValues[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    (kValues[mid] <= a ? lo : hi) = mid;
  }
  const float dlo = a - kValues[lo], dhi = kValues[hi] - a;
  const int code = dlo < dhi ? lo : dhi < dlo ? hi : (lo % 2 == 0 ? lo : hi);
  return sign | static_cast<uint8_t>(code);
}

float bf16_to_float(uint16_t v) { return std::bit_cast<float>(static_cast<uint32_t>(v) << 16); }

uint16_t float_to_bf16(float x) {
  uint32_t u = std::bit_cast<uint32_t>(x);
  if (std::isnan(x)) return static_cast<uint16_t>((u >> 16) | 0x40);  // keep it a quiet NaN
  u += 0x7FFF + ((u >> 16) & 1);                                      // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

float f16_to_float(uint16_t v) {
  const int sign = v >> 15, exp = (v >> 10) & 0x1F, man = v & 0x3FF;
  float mag;
  if (exp == 0) mag = std::ldexp(static_cast<float>(man), -24);
  else if (exp == 31) mag = man ? std::numeric_limits<float>::quiet_NaN()
                                : std::numeric_limits<float>::infinity();
  else mag = std::ldexp(static_cast<float>(1024 + man), exp - 25);
  return sign ? -mag : mag;
}

uint16_t float_to_f16(float x) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  if (std::isnan(x)) return 0x7E00;
  const double a = std::fabs(static_cast<double>(x));
  if (a >= 65520.0) return sign | 0x7C00;  // rounds to infinity
  // Scale to units of the target's last place, then round to nearest even once (exact in
  // double, since a float has 24 bits and the scale is a power of two).
  int e = 0;
  std::frexp(a, &e);                  // a = f * 2^e, f in [0.5, 1)
  const int exp = std::max(e - 1, -14);  // unbiased exponent; below -14: subnormal
  const double ulp = std::ldexp(1.0, exp - 10);
  const double q = std::nearbyint(a / ulp);  // default rounding mode: to nearest even
  // q in [0, 2048]; 2048 means the mantissa overflowed into the next binade.
  const int biased = exp + 15;
  uint32_t bits = (a < std::ldexp(1.0, -14)) ? static_cast<uint32_t>(q)
                                             : (static_cast<uint32_t>(biased) << 10) +
                                                   (static_cast<uint32_t>(q) - 1024);
  return sign | static_cast<uint16_t>(bits);
}

}  // namespace tpjit::runtime
