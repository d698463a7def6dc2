// The API's encodings byte for byte: what a model version, a model list and an ingest
// acknowledgement look like to a client, and what they never contain.
#include "api/api_json.h"

#include <gtest/gtest.h>

#include <cmath>

#include "models/registry_codec.h"

namespace freshet {
namespace {

ModelVersion Churn() {
  ModelVersion v;
  v.name = "churn";
  v.version = 3;
  v.runtime = "xgboost";
  v.artifact_path = "/srv/freshet/data/models/churn/3/model.json";
  v.created_ms = 1'767'225'600'000;
  v.content_hash = "9f3c0e51d2a4b7c8";
  v.num_features = 2;
  v.description = "weekly \"retrain\"";
  v.metrics = {{"auc", 0.91}};
  v.params = {{"max_depth", "4"}};
  v.feature_names = {"f0", "f1"};
  v.lineage = {{"training_data", "s3://bucket/train.csv"}};
  return v;
}

TEST(ApiJsonTest, ModelVersionHasTheApiFieldsInOrder) {
  EXPECT_EQ(ModelVersionToJson(Churn(), {{"champion", 3}, {"old", 1}, {"canary", 3}}),
            R"({"name":"churn","version":3,"runtime":"xgboost","aliases":["canary","champion"],)"
            R"("created":"2026-01-01T00:00:00.000Z","created_ms":1767225600000,)"
            R"("content_hash":"9f3c0e51d2a4b7c8","num_features":2,)"
            R"("description":"weekly \"retrain\"","metrics":{"auc":0.91},)"
            R"("params":{"max_depth":"4"},"feature_names":["f0","f1"],)"
            R"("lineage":{"training_data":"s3://bucket/train.csv"}})");
}

TEST(ApiJsonTest, ModelVersionCarriesNoStorageFormatOrServerPath) {
  const ModelVersion v = Churn();
  // The storage record has both; the API's encoding has neither.
  const std::string record = EncodeModelVersion(v);
  ASSERT_NE(record.find("\"format\""), std::string::npos);
  ASSERT_NE(record.find(v.artifact_path), std::string::npos);
  const std::string api = ModelVersionToJson(v, {});
  EXPECT_EQ(api.find("\"format\""), std::string::npos) << api;
  EXPECT_EQ(api.find("artifact"), std::string::npos) << api;
  EXPECT_EQ(api.find("/srv/freshet"), std::string::npos) << api;
  EXPECT_EQ(api.find("model.json"), std::string::npos) << api;
}

TEST(ApiJsonTest, NonFiniteMetricsAreNull) {
  ModelVersion v = Churn();
  v.metrics = {{"auc", std::nan("")}, {"loss", INFINITY}, {"rmse", 1.5}};
  const std::string json = ModelVersionToJson(v, {});
  EXPECT_NE(json.find(R"("metrics":{"auc":null,"loss":null,"rmse":1.5})"), std::string::npos)
      << json;
}

TEST(ApiJsonTest, ModelListSummarizesEachModelWithItsLatestVersion) {
  ModelInfo m;
  m.name = "churn";
  m.created_ms = 1'767'225'600'000 - 86'400'000;
  m.latest = Churn();
  m.aliases = {{"champion", 2}, {"challenger", 3}};
  const std::string json = ModelListToJson({m});
  EXPECT_EQ(json.rfind(R"({"models":[{"name":"churn","created":"2025-12-31T00:00:00.000Z",)"
                       R"("created_ms":1767139200000,"latest_version":3,)"
                       R"("aliases":{"challenger":3,"champion":2},"latest":{"name":"churn",)"
                       R"("version":3,"runtime":"xgboost","aliases":["challenger"],)",
                       0),
            0u)
      << json;
  EXPECT_EQ(ModelListToJson({}), R"({"models":[]})");
}

TEST(ApiJsonTest, AppendAck) {
  EXPECT_EQ(AppendAckToJson(AppendAck{.first_offset = 7, .count = 3, .duplicate = false}),
            R"({"accepted":3,"first_offset":7,"duplicate":false})");
  EXPECT_EQ(AppendAckToJson(AppendAck{.first_offset = 0, .count = 0, .duplicate = true}),
            R"({"accepted":0,"first_offset":0,"duplicate":true})");
}

}  // namespace
}  // namespace freshet
