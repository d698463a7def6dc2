// PredictionStore on a real RocksDB: the latest prediction first, a history of at most
// kHistory per (deployment, entity), entities and deployments kept apart, a failed commit; and
// the job payload encodings round-trip, text models' texts and labels included.
#include "triggers/prediction_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string_view>

#include "core/byte_codec.h"
#include "stream/entity_key.h"

namespace freshet {
namespace {

StoredPrediction Made(const std::string& job_id, double score, int64_t at_ms) {
  StoredPrediction p;
  p.job_id = job_id;
  p.model = "ranker";
  p.version = 3;
  p.score = score;
  p.event = {"app_events", 0, 42, at_ms - 5};
  p.ack_ms = at_ms - 3;
  p.enqueued_ms = at_ms - 2;
  p.predicted_ms = at_ms;
  return p;
}

class PredictionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("prediction_store_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto db = Db::Open(dir_.string());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    store_ = std::make_unique<PredictionStore>(db_.get());
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<PredictionStore> store_;
};

TEST_F(PredictionStoreTest, LatestFirstAndHistoryBounded) {
  const std::vector<Value> u1 = {Value::String("u1")};
  const std::vector<Value> u2 = {Value::String("u2")};
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(store_->Put("rec", {{u1, Made("rec/e/0/" + std::to_string(i), i, 1000 + i)}}).ok());
  }
  ASSERT_TRUE(store_->Put("rec", {{u2, Made("rec/e/0/99", 99, 5000)}}).ok());
  auto history = store_->Get("rec", u1);
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_EQ(history->size(), PredictionStore::kHistory);
  EXPECT_EQ((*history)[0].job_id, "rec/e/0/11");
  EXPECT_EQ((*history)[0].score, 11);
  EXPECT_EQ((*history)[0].model, "ranker");
  EXPECT_EQ((*history)[0].version, 3);
  EXPECT_EQ((*history)[0].event.source, "app_events");
  EXPECT_EQ((*history)[0].event.offset, 42u);
  EXPECT_EQ((*history)[0].event.event_ms, 1006);
  EXPECT_EQ((*history)[0].ack_ms, 1008);
  EXPECT_EQ((*history)[0].enqueued_ms, 1009);
  EXPECT_EQ((*history)[0].predicted_ms, 1011);
  EXPECT_EQ(history->back().job_id, "rec/e/0/2");  // 0 and 1 fell out of the history

  auto other = store_->Get("rec", u2);
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0].score, 99);
  auto none = store_->Get("other_deployment", u1);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  // A commit that fails stores nothing.
  auto failed = store_->Put("rec", {{u2, Made("rec/e/0/100", 100, 6000)}},
                            [](rocksdb::WriteBatch*) { return Status::Internal("refused"); });
  EXPECT_EQ(failed.code(), StatusCode::kInternal);
  auto kept = store_->Get("rec", u2);
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ((*kept)[0].job_id, "rec/e/0/99");
}

TEST_F(PredictionStoreTest, OneBatchFoldsSeveralPredictionsOfAnEntityInOrder) {
  const std::vector<Value> key = {Value::String("u1"), Value::Int(7)};
  ASSERT_TRUE(store_->Put("rec", {{key, Made("a", 1, 10)}, {key, Made("b", 2, 20)}}).ok());
  auto history = store_->Get("rec", {Value::String("u1"), Value::Int(7)});
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].job_id, "b");
  EXPECT_EQ((*history)[1].job_id, "a");
}

