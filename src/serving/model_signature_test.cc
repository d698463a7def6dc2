// Signatures and spec hashes from a parsed freshet.yaml, and the deployment checks built on them,
// against a real registry in RocksDB.
#include "serving/model_signature.h"

#include <gtest/gtest.h>

#include <fstream>

#include "models/models_test_util.h"
#include "spec/spec_loader.h"
#include "store/store_test_util.h"

namespace freshet {
namespace {

using testing::StoreHarness;

constexpr const char* kDeployments = R"yaml(
  reversed: [activity:amount_1h, lifetime:total, activity:clicks_10m]
  pair: [lifetime:total, lifetime:last_amount]
models:
  ranker: {runtime: linear}
deployments:
  rank: {model: ranker, features: scoring}
  rank_next: {model: ranker, features: reversed, alias: challenger}
)yaml";

ProjectSpec Parse(const std::string& yaml) {
  auto spec = ParseProject(yaml, "freshet.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  return spec.ok() ? *spec : ProjectSpec{};
}

class ModelSignatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_ = Parse(std::string(testing::kStoreSpec) + kDeployments);
    auto registry = ModelRegistry::Open(h_.db(), h_.dir(), h_.clock());
    ASSERT_TRUE(registry.ok()) << registry.status().ToString();
    registry_ = std::move(*registry);
  }

  // Registers a 3-weight linear model reading `service` (none: no signature recorded).
  ModelVersion Register(const std::string& service) {
    const std::string path = h_.dir() + "/linear.json";
    std::ofstream(path) << R"({"weights":[1,2,3]})";
    RegisterOptions options;
    if (!service.empty()) {
      EXPECT_TRUE(BindFeatureService(spec_, service, &options).ok());
    }
    auto v = registry_->Register("ranker", path, "linear", options);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : ModelVersion{};
  }

  StoreHarness h_;
  ProjectSpec spec_;
  std::unique_ptr<ModelRegistry> registry_;
};

TEST_F(ModelSignatureTest, SignatureNamesAndTypesInServiceOrder) {
  auto signature = ServiceSignature(spec_, "scoring");
  ASSERT_TRUE(signature.ok());
  EXPECT_EQ(*signature, (std::vector<FeatureSignature>{{"activity:clicks_10m", "int64"},
                                                       {"lifetime:total", "int64"},
                                                       {"activity:amount_1h", "double"}}));
  EXPECT_EQ(ServiceSignature(spec_, "nope").status().code(), StatusCode::kNotFound);
}

TEST_F(ModelSignatureTest, SpecHashFollowsDefinitionsNotFormatting) {
  auto base = FeatureSpecHash(spec_, "scoring");
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(base->size(), 64u);
  EXPECT_NE(*base, *FeatureSpecHash(spec_, "reversed")) << "order is part of the input";

  // Same definitions, written differently (comments, flow vs block style): same hash.
  std::string reformatted = std::string(testing::kStoreSpec) + "# a comment\n" + kDeployments;
  reformatted.replace(reformatted.find("clicks_10m: {agg: count, window: 10m}"),
                      std::string("clicks_10m: {agg: count, window: 10m}").size(),
                      "clicks_10m:\n        window: 10m\n        agg: count");
  EXPECT_EQ(*FeatureSpecHash(Parse(reformatted), "scoring"), *base);

  // A changed window is a different feature definition.
  std::string changed = std::string(testing::kStoreSpec) + kDeployments;
  changed.replace(changed.find("window: 10m"), 11, "window: 20m");
  EXPECT_NE(*FeatureSpecHash(Parse(changed), "scoring"), *base);
}

TEST_F(ModelSignatureTest, MismatchNamesTheFirstDifferingFeature) {
  ModelVersion scoring = Register("scoring");
  EXPECT_EQ(scoring.lineage.feature_service, "scoring");
  EXPECT_EQ(scoring.lineage.feature_spec_hash, *FeatureSpecHash(spec_, "scoring"));
  const DeploymentSpec& rank = spec_.deployments.at("rank");
  const DeploymentSpec& next = spec_.deployments.at("rank_next");
  EXPECT_TRUE(CheckSignature(spec_, rank, scoring).ok());
  Status mismatch = CheckSignature(spec_, next, scoring);
  EXPECT_EQ(mismatch.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(mismatch.message(),
            "deployment 'rank_next' (feature service 'reversed') cannot serve model \"ranker\" "
            "version 1: feature 1 is 'activity:clicks_10m' (int64) in the model's signature but "
            "'activity:amount_1h' (double) in the service");

  // Without a recorded signature only the width is compared.
  ModelVersion unsigned_version = Register("");
  EXPECT_TRUE(CheckSignature(spec_, next, unsigned_version).ok());
  DeploymentSpec pair;
  pair.name = "p";
  pair.model = "ranker";
  pair.alias = "champion";
  pair.feature_service = "pair";
  EXPECT_EQ(CheckSignature(spec_, pair, unsigned_version).message(),
            "deployment 'p' (feature service 'pair') cannot serve model \"ranker\" version 2: the "
            "model takes 3 features but the service has 2");
}

TEST_F(ModelSignatureTest, AliasMovesAndServeStartAreChecked) {
  Register("scoring");   // v1, champion: serves rank
  Register("reversed");  // v2
  AliasCheck check = DeploymentAliasCheck(&spec_, "ranker");
  Status wrong = registry_->SetAlias("ranker", "challenger", 1, "", check);
  EXPECT_EQ(wrong.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.message().find("deployment 'rank_next'"), std::string::npos) << wrong.message();
  EXPECT_TRUE(registry_->SetAlias("ranker", "challenger", 2, "", check).ok());
  EXPECT_TRUE(registry_->SetAlias("ranker", "shadow", 1, "", check).ok()) << "no deployment";
  EXPECT_FALSE(registry_->Promote("ranker", 2, {.force = true}, check).ok());
  EXPECT_TRUE(CheckDeployments(spec_, *registry_).ok());

  // Moved without the check: serve start finds it.
  ASSERT_TRUE(registry_->SetAlias("ranker", "challenger", 1).ok());
  Status at_start = CheckDeployments(spec_, *registry_);
  EXPECT_NE(at_start.message().find("deployment 'rank_next'"), std::string::npos)
      << at_start.message();

  EXPECT_EQ(DeploymentUses(spec_, "ranker").size(), 2u);
  EXPECT_TRUE(DeploymentUses(spec_, "other").empty());
}

}  // namespace
}  // namespace freshet
