#include "store/online_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "spec/spec_loader.h"
#include "store/engine_online_store.h"
#include "store/feature_store.h"
#include "stream/memory_state_backend.h"

namespace freshet {
namespace {

using ::testing::ElementsAre;

constexpr char kSpec[] = R"yaml(project: t
entities:
  user: {key: user_id}
sources:
  events:
    timestamp: ts
    fields: {user_id: string, amount: double}
feature_views:
  v:
    entity: user
    source: events
    ttl: 1h
    features:
      n_10m: {agg: count, window: 10m}
      total: {agg: sum, of: amount}
feature_services:
  svc: [v:total, v:n_10m]
)yaml";

Record Event(const std::string& user, int64_t ts, double amount) {
  Record r;
  r.ts_ms = ts;
  r.values = {Value::String(user), Value::Double(amount), Value::Int(ts)};
  return r;
}

class OnlineStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spec = ParseProject(kSpec, "freshet.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(spec).value();
    auto engine = StreamEngine::Create(spec_, &backend_, &clock_);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    ASSERT_EQ(spec_.sources.at("events").FieldIndex("ts"), 2);
    ASSERT_TRUE(engine_
                    ->Apply("events", 0,
                            {Event("u1", 1'000'000, 2.5), Event("u1", 1'100'000, 1.5),
                             Event("u2", 2'000'000, 4)})
                    .ok());
    auto store = CreateOnlineStore("embedded", {engine_.get()});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  ProjectSpec spec_;
  ManualClock clock_{0};
  MemoryStateBackend backend_;
  std::unique_ptr<StreamEngine> engine_;
  std::unique_ptr<OnlineStore> store_;
};

TEST_F(OnlineStoreTest, EmbeddedByNameReadsTheEngineInKeyOrder) {
  EXPECT_EQ(store_->kind(), "embedded");
  EXPECT_NE(dynamic_cast<EngineOnlineStore*>(store_.get()), nullptr);
  std::vector<ViewRead> reads;
  ASSERT_TRUE(store_
                  ->Read("v",
                         {{Value::String("u2")}, {Value::String("nobody")}, {Value::String("u1")}},
                         {"total", "n_10m"}, 1'200'000, &reads)
                  .ok());
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_EQ(reads[0].status, ReadStatus::kPresent);
  EXPECT_EQ(reads[0].values[0].as_double(), 4);
  EXPECT_EQ(reads[0].event_ms, 2'000'000);
  EXPECT_EQ(reads[1].status, ReadStatus::kNotFound);
  EXPECT_EQ(reads[1].event_ms, 0);
  EXPECT_EQ(reads[2].values[0].as_double(), 4);  // 2.5 + 1.5
  EXPECT_EQ(reads[2].values[1].as_int(), 2);     // both inside 10m before 1,200,000
  EXPECT_EQ(reads[2].event_ms, 1'100'000);
}

TEST_F(OnlineStoreTest, TtlStatusAndDecayAtTheReadTime) {
  std::vector<ViewRead> reads;
  // Two hours after u1's newest event: past the 1h TTL, so stale and without values.
  ASSERT_TRUE(
      store_->Read("v", {{Value::String("u1")}}, {"n_10m"}, 1'100'000 + 7'200'000, &reads).ok());
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].status, ReadStatus::kOutsideMaxAge);
  EXPECT_TRUE(reads[0].values[0].is_null());
  // Within the TTL but past the 10m window: the count decayed to 0.
  ASSERT_TRUE(
      store_->Read("v", {{Value::String("u1")}}, {"n_10m"}, 1'100'000 + 1'800'000, &reads).ok());
  EXPECT_EQ(reads[0].status, ReadStatus::kPresent);
  EXPECT_EQ(reads[0].values[0].as_int(), 0);
}

TEST_F(OnlineStoreTest, ErrorsOfTheRead) {
  std::vector<ViewRead> reads;
  EXPECT_EQ(store_->Read("w", {{Value::String("u1")}}, {}, 0, &reads).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->Read("v", {{Value::String("u1")}}, {"nope"}, 0, &reads).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->Read("v", {{Value::String("u1"), Value::String("x")}}, {}, 0, &reads).code(),
            StatusCode::kInvalidArgument);
}

TEST(OnlineStoreRegistryTest, UnknownKindAndMissingEngine) {
  EXPECT_THAT(KnownOnlineStores(), ElementsAre("embedded"));
  auto redis = CreateOnlineStore("redis", {});
  ASSERT_FALSE(redis.ok());
  EXPECT_EQ(redis.status().message(), "unknown online store 'redis' (known: embedded)");
  auto no_engine = CreateOnlineStore("embedded", {});
  ASSERT_FALSE(no_engine.ok());
  EXPECT_EQ(no_engine.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(OnlineStoreTest, FeatureStoreReadsThroughTheOnlineStore) {
  FeatureStore features(&spec_, store_.get(), &clock_);
  auto refs = features.ServiceFeatures("svc");
  ASSERT_TRUE(refs.ok());
  EntityColumns entities = {{"user_id", {Value::String("u1"), Value::String("u3")}}};
  auto table = features.Get(*refs, entities, 1'200'000);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ(table->num_rows, 2u);
  EXPECT_EQ(table->values[0][0].as_double(), 4);  // v:total, u1
  EXPECT_EQ(table->values[1][0].as_int(), 2);     // v:n_10m, u1
  EXPECT_THAT(table->statuses[0], ElementsAre(ReadStatus::kPresent, ReadStatus::kNotFound));
  EXPECT_THAT(table->event_ms[1], ElementsAre(1'100'000, 0));
  // The read time defaults to the clock: at 0 nothing of u1 is in the 10m window yet.
  auto now = features.Get(*refs, entities);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->values[1][0].as_int(), 0);
}

}  // namespace
}  // namespace freshet
