#include "models/model_cache.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "models/artifact_file.h"
#include "models/models_test_util.h"

namespace freshet {
namespace {

using testing::ScopedTempDir;
using testing::WriteFile;

class ModelCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    version_.name = "ctr";
    version_.version = 1;
    version_.runtime = "linear";
    version_.artifact_path = dir_.File("model.json");
    SetArtifact(&version_, R"({"weights": [2], "bias": 1})");
  }

  // Records `text` as the version's registered artifact (its hash and size); writes the file.
  static void SetArtifact(ModelVersion* version, std::string_view text) {
    version->content_hash = Sha256Hex(text);
    version->artifact_size = static_cast<int64_t>(text.size());
    WriteFile(version->artifact_path, text);
  }

  ScopedTempDir dir_{"cache"};
  ModelVersion version_;
  ModelCache cache_;
};

TEST_F(ModelCacheTest, LoadsOnceAndSharesTheInstance) {
  auto first = cache_.Get(version_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = cache_.Get(version_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->get(), second->get());
  EXPECT_EQ(cache_.size(), 1u);
}

TEST_F(ModelCacheTest, EvictedModelKeepsServingItsHolders) {
  auto held = cache_.Get(version_);
  ASSERT_TRUE(held.ok());
  cache_.Evict("ctr", 1);
  EXPECT_EQ(cache_.size(), 0u);
  float row = 3;
  std::vector<float> out;
  ASSERT_TRUE((*held)->Predict(&row, 1, 1, &out).ok());
  EXPECT_FLOAT_EQ(out[0], 7.0f);
  auto reloaded = cache_.Get(version_);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_NE(reloaded->get(), held->get());
}

TEST_F(ModelCacheTest, FailedLoadIsNotCached) {
  ModelVersion missing = version_;
  missing.version = 2;
  missing.artifact_path = dir_.File("missing.json");
  std::string text = R"({"weights": [1]})";
  missing.content_hash = Sha256Hex(text);
  missing.artifact_size = static_cast<int64_t>(text.size());
  EXPECT_FALSE(cache_.Get(missing).ok());
  EXPECT_EQ(cache_.size(), 0u);
  WriteFile(missing.artifact_path, text);
  EXPECT_TRUE(cache_.Get(missing).ok()) << "a later Get retries the load";
}

TEST_F(ModelCacheTest, ChangedOrTruncatedArtifactIsRefused) {
  WriteFile(version_.artifact_path, R"({"weights": [3], "bias": 1})");  // same size, new bytes
  auto changed = cache_.Get(version_);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(changed.status().message().find("model \"ctr\" version 1: artifact " +
                                            version_.artifact_path + " is corrupt"),
            std::string::npos)
      << changed.status().message();
  WriteFile(version_.artifact_path, R"({"weights": [2])");
  auto truncated = cache_.Get(version_);
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("truncated"), std::string::npos)
      << truncated.status().message();
  EXPECT_EQ(cache_.size(), 0u);
}

TEST_F(ModelCacheTest, ConcurrentGetsShareOneLoad) {
  std::vector<const ModelRuntime*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&, t] {
      auto runtime = cache_.Get(version_);
      if (runtime.ok()) seen[t] = runtime->get();
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_NE(seen[0], nullptr);
  for (const ModelRuntime* runtime : seen) EXPECT_EQ(runtime, seen[0]);
  EXPECT_EQ(cache_.size(), 1u);
}

// Versions 1..40 of model "seg", version k a linear model scoring (1000 + k) * x, all of one size.
class BoundedModelCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int k = 1; k <= 40; ++k) {
      ModelVersion v;
      v.name = "seg";
      v.version = k;
      v.runtime = "linear";
      v.artifact_path = dir_.File(fmt::format("m{}.json", k));
      std::string text = fmt::format(R"({{"weights": [1{:03d}], "bias": 0}})", k);
      v.content_hash = Sha256Hex(text);
      v.artifact_size = static_cast<int64_t>(text.size());
      WriteFile(v.artifact_path, text);
      versions_.push_back(std::move(v));
    }
  }

  const ModelVersion& V(int k) const { return versions_[static_cast<size_t>(k - 1)]; }
  int64_t Size() const { return versions_[0].artifact_size; }

  // Scores x = 1 with version k's runtime, expecting 1000 + k.
  static void ExpectScores(const ModelRuntime& runtime, int k) {
    float row = 1;
    std::vector<float> out;
    ASSERT_TRUE(runtime.Predict(&row, 1, 1, &out).ok());
    EXPECT_FLOAT_EQ(out[0], 1000.0f + static_cast<float>(k));
  }

  double Metric(const std::string& name) {
    std::string text = metrics_.Render();
    size_t at = text.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + name.size() + 2));
  }

  ScopedTempDir dir_{"bounded"};
  std::vector<ModelVersion> versions_;
  MetricsRegistry metrics_;
};

