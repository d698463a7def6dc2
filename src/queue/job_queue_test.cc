#include "queue/job_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/byte_codec.h"

namespace freshet {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

class JobQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("freshet_queue_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    options_.visibility_timeout_ms = 1'000;
    options_.max_attempts = 3;
    options_.backoff_base_ms = 100;
    options_.backoff_max_ms = 250;
    options_.done_retention_ms = 60'000;
    Reopen();
  }
  void TearDown() override {
    queue_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Reopen() {
    queue_.reset();
    db_.reset();
    auto db = Db::Open(dir_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto queue = JobQueue::Open(db_.get(), &clock_, options_);
    ASSERT_TRUE(queue.ok()) << queue.status().ToString();
    queue_ = std::move(*queue);
  }

  EnqueueResult Add(const std::string& id, const std::string& queue = "predict/m",
                    const std::string& payload = "p", int64_t delay_ms = 0) {
    JobSpec spec{id, queue, "", payload, delay_ms};
    auto r = queue_->Enqueue(spec);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : EnqueueResult::kDuplicate;
  }

  // Receives without waiting.
  std::vector<Job> Take(size_t max, const std::string& queue = "predict/m") {
    std::vector<Job> out;
    auto n = queue_->Receive(queue, max, 0, &out);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(n.ok() ? *n : 0, out.size());
    return out;
  }

  JobQueue::QueueStats StatsOf(const std::string& queue) {
    for (auto& s : queue_->Stats()) {
      if (s.queue == queue) return s;
    }
    ADD_FAILURE() << "no stats for " << queue;
    return {};
  }

  std::string dir_;
  ManualClock clock_{kT0};
  QueueOptions options_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<JobQueue> queue_;
};

TEST_F(JobQueueTest, EnqueueReceiveAck) {
  EXPECT_EQ(Add("a", "predict/m", "pa"), EnqueueResult::kAdded);
  clock_.Advance(5);
  EXPECT_EQ(Add("b", "predict/m", "pb"), EnqueueResult::kAdded);
  EXPECT_EQ(Add("c", "other", "pc"), EnqueueResult::kAdded);
  EXPECT_EQ(queue_->held(), 3u);

  std::vector<Job> jobs = Take(10);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, "a");
  EXPECT_EQ(jobs[0].payload, "pa");
  EXPECT_EQ(jobs[0].queue, "predict/m");
  EXPECT_EQ(jobs[0].enqueued_ms, kT0);
  EXPECT_EQ(jobs[0].receive_count, 1);
  EXPECT_EQ(jobs[1].id, "b");
  EXPECT_NE(jobs[0].lease, jobs[1].lease);
  EXPECT_TRUE(Take(10).empty());
  EXPECT_EQ(StatsOf("predict/m").in_flight, 2u);

  EXPECT_TRUE(queue_->Ack("a", jobs[0].lease).ok());
  EXPECT_TRUE(queue_->AckBatch({{"b", jobs[1].lease}}).ok());
  EXPECT_EQ(queue_->Ack("a", jobs[0].lease).code(), StatusCode::kNotFound);
  EXPECT_EQ(queue_->held(), 1u);
  auto s = StatsOf("predict/m");
  EXPECT_EQ(s.ready + s.delayed + s.in_flight + s.dead, 0u);
  EXPECT_EQ(Take(1, "other").at(0).payload, "pc");
}

TEST_F(JobQueueTest, InvalidInputIsRefused) {
  auto r = queue_->Enqueue(JobSpec{"", "q", "", "", 0});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("id is empty"), std::string::npos);
  r = queue_->Enqueue(JobSpec{"x", "", "", "", 0});
  EXPECT_NE(r.status().message().find("queue is empty"), std::string::npos);
  auto batch = queue_->EnqueueBatch({JobSpec{"ok", "q", "", "", 0}, JobSpec{"", "q", "", "", 0}});
  EXPECT_EQ(batch.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_->held(), 0u);
  QueueOptions bad;
  bad.max_attempts = 0;
  EXPECT_EQ(JobQueue::Open(db_.get(), &clock_, bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(JobQueueTest, IdsAreIdempotentWhilePendingInFlightDoneOrDead) {
  EXPECT_EQ(Add("a"), EnqueueResult::kAdded);
  EXPECT_EQ(Add("a"), EnqueueResult::kDuplicate);  // pending
  auto jobs = Take(1);
  EXPECT_EQ(Add("a"), EnqueueResult::kDuplicate);  // in flight
  ASSERT_TRUE(queue_->Ack("a", jobs[0].lease).ok());
  EXPECT_EQ(Add("a"), EnqueueResult::kDuplicate);  // done
  EXPECT_EQ(queue_->held(), 0u);

  // Done ids survive a restart, and are forgotten after the retention.
  Reopen();
  EXPECT_EQ(Add("a"), EnqueueResult::kDuplicate);
  clock_.Advance(options_.done_retention_ms);
  EXPECT_EQ(Add("a"), EnqueueResult::kAdded);
  EXPECT_EQ(Take(1).at(0).id, "a");

  auto batch = queue_->EnqueueBatch({JobSpec{"x", "q", "", "1", 0}, JobSpec{"x", "q", "", "2", 0}});
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(*batch, (std::vector{EnqueueResult::kAdded, EnqueueResult::kDuplicate}));
  EXPECT_EQ(Take(5, "q").at(0).payload, "1");
}

// An acked id is a duplicate for done_retention_ms; after that it is forgotten, and a compaction
// of the queue's column family drops its record (keeping the records still within retention).
TEST_F(JobQueueTest, DoneIdsExpireAfterRetentionAndCompactionDropsThem) {
  Add("old");
  auto jobs = Take(1);
  ASSERT_TRUE(queue_->Ack("old", jobs[0].lease).ok());
  clock_.Advance(options_.done_retention_ms);
  EXPECT_EQ(Add("new"), EnqueueResult::kAdded);
  jobs = Take(1);
  ASSERT_TRUE(queue_->Ack("new", jobs[0].lease).ok());

  auto done = [&](const std::string& key) {
    auto value = db_->Get(Cf::kQueue, key);
    EXPECT_TRUE(value.ok());
    return value.ok() && value->has_value();
  };
  auto compact = [&] {
    ASSERT_TRUE(db_->raw()->Flush(rocksdb::FlushOptions(), db_->cf(Cf::kQueue)).ok());
    rocksdb::CompactRangeOptions options;
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    ASSERT_TRUE(db_->raw()->CompactRange(options, db_->cf(Cf::kQueue), nullptr, nullptr).ok());
  };
  compact();
  EXPECT_FALSE(done("dold"));  // acked done_retention_ms ago: expired
  EXPECT_TRUE(done("dnew"));
  EXPECT_EQ(Add("new"), EnqueueResult::kDuplicate);

  // After a reopen too (the rule is the new queue's), and an expired id may be enqueued again.
  clock_.Advance(1);
  Reopen();
  EXPECT_EQ(Add("new"), EnqueueResult::kDuplicate);
  clock_.Advance(options_.done_retention_ms);
  EXPECT_EQ(Add("new"), EnqueueResult::kAdded);  // expired, before any compaction
  compact();
  EXPECT_FALSE(done("dnew"));
}

// Earlier versions kept the acked ids in expiry order under 't' keys: opening deletes them.
TEST_F(JobQueueTest, OpeningDeletesTheDoneIndexOfEarlierVersions) {
  std::string legacy = "t";
  AppendBigEndian64(&legacy, static_cast<uint64_t>(kT0));
  legacy += "old";
  ASSERT_TRUE(db_->Put(Cf::kQueue, legacy, "").ok());
  ASSERT_TRUE(db_->Put(Cf::kQueue, "dold",
                       [] {
                         std::string v;
                         byte_codec::PutSigned(&v, kT0);
                         return v;
                       }())
                  .ok());
  Reopen();
  auto value = db_->Get(Cf::kQueue, legacy);
  ASSERT_TRUE(value.ok());
  EXPECT_FALSE(value->has_value());
  EXPECT_EQ(Add("old"), EnqueueResult::kDuplicate);  // its done record is kept
}

TEST_F(JobQueueTest, CoalescesIntoAPendingUnreceivedJob) {
  JobSpec first{"e1", "predict/m", "user-7", "v1", 500};
  ASSERT_EQ(*queue_->EnqueueOrCoalesce(first), EnqueueResult::kAdded);
  clock_.Advance(100);
  JobSpec second{"e2", "predict/m", "user-7", "v2", 500};
  ASSERT_EQ(*queue_->EnqueueOrCoalesce(second), EnqueueResult::kCoalesced);
  // Another key, and a plain Enqueue with the same key, do not coalesce.
  ASSERT_EQ(*queue_->EnqueueOrCoalesce(JobSpec{"e3", "predict/m", "user-8", "w", 500}),
            EnqueueResult::kAdded);
  EXPECT_EQ(queue_->held(), 2u);
  EXPECT_EQ(StatsOf("predict/m").coalesced, 1u);
  EXPECT_EQ(StatsOf("predict/m").delayed, 2u);

  // The visible time stays the first job's: due 500 ms after it, not after the second.
  clock_.Advance(400);
  auto jobs = Take(5);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, "e1");
  EXPECT_EQ(jobs[0].payload, "v2");
  EXPECT_EQ(jobs[0].enqueued_ms, kT0);

  // Once received, a job no longer absorbs later ones.
  ASSERT_EQ(*queue_->EnqueueOrCoalesce(JobSpec{"e4", "predict/m", "user-7", "v3", 0}),
            EnqueueResult::kAdded);
  // Within one batch, the later job coalesces into the earlier.
  auto batch = queue_->EnqueueOrCoalesceBatch(
      {JobSpec{"b1", "q", "k", "1", 0}, JobSpec{"b2", "q", "k", "2", 0}});
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(*batch, (std::vector{EnqueueResult::kAdded, EnqueueResult::kCoalesced}));
  auto q = Take(5, "q");
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].payload, "2");

