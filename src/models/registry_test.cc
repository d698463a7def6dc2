#include "models/registry.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(registered.artifact_path, dir_.File("models/churn/1/tree.json"));

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
  EXPECT_EQ(stored->artifact_path, dir_.File("models/ctr/1/src_linear.json"));
  EXPECT_EQ(stored->description, "first");
  EXPECT_EQ(stored->metrics.at("auc"), 0.7);
  auto bytes = ReadFileToString(stored->artifact_path);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(HashToHex(Fnv1a64(*bytes)), v1.content_hash);
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

TEST_F(RegistryTest, ReopenKeepsEverything) {
  const PythonModels* models = TrainedModels();
  ASSERT_NE(models, nullptr);
  std::vector<std::string> features;
  for (size_t i = 0; i < PythonModels::kFeatures; ++i) features.push_back("f" + std::to_string(i));
  RegisterOptions options{
      .metrics = {{"auc", 0.91}, {"undefined", std::numeric_limits<double>::quiet_NaN()}},
      .params = {{"max_depth", "4"}, {"eta", "0.1"}},
      .description = "tree \"model\" \xc3\xa9",
      .feature_names = features,
      .lineage = {{"training_data", "s3://bucket/train.parquet"}, {"spec_hash", "abc123"}}};
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
  EXPECT_EQ(v->feature_names, options.feature_names);
  EXPECT_EQ(v->lineage, options.lineage);

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
  EXPECT_FALSE(fs::exists(dir_.File("models/churn")));
  EXPECT_TRUE(fs::is_empty(dir_.File("models/.staging")));

  // A bad file for an existing model leaves its versions as they were.
  MustRegister("ctr", LinearArtifact(1.0), "linear");
  EXPECT_FALSE(registry_->Register("ctr", dir_.File("bad.json"), "linear").ok());
  EXPECT_EQ(registry_->Get("ctr")->latest.version, 1);
  EXPECT_FALSE(fs::exists(dir_.File("models/ctr/2")));
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
  auto mismatch =
      registry_->Register("ctr", LinearArtifact(1.0), "linear", {.feature_names = {"a", "b"}});
  EXPECT_EQ(mismatch.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mismatch.status().message().find("2 feature names"), std::string::npos);
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

TEST(RegistryCodecTest, CorruptRecordsAreInternalErrors) {
  EXPECT_EQ(DecodeModelRecord("").status().message(), "corrupt model record: not a JSON object");
  EXPECT_EQ(DecodeModelRecord(R"({"format": 1, "name": "m", "created_ms": 1})").status().message(),
            "corrupt model record: bad field \"latest_version\"");
  EXPECT_EQ(DecodeModelVersion(R"({"format": 2})").status().message(),
            "model version record has unsupported format 2");
  // Parsed iteratively: a million nested arrays cannot exhaust the stack.
  auto deep = DecodeModelRecord(std::string(1'000'000, '['));
  EXPECT_EQ(deep.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace freshet
