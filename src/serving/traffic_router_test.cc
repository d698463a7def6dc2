// Traffic splits, shadows, per-version metrics and alias switches, through the Predictor over a
// real engine, RocksDB, model registry and linear models whose score is their version number.
#include "serving/traffic_router.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <thread>

#include "serving/predictor.h"
#include "spec/spec_loader.h"
#include "store/store_test_util.h"

namespace freshet {
namespace {

using ::testing::HasSubstr;
using testing::kT;
using testing::StoreHarness;

constexpr const char* kDeployments = R"yaml(
models:
  ranker: {runtime: linear}
deployments:
  rank: {model: ranker, features: scoring}
  rank_batched: {model: ranker, features: scoring, batching: {max_batch: 16, max_delay_us: 200}}
  split:
    model: ranker
    features: scoring
    traffic:
      - {version: 1, weight: 80}
      - {alias: challenger, weight: 20}
  shadowed:
    model: ranker
    features: scoring
    shadow: {version: 2, tolerance: 0.5}
)yaml";

// `split` with other weights: 70/30, then a third entry.
constexpr const char* kReweighted = R"yaml(
models:
  ranker: {runtime: linear}
deployments:
  split:
    model: ranker
    features: scoring
    traffic:
      - {version: 1, weight: 70}
      - {alias: challenger, weight: 30}
)yaml";

class TrafficTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_ = Parse(kDeployments);
    auto registry = ModelRegistry::Open(h_.db(), h_.dir(), h_.clock());
    ASSERT_TRUE(registry.ok()) << registry.status().ToString();
    registry_ = std::move(*registry);
    predictor_ =
        std::make_unique<Predictor>(&spec_, h_.store(), registry_.get(), &cache_, &metrics_);
  }

  static ProjectSpec Parse(const char* deployments) {
    auto spec = ParseProject(std::string(testing::kStoreSpec) + deployments, "freshet.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status().ToString();
    return spec.ok() ? *spec : ProjectSpec{};
  }

  // Registers versions 1..n of `ranker`: linear models scoring every row as their version
  // number (zero weights, bias = version). Version 1 is the champion.
  void RegisterVersions(int n) {
    for (int v = 1; v <= n; ++v) {
      const std::string path = h_.dir() + "/linear.json";
      std::ofstream(path) << R"({"weights":[0,0,0],"bias":)" << v << "}";
      auto registered = registry_->Register("ranker", path, "linear");
      ASSERT_TRUE(registered.ok()) << registered.status().ToString();
      ASSERT_EQ(registered->version, v);
    }
  }

  static EntityColumns Users(int from, int to) {
    EntityColumns columns;
    for (int i = from; i < to; ++i)
      columns["user_id"].push_back(Value::String(fmt::format("u{}", i)));
    return columns;
  }

  // The version serving each of users [0, n), predicted `batch` rows per call.
  std::vector<int64_t> VersionsOf(Predictor* predictor, const std::string& deployment, int n,
                                  int batch) {
    std::vector<int64_t> versions;
    for (int from = 0; from < n; from += batch) {
      auto p = predictor->Predict(deployment, Users(from, std::min(n, from + batch)), kT);
      EXPECT_TRUE(p.ok()) << p.status().ToString();
      if (!p.ok()) return {};
      EXPECT_EQ(p->versions.size(), p->scores.size());
      for (size_t r = 0; r < p->versions.size(); ++r) {
        EXPECT_EQ(p->scores[r], static_cast<double>(p->versions[r])) << "row " << r;
        versions.push_back(p->versions[r]);
      }
    }
    return versions;
  }

  // The value of the sample `series` (name and labels, as rendered) in /metrics; -1 when absent.
  double Sample(const std::string& series) const {
    const std::string text = metrics_.Render();
    size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
  }

  StoreHarness h_;
  ProjectSpec spec_;
  std::unique_ptr<ModelRegistry> registry_;
  ModelCache cache_;
  MetricsRegistry metrics_;
  std::unique_ptr<Predictor> predictor_;
};

