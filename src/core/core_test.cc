#include <gtest/gtest.h>

#include "core/clock.h"
#include "core/status.h"
#include "core/time_util.h"
#include "core/value.h"

namespace freshet {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd");
  return x / 2;
}

Status UseHalf(int x, int* out) {
  ASSIGN_OR_RETURN(int h, Half(x));
  *out = h;
  return Status::Ok();
}

TEST(StatusTest, ResultCarriesValueOrStatus) {
  int out = 0;
  EXPECT_TRUE(UseHalf(4, &out).ok());
  EXPECT_EQ(out, 2);
  Status st = UseHalf(3, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.ToString(), "invalid_argument: odd");
  EXPECT_EQ(st.WithContext("line 3").message(), "line 3: odd");
}

TEST(TimeTest, ParsesDurations) {
  EXPECT_EQ(*ParseDurationMs("10m"), 600'000);
  EXPECT_EQ(*ParseDurationMs("1h30m"), 5'400'000);
  EXPECT_EQ(*ParseDurationMs("7d"), 604'800'000);
  EXPECT_EQ(*ParseDurationMs("250ms"), 250);
  EXPECT_EQ(*ParseDurationMs("1500"), 1500);
  EXPECT_FALSE(ParseDurationMs("10x").ok());
  EXPECT_FALSE(ParseDurationMs("").ok());
  EXPECT_FALSE(ParseDurationMs("m").ok());
  EXPECT_EQ(FormatDurationMs(5'400'000), "1h30m");
  EXPECT_EQ(FormatDurationMs(600'000), "10m");
}

TEST(TimeTest, ParsesRfc3339) {
  EXPECT_EQ(*ParseRfc3339Ms("2026-01-01T00:00:00Z"), 1'767'225'600'000);
  EXPECT_EQ(*ParseRfc3339Ms("2026-01-01T01:00:00.5+01:00"), 1'767'225'600'500);
  EXPECT_EQ(*ParseRfc3339Ms("1970-01-01T00:00:00.123Z"), 123);
  EXPECT_FALSE(ParseRfc3339Ms("2026-13-01T00:00:00Z").ok());
  EXPECT_FALSE(ParseRfc3339Ms("2026-01-01").ok());
  EXPECT_EQ(FormatRfc3339Ms(1'767'225'600'250), "2026-01-01T00:00:00.250Z");
}

TEST(ValueTest, ComparesNumbersAcrossTypes) {
  EXPECT_EQ(Value::Int(3), Value::Double(3.0));
  EXPECT_FALSE(Value::Int(3) == Value::String("3"));
  EXPECT_TRUE(Value().is_null());
  EXPECT_EQ(Value::MakeList({Value::Int(1), Value::String("a")}).ToString(), "[1, \"a\"]");
}

TEST(ClockTest, ManualClockMovesOnlyWhenTold) {
  ManualClock clock(100);
  EXPECT_EQ(clock.NowMs(), 100);
  clock.Advance(50);
  EXPECT_EQ(clock.NowMs(), 150);
  EXPECT_GT(SystemClock::Default()->NowMs(), 1'700'000'000'000);
}

}  // namespace
}  // namespace freshet
