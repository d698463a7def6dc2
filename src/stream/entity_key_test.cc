#include "stream/entity_key.h"

#include <gtest/gtest.h>

#include <vector>

#include "stream/watermark.h"

namespace freshet {
namespace {

TEST(EntityKeyTest, CanonicalText) {
  EXPECT_EQ(EncodeEntityKey({Value::String("u1")}), "u1");
  EXPECT_EQ(EncodeEntityKey({Value::Int(42), Value::String("x")}), "42\x1fx");
  EXPECT_EQ(EncodeEntityKey({Value::Double(42.0)}), "42");
  EXPECT_EQ(EncodeEntityKey({Value::Double(0.5)}), "0.5");
  EXPECT_EQ(EncodeEntityKey({Value::Bool(true)}), "true");
}

TEST(EntityKeyTest, RecordKeysEqualTheKeyOfTheirValues) {
  Record r;
  r.values = {Value::String("u1"), Value::Double(7.0), Value::Int(3)};
  std::string out = "stale";
  EncodeRecordKey(r, std::vector<int>{2, 0}, &out);
  EXPECT_EQ(out, EncodeEntityKey({Value::Int(3), Value::String("u1")}));
  EncodeRecordKey(r, std::vector<int>{1}, &out);
  EXPECT_EQ(out, "7");
  // A field past the record's values is a null part, not a crash.
  EncodeRecordKey(r, std::vector<int>{0, 9}, &out);
  EXPECT_EQ(out, "u1\x1f");
}

TEST(EntityKeyTest, SingleStringKeyIsAViewOfTheRecord) {
  Record r;
  r.values = {Value::String("user-1"), Value::Int(5)};
  std::string scratch;
  std::string_view key = RecordKeyView(r, std::vector<int>{0}, &scratch);
  EXPECT_EQ(key, "user-1");
  EXPECT_EQ(key.data(), r.values[0].as_string().data());
  EXPECT_TRUE(scratch.empty());
  EXPECT_EQ(RecordKeyView(r, std::vector<int>{1}, &scratch), "5");
  EXPECT_EQ(RecordKeyView(r, std::vector<int>{0, 1}, &scratch),
            "user-1\x1f"
            "5");
}

TEST(WatermarkTest, LateIsBelowNewestMinusLateness) {
  WatermarkTracker w(/*lateness_ms=*/100);
  EXPECT_EQ(w.watermark_ms(), kNoEventMs);
  EXPECT_TRUE(w.Accept(1000));
  EXPECT_EQ(w.watermark_ms(), 900);
  EXPECT_TRUE(w.Accept(900));   // exactly at the watermark: on time
  EXPECT_FALSE(w.Accept(899));  // below it: late, and the watermark does not move
  EXPECT_EQ(w.max_event_ms(), 1000);
  EXPECT_TRUE(w.Accept(2000));
  EXPECT_FALSE(w.Accept(1000));
}

TEST(WatermarkTest, SaturatesInsteadOfWrapping) {
  EXPECT_EQ(WatermarkMs(kNoEventMs, 5), kNoEventMs);
  EXPECT_EQ(WatermarkMs(kNoEventMs + 3, 10), kNoEventMs);
  EXPECT_EQ(WatermarkMs(-5, INT64_MAX), kNoEventMs);  // clamped, never wrapped to the future
  WatermarkTracker w(INT64_MAX);
  EXPECT_TRUE(w.Accept(-5));
  EXPECT_TRUE(w.Accept(kNoEventMs + 1));
}

}  // namespace
}  // namespace freshet
