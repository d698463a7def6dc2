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
  v.artifact_path = "/srv/freshet/data/models/blobs/sha256/9f3c.json";
  v.artifact_name = "model.json";
  v.created_ms = 1'767'225'600'000;
  v.content_hash = "9f3c";
  v.num_features = 2;
  v.description = "weekly \"retrain\"";
  v.metrics = {{"auc", 0.91}};
  v.params = {{"max_depth", "4"}};
  v.signature = {{"a:f0", "int64"}, {"a:f1", "double"}};
  v.lineage = {.training_data = "s3://bucket/train.csv", .created_by = "ann"};
  v.tags = {{"stage", "prod"}};
  return v;
}

TEST(ApiJsonTest, ModelVersionHasTheApiFieldsInOrder) {
  EXPECT_EQ(ModelVersionToJson(Churn(), {{"champion", 3}, {"old", 1}, {"canary", 3}}),
            R"({"name":"churn","version":3,"runtime":"xgboost","aliases":["canary","champion"],)"
            R"("created":"2026-01-01T00:00:00.000Z","created_ms":1767225600000,)"
            R"("content_hash":"9f3c","num_features":2,)"
            R"("description":"weekly \"retrain\"","metrics":{"auc":0.91},)"
            R"("params":{"max_depth":"4"},)"
            R"("signature":[{"name":"a:f0","type":"int64"},{"name":"a:f1","type":"double"}],)"
            R"("lineage":{"training_data":"s3://bucket/train.csv","training_data_sha256":"",)"
            R"("holdout":"","holdout_sha256":"","feature_service":"","feature_spec_hash":"",)"
            R"("runtime_library":"","created_by":"ann"},"tags":{"stage":"prod"}})");
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
  m.versions = {2, 3};
  m.tags = {{"team", "growth"}};
  m.alias_history = {{"champion", 2, 1, 1'767'225'600'000, "ann", true}};
  const std::string json = ModelListToJson({m});
  EXPECT_EQ(json.rfind(R"({"models":[{"name":"churn","created":"2025-12-31T00:00:00.000Z",)"
                       R"("created_ms":1767139200000,"latest_version":3,"versions":[2,3],)"
                       R"("aliases":{"challenger":3,"champion":2},"tags":{"team":"growth"},)"
                       R"("alias_history":[{"alias":"champion","version":2,"previous":1,)"
                       R"("at":"2026-01-01T00:00:00.000Z","at_ms":1767225600000,"by":"ann",)"
                       R"("rollback":true}],"latest":{"name":"churn",)"
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