// A text model's prediction keeps its labels through the store (beside feature-row
// predictions of the same entity) and shows them as /v1/predict does, without a score.
TEST_F(PredictionStoreTest, HistoriesStayBoundedThroughFlushesCompactionsAndReopens) {
  const std::vector<Value> u1 = {Value::String("u1")};
  auto flush_and_compact = [this] {
    ASSERT_TRUE(db_->raw()->Flush(rocksdb::FlushOptions(), db_->cf(Cf::kPredictions)).ok());
    ASSERT_TRUE(db_->raw()
                    ->CompactRange(rocksdb::CompactRangeOptions(), db_->cf(Cf::kPredictions),
                                   nullptr, nullptr)
                    .ok());
  };
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(store_->Put("rec", {{u1, Made(std::to_string(i), i, 1000 + i)}}).ok());
    if (i % 7 == 6) flush_and_compact();  // merge operands spread over files and the memtable
  }
  store_.reset();
  db_.reset();
  auto db = Db::Open(dir_.string());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  db_ = std::move(*db);
  store_ = std::make_unique<PredictionStore>(db_.get());
  flush_and_compact();
  auto history = store_->Get("rec", u1);
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_EQ(history->size(), PredictionStore::kHistory);
  for (size_t i = 0; i < history->size(); ++i) {
    EXPECT_EQ((*history)[i].job_id, std::to_string(24 - i));
  }
}

// Histories an earlier version wrote (format 1: a count, then the predictions) are rewritten
// once, and new predictions then go in front of them.
TEST_F(PredictionStoreTest, UpgradeFormatRewritesFormatOneHistories) {
  std::string old_value;
  byte_codec::PutVarint(&old_value, 2);
  EncodeStoredPrediction(Made("old-b", 2, 20), &old_value);
  EncodeStoredPrediction(Made("old-a", 1, 10), &old_value);
  std::string key;
  byte_codec::PutBytes(&key, "rec");
  key += EncodeEntityKey({Value::String("u1")});
  ASSERT_TRUE(db_->Put(Cf::kPredictions, key, old_value).ok());

  ASSERT_TRUE(store_->UpgradeFormat().ok());
  ASSERT_TRUE(store_->UpgradeFormat().ok());  // once done, a no-op
  ASSERT_TRUE(store_->Put("rec", {{{Value::String("u1")}, Made("new", 3, 30)}}).ok());
  auto history = store_->Get("rec", {Value::String("u1")});
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].job_id, "new");
  EXPECT_EQ((*history)[1].job_id, "old-b");
  EXPECT_EQ((*history)[2].job_id, "old-a");
  EXPECT_EQ((*history)[2].score, 1);

  // A value it cannot read is reported, not dropped.
  ASSERT_TRUE(db_->Delete(Cf::kPredictions, std::string("\0format", 7)).ok());
  ASSERT_TRUE(db_->Put(Cf::kPredictions, key + "x", "\x05garbage").ok());
  Status bad = store_->UpgradeFormat();
  EXPECT_EQ(bad.code(), StatusCode::kInternal) << bad.ToString();
}

TEST_F(PredictionStoreTest, TextPredictionsKeepTheirLabels) {
  const std::vector<Value> key = {Value::String("a1")};
  StoredPrediction text = Made("cat/ads/1/4", 0.75, 100);
  text.labels = std::vector<TextLabel>{{"__label__travel", 0.75f}, {"__label__finance", 0.25f}};
  StoredPrediction none = Made("cat/ads/1/5", 0, 200);
  none.labels = std::vector<TextLabel>{};
  ASSERT_TRUE(
      store_->Put("cat", {{key, Made("cat/ads/1/3", 2, 50)}, {key, text}, {key, none}}).ok());
  auto history = store_->Get("cat", key);
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_EQ(history->size(), 3u);
  ASSERT_TRUE((*history)[0].labels.has_value());
  EXPECT_TRUE((*history)[0].labels->empty());
  ASSERT_TRUE((*history)[1].labels.has_value());
  ASSERT_EQ((*history)[1].labels->size(), 2u);
  EXPECT_EQ((*history)[1].labels->at(0).label, "__label__travel");
  EXPECT_EQ((*history)[1].labels->at(0).probability, 0.75f);
  EXPECT_EQ((*history)[1].labels->at(1).label, "__label__finance");
  EXPECT_EQ((*history)[1].event.offset, 42u);
  EXPECT_EQ((*history)[1].predicted_ms, 100);
  EXPECT_FALSE((*history)[2].labels.has_value());
  EXPECT_EQ((*history)[2].score, 2);

  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteStoredPredictionJson(&w, "cat", {"advertiser_id"}, key, (*history)[1]);
  std::string_view json(buf.GetString(), buf.GetSize());
  EXPECT_NE(json.find(R"("labels":["__label__travel","__label__finance"],)"
                      R"("probabilities":[0.75,0.25],"event":)"),
            std::string_view::npos)
      << json;
  EXPECT_EQ(json.find("score"), std::string_view::npos) << json;
}

