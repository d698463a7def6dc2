#include "log/event_log.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

namespace freshet {
namespace {

constexpr int64_t kHourMs = 3'600'000;

std::string TempDir(const std::string& name) {
  static std::atomic<int> counter{0};
  auto p = std::filesystem::temp_directory_path() /
           ("freshet_log_test_" + name + "_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter++));
  std::filesystem::remove_all(p);
  return p.string();
}

// A record whose content says who wrote it: (writer, sequence number, index in the batch).
Record MakeRecord(int64_t writer, int64_t seq, int64_t index = 0) {
  Record r;
  r.ts_ms = seq * 1000 + index;
  r.values = {Value::Int(writer), Value::Int(seq), Value::String(fmt::format("r{}", index))};
  return r;
}

std::vector<Record> MakeBatch(int64_t writer, int64_t seq, size_t n) {
  std::vector<Record> batch;
  for (size_t i = 0; i < n; ++i) batch.push_back(MakeRecord(writer, seq, static_cast<int64_t>(i)));
  return batch;
}

void ExpectSameRecords(const std::vector<Record>& got, const std::vector<Record>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].ts_ms, want[i].ts_ms) << "record " << i;
    EXPECT_EQ(got[i].values, want[i].values) << "record " << i;
  }
}

class EventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    Reopen();
  }
  void TearDown() override {
    log_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen(std::vector<std::string> sources = {"clicks", "views"},
              EventLogOptions options = {}) {
    log_.reset();
    db_.reset();
    auto db = Db::Open(dir_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto log = EventLog::Open(db_.get(), sources, &clock_, options);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(*log);
  }
  AppendAck MustAppend(const std::string& source, std::vector<Record> records,
                       const std::string& key = "") {
    auto ack = log_->Append(source, std::move(records), key);
    EXPECT_TRUE(ack.ok()) << ack.status().ToString();
    return ack.ok() ? *ack : AppendAck{};
  }
  std::vector<Record> MustRead(const std::string& source, uint64_t offset, size_t max) {
    std::vector<Record> out;
    Status st = log_->Read(source, offset, max, &out);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }
  uint64_t MustNextOffset(const std::string& source) {
    auto next = log_->NextOffset(source);
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    return next.ok() ? *next : ~0ull;
  }
  size_t CountIdempotencyEntries() {
    size_t n = 0;
    auto it = db_->NewIterator(Cf::kIngestMeta);
    for (it->SeekToFirst(); it->Valid(); it->Next()) n += it->key().starts_with("idem");
    return n;
  }

  std::string dir_;
  ManualClock clock_{1'000'000};
  std::unique_ptr<Db> db_;
  std::unique_ptr<EventLog> log_;
};

TEST_F(EventLogTest, DropBeforeDeletesTheOldestPrefixUpToTheCutoffAndTheReadersOffset) {
  MustAppend("clicks", MakeBatch(1, 1, 3));  // ts 1000, 1001, 1002: offsets 0-2
  MustAppend("clicks", MakeBatch(1, 5, 2));  // ts 5000, 5001: offsets 3-4
  MustAppend("clicks", MakeBatch(1, 2, 1));  // ts 2000 (out of order): offset 5
  MustAppend("views", MakeBatch(2, 1, 2));
  // A reader has applied only offsets 0 and 1: nothing above stays deleted.
  auto dropped = log_->DropBefore("clicks", 4000, 2);
  ASSERT_TRUE(dropped.ok()) << dropped.status().ToString();
  EXPECT_EQ(*dropped, 2u);
  // Stops at the first record at or after the cutoff (offset 3), keeping offset 5's older one.
  dropped = log_->DropBefore("clicks", 4000, 100);
  ASSERT_TRUE(dropped.ok()) << dropped.status().ToString();
  EXPECT_EQ(*dropped, 1u);
  auto oldest = log_->Oldest("clicks");
  ASSERT_TRUE(oldest.ok() && *oldest) << oldest.status().ToString();
  EXPECT_EQ((**oldest).first, 3u);
  EXPECT_EQ((**oldest).second, 5000);
  ExpectSameRecords(MustRead("clicks", 3, 10),
                    {MakeRecord(1, 5, 0), MakeRecord(1, 5, 1), MakeRecord(1, 2, 0)});
  EXPECT_EQ(MustNextOffset("clicks"), 6u);         // offsets are never reused
  EXPECT_EQ(MustRead("views", 0, 10).size(), 2u);  // other sources untouched
  auto none = log_->Oldest("views");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)->first, 0u);
  EXPECT_EQ(log_->DropBefore("nope", 1, 1).status().code(), StatusCode::kNotFound);
}

