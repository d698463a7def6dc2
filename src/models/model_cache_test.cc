#include "models/model_cache.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace freshet
