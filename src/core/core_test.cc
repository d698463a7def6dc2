#include <gtest/gtest.h>

#include "core/clock.h"
#include "core/json.h"
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

TEST(TimeTest, RejectsDurationsThatOverflow) {
  EXPECT_EQ(ParseDurationMs("99999999999999999d").status().message(),
            "duration '99999999999999999d' overflows");
  EXPECT_EQ(ParseDurationMs("99999999999999999999").status().message(),
            "duration '99999999999999999999' overflows");
  EXPECT_EQ(ParseDurationMs("9223372036854775807ms1ms").status().message(),
            "duration '9223372036854775807ms1ms' overflows");
  EXPECT_EQ(*ParseDurationMs("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(*ParseDurationMs("15250w"), 15250 * 604'800'000LL);
}

TEST(TimeTest, FormatsEveryDuration) {
  EXPECT_EQ(FormatDurationMs(-1500), "-1s500ms");
  EXPECT_EQ(FormatDurationMs(INT64_MIN), "-106751991167d7h12m55s808ms");
}

Status TimestampError(std::string_view text) { return ParseRfc3339Ms(text).status(); }

TEST(TimeTest, RejectsDatesThatDoNotExist) {
  EXPECT_EQ(TimestampError("2026-02-31T00:00:00Z").message(),
            "bad timestamp '2026-02-31T00:00:00Z': day 31 is not 1-28 in 2026-02");
  EXPECT_EQ(TimestampError("2026-02-29T00:00:00Z").message(),
            "bad timestamp '2026-02-29T00:00:00Z': day 29 is not 1-28 in 2026-02");
  EXPECT_EQ(*ParseRfc3339Ms("2024-02-29T00:00:00Z"), 1'709'164'800'000);
  EXPECT_EQ(*ParseRfc3339Ms("2000-02-29T00:00:00Z"), 951'782'400'000);
  EXPECT_EQ(TimestampError("1900-02-29T00:00:00Z").message(),
            "bad timestamp '1900-02-29T00:00:00Z': day 29 is not 1-28 in 1900-02");
  EXPECT_EQ(TimestampError("2026-04-31T00:00:00Z").message(),
            "bad timestamp '2026-04-31T00:00:00Z': day 31 is not 1-30 in 2026-04");
  EXPECT_EQ(TimestampError("2026-01-00T00:00:00Z").message(),
            "bad timestamp '2026-01-00T00:00:00Z': day 0 is not 1-31 in 2026-01");
  EXPECT_EQ(TimestampError("2026-00-10T00:00:00Z").message(),
            "bad timestamp '2026-00-10T00:00:00Z': month 0 is not 1-12");
  EXPECT_EQ(TimestampError("2026-13-01T00:00:00Z").message(),
            "bad timestamp '2026-13-01T00:00:00Z': month 13 is not 1-12");
}

TEST(TimeTest, RejectsTimesOutOfRange) {
  EXPECT_EQ(TimestampError("2026-01-01T24:00:00Z").message(),
            "bad timestamp '2026-01-01T24:00:00Z': hour 24 is not 0-23");
  EXPECT_EQ(TimestampError("2026-01-01T00:60:00Z").message(),
            "bad timestamp '2026-01-01T00:60:00Z': minute 60 is not 0-59");
  EXPECT_EQ(TimestampError("2026-01-01T00:00:61Z").message(),
            "bad timestamp '2026-01-01T00:00:61Z': second 61 is not 0-59 (60 only at 23:59 UTC)");
  EXPECT_EQ(TimestampError("2026-01-01T12:00:60Z").message(),
            "bad timestamp '2026-01-01T12:00:60Z': second 60 is not 0-59 (60 only at 23:59 UTC)");
  EXPECT_EQ(TimestampError("2026-01-01T00:00:00+24:00").message(),
            "bad timestamp '2026-01-01T00:00:00+24:00': offset 24:00 is outside -23:59..+23:59");
  EXPECT_EQ(TimestampError("2026-01-01T00:00:00-05:60").message(),
            "bad timestamp '2026-01-01T00:00:00-05:60': offset 05:60 is outside -23:59..+23:59");
  EXPECT_EQ(*ParseRfc3339Ms("2026-01-01T23:59:00-23:59"), 1'767'398'280'000);
  EXPECT_EQ(TimestampError("2026-01-01T00:00:00").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TimestampError("2026-01-01T00:00:00Zjunk").code(), StatusCode::kInvalidArgument);
}

TEST(TimeTest, ReadsALeapSecondAsTheNextDay) {
  EXPECT_EQ(*ParseRfc3339Ms("2016-12-31T23:59:60Z"), *ParseRfc3339Ms("2017-01-01T00:00:00Z"));
  EXPECT_EQ(*ParseRfc3339Ms("2016-12-31T18:59:60.5-05:00"),
            *ParseRfc3339Ms("2017-01-01T00:00:00.5Z"));
}

TEST(TimeTest, FormatsEveryInt64Timestamp) {
  EXPECT_EQ(FormatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Ms(951'782'400'000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(253'402'300'799'999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Ms(-62'167'219'200'000), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(-62'167'219'200'001), "-000001-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Ms(253'402'300'800'000), "+010000-01-01T00:00:00.000Z");
  // Found by fuzz/time_fuzzer: flooring to days overflowed inside std::chrono.
  EXPECT_EQ(FormatRfc3339Ms(INT64_MIN), "-292275055-05-16T16:47:04.192Z");
  EXPECT_EQ(FormatRfc3339Ms(INT64_MAX), "+292278994-08-17T07:12:55.807Z");
}

TEST(ValueTest, ComparesNumbersAcrossTypes) {
  EXPECT_EQ(Value::Int(3), Value::Double(3.0));
  EXPECT_FALSE(Value::Int(3) == Value::String("3"));
  EXPECT_TRUE(Value().is_null());
  EXPECT_EQ(Value::MakeList({Value::Int(1), Value::String("a")}).ToString(), "[1, \"a\"]");
}

TEST(ResponseWriterTest, PlainAndQuotedStringsAreValidJson) {
  rapidjson::StringBuffer buf;
  ResponseWriter w(buf);
  w.StartObject();
  w.Plain("name");  // a member name
  w.StartArray();
  w.Plain("view:feature");
  w.Plain("say \"hi\"\\\n");  // needs escaping: written as String() does
  w.Quoted(R"("PRESENT")");
  w.Plain("");
  w.EndArray();
  w.EndObject();
  EXPECT_TRUE(w.IsComplete());
  EXPECT_EQ(std::string(buf.GetString()),
            R"({"name":["view:feature","say \"hi\"\\\n","PRESENT",""]})");
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