// A group's records are in RocksDB a moment before its sync returns; one whose sync failed is
// overwritten by the next group. Neither is read.
TEST_F(EventLogTest, ReadStopsAtTheDurableNextOffset) {
  std::vector<Record> batch = MakeBatch(1, 1, 2);
  MustAppend("clicks", batch);
  auto id = log_->SourceId("clicks");
  ASSERT_TRUE(id.ok());
  std::string key;
  AppendBigEndian32(&key, *id);
  AppendBigEndian64(&key, 2);  // the offset the next group will write
  std::string value;
  EncodeRecord(MakeRecord(1, 9, 0), &value);
  ASSERT_TRUE(db_->Put(Cf::kEvents, key, value).ok());
  ExpectSameRecords(MustRead("clicks", 0, 100), batch);
  EXPECT_TRUE(MustRead("clicks", 2, 100).empty());
  std::vector<Record> next = MakeBatch(1, 3, 1);
  EXPECT_EQ(MustAppend("clicks", next).first_offset, 2u);
  ExpectSameRecords(MustRead("clicks", 2, 100), next);
}

TEST_F(EventLogTest, AppendThenReadBack) {
  std::vector<Record> batch = MakeBatch(1, 1, 3);
  AppendAck ack = MustAppend("clicks", batch);
  EXPECT_EQ(ack.first_offset, 0u);
  EXPECT_EQ(ack.count, 3u);
  EXPECT_FALSE(ack.duplicate);
  ExpectSameRecords(MustRead("clicks", 0, 100), batch);
  ExpectSameRecords(MustRead("clicks", 1, 1), {batch[1]});
  EXPECT_TRUE(MustRead("clicks", 3, 100).empty());
  EXPECT_TRUE(MustRead("views", 0, 100).empty());
  EXPECT_EQ(MustNextOffset("clicks"), 3u);
}

TEST_F(EventLogTest, OffsetsAreConsecutivePerSource) {
  EXPECT_EQ(MustAppend("clicks", MakeBatch(1, 1, 2)).first_offset, 0u);
  EXPECT_EQ(MustAppend("views", MakeBatch(1, 2, 3)).first_offset, 0u);
  EXPECT_EQ(MustAppend("clicks", MakeBatch(1, 3, 4)).first_offset, 2u);
  AppendAck empty = MustAppend("clicks", {});
  EXPECT_EQ(empty.first_offset, 6u);
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(MustAppend("clicks", MakeBatch(1, 4, 1)).first_offset, 6u);
  EXPECT_EQ(MustNextOffset("clicks"), 7u);
  EXPECT_EQ(MustNextOffset("views"), 3u);
  std::vector<Record> all = MustRead("clicks", 0, 100);
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all[2].values[1], Value::Int(3));
}

