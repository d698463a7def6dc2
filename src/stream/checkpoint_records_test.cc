#include "stream/checkpoint_records.h"

#include <gtest/gtest.h>

#include "storage/db.h"

namespace freshet {
namespace {

TEST(CheckpointRecordsTest, ProgressRoundTripsAndRejectsCorruptBytes) {
  SourceProgress p;
  p.next_offsets[0] = 12;
  p.max_event_ms = -5;
  p.late_events = 3;
  std::string bytes = EncodeProgress(p);
  SourceProgress back;
  ASSERT_TRUE(DecodeProgress("s", bytes, &back).ok());
  EXPECT_EQ(back.next_offsets, (PartitionOffsets{{0, 12}}));
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

// A source with partition 0 alone keeps the v1 layout (older checkpoints read unchanged);
// other partitions take v2.
TEST(CheckpointRecordsTest, ProgressKeepsEveryPartitionAndReadsV1AsPartitionZero) {
  SourceProgress one;
  one.next_offsets[0] = 5;
  EXPECT_EQ(EncodeProgress(one)[0], '\x01');
  SourceProgress p;
  p.next_offsets = {{0, 3}, {1, 900}, {7, 2}};
  p.max_event_ms = 1000;
  p.late_events = 4;
  std::string bytes = EncodeProgress(p);
  EXPECT_EQ(bytes[0], '\x02');
  SourceProgress back;
  ASSERT_TRUE(DecodeProgress("s", bytes, &back).ok());
  EXPECT_EQ(back.next_offsets, p.next_offsets);
  EXPECT_EQ(back.NextOffset(7), 2u);
  EXPECT_EQ(back.NextOffset(3), 0u);
  EXPECT_EQ(back.max_event_ms, 1000);
  EXPECT_EQ(back.late_events, 4u);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_EQ(DecodeProgress("s", bytes.substr(0, cut), &back).code(), StatusCode::kIoError);
  }
  // v1 bytes as an older version wrote them: u8 1, next_offset 12, max_event_ms -5, late 3.
  ASSERT_TRUE(DecodeProgress("s", std::string("\x01\x0c\x09\x03", 4), &back).ok());
  EXPECT_EQ(back.next_offsets, (PartitionOffsets{{0, 12}}));
  EXPECT_EQ(back.max_event_ms, -5);
}

TEST(CheckpointRecordsTest, LateEventKeyCarriesItsPartition) {
  LateEvent e;
  e.source = "src";
  e.offset = 42;
  e.partition = 3;
  e.record.ts_ms = 7;
  LateEvent back;
  ASSERT_TRUE(DecodeLate("src", LateKey(e), EncodeLate(e), &back).ok());
  EXPECT_EQ(back.offset, 42u);
  EXPECT_EQ(back.partition, 3);
  e.partition = 0;
  EXPECT_EQ(LateKey(e).size(), 3u + 1 + 8);  // partition 0: the key older versions wrote
  ASSERT_TRUE(DecodeLate("src", LateKey(e), EncodeLate(e), &back).ok());
  EXPECT_EQ(back.partition, 0);
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
