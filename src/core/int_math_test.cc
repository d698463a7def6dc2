#include "core/int_math.h"

#include <gtest/gtest.h>

namespace freshet {
namespace {

TEST(IntMathTest, SaturatesAtBothEnds) {
  EXPECT_EQ(SaturatingAdd(1, 2), 3);
  EXPECT_EQ(SaturatingAdd(kInt64Max, 1), kInt64Max);
  EXPECT_EQ(SaturatingAdd(kInt64Min, -1), kInt64Min);
  EXPECT_EQ(SaturatingSub(5, 7), -2);
  EXPECT_EQ(SaturatingSub(kInt64Min, 1), kInt64Min);
  EXPECT_EQ(SaturatingSub(kInt64Max, -1), kInt64Max);
  EXPECT_EQ(SaturatingSub(0, kInt64Min), kInt64Max);
}

TEST(IntMathTest, CappedBackoffDoublesUpToItsCap) {
  EXPECT_EQ(CappedBackoff(50, 2000, 0), 50);
  EXPECT_EQ(CappedBackoff(50, 2000, 1), 50);
  EXPECT_EQ(CappedBackoff(50, 2000, 2), 100);
  EXPECT_EQ(CappedBackoff(50, 2000, 6), 1600);
  EXPECT_EQ(CappedBackoff(50, 2000, 7), 2000);
  EXPECT_EQ(CappedBackoff(50, 2000, 1'000'000), 2000);  // no overflow on the way
  EXPECT_EQ(CappedBackoff(kInt64Max / 2 + 1, kInt64Max, 3), kInt64Max);
}

TEST(IntMathTest, CheckedOpsReportOverflow) {
  int64_t r = 0;
  EXPECT_TRUE(CheckedMul(3, 4, &r));
  EXPECT_EQ(r, 12);
  EXPECT_FALSE(CheckedMul(kInt64Max / 2 + 1, 2, &r));
  EXPECT_FALSE(CheckedAdd(kInt64Max, 1, &r));
  EXPECT_FALSE(CheckedSub(kInt64Min, 1, &r));
  EXPECT_TRUE(CheckedSub(-1, kInt64Max, &r));
  EXPECT_EQ(r, kInt64Min);
}

}  // namespace
}  // namespace freshet
