#include "stream/checkpoint_records.h"

#include <gtest/gtest.h>

#include "storage/db.h"

namespace freshet {
namespace {

TEST(CheckpointRecordsTest, ProgressRoundTripsAndRejectsCorruptBytes) {
  SourceProgress p;
  p.next_offset = 12;
  p.max_event_ms = -5;
  p.late_events = 3;
  std::string bytes = EncodeProgress(p);
  SourceProgress back;
  ASSERT_TRUE(DecodeProgress("s", bytes, &back).ok());
  EXPECT_EQ(back.next_offset, 12u);
  EXPECT_EQ(back.max_event_ms, -5);
  EXPECT_EQ(back.late_events, 3u);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    Status st = DecodeProgress("s", bytes.substr(0, cut), &back);
    EXPECT_EQ(st.code(), StatusCode::kIoError) << cut;
    EXPECT_EQ(st.message(), "corrupt checkpoint of source 's'");
  }
  EXPECT_EQ(DecodeProgress("s", bytes + "x", &back).code(), StatusCode::kIoError);
  EXPECT_EQ(DecodeProgress("s", std::string(11, '\xff'), &back).code(), StatusCode::kIoError);
}

TEST(CheckpointRecordsTest, LateEventNeedsItsWholeKeyAndRecord) {
  LateEvent e;
  e.source = "src";
  e.watermark_ms = 100;
  e.record.ts_ms = 7;
  e.record.values = {Value::String("u1")};
  std::string key = "src";
  key.push_back('\0');
  AppendBigEndian64(&key, 42);
  std::string value = EncodeLate(e);
  LateEvent back;
  ASSERT_TRUE(DecodeLate("src", key, value, &back).ok());
  EXPECT_EQ(back.offset, 42u);
  EXPECT_EQ(back.record.values[0], Value::String("u1"));
  EXPECT_EQ(DecodeLate("src", key.substr(0, 8), value, &back).message(),
            "corrupt late event of source 'src'");
  std::string no_separator = key;
  no_separator[3] = 'x';
  EXPECT_EQ(DecodeLate("src", no_separator, value, &back).code(), StatusCode::kIoError);
  for (size_t cut = 0; cut < value.size(); ++cut) {
    EXPECT_EQ(DecodeLate("src", key, value.substr(0, cut), &back).code(), StatusCode::kIoError)
        << cut;
  }
}

}  // namespace
}  // namespace freshet