TEST_F(EventLogTest, UnknownSourceIsNotFound) {
  std::vector<Record> out;
  EXPECT_EQ(log_->Append("nope", MakeBatch(1, 1, 1)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(log_->Read("nope", 0, 1, &out).code(), StatusCode::kNotFound);
  EXPECT_EQ(log_->NextOffset("nope").status().code(), StatusCode::kNotFound);
}

TEST_F(EventLogTest, ReopenKeepsOffsetsDataAndSourceIds) {
  MustAppend("clicks", MakeBatch(1, 1, 2));
  MustAppend("views", MakeBatch(1, 2, 5));
  uint32_t views_id = *log_->SourceId("views");
  // Reordered, with a new source and without "clicks": ids stay, the new one gets a fresh id.
  Reopen({"searches", "views"});
  EXPECT_EQ(*log_->SourceId("views"), views_id);
  EXPECT_EQ(*log_->SourceId("searches"), 2u);
  EXPECT_EQ(log_->SourceId("clicks").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(MustNextOffset("views"), 5u);
  EXPECT_EQ(MustAppend("views", MakeBatch(2, 3, 1)).first_offset, 5u);
  EXPECT_TRUE(MustRead("searches", 0, 10).empty());

  Reopen({"clicks", "views", "searches"});
  EXPECT_EQ(MustNextOffset("clicks"), 2u);
  ExpectSameRecords(MustRead("clicks", 0, 10), MakeBatch(1, 1, 2));
  std::vector<Record> views = MustRead("views", 0, 10);
  ASSERT_EQ(views.size(), 6u);
  EXPECT_EQ(views[5].values[0], Value::Int(2));
}

TEST_F(EventLogTest, CorruptSourceIdIsAnIoErrorNotAnOutOfBoundsWrite) {
  log_.reset();
  std::string id = "\xff\xff\xff\xff";
  ASSERT_TRUE(db_->Put(Cf::kIngestMeta, "source/views", id, /*sync=*/true).ok());
  auto log = EventLog::Open(db_.get(), {"clicks", "views"}, &clock_, {});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kIoError);
  EXPECT_EQ(log.status().message(),
            "corrupt source id 4294967295 of source 'views' in ingest_meta");
}

TEST_F(EventLogTest, IdempotencyKeyReturnsTheOriginalAck) {
  MustAppend("clicks", MakeBatch(1, 1, 1));
  AppendAck first = MustAppend("clicks", MakeBatch(1, 2, 2), "key-1");
  EXPECT_EQ(first.first_offset, 1u);
  EXPECT_FALSE(first.duplicate);
  AppendAck retry = MustAppend("clicks", MakeBatch(1, 3, 5), "key-1");
  EXPECT_EQ(retry.first_offset, 1u);
  EXPECT_EQ(retry.count, 2u);
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(MustNextOffset("clicks"), 3u);
  ExpectSameRecords(MustRead("clicks", 1, 10), MakeBatch(1, 2, 2));
  // Keys are per source.
  EXPECT_FALSE(MustAppend("views", MakeBatch(1, 4, 1), "key-1").duplicate);
  // And survive a restart.
  Reopen();
  AppendAck after_restart = MustAppend("clicks", MakeBatch(1, 5, 1), "key-1");
  EXPECT_TRUE(after_restart.duplicate);
  EXPECT_EQ(after_restart.first_offset, 1u);
  EXPECT_EQ(MustNextOffset("clicks"), 3u);
}

TEST_F(EventLogTest, IdempotencyKeysExpireAndArePurged) {
  Reopen({"clicks", "views"}, EventLogOptions{.idempotency_ttl_ms = kHourMs});
  MustAppend("clicks", MakeBatch(1, 1, 1), "old");
  clock_.Advance(kHourMs / 2);
  MustAppend("clicks", MakeBatch(1, 2, 1), "young");
  EXPECT_EQ(CountIdempotencyEntries(), 4u);  // an entry and an expiry index entry per key
  clock_.Advance(kHourMs / 2);
  // "old" has just expired: the same key appends again, under a fresh entry.
  AppendAck again = MustAppend("clicks", MakeBatch(1, 3, 1), "old");
  EXPECT_FALSE(again.duplicate);
  EXPECT_EQ(again.first_offset, 2u);
  EXPECT_TRUE(MustAppend("clicks", MakeBatch(1, 4, 1), "young").duplicate);
  // The purge runs before a later group: the first "old" entry goes, the re-used key stays.
  clock_.Advance(kHourMs / 2 + 1);
  MustAppend("views", MakeBatch(1, 5, 1));
  EXPECT_EQ(CountIdempotencyEntries(), 2u);
  EXPECT_TRUE(MustAppend("clicks", MakeBatch(1, 6, 1), "old").duplicate);
}

// Holds the committer inside the commit hook until released, so tests can line up batches
// behind it in one group.
class BlockingHook {
 public:
  void Install(EventLog* log) {
    log->SetCommitHook([this](const std::vector<CommittedBatch>& batches) {
      std::unique_lock<std::mutex> lock(mu_);
      for (const CommittedBatch& b : batches) seen_.push_back(b.first_offset);
      ++calls_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    });
  }
  void WaitForCall() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return calls_ > 0; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  std::vector<uint64_t> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  bool released_ = false;
  std::vector<uint64_t> seen_;
};

void WaitForPending(EventLog* log, size_t records) {
  for (int i = 0; i < 10'000 && log->PendingRecords() != records; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(log->PendingRecords(), records);
}

TEST_F(EventLogTest, BackPressureRefusesWhenTooManyRecordsWait) {
  Reopen({"clicks"}, EventLogOptions{.max_pending_records = 10});
  BlockingHook hook;
  hook.Install(log_.get());
  std::atomic<bool> first_returned{false};
  std::thread first([&] {
    MustAppend("clicks", MakeBatch(1, 1, 8));
    first_returned = true;
  });
  hook.WaitForCall();
  EXPECT_FALSE(first_returned) << "acknowledged before the commit hook finished";
  std::thread second([&] { MustAppend("clicks", MakeBatch(1, 2, 2)); });
  WaitForPending(log_.get(), 10);
  auto refused = log_->Append("clicks", MakeBatch(1, 3, 1));
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  hook.Release();
  first.join();
  second.join();
  EXPECT_EQ(log_->PendingRecords(), 0u);
  EXPECT_TRUE(log_->Append("clicks", MakeBatch(1, 4, 1)).ok());
  EXPECT_EQ(MustNextOffset("clicks"), 11u);
}

TEST_F(EventLogTest, DuplicateKeysInOneGroupAppendOnce) {
  BlockingHook hook;
  hook.Install(log_.get());
  std::thread blocker([&] { MustAppend("clicks", MakeBatch(1, 1, 1)); });
  hook.WaitForCall();
  AppendAck a, b;
  std::thread first([&] { a = MustAppend("clicks", MakeBatch(2, 1, 3), "same"); });
  WaitForPending(log_.get(), 4);
  std::thread second([&] { b = MustAppend("clicks", MakeBatch(3, 1, 3), "same"); });
  WaitForPending(log_.get(), 7);
  hook.Release();
  blocker.join();
  first.join();
  second.join();
  EXPECT_FALSE(a.duplicate);
  EXPECT_TRUE(b.duplicate);
  EXPECT_EQ(a.first_offset, 1u);
  EXPECT_EQ(b.first_offset, 1u);
  EXPECT_EQ(b.count, 3u);
  EXPECT_EQ(MustNextOffset("clicks"), 4u);
  EXPECT_EQ(hook.seen(), (std::vector<uint64_t>{0, 1}));
}

TEST_F(EventLogTest, ConcurrentAppendsGetDistinctContiguousRanges) {
  constexpr int kThreads = 8;
  constexpr int kAppendsPerThread = 40;
  std::mutex mu;
  std::vector<std::pair<uint64_t, uint64_t>> hook_ranges;  // (first_offset, count) in hook order
  log_->SetCommitHook([&](const std::vector<CommittedBatch>& batches) {
    std::lock_guard<std::mutex> lock(mu);
    for (const CommittedBatch& b : batches) {
      EXPECT_EQ(b.source_id, *log_->SourceId("clicks"));
      hook_ranges.emplace_back(b.first_offset, b.records->size());
    }
  });
  struct Appended {
    int writer, seq;
    size_t n;
    AppendAck ack;
  };
  std::vector<std::vector<Appended>> acks(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int seq = 0; seq < kAppendsPerThread; ++seq) {
        size_t n = 1 + (t * 7 + seq * 3) % 13;
        acks[t].push_back({t, seq, n, MustAppend("clicks", MakeBatch(t, seq, n))});
      }
    });
  }
  for (auto& th : threads) th.join();

  std::vector<Appended> all;
  for (auto& v : acks) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end(), [](const Appended& x, const Appended& y) {
    return x.ack.first_offset < y.ack.first_offset;
  });
  uint64_t expected = 0;
  for (const Appended& a : all) {
    EXPECT_EQ(a.ack.first_offset, expected) << "gap or overlap";
    EXPECT_EQ(a.ack.count, a.n);
    expected += a.n;
  }
  EXPECT_EQ(MustNextOffset("clicks"), expected);
  ASSERT_EQ(hook_ranges.size(), all.size());
  uint64_t next = 0;
  for (auto [first, count] : hook_ranges) {
    EXPECT_EQ(first, next) << "hook saw batches out of offset order";
    next = first + count;
  }
  for (const Appended& a : all) {
    ExpectSameRecords(MustRead("clicks", a.ack.first_offset, a.n), MakeBatch(a.writer, a.seq, a.n));
  }
}