  // The coalesced payload is durable.
  Reopen();
  clock_.Advance(options_.visibility_timeout_ms);
  std::set<std::string> payloads;
  for (const Job& j : Take(10)) payloads.insert(j.id + "=" + j.payload);
  EXPECT_EQ(payloads, (std::set<std::string>{"e1=v2", "e3=w", "e4=v3"}));
}

TEST_F(JobQueueTest, DelayedJobsBecomeVisibleAtTheirTime) {
  Add("later", "predict/m", "p", 200);
  Add("now");
  auto s = StatsOf("predict/m");
  EXPECT_EQ(s.ready, 1u);
  EXPECT_EQ(s.delayed, 1u);
  EXPECT_EQ(Take(5).size(), 1u);
  clock_.Advance(199);
  EXPECT_TRUE(Take(5).empty());
  clock_.Advance(1);
  EXPECT_EQ(Take(5).at(0).id, "later");
}

TEST_F(JobQueueTest, VisibilityTimeoutRedeliversAndRefusesTheStaleLease) {
  Add("a");
  auto first = Take(1);
  ASSERT_EQ(first.size(), 1u);
  clock_.Advance(options_.visibility_timeout_ms - 1);
  EXPECT_TRUE(Take(1).empty());
  clock_.Advance(1);
  // Expired but not yet received again: the lease is refused all the same.
  EXPECT_EQ(queue_->Ack("a", first[0].lease).code(), StatusCode::kFailedPrecondition);
  auto second = Take(1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].receive_count, 2);
  EXPECT_NE(second[0].last_error.find("visibility timeout"), std::string::npos);
  EXPECT_EQ(StatsOf("predict/m").retries, 1u);

  Status stale = queue_->Ack("a", first[0].lease);
  EXPECT_EQ(stale.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(stale.message().find("stale"), std::string::npos);
  EXPECT_EQ(queue_->Nack("a", first[0].lease, "x").code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(queue_->Ack("a", second[0].lease).ok());
}

TEST_F(JobQueueTest, NackBacksOffExponentiallyWithACap) {
  options_.max_attempts = 10;
  Reopen();
  Add("a");
  const int64_t expected_backoff[] = {100, 200, 250, 250};
  for (int attempt = 1; attempt <= 4; ++attempt) {
    auto jobs = Take(1);
    ASSERT_EQ(jobs.size(), 1u) << "attempt " << attempt;
    EXPECT_EQ(jobs[0].receive_count, attempt);
    ASSERT_TRUE(queue_->Nack("a", jobs[0].lease, "boom " + std::to_string(attempt)).ok());
    EXPECT_EQ(StatsOf("predict/m").delayed, 1u);
    clock_.Advance(expected_backoff[attempt - 1] - 1);
    EXPECT_TRUE(Take(1).empty()) << "attempt " << attempt;
    clock_.Advance(1);
  }
  auto jobs = Take(1);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].last_error, "boom 4");
  EXPECT_EQ(StatsOf("predict/m").retries, 4u);
}