TEST_F(TrafficTest, StickySplitFollowsTheWeights) {
  RegisterVersions(2);
  ASSERT_TRUE(registry_->SetAlias("ranker", "challenger", 2).ok());
  constexpr int kUsers = 4000;
  std::vector<int64_t> versions = VersionsOf(predictor_.get(), "split", kUsers, 200);
  ASSERT_EQ(versions.size(), static_cast<size_t>(kUsers));
  const double on_v2 =
      static_cast<double>(std::count(versions.begin(), versions.end(), 2)) / kUsers;
  EXPECT_NEAR(on_v2, 0.2, 0.03);
  EXPECT_EQ(std::count(versions.begin(), versions.end(), 1) +
                std::count(versions.begin(), versions.end(), 2),
            kUsers);
  // Sticky: other batch sizes (other row positions, other calls) give every entity its version.
  EXPECT_EQ(VersionsOf(predictor_.get(), "split", kUsers, 1000), versions);
  EXPECT_EQ(VersionsOf(predictor_.get(), "split", kUsers, 7), versions);

  // Per-version metrics count the rows each version scored.
  const double v2_rows = static_cast<double>(std::count(versions.begin(), versions.end(), 2));
  EXPECT_EQ(
      Sample(
          R"(freshet_model_rows_total{deployment="split",model="ranker",version="2",role="served"})"),
      3 * v2_rows);
  EXPECT_EQ(
      Sample(
          R"(freshet_model_rows_total{deployment="split",model="ranker",version="1",role="served"})"),
      3 * (kUsers - v2_rows));
  EXPECT_GT(
      Sample(
          R"(freshet_model_predict_duration_seconds_count{deployment="split",model="ranker",version="2",role="served"})"),
      0);
  auto report = predictor_->router()->Describe("split");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->arms.size(), 2u);
  EXPECT_EQ(report->arms[1].arm.ref, "challenger");
  EXPECT_EQ(report->arms[1].arm.model.version.version, 2);
  EXPECT_NEAR(report->arms[1].arm.share, 0.2, 0.01);
  EXPECT_EQ(report->arms[1].rows, 3 * v2_rows);
  EXPECT_EQ(report->sticky_keys, std::vector<std::string>{"user_id"});

  // 80/20 -> 70/30 moves entities only from version 1 to version 2, about 10% of them.
  ProjectSpec reweighted = Parse(kReweighted);
  MetricsRegistry other_metrics;
  Predictor other(&reweighted, h_.store(), registry_.get(), &cache_, &other_metrics);
  std::vector<int64_t> after = VersionsOf(&other, "split", kUsers, 500);
  ASSERT_EQ(after.size(), versions.size());
  int moved = 0;
  for (int i = 0; i < kUsers; ++i) {
    if (after[i] == versions[i]) continue;
    ++moved;
    EXPECT_EQ(versions[i], 1) << "user u" << i << " left version 2";
  }
  EXPECT_NEAR(static_cast<double>(moved) / kUsers, 0.1, 0.03);

  // The alias entry follows its alias: its entities see the new version.
  ASSERT_TRUE(registry_->SetAlias("ranker", "challenger", 1).ok());
  std::vector<int64_t> all_v1 = VersionsOf(predictor_.get(), "split", 400, 400);
  EXPECT_EQ(std::count(all_v1.begin(), all_v1.end(), 1), 400);
}