struct AckMessage {
  int32_t writer;
  int32_t seq;
  uint64_t first_offset;
  uint64_t count;
};

// The child appends from two threads with sync and writes each acknowledgement to a pipe;
// it never returns into the test framework.
[[noreturn]] void RunCrashChild(const std::string& dir, int ack_fd) {
  auto db = Db::Open(dir);
  if (!db.ok()) _exit(2);
  auto log = EventLog::Open(db->get(), {"clicks"}, SystemClock::Default());
  if (!log.ok()) _exit(3);
  auto writer = [&](int32_t id) {
    for (int32_t seq = 0; seq < 100'000; ++seq) {
      auto ack = (*log)->Append("clicks", MakeBatch(id, seq, 1 + seq % 5));
      if (!ack.ok()) _exit(4);
      AckMessage m{id, seq, ack->first_offset, ack->count};
      if (write(ack_fd, &m, sizeof(m)) != sizeof(m)) _exit(5);
    }
  };
  std::thread other(writer, 1);
  writer(0);
  other.join();
  _exit(0);
}

// False at end of file, or when the child has been silent for 30 s (so a stuck child fails the
// test instead of hanging it).
bool ReadAck(int fd, AckMessage* m) {
  char* p = reinterpret_cast<char*>(m);
  size_t got = 0;
  while (got < sizeof(*m)) {
    pollfd readable{fd, POLLIN, 0};
    if (poll(&readable, 1, /*timeout_ms=*/30'000) != 1) return false;
    ssize_t n = read(fd, p + got, sizeof(*m) - got);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

// ctest runs each test in its own process, so the fork happens before this process has started
// any RocksDB thread. (ThreadSanitizer refuses the fork when the whole binary runs in one process.)
TEST(EventLogDurabilityTest, EveryAcknowledgedRecordSurvivesKill9) {
  std::string dir = TempDir("kill9");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    RunCrashChild(dir, fds[1]);
  }
  close(fds[1]);
  std::vector<AckMessage> acks;
  AckMessage m;
  while (acks.size() < 200 && ReadAck(fds[0], &m)) acks.push_back(m);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  // Acknowledgements already in the pipe count too.
  while (ReadAck(fds[0], &m)) acks.push_back(m);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended on its own, status " << status;
  ASSERT_GE(acks.size(), 200u) << "the child stopped acknowledging early";

  auto db = Db::Open(dir);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ManualClock clock;
  auto log = EventLog::Open(db->get(), {"clicks"}, &clock);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  uint64_t acked_end = 0;
  for (const AckMessage& a : acks) {
    std::vector<Record> out;
    ASSERT_TRUE((*log)->Read("clicks", a.first_offset, a.count, &out).ok());
    ExpectSameRecords(out, MakeBatch(a.writer, a.seq, a.count));
    acked_end = std::max(acked_end, a.first_offset + a.count);
  }
  EXPECT_GE(*(*log)->NextOffset("clicks"), acked_end);
  log->reset();
  db->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace freshet
