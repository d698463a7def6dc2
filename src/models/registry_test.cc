#include "models/registry.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <thread>

#include "models/artifact_file.h"
#include "models/model_cache.h"
#include "models/models_test_util.h"
#include "models/registry_codec.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using testing::PythonModels;
using testing::ScopedTempDir;
using testing::TrainedModels;
using testing::WriteFile;

constexpr int64_t kStartMs = 1767225600000;  // 2026-01-01T00:00:00Z

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    auto db = Db::Open(dir_.File("db"));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    auto registry = ModelRegistry::Open(db_.get(), dir_.path(), &clock_);
    ASSERT_TRUE(registry.ok()) << registry.status().ToString();
    registry_ = std::move(registry).value();
  }

  void Reopen() {
    registry_.reset();
    db_.reset();
    Open();
  }

  // A linear artifact whose single weight tells versions apart.
  std::string LinearArtifact(double weight) {
    std::string path = dir_.File("src_linear.json");
    WriteFile(path, "{\"weights\": [" + std::to_string(weight) + "]}");
    return path;
  }

  ModelVersion MustRegister(const std::string& name, const std::string& path,
                            const std::string& runtime, const RegisterOptions& options = {}) {
    auto version = registry_->Register(name, path, runtime, options);
    EXPECT_TRUE(version.ok()) << version.status().ToString();
    return version.ok() ? *version : ModelVersion{};
  }

  ScopedTempDir dir_{"registry"};
  ManualClock clock_{kStartMs};
  std::unique_ptr<Db> db_;
  std::unique_ptr<ModelRegistry> registry_;
};

TEST_F(RegistryTest, PythonModelServedThroughRegistryMatchesPython) {
  const PythonModels* models = TrainedModels();
  ASSERT_NE(models, nullptr);
  ModelVersion registered = MustRegister("churn", models->tree_json, "xgboost");
  EXPECT_EQ(registered.version, 1);
  EXPECT_EQ(registered.num_features, 20);
  EXPECT_EQ(registered.artifact_path,
            dir_.File("models/blobs/sha256/" + registered.content_hash + ".json"));
  EXPECT_EQ(registered.artifact_name, "tree.json");
  auto expected_hash = Sha256File(models->tree_json);
  ASSERT_TRUE(expected_hash.ok());
  EXPECT_EQ(registered.content_hash, *expected_hash);
  EXPECT_EQ(registered.lineage.runtime_library.rfind("xgboost 1.", 0), 0u)
      << registered.lineage.runtime_library;

  auto champion = registry_->Resolve("churn", "champion");
  ASSERT_TRUE(champion.ok()) << champion.status().ToString();
  ModelCache cache;
  auto runtime = cache.Get(*champion);
  ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
  std::vector<float> out;
  ASSERT_TRUE((*runtime)
                  ->Predict(models->rows.data(), PythonModels::kRows, PythonModels::kFeatures, &out)
                  .ok());
  ASSERT_EQ(out.size(), PythonModels::kRows);
  for (size_t r = 0; r < out.size(); ++r) {
    EXPECT_NEAR(out[r], models->tree_expected[r], 1e-6) << "row " << r;
  }
}

TEST_F(RegistryTest, VersionsIncreaseAndStayImmutable) {
  clock_.Set(kStartMs + 5);
  ModelVersion v1 = MustRegister("ctr", LinearArtifact(1.0), "linear",
                                 {.metrics = {{"auc", 0.7}}, .description = "first"});
  clock_.Set(kStartMs + 9);
  ModelVersion v2 = MustRegister("ctr", LinearArtifact(2.0), "linear",  // rewrites the source
                                 {.metrics = {{"auc", 0.8}}, .description = "second"});
  EXPECT_EQ(v1.version, 1);
  EXPECT_EQ(v2.version, 2);
  EXPECT_EQ(v1.created_ms, kStartMs + 5);
  EXPECT_EQ(v2.created_ms, kStartMs + 9);
  EXPECT_NE(v1.content_hash, v2.content_hash);
  EXPECT_NE(v1.artifact_path, v2.artifact_path);

  // Version 1 still has its own copy of the artifact and its own metadata.
  auto stored = registry_->GetVersion("ctr", 1);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->artifact_path, dir_.File("models/blobs/sha256/" + v1.content_hash + ".json"));
  EXPECT_EQ(stored->description, "first");
  EXPECT_EQ(stored->metrics.at("auc"), 0.7);
  auto bytes = ReadFileToString(stored->artifact_path);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(Sha256Hex(*bytes), v1.content_hash);
  EXPECT_EQ(v1.content_hash.size(), 64u);
  EXPECT_EQ(stored->artifact_size, static_cast<int64_t>(bytes->size()));
  EXPECT_NE(bytes->find("1.0"), std::string::npos);

  auto versions = registry_->ListVersions("ctr");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].version, 1);
  EXPECT_EQ((*versions)[1].version, 2);
  EXPECT_EQ(registry_->GetVersion("ctr", 3).status().code(), StatusCode::kNotFound);
}