TEST_F(TrafficTest, ShadowIsScoredCountedAndNeverReturned) {
  RegisterVersions(2);  // champion v1 serves; v2 shadows, 1 apart (above the 0.5 tolerance)
  constexpr int kRows = 10;
  auto p = predictor_->Predict("shadowed", Users(0, kRows), kT);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->versions, std::vector<int64_t>(kRows, 1));
  EXPECT_EQ(p->scores, std::vector<double>(kRows, 1.0));
  ASSERT_TRUE(predictor_->router()->WaitForShadow(std::chrono::seconds(30)));
  EXPECT_EQ(
      Sample(
          R"(freshet_model_rows_total{deployment="shadowed",model="ranker",version="2",role="shadow"})"),
      kRows);
  EXPECT_EQ(
      Sample(
          R"(freshet_model_requests_total{deployment="shadowed",model="ranker",version="2",role="shadow"})"),
      1);
  EXPECT_EQ(
      Sample(
          R"(freshet_model_rows_total{deployment="shadowed",model="ranker",version="1",role="served"})"),
      kRows);
  EXPECT_EQ(Sample(R"(freshet_shadow_disagreements_total{deployment="shadowed"})"), kRows);
  // |2 - 1| = 1 per row: above the 0.5 bucket, within the 1 bucket.
  EXPECT_EQ(Sample(R"(freshet_shadow_score_diff_bucket{deployment="shadowed",le="0.5"})"), 0);
  EXPECT_EQ(Sample(R"(freshet_shadow_score_diff_bucket{deployment="shadowed",le="1"})"), kRows);
  auto report = predictor_->router()->Describe("shadowed");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->arms.size(), 2u);
  EXPECT_EQ(report->arms[1].role, "shadow");
  EXPECT_EQ(report->arms[1].rows, kRows);
  EXPECT_EQ(report->shadow_disagreements, kRows);
  EXPECT_EQ(report->shadow_dropped, 0);
}

TEST_F(TrafficTest, AVersionThatFailsToLoadLeavesTheOldOneServing) {
  RegisterVersions(2);
  auto v2 = registry_->GetVersion("ranker", 2);
  ASSERT_TRUE(v2.ok());
  std::ofstream(v2->artifact_path, std::ios::trunc) << "{\"weights\": [";  // corrupt, truncated
  auto before = predictor_->Predict("rank", Users(0, 1), kT);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(before->version, 1);

  // Through the warming check (the CLI and HTTP alias, promote and rollback): refused.
  Status refused = registry_->SetAlias("ranker", "champion", 2, "",
                                       predictor_->router()->CheckAndWarm("ranker"));
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  EXPECT_THAT(refused.message(), HasSubstr("alias 'champion' of model 'ranker' not moved"));
  EXPECT_EQ(registry_->Resolve("ranker", "champion")->version, 1);

  // A move made without the check: version 1 keeps serving, and the failure is reported.
  ASSERT_TRUE(registry_->SetAlias("ranker", "champion", 2).ok());
  auto after = predictor_->Predict("rank", Users(0, 1), kT);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->version, 1);
  EXPECT_EQ(after->scores[0], 1);
  EXPECT_EQ(
      Sample(R"(freshet_model_load_failures_total{deployment="rank",model="ranker",version="2"})"),
      1);
  auto report = predictor_->router()->Describe("rank");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_THAT(report->arms[0].arm.load_error, HasSubstr("v2"));
  // Back to a servable version: the report clears.
  ASSERT_TRUE(registry_->SetAlias("ranker", "champion", 1).ok());
  report = predictor_->router()->Describe("rank");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->arms[0].arm.load_error, "");
}

