// TriggerHandOff over a real TriggerRouter and JobQueue on RocksDB: jobs handed over reach the
// queue in hand-over order (so coalescing keeps the newest event), Flush waits for them,
// destruction enqueues what is left, and a refused enqueue is counted without stopping the
// hand-off.
#include "triggers/trigger_handoff.h"

#include <gtest/gtest.h>

#include "core/metrics.h"
#include "models/models_test_util.h"
#include "spec/spec_loader.h"
#include "triggers/prediction.h"

namespace freshet {
namespace {

constexpr char kSpec[] = R"(project: p
entities:
  user: {key: user_id}
sources:
  ev: {timestamp: ts, fields: {user_id: string, event: string}}
feature_views:
  v: {entity: user, source: ev, features: {f: {agg: count}}}
feature_services:
  s: [v:f]
models:
  m: {runtime: linear}
deployments:
  d: {model: m, features: s, on: {source: ev, where: "event = 'exit'"}}
)";

class TriggerHandOffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spec = ParseProject(kSpec, "freshet.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(*spec);
    auto db = Db::Open(dir_.File("data"));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    predictions_ = std::make_unique<PredictionStore>(db_.get());
  }
  void TearDown() override {
    handoff_.reset();
    router_.reset();
    queue_.reset();
    predictions_.reset();
    db_.reset();
  }

  void Open(size_t max_jobs = 1000) {
    QueueOptions options;
    options.max_jobs = max_jobs;
    auto queue = JobQueue::Open(db_.get(), &clock_, options);
    ASSERT_TRUE(queue.ok()) << queue.status().ToString();
    queue_ = std::move(*queue);
    auto router = TriggerRouter::Create(&spec_, queue_.get(), predictions_.get(), &clock_, &probe_);
    ASSERT_TRUE(router.ok()) << router.status().ToString();
    router_ = std::move(*router);
    handoff_ = std::make_unique<TriggerHandOff>(router_.get());
  }

  // Records of source ev, one per (user, event).
  std::vector<Record> Events(const std::vector<std::pair<std::string, std::string>>& events) {
    const SourceSpec& source = spec_.sources.at("ev");
    std::vector<Record> records;
    for (const auto& [user, event] : events) {
      Record r;
      r.ts_ms = 1000;
      r.values.resize(source.fields.size());
      r.values[source.FieldIndex("user_id")] = Value::String(user);
      r.values[source.FieldIndex("event")] = Value::String(event);
      records.push_back(std::move(r));
    }
    return records;
  }

  void Hand(uint64_t first_offset, const std::vector<std::pair<std::string, std::string>>& events) {
    handoff_->Hand(router_->JobsOf("ev", 0, first_offset, Events(events)));
  }

  // The predict jobs of deployment d in the queue, by user: the offset of their event.
  std::map<std::string, uint64_t> Queued() {
    std::vector<Job> jobs;
    EXPECT_TRUE(queue_->Receive(PredictQueueName("d"), 100, 0, &jobs).ok());
    std::map<std::string, uint64_t> offsets;
    for (const Job& job : jobs) {
      PredictJob predict;
      EXPECT_TRUE(DecodePredictJob(job.payload, &predict).ok());
      offsets[std::string(predict.key.at(0).as_string())] = predict.event.offset;
    }
    return offsets;
  }

  std::string Metrics() const { return metrics_.Render(); }

  testing::ScopedTempDir dir_{"trigger_handoff_test"};
  ProjectSpec spec_;
  ManualClock clock_{1'000'000};
  MetricsRegistry metrics_;
  TriggerProbe probe_{&metrics_};
  std::unique_ptr<Db> db_;
  std::unique_ptr<PredictionStore> predictions_;
  std::unique_ptr<JobQueue> queue_;
  std::unique_ptr<TriggerRouter> router_;
  std::unique_ptr<TriggerHandOff> handoff_;
};

TEST_F(TriggerHandOffTest, FlushWaitsForEveryJobHandedOverInOrder) {
  Open();
  Hand(0, {{"u1", "exit"}, {"u2", "exit"}, {"u3", "start"}});  // u3 does not match `where`
  Hand(3, {{"u1", "exit"}});
  Hand(4, {{"u4", "exit"}});
  handoff_->Flush();
  EXPECT_EQ(handoff_->Backlog(), 0u);
  // u1's second event coalesced into its pending job, which now carries the newer event.
  EXPECT_EQ(queue_->held(), 3u);
  EXPECT_EQ(Queued(), (std::map<std::string, uint64_t>{{"u1", 3}, {"u2", 1}, {"u4", 4}}));
  EXPECT_NE(Metrics().find("freshet_triggered_coalesced_total{deployment=\"d\"} 1"),
            std::string::npos)
      << Metrics();
}

TEST_F(TriggerHandOffTest, DestructionEnqueuesWhatIsLeft) {
  Open();
  for (uint64_t i = 0; i < 50; ++i) Hand(i, {{"u" + std::to_string(i), "exit"}});
  handoff_.reset();
  EXPECT_EQ(queue_->held(), 50u);
}

TEST_F(TriggerHandOffTest, ARefusedEnqueueIsCountedAndLaterOnesGoOn) {
  Open(/*max_jobs=*/2);
  Hand(0, {{"u1", "exit"}, {"u2", "exit"}, {"u3", "exit"}});  // more than the queue holds
  handoff_->Flush();
  EXPECT_EQ(handoff_->Backlog(), 0u);
  EXPECT_EQ(queue_->held(), 0u);
  EXPECT_NE(Metrics().find("freshet_trigger_enqueue_failures_total{deployment=\"d\"} 1"),
            std::string::npos)
      << Metrics();
  Hand(3, {{"u4", "exit"}});
  handoff_->Flush();
  EXPECT_EQ(Queued(), (std::map<std::string, uint64_t>{{"u4", 3}}));
}

}  // namespace
}  // namespace freshet