TEST_F(RegistryTest, AliasesAndResolveForms) {
  for (double w : {1.0, 2.0, 3.0}) MustRegister("ctr", LinearArtifact(w), "linear");
  auto info = registry_->Get("ctr");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->aliases, (std::map<std::string, int64_t>{{"champion", 1}}));
  EXPECT_EQ(info->latest.version, 3);

  ASSERT_TRUE(registry_->SetAlias("ctr", "challenger", 3).ok());
  ASSERT_TRUE(registry_->SetAlias("ctr", "champion", 2).ok());
  auto version_of = [&](std::string_view ref) {
    auto v = registry_->Resolve("ctr", ref);
    return v.ok() ? v->version : -static_cast<int64_t>(v.status().code());
  };
  EXPECT_EQ(version_of("champion"), 2);
  EXPECT_EQ(version_of("challenger"), 3);
  EXPECT_EQ(version_of("latest"), 3);
  EXPECT_EQ(version_of("1"), 1);
  EXPECT_EQ(registry_->Resolve("ctr", "4").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->Resolve("ctr", "0").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->Resolve("ctr", "shadow").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->Resolve("ctr", "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->Resolve("nope", "latest").status().code(), StatusCode::kNotFound);

  EXPECT_EQ(registry_->SetAlias("ctr", "canary", 9).code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->SetAlias("nope", "canary", 1).code(), StatusCode::kNotFound);
  for (const char* bad : {"latest", "42", "a/b", "", ".x"}) {
    EXPECT_EQ(registry_->SetAlias("ctr", bad, 1).code(), StatusCode::kInvalidArgument) << bad;
  }
}

// Resolve() caches; every kind of write must be seen by the very next Resolve().
TEST_F(RegistryTest, ResolveSeesEveryWriteOnTheNextCall) {
  for (double w : {1.0, 2.0, 3.0}) MustRegister("ctr", LinearArtifact(w), "linear");
  auto version_of = [&](std::string_view ref) {
    auto v = registry_->Resolve("ctr", ref);
    return v.ok() ? v->version : -static_cast<int64_t>(v.status().code());
  };
  const int64_t not_found = -static_cast<int64_t>(StatusCode::kNotFound);
  EXPECT_EQ(version_of("champion"), 1);
  EXPECT_EQ(version_of("champion"), 1);  // a cache hit
  ASSERT_TRUE(registry_->SetAlias("ctr", "champion", 2).ok());
  EXPECT_EQ(version_of("champion"), 2);
  ASSERT_TRUE(registry_->Promote("ctr", 3, {.force = true}).ok());
  EXPECT_EQ(version_of("champion"), 3);
  ASSERT_TRUE(registry_->Rollback("ctr").ok());
  EXPECT_EQ(version_of("champion"), 2);

  ASSERT_TRUE(registry_->SetAlias("ctr", "canary", 3).ok());
  EXPECT_EQ(version_of("canary"), 3);
  ASSERT_TRUE(registry_->RemoveAlias("ctr", "canary").ok());
  EXPECT_EQ(version_of("canary"), not_found);

  EXPECT_EQ(version_of("latest"), 3);
  MustRegister("ctr", LinearArtifact(4.0), "linear");
  EXPECT_EQ(version_of("latest"), 4);
  EXPECT_EQ(version_of("1"), 1);
  ASSERT_TRUE(registry_->DeleteVersion("ctr", 1).ok());
  EXPECT_EQ(version_of("1"), not_found);

  EXPECT_TRUE(registry_->Resolve("ctr", "champion")->tags.empty());
  ASSERT_TRUE(registry_->UpdateTags("ctr", 2, {{"stage", "live"}}).ok());
  EXPECT_EQ(registry_->Resolve("ctr", "champion")->tags,
            (std::map<std::string, std::string>{{"stage", "live"}}));
}

// The writing registry answers from its cache (so a record written to the Db behind its back
// is not seen); a reading registry, possibly behind another process's writer, reads every time.
TEST_F(RegistryTest, OnlyTheWritingRegistryCachesResolve) {
  MustRegister("ctr", LinearArtifact(1.0), "linear");
  MustRegister("ctr", LinearArtifact(2.0), "linear");
  ASSERT_EQ(registry_->Resolve("ctr", "champion")->version, 1);
  auto reader = ModelRegistry::OpenForReading(db_.get(), dir_.path(), &clock_);
  ASSERT_EQ(reader->Resolve("ctr", "champion")->version, 1);

  auto stored = db_->Get(Cf::kRegistry, ModelKey("ctr"));
  ASSERT_TRUE(stored.ok() && stored->has_value());
  auto record = DecodeModelRecord(**stored);
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  record->aliases["champion"] = 2;
  ASSERT_TRUE(db_->Put(Cf::kRegistry, ModelKey("ctr"), EncodeModelRecord(*record)).ok());

  EXPECT_EQ(reader->Resolve("ctr", "champion")->version, 2);
  EXPECT_EQ(registry_->Resolve("ctr", "champion")->version, 1);
}

// Readers racing alias moves: once SetAlias has returned, no Resolve started afterwards may
// return an earlier target.
TEST_F(RegistryTest, ResolveNeverReturnsAnAliasTargetOlderThanTheLastReturnedMove) {
  constexpr int64_t kVersions = 12;
  for (int64_t v = 1; v <= kVersions; ++v) {
    MustRegister("ctr", LinearArtifact(static_cast<double>(v)), "linear");
  }
  std::atomic<int64_t> moved{1};  // the target of the last SetAlias that returned
  std::atomic<bool> done{false};
  std::atomic<int> stale{0}, failed{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!done.load(std::memory_order_acquire)) {
        int64_t floor = moved.load(std::memory_order_acquire);
        auto v = registry_->Resolve("ctr", "champion");
        if (!v.ok()) {
          failed.fetch_add(1);
        } else if (v->version < floor) {
          stale.fetch_add(1);
        }
      }
    });
  }
  for (int64_t v = 2; v <= kVersions; ++v) {
    ASSERT_TRUE(registry_->SetAlias("ctr", "champion", v).ok());
    moved.store(v, std::memory_order_release);
    EXPECT_EQ(registry_->Resolve("ctr", "champion")->version, v);
  }
  done.store(true, std::memory_order_release);
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(stale.load(), 0);
  EXPECT_EQ(failed.load(), 0);
}