TEST_F(JobQueueTest, MaxAttemptsDeadLetterListReplayPurge) {
  Add("a", "predict/m");
  Add("b", "predict/m");
  Add("c", "other");
  // a fails by Nack, c by timeouts; b is acked.
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    auto jobs = Take(2);
    for (const Job& j : jobs) {
      if (j.id == "b") {
        ASSERT_TRUE(queue_->Ack("b", j.lease).ok());
      } else {
        ASSERT_TRUE(queue_->Nack(j.id, j.lease, "bad input").ok());
      }
    }
    ASSERT_EQ(Take(1, "other").size(), 1u);
    clock_.Advance(options_.visibility_timeout_ms);
  }
  EXPECT_TRUE(Take(5).empty());
  EXPECT_TRUE(Take(5, "other").empty());
  EXPECT_EQ(queue_->held(), 0u);
  EXPECT_EQ(StatsOf("predict/m").dead, 1u);
  EXPECT_EQ(StatsOf("other").dead, 1u);
  EXPECT_EQ(StatsOf("other").dead_lettered, 1u);
  EXPECT_EQ(Add("a"), EnqueueResult::kDuplicate);  // dead ids are known

  auto all = queue_->ListDead("", 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "a");  // dead first
  EXPECT_EQ((*all)[0].last_error, "bad input");
  EXPECT_EQ((*all)[0].receive_count, options_.max_attempts);
  EXPECT_EQ((*all)[1].id, "c");
  EXPECT_GT((*all)[1].dead_ms, (*all)[0].dead_ms);
  EXPECT_EQ(queue_->ListDead("", 1)->size(), 1u);
  EXPECT_EQ(queue_->ListDead("other", 10)->at(0).id, "c");

  // Dead jobs survive a restart.
  Reopen();
  EXPECT_EQ(queue_->ListDead("", 10)->size(), 2u);

  EXPECT_EQ(queue_->ReplayDead("other", "a").status().code(), StatusCode::kNotFound);
  auto replayed = queue_->ReplayDead("predict/m");
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(*replayed, 1u);
  auto jobs = Take(5);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].receive_count, 1);
  EXPECT_TRUE(queue_->Ack("a", jobs[0].lease).ok());

  auto purged = queue_->PurgeDead("");
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 1u);
  EXPECT_TRUE(queue_->ListDead("", 10)->empty());
  Reopen();
  EXPECT_TRUE(queue_->ListDead("", 10)->empty());
  EXPECT_EQ(Add("c", "other"), EnqueueResult::kAdded);  // purged ids are forgotten
}

