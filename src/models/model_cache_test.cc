#include "models/model_cache.h"

#include <gtest/gtest.h>

#include <thread>

#include "models/models_test_util.h"

namespace freshet {
namespace {

using testing::ScopedTempDir;
using testing::WriteFile;

class ModelCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.File("model.json"), R"({"weights": [2], "bias": 1})");
    version_.name = "ctr";
    version_.version = 1;
    version_.runtime = "linear";
    version_.artifact_path = dir_.File("model.json");
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
  EXPECT_FALSE(cache_.Get(missing).ok());
  EXPECT_EQ(cache_.size(), 0u);
  WriteFile(missing.artifact_path, R"({"weights": [1]})");
  EXPECT_TRUE(cache_.Get(missing).ok()) << "a later Get retries the load";
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

}  // namespace
}  // namespace freshet
