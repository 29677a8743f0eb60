#include "util/int_math.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace tpjit {
namespace {

TEST(CeilDiv, RoundsUpAndDoesNotOverflowAtTheTop) {
  EXPECT_EQ(ceil_div(0, 128), 0);
  EXPECT_EQ(ceil_div(1, 128), 1);
  EXPECT_EQ(ceil_div(128, 128), 1);
  EXPECT_EQ(ceil_div(129, 128), 2);
  constexpr int64_t kTop = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(ceil_div(kTop, 128), kTop / 128 + 1);  // (a + b - 1) / b overflowed here
  EXPECT_EQ(ceil_div(kTop, 1), kTop);
  EXPECT_EQ(ceil_div(-5, 2), -2);  // toward zero for negatives, as integer division
}

}  // namespace
}  // namespace tpjit