TEST_F(RegistryTest, ReopenKeepsEverything) {
  const PythonModels* models = TrainedModels();
  ASSERT_NE(models, nullptr);
  std::vector<FeatureSignature> features;
  for (size_t i = 0; i < PythonModels::kFeatures; ++i) {
    features.push_back({"v:f" + std::to_string(i), i % 2 ? "double" : "int64"});
  }
  WriteFile(dir_.File("train.csv"), "a,b\n1,2\n");
  RegisterOptions options{
      .metrics = {{"auc", 0.91}, {"undefined", std::numeric_limits<double>::quiet_NaN()}},
      .params = {{"max_depth", "4"}, {"eta", "0.1"}},
      .description = "tree \"model\" \xc3\xa9",
      .signature = features,
      .lineage = {.training_data = dir_.File("train.csv"),
                  .holdout = "s3://bucket/holdout.parquet",
                  .holdout_sha256 = std::string(64, 'a'),
                  .feature_service = "churn_features",
                  .feature_spec_hash = "abc123",
                  .created_by = "alice"},
      .tags = {{"team", "growth"}}};
  ModelVersion registered = MustRegister("churn", models->tree_json, "xgboost", options);
  MustRegister("ctr", LinearArtifact(1.0), "linear");
  ASSERT_TRUE(registry_->SetAlias("churn", "challenger", 1).ok());

  Reopen();
  auto v = registry_->GetVersion("churn", 1);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->runtime, "xgboost");
  EXPECT_EQ(v->artifact_path, registered.artifact_path);
  EXPECT_EQ(v->content_hash, registered.content_hash);
  EXPECT_EQ(v->created_ms, kStartMs);
  EXPECT_EQ(v->num_features, 20);
  EXPECT_EQ(v->description, options.description);
  EXPECT_EQ(v->metrics.at("auc"), 0.91);
  EXPECT_TRUE(std::isnan(v->metrics.at("undefined")));
  EXPECT_EQ(v->params, options.params);
  EXPECT_EQ(v->signature, options.signature);
  EXPECT_EQ(v->lineage.training_data, dir_.File("train.csv"));
  EXPECT_EQ(v->lineage.training_data_sha256, Sha256Hex("a,b\n1,2\n"));
  EXPECT_EQ(v->lineage.holdout, "s3://bucket/holdout.parquet");
  EXPECT_EQ(v->lineage.holdout_sha256, std::string(64, 'a'));
  EXPECT_EQ(v->lineage.feature_service, "churn_features");
  EXPECT_EQ(v->lineage.feature_spec_hash, "abc123");
  EXPECT_EQ(v->lineage.created_by, "alice");
  EXPECT_EQ(v->lineage.runtime_library, registered.lineage.runtime_library);
  EXPECT_FALSE(v->lineage.runtime_library.empty());
  EXPECT_EQ(v->tags, options.tags);

  auto list = registry_->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "churn");
  EXPECT_EQ((*list)[0].aliases,
            (std::map<std::string, int64_t>{{"champion", 1}, {"challenger", 1}}));
  EXPECT_EQ((*list)[0].latest.version, 1);
  EXPECT_EQ((*list)[1].name, "ctr");
  EXPECT_EQ(registry_->Register("ctr", LinearArtifact(2.0), "linear")->version, 2);
}