TEST_F(BoundedModelCacheTest, EvictsLeastRecentlyUsedFirst) {
  ModelCache cache({3 * Size()}, &metrics_);
  for (int k : {1, 2, 3}) ASSERT_TRUE(cache.Get(V(k)).ok());
  ASSERT_TRUE(cache.Get(V(1)).ok());  // 2 is now the least recently used
  ASSERT_TRUE(cache.Get(V(4)).ok());
  EXPECT_FALSE(cache.Contains("seg", 2));
  for (int k : {1, 3, 4}) EXPECT_TRUE(cache.Contains("seg", k)) << k;
  ASSERT_TRUE(cache.Get(V(5)).ok());  // then 3
  EXPECT_FALSE(cache.Contains("seg", 3));
  for (int k : {1, 4, 5}) EXPECT_TRUE(cache.Contains("seg", k)) << k;
  EXPECT_EQ(cache.bytes(), 3 * Size());
  EXPECT_EQ(Metric("freshet_model_cache_loads_total"), 5);
  EXPECT_EQ(Metric("freshet_model_cache_evictions_total"), 2);
  EXPECT_EQ(Metric("freshet_model_cache_models"), 3);
  EXPECT_EQ(Metric("freshet_model_cache_bytes"), static_cast<double>(3 * Size()));
  EXPECT_EQ(Metric("freshet_model_cache_memory_limit_bytes"), static_cast<double>(3 * Size()));
  EXPECT_NE(metrics_.Render().find("freshet_model_cache_load_duration_seconds_count 5"),
            std::string::npos);
}

TEST_F(BoundedModelCacheTest, BoundHoldsOverManyLoadsAndReloadsGiveTheRightModel) {
  ModelCache cache({10 * Size()}, &metrics_);
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) {
    int k = static_cast<int>(rng() % 40) + 1;
    auto runtime = cache.Get(V(k));
    ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
    ExpectScores(**runtime, k);
    ASSERT_LE(cache.bytes(), 10 * Size());
    ASSERT_LE(cache.size(), 10u);
  }
  EXPECT_EQ(
      Metric("freshet_model_cache_loads_total") - Metric("freshet_model_cache_evictions_total"),
      static_cast<double>(cache.size()));
}

TEST_F(BoundedModelCacheTest, HeldVersionIsNotEvictedAndKeepsServing) {
  ModelCache cache({2 * Size()}, &metrics_);
  auto held = cache.Get(V(1));
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(cache.Get(V(2)).ok());
  ASSERT_TRUE(cache.Get(V(3)).ok());  // 1 is the oldest but held: 2 goes
  EXPECT_TRUE(cache.Contains("seg", 1));
  EXPECT_FALSE(cache.Contains("seg", 2));
  ExpectScores(**held, 1);
  held = Status::NotFound("released");
  ASSERT_TRUE(cache.Get(V(4)).ok());  // released: 1 goes now
  EXPECT_FALSE(cache.Contains("seg", 1));
  EXPECT_TRUE(cache.Contains("seg", 3));
  // Evict() drops the cache's reference even of a held version; the holder keeps scoring.
  auto four = cache.Get(V(4));
  ASSERT_TRUE(four.ok());
  cache.Evict("seg", 4);
  EXPECT_EQ(cache.bytes(), Size());
  ExpectScores(**four, 4);
}

TEST_F(BoundedModelCacheTest, ConcurrentFirstGetsLoadOnce) {
  ModelCache cache({2 * Size()}, &metrics_);
  std::vector<const ModelRuntime*> seen(8, nullptr);
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<const ModelRuntime>> holders(seen.size());
  for (size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&, t] {
      auto runtime = cache.Get(V(1));
      if (runtime.ok()) holders[t] = *runtime;
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const auto& holder : holders) {
    ASSERT_NE(holder, nullptr);
    EXPECT_EQ(holder.get(), holders[0].get());
  }
  EXPECT_EQ(Metric("freshet_model_cache_loads_total"), 1);
}

TEST_F(BoundedModelCacheTest, ConcurrentPredictsUnderEvictionScoreWithTheirOwnModel) {
  ModelCache cache({4 * Size()}, &metrics_);
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t + 1);
      for (int i = 0; i < 300; ++i) {
        int k = static_cast<int>(rng() % 12) + 1;
        auto runtime = cache.Get(V(k));
        if (!runtime.ok()) {
          ++failed;
          continue;
        }
        float row = 1;
        std::vector<float> out;
        if (!(*runtime)->Predict(&row, 1, 1, &out).ok() || out[0] != 1000.0f + k) ++wrong;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(cache.bytes(), 4 * Size());
  EXPECT_GT(Metric("freshet_model_cache_evictions_total"), 0);
}

}  // namespace
}  // namespace freshet
