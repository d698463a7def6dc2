// MicroBatcher: concurrent calls are coalesced into one model call and each caller gets its own
// rows' outputs back; a runtime error fails only its batch; calls that do not fit run alone. The
// mechanics use a counting runtime defined here; the real XGBoost runtime checks that batched
// outputs equal unbatched ones.
#include "serving/micro_batcher.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <thread>

#include "models/models_test_util.h"

namespace freshet {
namespace {

// Scores a row as the sum of its values; fails the whole call when any value is negative.
// Records the row count of every call.
class SumRuntime : public ModelRuntime {
 public:
  std::string_view name() const override { return "sum"; }
  Status Load(const std::string&) override { return Status::Ok(); }
  int64_t num_features() const override { return -1; }
  Status Predict(const float* rows, size_t n_rows, size_t n_cols,
                 std::vector<float>* out) const override {
    calls_.fetch_add(1);
    max_rows_seen_.store(std::max(max_rows_seen_.load(), n_rows));
    out->assign(n_rows, 0.0f);
    for (size_t r = 0; r < n_rows; ++r) {
      for (size_t c = 0; c < n_cols; ++c) {
        float v = rows[r * n_cols + c];
        if (v < 0) return Status::InvalidArgument("negative input");
        (*out)[r] += v;
      }
    }
    return Status::Ok();
  }
  int calls() const { return calls_.load(); }
  size_t max_rows_seen() const { return max_rows_seen_.load(); }

 private:
  mutable std::atomic<int> calls_{0};
  mutable std::atomic<size_t> max_rows_seen_{0};
};

MicroBatcher::Options Opts(size_t max_rows, std::chrono::microseconds delay) {
  MicroBatcher::Options o;
  o.max_batch_rows = max_rows;
  o.max_delay = delay;
  return o;
}

// Runs concurrent one-row calls of 2 columns; row i is {i, second[i]}.
struct Results {
  std::vector<Status> status;
  std::vector<std::vector<float>> out;
};
Results RunConcurrently(MicroBatcher* batcher, const std::shared_ptr<const ModelRuntime>& rt,
                        const std::vector<float>& second) {
  const size_t n = second.size();
  Results res{std::vector<Status>(n), std::vector<std::vector<float>>(n)};
  std::vector<std::array<float, 2>> rows(n);
  // Every caller is announced before any starts, so the leader waits for all of them.
  std::vector<std::unique_ptr<MicroBatcher::Announcement>> announced;
  for (size_t i = 0; i < n; ++i) {
    announced.push_back(std::make_unique<MicroBatcher::Announcement>(batcher));
  }
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) {
    rows[i] = {static_cast<float>(i), second[i]};
    threads.emplace_back([&, i] {
      res.status[i] = batcher->Predict(rt, rows[i].data(), 1, 2, &res.out[i], announced[i].get());
    });
  }
  for (std::thread& t : threads) t.join();
  return res;
}

TEST(MicroBatcherTest, ConcurrentCallsShareOneModelCallAndGetTheirOwnRows) {
  auto rt = std::make_shared<SumRuntime>();
  // The batch closes when full (8 rows), long before the delay.
  MicroBatcher batcher(Opts(8, std::chrono::seconds(30)));
  Results res = RunConcurrently(&batcher, rt, std::vector<float>(8, 100.0f));
  EXPECT_EQ(rt->calls(), 1);
  EXPECT_EQ(rt->max_rows_seen(), 8u);
  EXPECT_EQ(batcher.model_calls(), 1u);
  for (size_t i = 0; i < 8; ++i) {
    ASSERT_TRUE(res.status[i].ok()) << res.status[i].ToString();
    ASSERT_EQ(res.out[i].size(), 1u);
    EXPECT_FLOAT_EQ(res.out[i][0], static_cast<float>(i) + 100.0f);
  }
}

TEST(MicroBatcherTest, AnErrorFailsOnlyItsBatch) {
  auto rt = std::make_shared<SumRuntime>();
  MicroBatcher batcher(Opts(4, std::chrono::seconds(30)));
  Results bad = RunConcurrently(&batcher, rt, {1, 2, -1, 3});
  Results good = RunConcurrently(&batcher, rt, {1, 2, 3, 4});
  EXPECT_EQ(rt->calls(), 2);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(bad.status[i].code(), StatusCode::kInvalidArgument) << i;
    ASSERT_TRUE(good.status[i].ok()) << good.status[i].ToString();
    EXPECT_FLOAT_EQ(good.out[i][0], static_cast<float>(i) + static_cast<float>(i + 1));
  }
}

