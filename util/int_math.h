// Integer helpers that must not overflow on the sizes an untrusted graph may declare.
#pragma once

#include <cstdint>

namespace tpjit {

// ceil(a / b) for b > 0, without forming a + b - 1 (which overflows for a near INT64_MAX).
constexpr int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b > 0 ? 1 : 0); }

}  // namespace tpjit