TEST(PredictionPayloadTest, PredictJobAndRecordRoundTrip) {
  PredictJob job{{Value::String("u1"), Value::Int(3)}, {"app_events", 2, 77, 123}, 456};
  PredictJob back;
  ASSERT_TRUE(DecodePredictJob(EncodePredictJob(job), &back).ok());
  EXPECT_EQ(back.key, job.key);
  EXPECT_EQ(back.event.source, "app_events");
  EXPECT_EQ(back.event.partition, 2);
  EXPECT_EQ(back.event.offset, 77u);
  EXPECT_EQ(back.event.event_ms, 123);
  EXPECT_EQ(back.ack_ms, 456);
  EXPECT_FALSE(back.text.has_value());
  EXPECT_EQ(EncodePredictJob(job)[0], '\x01');  // jobs without text keep format 1
  EXPECT_FALSE(DecodePredictJob("\x07garbage", &back).ok());
  EXPECT_FALSE(DecodePredictJob("\x02garbage", &back).ok());

  job.text = "cheap flight to the island";
  ASSERT_TRUE(DecodePredictJob(EncodePredictJob(job), &back).ok());
  EXPECT_EQ(back.key, job.key);
  EXPECT_EQ(back.event.offset, 77u);
  EXPECT_EQ(back.ack_ms, 456);
  EXPECT_EQ(back.text, job.text);
  job.text = "";  // an empty text is a text
  ASSERT_TRUE(DecodePredictJob(EncodePredictJob(job), &back).ok());
  EXPECT_EQ(back.text, std::optional<std::string>(""));
  std::string truncated = EncodePredictJob(job);
  truncated.pop_back();
  EXPECT_FALSE(DecodePredictJob(truncated, &back).ok());

  // A delivery job carries a predict batch's records; Decode appends them.
  const std::vector<PredictionRecord> records = {
      {"rec/app_events/0/77", "rec", 999, R"({"score":1})"},
      {"rec/app_events/0/78", "rec", 1000, R"({"score":2})"}};
  std::vector<PredictionRecord> records_back = {{"before", "rec", 1, "{}"}};
  ASSERT_TRUE(DecodePredictionRecords(EncodePredictionRecords(records), &records_back).ok());
  ASSERT_EQ(records_back.size(), 3u);
  EXPECT_EQ(records_back[0].id, "before");
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records_back[i + 1].id, records[i].id);
    EXPECT_EQ(records_back[i + 1].deployment, "rec");
    EXPECT_EQ(records_back[i + 1].ts_ms, records[i].ts_ms);
    EXPECT_EQ(records_back[i + 1].json, records[i].json);
  }
  std::string truncated_records = EncodePredictionRecords(records);
  truncated_records.pop_back();
  EXPECT_FALSE(DecodePredictionRecords(truncated_records, &records_back).ok());
  EXPECT_EQ(records_back.size(), 3u);  // nothing appended
  // Format 1, one record per job, as earlier versions wrote it, is still read.
  std::string v1(1, '\x01');
  byte_codec::PutBytes(&v1, "rec/app_events/0/76");
  byte_codec::PutBytes(&v1, "rec");
  byte_codec::PutSigned(&v1, 998);
  byte_codec::PutBytes(&v1, R"({"score":0})");
  std::vector<PredictionRecord> old_back;
  ASSERT_TRUE(DecodePredictionRecords(v1, &old_back).ok());
  ASSERT_EQ(old_back.size(), 1u);
  EXPECT_EQ(old_back[0].id, "rec/app_events/0/76");
  EXPECT_EQ(old_back[0].ts_ms, 998);
  EXPECT_EQ(old_back[0].json, R"({"score":0})");
  EXPECT_EQ(PredictJobId("rec", job.event), "rec/app_events/2/77");
  EXPECT_EQ(DeliverJobId("rec/app_events/2/77", 1), "rec/app_events/2/77#1");
}

}  // namespace
}  // namespace freshet