// A queue matching a max_attempts_by_prefix key keeps retrying past the default's attempts.
TEST_F(JobQueueTest, MaxAttemptsByPrefixOverridesTheDefault) {
  options_.max_attempts_by_prefix = {{"deliver/", 4}, {"deliver/slow/", 6}};
  Reopen();
  auto attempts_until_dead = [&](const std::string& queue) {
    EXPECT_TRUE(queue_->Enqueue(JobSpec{queue + "-job", queue, "", "p", 0}).ok());
    for (int attempt = 1; attempt <= 10; ++attempt) {
      std::vector<Job> jobs;
      EXPECT_TRUE(queue_->Receive(queue, 1, 0, &jobs).ok());
      if (jobs.empty()) return attempt - 1;
      EXPECT_TRUE(queue_->Nack(jobs[0].id, jobs[0].lease, "down").ok());
      clock_.Advance(options_.backoff_max_ms);
    }
    return -1;
  };
  EXPECT_EQ(attempts_until_dead("predict/m"), options_.max_attempts);
  EXPECT_EQ(attempts_until_dead("deliver/m/0"), 4);
  EXPECT_EQ(attempts_until_dead("deliver/slow/0"), 6);
  QueueOptions bad = options_;
  bad.max_attempts_by_prefix = {{"deliver/", 0}};
  EXPECT_EQ(JobQueue::Open(db_.get(), &clock_, bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(JobQueueTest, ReplayOneId) {
  options_.max_attempts = 1;
  Reopen();
  Add("a");
  Add("b");
  for (const Job& j : Take(2)) ASSERT_TRUE(queue_->Nack(j.id, j.lease, "e").ok());
  EXPECT_EQ(*queue_->ReplayDead("", "b"), 1u);
  EXPECT_EQ(StatsOf("predict/m").dead, 1u);
  EXPECT_EQ(Take(5).at(0).id, "b");
}

TEST_F(JobQueueTest, CapacityRefusalChangesNothing) {
  options_.max_jobs = 3;
  Reopen();
  Add("a");
  Add("b");
  auto r = queue_->EnqueueBatch(
      {JobSpec{"c", "predict/m", "", "", 0}, JobSpec{"d", "predict/m", "", "", 0}});
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(r.status().message(), "prediction queue is full (2 jobs held, limit 3)");
  EXPECT_EQ(queue_->held(), 2u);
  Reopen();
  EXPECT_EQ(queue_->held(), 2u);
  // Nothing of the refused batch was written: both ids are new.
  EXPECT_EQ(Add("c"), EnqueueResult::kAdded);
  EXPECT_EQ(queue_->Enqueue(JobSpec{"d", "predict/m", "", "", 0}).status().code(),
            StatusCode::kResourceExhausted);
  // Duplicates do not count against the bound.
  EXPECT_EQ(Add("a"), EnqueueResult::kDuplicate);
  EXPECT_EQ(queue_->capacity(), 3u);
}

// A full queue of predict jobs must drain: their deliveries are follow-ups, never refused.
TEST_F(JobQueueTest, FollowUpsAreAcceptedWhenFull) {
  options_.max_jobs = 2;
  Reopen();
  Add("a");
  Add("b");
  std::vector<Job> jobs = Take(2);
  ASSERT_EQ(jobs.size(), 2u);
  const std::vector<JobSpec> deliveries = {JobSpec{"a#0", "deliver/m/0", "", "", 0},
                                           JobSpec{"b#0", "deliver/m/0", "", "", 0}};
  EXPECT_EQ(queue_->EnqueueBatch(deliveries).status().code(), StatusCode::kResourceExhausted);
  rocksdb::WriteBatch nothing_else;
  Status completed = queue_->Complete({{jobs[0].id, jobs[0].lease}}, deliveries, &nothing_else);
  ASSERT_TRUE(completed.ok()) << completed.ToString();
  EXPECT_EQ(queue_->held(), 3u);  // over the bound by the follow-ups of work it had admitted
  ASSERT_TRUE(queue_->Ack(jobs[1].id, jobs[1].lease).ok());
  EXPECT_EQ(queue_->held(), 2u);
  // New work is still refused until the follow-ups are done.
  EXPECT_EQ(queue_->Enqueue(JobSpec{"c", "predict/m", "", "", 0}).status().code(),
            StatusCode::kResourceExhausted);
}

TEST_F(JobQueueTest, CompleteAcksEnqueuesAndWritesTheCallersBatchAtomically) {
  Add("a");
  Add("b");
  std::vector<Job> jobs = Take(2);
  ASSERT_EQ(jobs.size(), 2u);
  std::vector<std::pair<std::string, uint64_t>> leases = {{jobs[0].id, jobs[0].lease},
                                                          {jobs[1].id, jobs[1].lease}};
  std::vector<JobSpec> follow_ups = {{"a#0", "deliver/m/0", "", "pa", 0},
                                     {"b#0", "deliver/m/0", "", "pb", 0}};

  // A stale lease among them: nothing is acked, enqueued or written.
  rocksdb::WriteBatch refused;
  refused.Put(db_->cf(Cf::kPredictions), "k", "refused");
  auto stale = leases;
  stale[1].second += 1000;
  EXPECT_EQ(queue_->Complete(stale, follow_ups, &refused).code(), StatusCode::kFailedPrecondition);
  auto value = db_->Get(Cf::kPredictions, "k");
  ASSERT_TRUE(value.ok());
  EXPECT_FALSE(value->has_value());
  EXPECT_EQ(StatsOf("predict/m").in_flight, 2u);
  EXPECT_TRUE(Take(10, "deliver/m/0").empty());

  rocksdb::WriteBatch batch;
  batch.Put(db_->cf(Cf::kPredictions), "k", "made");
  ASSERT_TRUE(queue_->Complete(leases, follow_ups, &batch).ok());
  value = db_->Get(Cf::kPredictions, "k");
  ASSERT_TRUE(value.ok() && value->has_value());
  EXPECT_EQ(**value, "made");
  EXPECT_EQ(StatsOf("predict/m").in_flight, 0u);
  EXPECT_EQ(Add("a"), EnqueueResult::kDuplicate);  // done, remembered
  std::vector<Job> deliveries = Take(10, "deliver/m/0");
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_EQ(deliveries[0].payload, "pa");
  EXPECT_EQ(deliveries[1].payload, "pb");

  // All of it survives a reopen: the acks stay acked, the follow-ups pending.
  Reopen();
  EXPECT_EQ(Add("b"), EnqueueResult::kDuplicate);
  EXPECT_TRUE(Take(10).empty());
  EXPECT_EQ(Take(10, "deliver/m/0").size(), 2u);
}

// Follow-ups exist only through Complete, with their parent's ack: their own acks leave no done
// marker behind (one delete each), before a reopen and after it.
TEST_F(JobQueueTest, FollowUpsAreAckedWithoutADoneMarker) {
  Add("a");
  Add("b");
  std::vector<Job> jobs = Take(2);
  ASSERT_EQ(jobs.size(), 2u);
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(
      queue_
          ->Complete({{jobs[0].id, jobs[0].lease}, {jobs[1].id, jobs[1].lease}},
                     {{"a#0", "deliver/m/0", "", "pa", 0}, {"b#0", "deliver/m/0", "", "pb", 0}},
                     &batch)
          .ok());
  std::vector<Job> deliveries = Take(1, "deliver/m/0");
  ASSERT_EQ(deliveries.size(), 1u);
  ASSERT_TRUE(queue_->Ack(deliveries[0].id, deliveries[0].lease).ok());
  Reopen();  // the other follow-up, loaded from its record, is still one
  deliveries = Take(10, "deliver/m/0");
  ASSERT_EQ(deliveries.size(), 1u);
  ASSERT_TRUE(queue_->Ack(deliveries[0].id, deliveries[0].lease).ok());

  std::vector<std::string> keys;
  auto it = db_->NewIterator(Cf::kQueue);
  for (it->SeekToFirst(); it->Valid(); it->Next()) keys.push_back(it->key().ToString());
  ASSERT_EQ(keys.size(), 2u);  // the parents' done records; no job left
  EXPECT_EQ(keys[0], "da");
  EXPECT_EQ(keys[1], "db");
  for (const std::string& key : keys) EXPECT_EQ(key.find('#'), std::string::npos) << key;
  EXPECT_EQ(Add("a"), EnqueueResult::kDuplicate);  // the parents stay remembered
}

// A job record of format 1 (before the flags byte) is still read, as an ordinary job.
TEST_F(JobQueueTest, ReadsFormatOneRecords) {
  std::string record = {'\x01', '\x00'};  // format 1, pending
  for (std::string_view field : {"predict/m", "", "old payload", ""}) {
    byte_codec::PutBytes(&record, field);
  }
  byte_codec::PutSigned(&record, kT0);  // enqueued_ms
  byte_codec::PutSigned(&record, kT0);  // visible_ms
  byte_codec::PutSigned(&record, 0);    // dead_ms
  byte_codec::PutVarint(&record, 0);    // receive_count
  ASSERT_TRUE(db_->Put(Cf::kQueue, "jold", record).ok());
  Reopen();
  std::vector<Job> jobs = Take(10);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, "old");
  EXPECT_EQ(jobs[0].payload, "old payload");
  ASSERT_TRUE(queue_->Ack(jobs[0].id, jobs[0].lease).ok());
  EXPECT_EQ(Add("old"), EnqueueResult::kDuplicate);  // acked as any job: remembered
}

TEST_F(JobQueueTest, ReopenKeepsPendingAndDeadAndMakesInFlightVisible) {
  options_.max_attempts = 1;
  Reopen();
  Add("in_flight", "predict/m", "x");
  Add("delayed", "predict/m", "y", 5'000);
  Add("dead", "predict/m", "z");
  auto jobs = Take(2);
  ASSERT_EQ(jobs.size(), 2u);
  ASSERT_TRUE(queue_->Nack("dead", jobs[1].lease, "gone").ok());

  Reopen();
  auto s = StatsOf("predict/m");
  EXPECT_EQ(s.ready, 1u);
  EXPECT_EQ(s.delayed, 1u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.dead, 1u);
  EXPECT_EQ(queue_->held(), 2u);
  jobs = Take(5);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, "in_flight");
  EXPECT_EQ(jobs[0].payload, "x");
  EXPECT_EQ(jobs[0].enqueued_ms, kT0);
  clock_.Advance(5'000);
  EXPECT_EQ(Take(5).at(0).id, "delayed");
  EXPECT_EQ(queue_->ListDead("predict/m", 5)->at(0).last_error, "gone");
}

TEST_F(JobQueueTest, LongPollIsWokenByEnqueueAndByShutdown) {
  std::vector<Job> got;
  std::thread consumer([&] {
    auto n = queue_->Receive("predict/m", 1, 10'000, &got);
    EXPECT_TRUE(n.ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Add("a");
  consumer.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, "a");

  std::vector<Job> none;
  std::thread waiter([&] {
    auto n = queue_->Receive("predict/m", 1, 10'000, &none);
    EXPECT_TRUE(n.ok());
    EXPECT_EQ(n.ok() ? *n : 1, 0u);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  queue_->Shutdown();
  waiter.join();
  EXPECT_TRUE(none.empty());
  Add("b");
  EXPECT_TRUE(Take(1).empty());  // after Shutdown, Receive returns nothing
}

TEST_F(JobQueueTest, LongPollTimesOut) {
  std::vector<Job> out;
  auto start = std::chrono::steady_clock::now();
  auto n = queue_->Receive("predict/m", 1, 30, &out);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
}

TEST_F(JobQueueTest, ManyProducersAndConsumersDeliverEachJobOnce) {
  options_.visibility_timeout_ms = 600'000;  // no redelivery: the fake clock does not move
  Reopen();
  constexpr int kProducers = 4, kConsumers = 4, kPerProducer = 500;
  constexpr int kTotal = kProducers * kPerProducer;
  std::atomic<int> acked{0};
  std::vector<std::vector<std::string>> seen(kConsumers);
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; i += 5) {
        std::vector<JobSpec> batch;
        for (int k = i; k < i + 5; ++k) {
          batch.push_back(
              JobSpec{std::to_string(p) + "-" + std::to_string(k), "predict/m", "", "x", 0});
        }
        // Every job twice: the second enqueue is a duplicate.
        ASSERT_TRUE(queue_->EnqueueBatch(batch).ok());
        ASSERT_TRUE(queue_->Enqueue(batch[0]).ok());
      }
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (acked.load() < kTotal && std::chrono::steady_clock::now() < give_up) {
        std::vector<Job> jobs;
        ASSERT_TRUE(queue_->Receive("predict/m", 8, 20, &jobs).ok());
        std::vector<std::pair<std::string, uint64_t>> acks;
        for (const Job& j : jobs) {
          seen[c].push_back(j.id);
          acks.emplace_back(j.id, j.lease);
        }
        if (!acks.empty()) {
          ASSERT_TRUE(queue_->AckBatch(acks).ok());
        }
        acked += static_cast<int>(acks.size());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::multiset<std::string> all;
  for (auto& ids : seen) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kTotal));
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), static_cast<size_t>(kTotal));
  EXPECT_EQ(queue_->held(), 0u);
}

// Writes land outside the queue's lock: coalescing enqueues race receives, and completions
// with follow-ups race both. No event is lost to a coalesce (each key's newest payload reaches
// a consumer), no job is received twice, every follow-up is delivered once, and nothing is left
// held, before a reopen or after it.
TEST_F(JobQueueTest, ConcurrentCoalescesAndCompletionsLoseNothing) {
  options_.visibility_timeout_ms = 600'000;  // no redelivery: the fake clock does not move
  Reopen();
  constexpr int kProducers = 2, kKeysPerProducer = 10, kEventsPerKey = 200, kConsumers = 3;
  std::atomic<int> producing{kProducers};
  std::atomic<int> follow_ups_made{0}, follow_ups_acked{0};
  std::mutex mu;
  std::map<std::string, int> newest_received;  // key -> the highest payload a consumer got
  std::multiset<std::string> received_ids;
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kEventsPerKey; ++i) {
        std::vector<JobSpec> batch;
        for (int k = 0; k < kKeysPerProducer; ++k) {
          const std::string key = std::to_string(p) + "/" + std::to_string(k);
          batch.push_back(JobSpec{key + "@" + std::to_string(i), "predict/m", key,
                                  std::to_string(i), 0});
        }
        ASSERT_TRUE(queue_->EnqueueOrCoalesceBatch(batch).ok());
      }
      --producing;
    });
  }
  auto idle = [&] { return producing.load() == 0 && queue_->held() == 0; };
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      while (!idle() && std::chrono::steady_clock::now() < give_up) {
        std::vector<Job> jobs;
        ASSERT_TRUE(queue_->Receive("predict/m", 8, 5, &jobs).ok());
        if (jobs.empty()) continue;
        std::vector<std::pair<std::string, uint64_t>> acks;
        std::vector<JobSpec> follow_ups;
        {
          std::lock_guard lock(mu);
          for (const Job& j : jobs) {
            const std::string key = j.id.substr(0, j.id.find('@'));
            int& newest = newest_received[key];
            newest = std::max(newest, std::stoi(j.payload));
            received_ids.insert(j.id);
            acks.emplace_back(j.id, j.lease);
            follow_ups.push_back(JobSpec{j.id + "#0", "deliver/m/0", "", j.payload, 0});
          }
        }
        rocksdb::WriteBatch with;
        ASSERT_TRUE(queue_->Complete(acks, follow_ups, &with).ok());
        follow_ups_made += static_cast<int>(follow_ups.size());
      }
    });
  }
  threads.emplace_back([&] {
    while (!idle() && std::chrono::steady_clock::now() < give_up) {
      std::vector<Job> jobs;
      ASSERT_TRUE(queue_->Receive("deliver/m/0", 16, 5, &jobs).ok());
      std::vector<std::pair<std::string, uint64_t>> acks;
      for (const Job& j : jobs) acks.emplace_back(j.id, j.lease);
      if (!acks.empty()) {
        ASSERT_TRUE(queue_->AckBatch(acks).ok());
      }
      follow_ups_acked += static_cast<int>(acks.size());
    }
  });
  for (auto& t : threads) t.join();
  ASSERT_TRUE(idle());
  EXPECT_EQ(follow_ups_acked.load(), follow_ups_made.load());
  EXPECT_EQ(std::set<std::string>(received_ids.begin(), received_ids.end()).size(),
            received_ids.size());
  ASSERT_EQ(newest_received.size(), static_cast<size_t>(kProducers * kKeysPerProducer));
  for (const auto& [key, newest] : newest_received) EXPECT_EQ(newest, kEventsPerKey - 1) << key;
  Reopen();
  EXPECT_EQ(queue_->held(), 0u);
  EXPECT_TRUE(Take(10).empty());
  EXPECT_TRUE(Take(10, "deliver/m/0").empty());
}

TEST_F(JobQueueTest, StatsReportAgeAndExpireLeases) {
  Add("a");
  clock_.Advance(250);
  Add("b");
  auto s = StatsOf("predict/m");
  EXPECT_EQ(s.oldest_age_ms, 250);
  EXPECT_EQ(s.ready, 2u);
  Take(1);
  clock_.Advance(options_.visibility_timeout_ms);
  s = StatsOf("predict/m");
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.ready, 2u);
  EXPECT_EQ(s.retries, 1u);
}

}  // namespace
}  // namespace freshet
