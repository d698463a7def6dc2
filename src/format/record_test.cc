#include "format/record.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace freshet {
namespace {

Record RoundTrip(const Record& r) {
  std::string bytes;
  EncodeRecord(r, &bytes);
  Record back;
  Status st = DecodeRecord(bytes, &back);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return back;
}

TEST(RecordCodecTest, RoundTripsEveryValueKind) {
  Record r;
  r.ts_ms = 1767225600123;
  r.values = {Value(),
              Value::Bool(false),
              Value::Bool(true),
              Value::Int(0),
              Value::Int(-1),
              Value::Int(std::numeric_limits<int64_t>::min()),
              Value::Int(std::numeric_limits<int64_t>::max()),
              Value::Double(-2.5),
              Value::Double(0.1),
              Value::String(""),
              Value::String("héllo \"world\"\n"),
              Value::String(std::string(300, 'x'))};
  Record back = RoundTrip(r);
  EXPECT_EQ(back.ts_ms, r.ts_ms);
  ASSERT_EQ(back.values.size(), r.values.size());
  for (size_t i = 0; i < r.values.size(); ++i) {
    EXPECT_EQ(back.values[i], r.values[i]) << "value " << i;
  }
  // Kinds survive, not just numeric equality.
  EXPECT_TRUE(back.values[0].is_null());
  EXPECT_TRUE(back.values[3].is_int());
  EXPECT_TRUE(back.values[7].is_double());
  EXPECT_TRUE(back.values[9].is_string());
  EXPECT_EQ(back.values[9].as_string(), "");
}

TEST(RecordCodecTest, RoundTripsNegativeTimestampsAndSpecialDoubles) {
  Record r;
  r.ts_ms = -86'400'000;
  r.values = {Value::Double(std::numeric_limits<double>::infinity()), Value::Double(-0.0)};
  Record back = RoundTrip(r);
  EXPECT_EQ(back.ts_ms, -86'400'000);
  EXPECT_TRUE(std::isinf(back.values[0].as_double()));
  EXPECT_TRUE(std::signbit(back.values[1].as_double()));
}

TEST(RecordCodecTest, EmptyRecordRoundTrips) {
  Record back = RoundTrip(Record{});
  EXPECT_EQ(back.ts_ms, 0);
  EXPECT_TRUE(back.values.empty());
}

TEST(RecordCodecTest, DecodingReplacesPreviousValues) {
  Record r;
  r.values = {Value::Int(7)};
  std::string bytes;
  EncodeRecord(r, &bytes);
  Record out;
  out.values = {Value::String("old"), Value::String("older")};
  ASSERT_TRUE(DecodeRecord(bytes, &out).ok());
  ASSERT_EQ(out.values.size(), 1u);
  EXPECT_EQ(out.values[0], Value::Int(7));
}

TEST(RecordCodecTest, CorruptInputIsAnIoError) {
  Record r;
  r.ts_ms = 5;
  r.values = {Value::String("abcdef"), Value::Double(1.5)};
  std::string bytes;
  EncodeRecord(r, &bytes);
  Record out;
  EXPECT_EQ(DecodeRecord("", &out).code(), StatusCode::kIoError);
  EXPECT_EQ(DecodeRecord(bytes.substr(0, bytes.size() - 1), &out).code(), StatusCode::kIoError);
  EXPECT_EQ(DecodeRecord(bytes + "x", &out).code(), StatusCode::kIoError);
  std::string wrong_version = bytes;
  wrong_version[0] = 9;
  EXPECT_EQ(DecodeRecord(wrong_version, &out).code(), StatusCode::kIoError);
}

TEST(RecordCodecTest, LengthsAndCountsPastTheEndAreAnIoError) {
  Record out;
  // Version, ts 0, 200 values with only 2 bytes behind them.
  EXPECT_EQ(DecodeRecord(std::string("\x01\x00\xc8\x01\x00\x00", 6), &out).code(),
            StatusCode::kIoError);
  // One string value claiming 100 bytes, 3 present.
  EXPECT_EQ(DecodeRecord(std::string("\x01\x00\x01\x05\x64"
                                     "abc",
                                     8),
                         &out)
                .code(),
            StatusCode::kIoError);
  // A double with 4 of its 8 bytes.
  EXPECT_EQ(DecodeRecord(std::string("\x01\x00\x01\x04\x00\x00\x00\x00", 8), &out).code(),
            StatusCode::kIoError);
  // A timestamp varint of 11 bytes (more than 64 bits).
  EXPECT_EQ(DecodeRecord(std::string("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x00", 12), &out)
                .code(),
            StatusCode::kIoError);
}

}  // namespace
}  // namespace freshet