TEST(MicroBatcherTest, CallsThatDoNotFitRunAlone) {
  auto rt = std::make_shared<SumRuntime>();
  auto other = std::make_shared<SumRuntime>();
  // Nobody is announced: each caller runs at once instead of waiting out the delay.
  MicroBatcher batcher(Opts(4, std::chrono::hours(1)));
  // As many rows as a whole batch: scored at once, without waiting.
  std::vector<float> four = {1, 1, 2, 2, 3, 3, 4, 4};
  std::vector<float> out;
  ASSERT_TRUE(batcher.Predict(rt, four.data(), 4, 2, &out).ok());
  EXPECT_EQ(out, (std::vector<float>{2, 4, 6, 8}));
  // Two runtimes (two model versions) never share a batch.
  std::vector<float> row = {5, 6}, out_a, out_b;
  std::thread a([&] { ASSERT_TRUE(batcher.Predict(rt, row.data(), 1, 2, &out_a).ok()); });
  std::thread b([&] { ASSERT_TRUE(batcher.Predict(other, row.data(), 1, 2, &out_b).ok()); });
  a.join();
  b.join();
  EXPECT_EQ(rt->calls(), 2);
  EXPECT_EQ(other->calls(), 1);
  EXPECT_EQ(out_a, (std::vector<float>{11}));
  EXPECT_EQ(out_b, (std::vector<float>{11}));
}

// An announced caller that gives up before Predict (e.g. its feature read failed) releases the
// leader waiting for it.
TEST(MicroBatcherTest, AnAnnouncementThatEndsReleasesTheLeader) {
  auto rt = std::make_shared<SumRuntime>();
  MicroBatcher batcher(Opts(4, std::chrono::hours(1)));
  auto leaving = std::make_unique<MicroBatcher::Announcement>(&batcher);
  MicroBatcher::Announcement leader_announced(&batcher);
  std::vector<float> row = {1, 2}, out;
  Status status;
  std::thread leader(
      [&] { status = batcher.Predict(rt, row.data(), 1, 2, &out, &leader_announced); });
  leaving.reset();
  leader.join();
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(out, (std::vector<float>{3}));
}

TEST(MicroBatcherTest, BatchedXgboostEqualsUnbatched) {
  const testing::PythonModels* models = testing::TrainedModels();
  ASSERT_NE(models, nullptr);
  auto loaded = LoadRuntime("xgboost", models->tree_json);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  std::shared_ptr<const ModelRuntime> rt = std::move(*loaded);
  constexpr size_t kRows = testing::PythonModels::kRows, kCols = testing::PythonModels::kFeatures;
  std::vector<float> unbatched;
  ASSERT_TRUE(rt->Predict(models->rows.data(), kRows, kCols, &unbatched).ok());

  MicroBatcher batcher(Opts(kRows, std::chrono::seconds(30)));
  std::vector<std::vector<float>> out(kRows);
  std::vector<Status> status(kRows);
  std::vector<std::unique_ptr<MicroBatcher::Announcement>> announced;
  for (size_t r = 0; r < kRows; ++r) {
    announced.push_back(std::make_unique<MicroBatcher::Announcement>(&batcher));
  }
  std::vector<std::thread> threads;
  for (size_t r = 0; r < kRows; ++r) {
    threads.emplace_back([&, r] {
      status[r] = batcher.Predict(rt, models->rows.data() + r * kCols, 1, kCols, &out[r],
                                  announced[r].get());
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(batcher.model_calls(), 1u);
  for (size_t r = 0; r < kRows; ++r) {
    ASSERT_TRUE(status[r].ok()) << status[r].ToString();
    ASSERT_EQ(out[r].size(), 1u);
    EXPECT_FLOAT_EQ(out[r][0], unbatched[r]) << "row " << r;
    EXPECT_NEAR(out[r][0], models->tree_expected[r], 1e-5) << "row " << r;
  }
}

}  // namespace
}  // namespace freshet