TEST_F(RegistryTest, BadArtifactIsRejectedAndNothingIsRegistered) {
  WriteFile(dir_.File("bad.json"), "definitely not xgboost");
  auto bad = registry_->Register("churn", dir_.File("bad.json"), "xgboost");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("artifact rejected for model \"churn\""), std::string::npos)
      << bad.status().message();
  EXPECT_EQ(registry_->Get("churn").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(registry_->List()->empty());
  EXPECT_TRUE(fs::is_empty(dir_.File("models/blobs/sha256")));
  EXPECT_TRUE(fs::is_empty(dir_.File("models/.staging")));

  // A bad file for an existing model leaves its versions as they were.
  MustRegister("ctr", LinearArtifact(1.0), "linear");
  EXPECT_FALSE(registry_->Register("ctr", dir_.File("bad.json"), "linear").ok());
  EXPECT_EQ(registry_->Get("ctr")->latest.version, 1);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.File("models/blobs/sha256")),
                          fs::directory_iterator()),
            1);
  EXPECT_EQ(registry_->Register("ctr", LinearArtifact(2.0), "linear")->version, 2);
}

TEST_F(RegistryTest, EveryRuntimeRefusesCorruptArtifactsAndNothingIsKept) {
  WriteFile(dir_.File("empty.bin"), "");
  WriteFile(dir_.File("noise.bin"), std::string(4096, '\x5a'));
  WriteFile(dir_.File("zip_head.bin"), std::string("PK\x03\x04", 4) + std::string(60, '\0'));
  for (const std::string& runtime : KnownRuntimes()) {
    for (const char* file : {"empty.bin", "noise.bin", "zip_head.bin"}) {
      SCOPED_TRACE(runtime + " " + file);
      auto version = registry_->Register("m", dir_.File(file), runtime);
      ASSERT_FALSE(version.ok());
      EXPECT_EQ(version.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(version.status().message().find("artifact rejected for model \"m\""),
                std::string::npos)
          << version.status().message();
    }
  }
  EXPECT_TRUE(registry_->List()->empty());
  EXPECT_FALSE(fs::exists(dir_.File("models/m")));
  EXPECT_TRUE(fs::is_empty(dir_.File("models/.staging")));
}

TEST_F(RegistryTest, RejectsUnknownRuntimeBadNamesMissingFilesAndFeatureMismatch) {
  auto unknown = registry_->Register("ctr", LinearArtifact(1.0), "onnx");
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(
      unknown.status().message().find("known runtimes: fasttext, linear, torchscript, xgboost"),
      std::string::npos);
  for (const char* name : {"", "../x", "a/b", ".hidden", "sp ace"}) {
    EXPECT_EQ(registry_->Register(name, LinearArtifact(1.0), "linear").status().code(),
              StatusCode::kInvalidArgument)
        << name;
  }
  EXPECT_EQ(registry_->Register("ctr", dir_.File("missing.json"), "linear").status().code(),
            StatusCode::kInvalidArgument);
  auto mismatch = registry_->Register("ctr", LinearArtifact(1.0), "linear",
                                      {.signature = {{"v:a", "int64"}, {"v:b", "int64"}}});
  EXPECT_EQ(mismatch.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(
      mismatch.status().message().find("the signature lists 2 features but the model takes 1"),
      std::string::npos)
      << mismatch.status().message();
  EXPECT_TRUE(registry_->List()->empty());
}

TEST_F(RegistryTest, ConcurrentRegistrationsGetDistinctVersions) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5;
  for (int t = 0; t < kThreads; ++t) {
    WriteFile(dir_.File("w" + std::to_string(t) + ".json"),
              "{\"weights\": [" + std::to_string(t) + "]}");
  }
  std::vector<std::vector<int64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto v = registry_->Register("ctr", dir_.File("w" + std::to_string(t) + ".json"), "linear");
        got[t].push_back(v.ok() ? v->version : -1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<int64_t> versions;
  for (const auto& per_thread : got) versions.insert(per_thread.begin(), per_thread.end());
  EXPECT_EQ(versions.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*versions.begin(), 1);
  EXPECT_EQ(*versions.rbegin(), kThreads * kPerThread);
  EXPECT_EQ(registry_->ListVersions("ctr")->size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST_F(RegistryTest, SameBytesAreStoredOnceAndRemovedWithTheirLastVersion) {
  ModelVersion v1 = MustRegister("ctr", LinearArtifact(1.0), "linear");
  ModelVersion v2 = MustRegister("ctr", LinearArtifact(1.0), "linear");
  ModelVersion other = MustRegister("other", LinearArtifact(1.0), "linear");
  MustRegister("other", LinearArtifact(5.0), "linear");
  EXPECT_EQ(v1.artifact_path, v2.artifact_path);
  EXPECT_EQ(v1.artifact_path, other.artifact_path);
  auto blobs = [&] {
    return std::distance(fs::directory_iterator(dir_.File("models/blobs/sha256")),
                         fs::directory_iterator());
  };
  EXPECT_EQ(blobs(), 2);

  ASSERT_TRUE(registry_->DeleteVersion("ctr", 2).ok());
  EXPECT_TRUE(fs::exists(v1.artifact_path)) << "still stored for ctr v1 and other v1";
  ASSERT_TRUE(registry_->SetAlias("other", "champion", 2).ok());
  ASSERT_TRUE(registry_->DeleteVersion("other", 1).ok());
  EXPECT_TRUE(fs::exists(v1.artifact_path)) << "still stored for ctr v1";
  ASSERT_TRUE(registry_->RemoveAlias("ctr", "champion").ok());
  MustRegister("ctr", LinearArtifact(3.0), "linear");
  ASSERT_TRUE(registry_->DeleteVersion("ctr", 1).ok());
  EXPECT_FALSE(fs::exists(v1.artifact_path));
  EXPECT_EQ(blobs(), 2);  // other v2 and ctr v3
}

TEST_F(RegistryTest, DeletedVersionsAreGoneButTheirNumbersAreNotReused) {
  for (double w : {1.0, 2.0, 3.0}) MustRegister("ctr", LinearArtifact(w), "linear");
  ASSERT_TRUE(registry_->DeleteVersion("ctr", 3).ok());
  auto latest = registry_->Resolve("ctr", "latest");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->version, 2);
  auto gone = registry_->Resolve("ctr", "3");
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(gone.status().message(), "model \"ctr\" version 3 was deleted");
  EXPECT_EQ(registry_->GetVersion("ctr", 3).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->DeleteVersion("ctr", 3).code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->SetAlias("ctr", "canary", 3).code(), StatusCode::kNotFound);
  EXPECT_EQ(MustRegister("ctr", LinearArtifact(4.0), "linear").version, 4);
  Reopen();
  auto info = registry_->Get("ctr");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->versions, (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(info->latest.version, 4);
  EXPECT_EQ(registry_->ListVersions("ctr")->size(), 3u);
}

TEST_F(RegistryTest, DeletingAVersionInUseIsRefusedNamingTheUser) {
  for (double w : {1.0, 2.0, 3.0}) MustRegister("ctr", LinearArtifact(w), "linear");
  ASSERT_TRUE(registry_->SetAlias("ctr", "challenger", 2).ok());
  Status by_alias = registry_->DeleteVersion("ctr", 2);
  EXPECT_EQ(by_alias.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(by_alias.message(),
            "model \"ctr\" version 2 is in use: alias \"challenger\" points at it; move the alias "
            "first");
  std::vector<ModelUse> uses = {{"rank", "champion"}, {"newest", "latest"}};
  Status by_deployment = registry_->DeleteVersion("ctr", 3, uses);
  EXPECT_EQ(by_deployment.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(by_deployment.message(),
            "model \"ctr\" version 3 is in use: deployment \"newest\" serves it (as \"latest\")");
  EXPECT_TRUE(registry_->GetVersion("ctr", 3).ok()) << "a refused delete changes nothing";
  EXPECT_TRUE(registry_->DeleteVersion("ctr", 3).ok()) << "no deployment uses it";

  ASSERT_TRUE(registry_->RemoveAlias("ctr", "challenger").ok());
  ASSERT_TRUE(registry_->DeleteVersion("ctr", 2).ok());
  ASSERT_TRUE(registry_->RemoveAlias("ctr", "champion").ok());
  Status only = registry_->DeleteVersion("ctr", 1);
  EXPECT_EQ(only.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(only.message(), "model \"ctr\" version 1 is the model's only version");
}

TEST_F(RegistryTest, TagsAreMutableAndSeparateFromTheImmutableRecord) {
  MustRegister("ctr", LinearArtifact(1.0), "linear",
               {.params = {{"eta", "0.1"}}, .tags = {{"stage", "dev"}}});
  MustRegister("ctr", LinearArtifact(2.0), "linear");
  ASSERT_TRUE(registry_->UpdateTags("ctr", 1, {{"stage", "prod"}, {"owner", "bob"}}).ok());
  ASSERT_TRUE(registry_->UpdateTags("ctr", 0, {{"team", "growth"}}).ok());
  ASSERT_TRUE(registry_->UpdateTags("ctr", 1, {}, {"owner"}).ok());
  Reopen();
  auto v1 = registry_->GetVersion("ctr", 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->tags, (std::map<std::string, std::string>{{"stage", "prod"}}));
  EXPECT_EQ(v1->params, (std::map<std::string, std::string>{{"eta", "0.1"}}));
  EXPECT_TRUE(registry_->GetVersion("ctr", 2)->tags.empty());
  EXPECT_EQ(registry_->Get("ctr")->tags, (std::map<std::string, std::string>{{"team", "growth"}}));

  Status missing = registry_->UpdateTags("ctr", 2, {}, {"owner"});
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "model \"ctr\" version 2 has no tag \"owner\"");
  EXPECT_EQ(registry_->UpdateTags("ctr", 7, {{"a", "b"}}).code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->UpdateTags("ctr", 1, {{"a/b", "c"}}).code(), StatusCode::kInvalidArgument);
}

class PromoteTest : public RegistryTest {
 protected:
  // Registers version `weight` of "ctr" with `metrics`, evaluated on `holdout` (contents).
  ModelVersion Version(double weight, std::map<std::string, double> metrics,
                       const std::string& holdout) {
    std::string holdout_path = dir_.File("holdout_" + holdout + ".csv");
    WriteFile(holdout_path, holdout);
    return MustRegister("ctr", LinearArtifact(weight), "linear",
                        {.metrics = std::move(metrics), .lineage = {.holdout = holdout_path}});
  }

  int64_t Champion() { return registry_->Get("ctr")->aliases.at("champion"); }
};

TEST_F(PromoteTest, BetterOnTheSameHoldoutIsPromoted) {
  Version(1, {{"auc", 0.80}, {"logloss", 0.40}}, "h1");
  Version(2, {{"auc", 0.85}, {"logloss", 0.45}}, "h1");
  auto promoted = registry_->Promote("ctr", 2, {.metric = "auc", .by = "carol"});
  ASSERT_TRUE(promoted.ok()) << promoted.status().ToString();
  EXPECT_EQ(promoted->previous, 1);
  EXPECT_EQ(promoted->version, 2);
  EXPECT_EQ(promoted->reason, "auc 0.85 > 0.8 on the same holdout");
  EXPECT_EQ(Champion(), 2);
  const AliasChange& change = registry_->Get("ctr")->alias_history.back();
  EXPECT_EQ(change, (AliasChange{"champion", 2, 1, kStartMs, "carol", false}));

  // Lower is better for logloss: version 1 (0.40) beats the champion (0.45).
  auto back = registry_->Promote("ctr", 1, {.metric = "logloss"});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->reason, "logloss 0.4 < 0.45 on the same holdout");
  EXPECT_EQ(Champion(), 1);
}

TEST_F(PromoteTest, RefusalsSayWhyAndForceOverrides) {
  Version(1, {{"auc", 0.80}}, "h1");
  Version(2, {{"auc", 0.75}}, "h1");
  Version(3, {{"auc", 0.95}}, "h2");
  MustRegister("ctr", LinearArtifact(4), "linear", {.metrics = {{"auc", 0.99}}});
  auto message = [&](int64_t version, const std::string& metric) {
    auto r = registry_->Promote("ctr", version, {.metric = metric});
    return r.ok() ? std::string("promoted") : r.status().message();
  };
  EXPECT_EQ(message(2, "auc"),
            "not promoting model \"ctr\" version 2 over champion version 1: auc 0.75 does not "
            "beat 0.8 (higher is better)");
  EXPECT_EQ(message(3, "auc"),
            "not promoting model \"ctr\" version 3 over champion version 1: they were evaluated "
            "on different holdouts (sha256 " +
                Sha256Hex("h2").substr(0, 12) + " vs " + Sha256Hex("h1").substr(0, 12) + ")");
  EXPECT_EQ(message(4, "auc"),
            "not promoting model \"ctr\" version 4 over champion version 1: version 4 records no "
            "holdout hash, so the auc values are not comparable");
  EXPECT_EQ(message(2, "recall@10"),
            "not promoting model \"ctr\" version 2 over champion version 1: version 2 has no "
            "recall@10 metric");
  EXPECT_EQ(message(1, "auc"), "model \"ctr\" version 1 is already the champion");
  EXPECT_NE(message(2, "loss").find("metric \"loss\" has no known direction"), std::string::npos);
  EXPECT_EQ(message(2, ""), "promote needs a metric to compare (or force)");
  EXPECT_EQ(message(9, "auc"), "model \"ctr\" has no version 9");
  EXPECT_EQ(Champion(), 1) << "refusals change nothing";

  auto forced = registry_->Promote("ctr", 3, {.force = true});
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->reason, "forced");
  EXPECT_EQ(Champion(), 3);
}

TEST_F(PromoteTest, AliasCheckCanVetoAMove) {
  Version(1, {{"auc", 0.8}}, "h1");
  Version(2, {{"auc", 0.9}}, "h1");
  std::vector<std::string> seen;
  AliasCheck veto = [&](const std::string& alias, const ModelVersion& target) {
    seen.push_back(fmt::format("{}->{}", alias, target.version));
    return Status::FailedPrecondition("deployment says no");
  };
  auto promoted = registry_->Promote("ctr", 2, {.metric = "auc"}, veto);
  EXPECT_EQ(promoted.status().message(), "deployment says no");
  EXPECT_EQ(registry_->SetAlias("ctr", "challenger", 2, "", veto).message(), "deployment says no");
  EXPECT_EQ(seen, (std::vector<std::string>{"champion->2", "challenger->2"}));
  EXPECT_EQ(Champion(), 1);
  EXPECT_EQ(registry_->Get("ctr")->aliases.count("challenger"), 0u);
}

TEST_F(PromoteTest, RollbackWalksTheChampionHistoryBack) {
  for (double w : {1.0, 2.0, 3.0}) MustRegister("ctr", LinearArtifact(w), "linear");
  Status none = registry_->Rollback("ctr").status();
  EXPECT_EQ(none.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(none.message(), "model \"ctr\": champion has no earlier version to roll back to");

  ASSERT_TRUE(registry_->Promote("ctr", 2, {.force = true}).ok());
  clock_.Set(kStartMs + 1);
  ASSERT_TRUE(registry_->SetAlias("ctr", "challenger", 3).ok());  // other aliases don't count
  ASSERT_TRUE(registry_->Promote("ctr", 3, {.force = true}).ok());
  auto first = registry_->Rollback("ctr", "dave");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, (AliasChange{"champion", 2, 3, kStartMs + 1, "dave", true}));
  EXPECT_EQ(Champion(), 2);
  auto second = registry_->Rollback("ctr");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->version, 1);
  EXPECT_EQ(Champion(), 1);
  EXPECT_EQ(registry_->Rollback("ctr").status().code(), StatusCode::kFailedPrecondition);

  // A new promotion after rollbacks is undone first.
  ASSERT_TRUE(registry_->Promote("ctr", 3, {.force = true}).ok());
  ASSERT_TRUE(registry_->Rollback("ctr").ok());
  EXPECT_EQ(Champion(), 1);
  Reopen();
  EXPECT_EQ(registry_->Get("ctr")->alias_history.size(), 8u);
}

TEST_F(RegistryTest, CorruptedArtifactIsRefusedAtLoadNamingModelVersionAndPath) {
  ModelVersion v = MustRegister("ctr", LinearArtifact(1.0), "linear");
  EXPECT_TRUE(VerifyArtifact(v).ok());
  fs::permissions(v.artifact_path, fs::perms::owner_write, fs::perm_options::add);
  WriteFile(v.artifact_path, "{\"weights\": [9.000000]}");  // same size, other bytes
  auto resolved = registry_->Resolve("ctr", "champion");
  ASSERT_TRUE(resolved.ok());
  ModelCache cache;
  auto loaded = cache.Get(*resolved);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message(), "model \"ctr\" version 1: artifact " + v.artifact_path +
                                           " is corrupt: sha256 " +
                                           Sha256Hex("{\"weights\": [9.000000]}") +
                                           ", registered " + v.content_hash + "; re-register it");
  fs::remove(v.artifact_path);
  EXPECT_NE(VerifyArtifact(v).message().find("cannot be read"), std::string::npos);
}

TEST(MetricDirectionTest, Table) {
  EXPECT_EQ(MetricHigherIsBetter("auc"), true);
  EXPECT_EQ(MetricHigherIsBetter("accuracy"), true);
  EXPECT_EQ(MetricHigherIsBetter("recall@10"), true);
  EXPECT_EQ(MetricHigherIsBetter("ndcg@5"), true);
  EXPECT_EQ(MetricHigherIsBetter("logloss"), false);
  EXPECT_EQ(MetricHigherIsBetter("rmse"), false);
  EXPECT_EQ(MetricHigherIsBetter("recall@"), std::nullopt);
  EXPECT_EQ(MetricHigherIsBetter("auc@3"), std::nullopt);
  EXPECT_EQ(MetricHigherIsBetter("loss"), std::nullopt);
}

TEST(ArtifactFileTest, Sha256MatchesKnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(RegistryCodecTest, CorruptRecordsAreInternalErrors) {
  EXPECT_EQ(DecodeModelRecord("").status().message(), "corrupt model record: not a JSON object");
  EXPECT_EQ(DecodeModelRecord(R"({"format": 2, "name": "m", "created_ms": 1})").status().message(),
            "corrupt model record: bad field \"latest_version\"");
  EXPECT_EQ(DecodeModelVersion(R"({"format": 3})").status().message(),
            "model version record has format 3; this freshet reads registry format 2");
  // A record of the previous layout (format 1, FNV-1a hashes, per-version directories).
  auto old = DecodeModelRecord(
      R"({"format": 1, "name": "m", "created_ms": 1, "latest_version": 1, "aliases": {}})");
  EXPECT_EQ(old.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(old.status().message().find("has format 1; this freshet reads registry format 2 (the "
                                        "data directory is from an older freshet"),
            std::string::npos)
      << old.status().message();
  // Parsed iteratively: a million nested arrays cannot exhaust the stack.
  auto deep = DecodeModelRecord(std::string(1'000'000, '['));
  EXPECT_EQ(deep.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace freshet