// The issue's test: several threads predict continuously while the alias moves between three
// versions. No request fails, and each names a version that was the alias's target at some
// point while it ran. The slowest request is recorded, not asserted.
TEST_F(TrafficTest, AliasSwitchesUnderConcurrentLoadFailNoRequest) {
  RegisterVersions(3);
  using Clock = std::chrono::steady_clock;
  struct Switch {
    Clock::time_point begin, end;
    int64_t version;
  };
  struct Request {
    Clock::time_point begin, end;
    int64_t version;
  };
  const Clock::time_point start = Clock::now();
  std::vector<Switch> switches = {{start, start, 1}};  // the initial champion
  std::atomic<bool> done{false};
  constexpr int kThreads = 4;
  std::vector<std::vector<Request>> requests(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string deployment = t % 2 == 0 ? "rank" : "rank_batched";
      while (!done.load()) {
        Clock::time_point begin = Clock::now();
        auto p = predictor_->Predict(deployment, Users(t * 8, t * 8 + 8), kT);
        Clock::time_point end = Clock::now();
        if (!p.ok()) {
          ++failures;
          ADD_FAILURE() << p.status().ToString();
          continue;
        }
        for (size_t r = 0; r < p->versions.size(); ++r) {
          EXPECT_EQ(p->versions[r], p->version);
          EXPECT_EQ(p->scores[r], static_cast<double>(p->version));
        }
        requests[t].push_back({begin, end, p->version});
      }
    });
  }
  constexpr int kSwitches = 9;
  for (int i = 0; i < kSwitches; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const int64_t target = (i + 1) % 3 + 1;  // 2, 3, 1, 2, ...
    Switch s{Clock::now(), {}, target};
    Status st = registry_->SetAlias("ranker", "champion", target, "",
                                    predictor_->router()->CheckAndWarm("ranker"));
    s.end = Clock::now();
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok()) break;
    switches.push_back(s);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  done = true;
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);

  // Switch k's version may be the target from its begin until switch k+1 returned.
  auto was_target = [&](const Request& r) {
    for (size_t k = 0; k < switches.size(); ++k) {
      Clock::time_point from = switches[k].begin;
      Clock::time_point until =
          k + 1 < switches.size() ? switches[k + 1].end : Clock::time_point::max();
      if (switches[k].version == r.version && from <= r.end && r.begin <= until) return true;
    }
    return false;
  };
  // Requests running while an alias moved against the others: recorded, not asserted.
  auto during_switch = [&](const Request& r) {
    for (size_t k = 1; k < switches.size(); ++k) {
      if (r.begin <= switches[k].end && switches[k].begin <= r.end) return true;
    }
    return false;
  };
  double max_switch_ms = 0;
  for (size_t k = 1; k < switches.size(); ++k) {
    max_switch_ms = std::max(
        max_switch_ms,
        std::chrono::duration<double, std::milli>(switches[k].end - switches[k].begin).count());
  }
  size_t total = 0;
  double max_ms[2] = {0, 0};  // [overlapping no switch, overlapping one]
  for (const std::vector<Request>& per_thread : requests) {
    for (const Request& r : per_thread) {
      ++total;
      EXPECT_TRUE(was_target(r)) << "a request answered by v" << r.version
                                 << " that was not the alias target while it ran";
      double& max = max_ms[during_switch(r) ? 1 : 0];
      max = std::max(max, std::chrono::duration<double, std::milli>(r.end - r.begin).count());
    }
  }
  EXPECT_GT(total, static_cast<size_t>(kSwitches));
  RecordProperty("requests", static_cast<int>(total));
  RecordProperty("max_latency_us_during_switches", static_cast<int>(max_ms[1] * 1000));
  RecordProperty("max_latency_us_otherwise", static_cast<int>(max_ms[0] * 1000));
  std::cout << "alias switches under load: " << total << " requests, " << kSwitches
            << " switches; max latency " << max_ms[1] << " ms while a switch ran, " << max_ms[0]
            << " ms otherwise; the longest switch took " << max_switch_ms << " ms\n";
}

TEST_F(TrafficTest, AliasCheckWarmsTheNewVersionBeforeTheMove) {
  RegisterVersions(2);
  ASSERT_EQ(cache_.size(), 0u);  // registering loads a version to validate it, not into the cache
  AliasCheck check = predictor_->router()->CheckAndWarm("ranker");
  ASSERT_TRUE(registry_->SetAlias("ranker", "champion", 2, "", check).ok());
  EXPECT_EQ(cache_.size(), 1u);  // version 2, loaded by the check before any request
  // An alias no deployment scores with is not loaded.
  ASSERT_TRUE(registry_->SetAlias("ranker", "unused", 1, "", check).ok());
  EXPECT_EQ(cache_.size(), 1u);
}

}  // namespace
}  // namespace freshet
