// The HTTP API in process: a real Instance (RocksDB in a temporary directory, a manual clock)
// behind a Router with every route registered; each test builds HttpRequests, calls the
// matched route's handler and checks the status and the JSON a client would see. No sockets.
#include "api/api.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "models/models_test_util.h"
#include "serving/model_signature.h"

namespace freshet {
namespace {

constexpr int64_t kT = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kMinute = 60'000;

constexpr const char* kSpec = R"yaml(project: api_test
entities:
  user: {key: user_id}
sources:
  clicks:
    kind: http
    timestamp: ts_ms
    fields: {user_id: string, ts_ms: int64, amount: double}
    allowed_lateness: 1d
  users: {kind: table, entity: user, timestamp: updated_at, fields: {user_id: string, plan: string}}
feature_views:
  activity:
    entity: user
    source: clicks
    ttl: 1h
    features:
      clicks_10m: {agg: count, window: 10m}
      amount_1h: {agg: sum, of: amount, window: 1h}
  profile:
    entity: user
    source: users
    features:
      plan: {attr: plan}
feature_services:
  scoring: [activity:clicks_10m, activity:amount_1h]
  mixed: [activity:clicks_10m, profile:plan]
models:
  ranker: {runtime: linear}
deployments:
  rank: {model: ranker, features: scoring}
  rank_ab:
    model: ranker
    features: scoring
    traffic: [{alias: champion, weight: 1}, {alias: challenger, weight: 1}]
    shadow: {alias: candidate}
)yaml";

std::string Click(const std::string& user, int64_t ts, double amount) {
  return R"({"user_id":")" + user + R"(","ts_ms":)" + std::to_string(ts) + R"(,"amount":)" +
         std::to_string(amount) + "}";
}

// The member names of a JSON object.
std::set<std::string> Keys(simdjson::dom::object object) {
  std::set<std::string> keys;
  for (auto field : object) keys.emplace(field.key);
  return keys;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(project_dir());
    std::ofstream(project_dir() + "/freshet.yaml") << Spec();
    InstanceOptions options;
    options.project_dir = project_dir();
    options.data_dir = data_dir();
    options.clock = &clock_;
    options.checkpoint_interval_ms = 3'600'000;
    auto instance = Instance::Open(options);
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    instance_ = std::move(*instance);
    ASSERT_TRUE(RegisterApi(&router_, instance_.get()).ok());
  }

  virtual std::string Spec() const { return kSpec; }
  std::string project_dir() const { return dir_.File("project"); }
  std::string data_dir() const { return dir_.File("data"); }

  // Routes `method` `target` like the server does and runs the handler.
  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    HttpRequest req;
    req.method = method;
    req.target = target;
    size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::string_view rest = std::string_view(target).substr(q + 1);
      while (!rest.empty()) {
        std::string_view pair = rest.substr(0, rest.find('&'));
        size_t eq = pair.find('=');
        req.query.emplace(std::string(pair.substr(0, eq)),
                          eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
        rest = pair.size() < rest.size() ? rest.substr(pair.size() + 1) : std::string_view();
      }
    }
    for (const auto& [name, value] : headers) req.headers.Add(name, value);
    req.body = body;
    HttpResponse res;
    auto match = router_.Match(method, req.path);
    EXPECT_TRUE(match.ok()) << target;
    if (!match.ok() || match->route == nullptr) {
      ADD_FAILURE() << "no route for " << method << " " << target;
      res.status = 404;
      return res;
    }
    req.path_params = match->path_params;
    if (match->route->batch_handler) {
      const Exchange exchange{&req, &res};
      match->route->batch_handler(std::span(&exchange, 1));
    } else {
      match->route->handler(req, &res);
    }
    return res;
  }

  // Parses a response body; fails the test when it is not JSON.
  simdjson::dom::element Json(const HttpResponse& res) {
    simdjson::dom::element doc;
    auto error = parser_.parse(res.body).get(doc);
    EXPECT_FALSE(error) << "not JSON: " << res.body;
    return doc;
  }

  // Status and error message of an error response.
  void ExpectError(const HttpResponse& res, int status, std::string_view code,
                   std::string_view message_part) {
    EXPECT_EQ(res.status, status) << res.body;
    simdjson::dom::element doc = Json(res);
    std::string_view got_code, message;
    ASSERT_FALSE(doc["error"]["code"].get(got_code)) << res.body;
    ASSERT_FALSE(doc["error"]["message"].get(message)) << res.body;
    EXPECT_EQ(got_code, code) << res.body;
    EXPECT_NE(message.find(message_part), std::string_view::npos) << res.body;
  }

  // Status and message of an Open Inference Protocol error: {"error": "<message>"}.
  void ExpectV2Error(const HttpResponse& res, int status, std::string_view message_part) {
    EXPECT_EQ(res.status, status) << res.body;
    simdjson::dom::element doc = Json(res);
    std::string_view message;
    ASSERT_FALSE(doc["error"].get(message)) << res.body;
    EXPECT_EQ(doc.get_object().size(), 1u) << res.body;
    EXPECT_NE(message.find(message_part), std::string_view::npos) << res.body;
  }

  // Registers a linear model (weights for scoring's two features) as the next `ranker`.
  ModelVersion RegisterRanker(double w0, double w1, double bias,
                              const RegisterOptions& options = {}) {
    const std::string path = dir_.File("ranker.json");
    std::ofstream(path) << "{\"weights\":[" << w0 << "," << w1 << "],\"bias\":" << bias << "}";
    auto v = instance_->registry()->Register("ranker", path, "linear", options);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : ModelVersion{};
  }

  testing::ScopedTempDir dir_{"api_test"};
  ManualClock clock_{kT};
  std::unique_ptr<Instance> instance_;
  Router router_;
  simdjson::dom::parser parser_;
};

TEST_F(ApiTest, IngestAcknowledgesAndDeduplicatesByIdempotencyKey) {
  HttpResponse a = Call("POST", "/v1/events/clicks",
                        "[" + Click("u1", kT - kMinute, 1) + "," + Click("u2", kT, 2) + "]");
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.body, R"({"accepted":2,"first_offset":0,"duplicate":false})");
  HttpResponse b =
      Call("POST", "/v1/events/clicks", Click("u1", kT, 1), {{"Idempotency-Key", "k1"}});
  EXPECT_EQ(b.body, R"({"accepted":1,"first_offset":2,"duplicate":false})");
  HttpResponse again =
      Call("POST", "/v1/events/clicks", Click("u1", kT, 1), {{"Idempotency-Key", "k1"}});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(bool(Json(again)["duplicate"])) << again.body;
}

TEST_F(ApiTest, IngestRejectsABadRecordAndAnUnknownSource) {
  ExpectError(Call("POST", "/v1/events/clicks", R"({"user_id":"u1","ts_ms":"soon","amount":1})"),
              400, "invalid_argument", "ts_ms");
  ExpectError(Call("POST", "/v1/events/views", Click("u1", kT, 1)), 404, "not_found", "views");
  // The position of the bad record is data in the details, not only text in the message.
  HttpResponse bad = Call("POST", "/v1/events/clicks",
                          "{\"user_id\":\"u1\",\"ts_ms\":1,\"amount\":1}\n"
                          "{\"user_id\":\"u1\",\"ts_ms\":2,\"amount\":\"x\"}\n");
  EXPECT_EQ(bad.status, 400);
  simdjson::dom::element details = Json(bad)["error"]["details"];
  EXPECT_EQ(int64_t(details["line"]), 2) << bad.body;
  EXPECT_EQ(std::string_view(details["field"]), "amount") << bad.body;
  EXPECT_TRUE(details["record"].error()) << bad.body;
  // Nothing was stored by the rejected batch.
  EXPECT_EQ(Call("POST", "/v1/events/clicks", Click("u1", kT, 1)).body,
            R"({"accepted":1,"first_offset":0,"duplicate":false})");
}

TEST_F(ApiTest, FeaturesCarryStatusesAndDecayWithTheClock) {
  Call("POST", "/v1/events/clicks",
       Click("fresh", kT - 2 * kMinute, 4) + "\n" + Click("stale", kT - 3 * 60 * kMinute, 1));
  const std::string body =
      R"({"feature_service":"scoring","entities":{"user_id":["fresh","nobody","stale"]}})";
  HttpResponse res = Call("POST", "/v1/features", body);
  ASSERT_EQ(res.status, 200) << res.body;
  simdjson::dom::element doc = Json(res);
  EXPECT_EQ(int64_t(doc["as_of_ms"]), kT);  // the instance's clock
  EXPECT_EQ(int64_t(doc["rows"].at(0)["values"].at(0)), 1);
  EXPECT_DOUBLE_EQ(double(doc["rows"].at(0)["values"].at(1)), 4.0);
  EXPECT_EQ(std::string_view(doc["rows"].at(0)["statuses"].at(0)), "PRESENT");
  EXPECT_EQ(std::string_view(doc["rows"].at(1)["statuses"].at(0)), "NOT_FOUND");
  EXPECT_EQ(std::string_view(doc["rows"].at(2)["statuses"].at(0)), "OUTSIDE_MAX_AGE");
  EXPECT_TRUE(doc["rows"].at(2)["values"].at(0).is_null());

  clock_.Advance(15 * kMinute);  // the 10m window empties
  HttpResponse later = Call("POST", "/v1/features", body);
  simdjson::dom::element later_doc = Json(later);
  EXPECT_EQ(int64_t(later_doc["rows"].at(0)["values"].at(0)), 0) << later.body;
}

TEST_F(ApiTest, FeastEndpointAnswersFeastsShape) {
  Call("POST", "/v1/events/clicks", Click("u1", kT - kMinute, 4));
  HttpResponse res =
      Call("POST", "/get-online-features",
           R"({"features":["activity:clicks_10m"],"entities":{"user_id":["u1","x"]},)"
           R"("full_feature_names":true})");
  ASSERT_EQ(res.status, 200) << res.body;
  simdjson::dom::element doc = Json(res);
  EXPECT_EQ(Keys(doc.get_object()), (std::set<std::string>{"metadata", "results"}));
  EXPECT_EQ(std::string_view(doc["metadata"]["feature_names"].at(0)), "user_id");
  EXPECT_EQ(std::string_view(doc["metadata"]["feature_names"].at(1)), "activity__clicks_10m");
  simdjson::dom::element clicks = doc["results"].at(1);
  EXPECT_EQ(Keys(clicks.get_object()),
            (std::set<std::string>{"values", "statuses", "event_timestamps"}));
  EXPECT_EQ(int64_t(clicks["values"].at(0)), 1);
  EXPECT_EQ(std::string_view(clicks["statuses"].at(1)), "NOT_FOUND");
  EXPECT_EQ(std::string_view(clicks["event_timestamps"].at(0)), "2025-12-31T23:59:00.000Z");
}

TEST_F(ApiTest, FeatureRequestErrorsNameTheField) {
  ExpectError(Call("POST", "/v1/features", R"({"feature_service":"scoring"})"), 400,
              "invalid_argument", "entities: missing");
  ExpectError(Call("POST", "/v1/features",
                   R"({"features":["activity:nope"],"entities":{"user_id":["u1"]}})"),
              404, "not_found", "view 'activity' has no feature 'nope'");
  ExpectError(Call("POST", "/v1/features",
                   R"({"feature_service":"scoring","entities":{"account":["u1"]}})"),
              400, "invalid_argument", "missing key 'user_id'");
  ExpectError(Call("POST", "/get-online-features",
                   R"({"feature_service":"scoring","entities":{"user_id":["u1"]},"as_of":"noon"})"),
              400, "invalid_argument", "as_of");
  // Used to throw std::out_of_range out of the handler (a 500).
  ExpectError(Call("POST", "/v1/features",
                   R"({"feature_service":"scoring","entities":{"user_id":["u1"]},)"
                   R"("as_of":"123456789012345678901234567890"})"),
              400, "invalid_argument", "as_of");
  // Used to read past the end of the shorter column.
  ExpectError(Call("POST", "/get-online-features",
                   R"({"feature_service":"scoring","entities":{"user_id":["a","b"],"x":["1"]}})"),
              400, "invalid_argument", "entities.x");
}

TEST_F(ApiTest, PredictScoresTheDeploymentsModel) {
  RegisterRanker(1, 10, 0.5);
  Call("POST", "/v1/events/clicks", Click("u1", kT - kMinute, 3) + "\n" + Click("u1", kT, 5));
  clock_.Advance(1);
  HttpResponse res =
      Call("POST", "/v1/predict/rank", R"({"entities":{"user_id":["u1","nobody"]}})");
  ASSERT_EQ(res.status, 200) << res.body;
  simdjson::dom::element doc = Json(res);
  EXPECT_EQ(Keys(doc.get_object()),
            (std::set<std::string>{"predictions", "model", "versions", "release",
                                   "feature_generations", "entities", "features", "statuses"}));
  EXPECT_EQ(int64_t(doc["release"]), 0);  // never deployed: the alias
  EXPECT_EQ(simdjson::minify(doc["feature_generations"]), R"({"activity":1})");
  EXPECT_EQ(simdjson::minify(doc["versions"]), "[1,1]");
  EXPECT_DOUBLE_EQ(double(doc["predictions"].at(0)), 2 * 1 + 8 * 10 + 0.5);
  EXPECT_DOUBLE_EQ(double(doc["predictions"].at(1)), 0.5);  // no events: count 0, sum 0
  EXPECT_EQ(std::string_view(doc["model"]["name"]), "ranker");
  EXPECT_EQ(int64_t(doc["model"]["version"]), 1);
  EXPECT_EQ(std::string_view(doc["entities"]["user_id"].at(1)), "nobody");
  // The zeros "nobody" was scored with are reported as such, per row and feature.
  EXPECT_EQ(simdjson::minify(doc["features"]), R"(["activity:clicks_10m","activity:amount_1h"])");
  EXPECT_EQ(simdjson::minify(doc["statuses"]),
            R"([["PRESENT","PRESENT"],["NOT_FOUND","NOT_FOUND"]])");
}

TEST_F(ApiTest, PredictReportsStaleFeaturesAndTakesContextValues) {
  RegisterRanker(1, 10, 0.5);
  Call("POST", "/v1/events/clicks", Click("old", kT - 3 * 60 * kMinute, 4));  // past the 1h ttl
  clock_.Advance(1);
  HttpResponse stale = Call("POST", "/v1/predict/rank", R"({"entities":{"user_id":["old"]}})");
  ASSERT_EQ(stale.status, 200) << stale.body;
  EXPECT_EQ(simdjson::minify(Json(stale)["statuses"]),
            R"([["OUTSIDE_MAX_AGE","OUTSIDE_MAX_AGE"]])");

  // A single context value applies to every row; an array gives one per row. Both replace the
  // store's values and count as PRESENT.
  HttpResponse res = Call("POST", "/v1/predict/rank",
                          R"({"entities":{"user_id":["old","nobody"]},)"
                          R"("context":{"activity:clicks_10m":3,"amount_1h":[1,2]}})");
  ASSERT_EQ(res.status, 200) << res.body;
  simdjson::dom::element doc = Json(res);
  EXPECT_DOUBLE_EQ(double(doc["predictions"].at(0)), 3 * 1 + 1 * 10 + 0.5);
  EXPECT_DOUBLE_EQ(double(doc["predictions"].at(1)), 3 * 1 + 2 * 10 + 0.5);
  EXPECT_EQ(simdjson::minify(doc["statuses"]), R"([["PRESENT","PRESENT"],["PRESENT","PRESENT"]])");

  ExpectError(Call("POST", "/v1/predict/rank",
                   R"({"entities":{"user_id":["u1"]},"context":{"activity:nope":1}})"),
              400, "invalid_argument", "context.activity:nope");
  ExpectError(Call("POST", "/v1/predict/rank",
                   R"({"entities":{"user_id":["u1"]},"context":{"amount_1h":[1,2]}})"),
              400, "invalid_argument", "context.amount_1h: 2 values for 1 entity rows");
  ExpectError(Call("POST", "/v1/predict/rank", R"({"entities":{"user_id":["u1"]},"context":[1]})"),
              400, "invalid_argument", "context: expected an object");
}

TEST_F(ApiTest, PredictErrors) {
  ExpectError(Call("POST", "/v1/predict/rank", R"({"entities":{"user_id":["u1"]}})"), 404,
              "not_found", "ranker");  // nothing registered yet
  RegisterRanker(1, 10, 0.5);
  ExpectError(Call("POST", "/v1/predict/rank", R"({"entities":{"account":["u1"]}})"), 400,
              "invalid_argument", "missing key 'user_id'");
  ExpectError(Call("POST", "/v1/predict/rank", R"({"entities":{}})"), 400, "invalid_argument",
              "entities");
  ExpectError(Call("POST", "/v1/predict/rank", "not json"), 400, "invalid_argument",
              "malformed JSON");
  ExpectError(Call("POST", "/v1/predict/nope", R"({"entities":{"user_id":["u1"]}})"), 404,
              "not_found", "unknown deployment 'nope'");
}

// A traffic split answers each row's version; the traffic route shows the split and the counts.
TEST_F(ApiTest, TrafficSplitNamesEachRowsVersionAndIsReported) {
  RegisterRanker(0, 0, 1);  // champion: scores 1
  RegisterRanker(0, 0, 2);  // challenger: scores 2
  ASSERT_TRUE(instance_->registry()->SetAlias("ranker", "challenger", 2).ok());
  std::string users;
  for (int i = 0; i < 40; ++i) users += (i ? ",\"u" : "\"u") + std::to_string(i) + "\"";
  HttpResponse res =
      Call("POST", "/v1/predict/rank_ab", R"({"entities":{"user_id":[)" + users + "]}}");
  ASSERT_EQ(res.status, 200) << res.body;
  simdjson::dom::element doc = Json(res);
  std::map<int64_t, int> rows_per_version;
  for (size_t r = 0; r < 40; ++r) {
    int64_t version = int64_t(doc["versions"].at(r));
    ++rows_per_version[version];
    EXPECT_DOUBLE_EQ(double(doc["predictions"].at(r)), static_cast<double>(version));
  }
  ASSERT_EQ(rows_per_version.size(), 2u) << res.body;  // 40 users: both halves are hit

  HttpResponse traffic = Call("GET", "/v1/deployments/rank_ab/traffic");
  ASSERT_EQ(traffic.status, 200) << traffic.body;
  simdjson::dom::element report = Json(traffic);
  EXPECT_EQ(std::string_view(report["model"]), "ranker");
  EXPECT_EQ(simdjson::minify(report["sticky_keys"]), R"(["user_id"])");
  ASSERT_EQ(report["arms"].get_array().size(), 2u);  // the unset shadow alias: not yet
  for (size_t a = 0; a < 2; ++a) {
    simdjson::dom::element arm = report["arms"].at(a);
    EXPECT_EQ(std::string_view(arm["role"]), "served");
    EXPECT_EQ(int64_t(arm["version"]), static_cast<int64_t>(a + 1));
    EXPECT_DOUBLE_EQ(double(arm["weight"]), 1);
    EXPECT_NEAR(double(arm["share"]), 0.5, 0.02);
    EXPECT_DOUBLE_EQ(double(arm["requests"]), 1);
    EXPECT_DOUBLE_EQ(double(arm["rows"]), rows_per_version[a + 1]);
  }
  EXPECT_NE(std::string_view(report["shadow"]["error"]).find("no alias \"candidate\""),
            std::string_view::npos)
      << traffic.body;
  ExpectError(Call("GET", "/v1/deployments/nope/traffic"), 404, "not_found", "'nope'");
}

TEST_F(ApiTest, ReleasesPinVersionAndGenerationAndRollBackOverHttp) {
  RegisterRanker(1, 0, 0);  // v1: the click count
  RegisterRanker(0, 1, 0);  // v2: the amount
  Call("POST", "/v1/events/clicks", Click("u1", kT - kMinute, 3) + "\n" + Click("u1", kT, 5));
  clock_.Advance(1);
  HttpResponse none = Call("GET", "/v1/deployments/rank/release");
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_TRUE(Json(none)["current"].is_null()) << none.body;

  HttpResponse first = Call("POST", "/v1/deployments/rank/release", R"({"model_version":2})");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(int64_t(Json(first)["current"]["release"]), 1);
  auto predict = [&](double want, int64_t version, int64_t release, int64_t generation) {
    HttpResponse res = Call("POST", "/v1/predict/rank", R"({"entities":{"user_id":["u1"]}})");
    ASSERT_EQ(res.status, 200) << res.body;
    simdjson::dom::element doc = Json(res);
    EXPECT_DOUBLE_EQ(double(doc["predictions"].at(0)), want) << res.body;
    EXPECT_EQ(int64_t(doc["model"]["version"]), version) << res.body;
    EXPECT_EQ(int64_t(doc["release"]), release) << res.body;
    EXPECT_EQ(int64_t(doc["feature_generations"]["activity"]), generation) << res.body;
  };
  predict(8, 2, 1, 1);

  HttpResponse rebuild = Call("POST", "/v1/generations/activity/rebuild", "{}");
  ASSERT_EQ(rebuild.status, 202) << rebuild.body;
  EXPECT_EQ(int64_t(Json(rebuild)["generations"].at(0)["generation"]), 2) << rebuild.body;
  ASSERT_TRUE(instance_->generations()->WaitCaughtUp(2, 30'000).ok());
  HttpResponse listed = Call("GET", "/v1/generations?view=activity");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(Json(listed)["generations"].get_array().size(), 2u) << listed.body;

  HttpResponse second =
      Call("POST", "/v1/deployments/rank/release", R"({"model_version":1,"generation":2})");
  ASSERT_EQ(second.status, 200) << second.body;
  predict(2, 1, 2, 2);  // the rebuilt generation counts both clicks too
  ExpectError(Call("DELETE", "/v1/generations/activity/2"), 409, "failed_precondition", "rank");
  HttpResponse back = Call("POST", "/v1/deployments/rank/rollback");
  ASSERT_EQ(back.status, 200) << back.body;
  predict(8, 2, 1, 1);

  ExpectError(Call("POST", "/v1/deployments/rank/release", R"({"bogus":1})"), 400,
              "invalid_argument", "unknown member \"bogus\"");
  ExpectError(Call("POST", "/v1/deployments/rank/release", R"({"model_version":9})"), 404,
              "not_found", "");
  ExpectError(Call("POST", "/v1/deployments/rank/release", R"({"generation":7})"), 404, "not_found",
              "generation 7");
  ExpectError(Call("POST", "/v1/deployments/nope/release", "{}"), 404, "not_found", "'nope'");
  ExpectError(Call("DELETE", "/v1/generations/activity/x"), 400, "invalid_argument", "generation");
}

TEST_F(ApiTest, ModelsAreTheApisOwnShapeWithoutStorageFieldsOrPaths) {
  RegisterOptions options;
  options.description = "weekly retrain";
  options.metrics = {{"auc", 0.91}, {"undefined", std::nan("")}};
  options.params = {{"max_depth", "4"}};
  options.signature = {{"activity:clicks_10m", "int64"}, {"activity:amount_1h", "double"}};
  options.lineage.training_data = "train.csv";
  ModelVersion v1 = RegisterRanker(1, 10, 0.5, options);
  RegisterRanker(2, 20, 0.5);
  ASSERT_TRUE(instance_->registry()->SetAlias("ranker", "challenger", 2).ok());

  HttpResponse list = Call("GET", "/v1/models");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.body.find(data_dir()), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find("\"format\""), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find("\"artifact"), std::string::npos) << list.body;
  simdjson::dom::element doc = Json(list);
  ASSERT_EQ(doc["models"].get_array().size(), 1u);
  simdjson::dom::element model = doc["models"].at(0);
  EXPECT_EQ(Keys(model.get_object()),
            (std::set<std::string>{"name", "created", "created_ms", "latest_version", "versions",
                                   "aliases", "tags", "alias_history", "latest"}));
  EXPECT_EQ(std::string_view(model["created"]), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(int64_t(model["latest_version"]), 2);
  EXPECT_EQ(int64_t(model["aliases"]["champion"]), 1);
  EXPECT_EQ(int64_t(model["aliases"]["challenger"]), 2);
  const std::set<std::string> kVersionFields = {
      "name",       "version",      "runtime",      "aliases",     "created",
      "created_ms", "content_hash", "num_features", "description", "metrics",
      "params",     "signature",    "lineage",      "tags"};
  EXPECT_EQ(Keys(model["latest"].get_object()), kVersionFields);
  EXPECT_EQ(std::string_view(model["latest"]["aliases"].at(0)), "challenger");

  HttpResponse show = Call("GET", "/v1/models/ranker/versions/champion");
  ASSERT_EQ(show.status, 200) << show.body;
  EXPECT_EQ(show.body.find(data_dir()), std::string::npos) << show.body;
  simdjson::dom::element version = Json(show);
  EXPECT_EQ(Keys(version.get_object()), kVersionFields);
  EXPECT_EQ(std::string_view(version["name"]), "ranker");
  EXPECT_EQ(int64_t(version["version"]), 1);
  EXPECT_EQ(std::string_view(version["runtime"]), "linear");
  EXPECT_EQ(version["aliases"].get_array().size(), 1u);
  EXPECT_EQ(std::string_view(version["aliases"].at(0)), "champion");
  EXPECT_EQ(int64_t(version["created_ms"]), kT);
  EXPECT_EQ(std::string_view(version["content_hash"]), v1.content_hash);
  EXPECT_EQ(int64_t(version["num_features"]), 2);
  EXPECT_EQ(std::string_view(version["description"]), "weekly retrain");
  EXPECT_DOUBLE_EQ(double(version["metrics"]["auc"]), 0.91);
  EXPECT_TRUE(version["metrics"]["undefined"].is_null());  // NaN has no JSON spelling
  EXPECT_EQ(std::string_view(version["params"]["max_depth"]), "4");
  EXPECT_EQ(std::string_view(version["signature"].at(1)["name"]), "activity:amount_1h");
  EXPECT_EQ(std::string_view(version["signature"].at(1)["type"]), "double");
  EXPECT_EQ(std::string_view(version["lineage"]["training_data"]), "train.csv");

  HttpResponse latest = Call("GET", "/v1/models/ranker/versions/latest");
  EXPECT_EQ(int64_t(Json(latest)["version"]), 2);
  HttpResponse by_number = Call("GET", "/v1/models/ranker/versions/1");
  EXPECT_EQ(int64_t(Json(by_number)["version"]), 1);
  HttpResponse one = Call("GET", "/v1/models/ranker");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.body.find(data_dir()), std::string::npos) << one.body;
  EXPECT_EQ(Keys(Json(one).get_object()),
            (std::set<std::string>{"name", "created", "created_ms", "latest_version", "versions",
                                   "aliases", "tags", "alias_history", "latest"}));
}

TEST_F(ApiTest, ModelListIsEmptyAndUnknownModelsAreNotFound) {
  HttpResponse list = Call("GET", "/v1/models");
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.body, R"({"models":[]})");
  ExpectError(Call("GET", "/v1/models/nope"), 404, "not_found", "nope");
  RegisterRanker(1, 1, 0);
  ExpectError(Call("GET", "/v1/models/ranker/versions/7"), 404, "not_found", "7");
  ExpectError(Call("GET", "/v1/models/ranker/versions/nobody"), 404, "not_found", "nobody");
}

TEST_F(ApiTest, RegisterOverHttpRecordsLineageAndRefusesBadBodies) {
  const std::string artifact = dir_.File("http_ranker.json");
  testing::WriteFile(artifact, R"({"weights":[1,2],"bias":0})");
  testing::WriteFile(dir_.File("holdout.csv"), "label\n1\n");
  HttpResponse created =
      Call("POST", "/v1/models/ranker/versions",
           R"({"artifact_path":")" + artifact +
               R"(","metrics":{"auc":0.8},"params":{"eta":"0.1"},"tags":{"stage":"dev"},)"
               R"("feature_service":"scoring","holdout":")" +
               dir_.File("holdout.csv") + R"(","by":"frank","description":"over http"})");
  ASSERT_EQ(created.status, 201) << created.body;
  simdjson::dom::element v = Json(created);
  EXPECT_EQ(int64_t(v["version"]), 1);
  EXPECT_EQ(std::string_view(v["runtime"]), "linear");  // from freshet.yaml's models:
  EXPECT_EQ(std::string_view(v["lineage"]["created_by"]), "frank");
  EXPECT_EQ(std::string_view(v["lineage"]["feature_service"]), "scoring");
  EXPECT_EQ(std::string_view(v["lineage"]["holdout_sha256"]).size(), 64u);
  EXPECT_EQ(std::string_view(v["signature"].at(1)["name"]), "activity:amount_1h");
  EXPECT_EQ(std::string_view(v["tags"]["stage"]), "dev");
  EXPECT_EQ(created.body.find(data_dir()), std::string::npos) << created.body;

  ExpectError(Call("POST", "/v1/models/ranker/versions", R"({"runtime":"linear"})"), 400,
              "invalid_argument", "missing member \"artifact_path\"");
  ExpectError(Call("POST", "/v1/models/ranker/versions",
                   R"({"artifact_path":")" + artifact + R"(","metric":{"auc":1}})"),
              400, "invalid_argument", "unknown member \"metric\"");
  ExpectError(Call("POST", "/v1/models/ranker/versions",
                   R"({"artifact_path":")" + artifact + R"(","metrics":{"auc":"high"}})"),
              400, "invalid_argument", "member \"metrics\": expected an object of numbers");
  ExpectError(Call("POST", "/v1/models/other/versions", R"({"artifact_path":")" + artifact + "\"}"),
              400, "invalid_argument", "member \"runtime\": required");
  ExpectError(Call("POST", "/v1/models/ranker/versions", "[1]"), 400, "invalid_argument",
              "expected a JSON object");
  EXPECT_EQ(instance_->registry()->ListVersions("ranker")->size(), 1u) << "refusals add nothing";
}

TEST_F(ApiTest, AliasesPromoteRollbackDeleteAndTagsOverHttp) {
  testing::WriteFile(dir_.File("holdout.csv"), "label\n1\n");
  auto version = [&](double w, double auc) {
    RegisterOptions options;
    options.metrics = {{"auc", auc}};
    options.lineage.holdout = dir_.File("holdout.csv");
    return RegisterRanker(w, w, 0, options).version;
  };
  version(1, 0.7);
  version(2, 0.8);
  version(3, 0.6);

  HttpResponse alias = Call("PUT", "/v1/models/ranker/aliases/challenger", R"({"version":3})");
  ASSERT_EQ(alias.status, 200) << alias.body;
  EXPECT_EQ(int64_t(Json(alias)["version"]), 3);
  EXPECT_EQ(int64_t(Json(alias)["previous"]), 0);
  ExpectError(Call("PUT", "/v1/models/ranker/aliases/challenger", "{}"), 400, "invalid_argument",
              "missing member \"version\"");
  ExpectError(Call("PUT", "/v1/models/ranker/aliases/challenger", R"({"version":9})"), 404,
              "not_found", "no version 9");

  HttpResponse worse = Call("POST", "/v1/models/ranker/promote", R"({"version":3,"metric":"auc"})");
  ExpectError(worse, 409, "failed_precondition", "auc 0.6 does not beat 0.7");
  HttpResponse promoted =
      Call("POST", "/v1/models/ranker/promote", R"({"version":2,"metric":"auc","by":"gus"})");
  ASSERT_EQ(promoted.status, 200) << promoted.body;
  EXPECT_EQ(std::string_view(Json(promoted)["reason"]), "auc 0.8 > 0.7 on the same holdout");
  EXPECT_EQ(int64_t(Json(promoted)["previous"]), 1);

  ExpectError(Call("DELETE", "/v1/models/ranker/versions/2"), 409, "failed_precondition",
              "alias \"champion\" points at it");
  HttpResponse rollback = Call("POST", "/v1/models/ranker/rollback", "");
  ASSERT_EQ(rollback.status, 200) << rollback.body;
  EXPECT_EQ(int64_t(Json(rollback)["version"]), 1);
  EXPECT_TRUE(bool(Json(rollback)["rollback"]));

  HttpResponse removed = Call("DELETE", "/v1/models/ranker/aliases/challenger");
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(int64_t(Json(removed)["version"]), 0);
  HttpResponse deleted = Call("DELETE", "/v1/models/ranker/versions/3");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(deleted.body, R"({"name":"ranker","version":3,"deleted":true})");
  ExpectError(Call("DELETE", "/v1/models/ranker/versions/x"), 400, "invalid_argument",
              "not a version number");

  HttpResponse tagged =
      Call("POST", "/v1/models/ranker/tags", R"({"version":2,"set":{"stage":"canary"}})");
  ASSERT_EQ(tagged.status, 200) << tagged.body;
  EXPECT_EQ(std::string_view(Json(tagged)["tags"]["stage"]), "canary");
  HttpResponse model_tag = Call("POST", "/v1/models/ranker/tags", R"({"set":{"team":"ads"}})");
  ASSERT_EQ(model_tag.status, 200) << model_tag.body;
  simdjson::dom::element model = Json(model_tag);
  EXPECT_EQ(std::string_view(model["tags"]["team"]), "ads");
  EXPECT_EQ(model["versions"].get_array().size(), 2u);
  EXPECT_EQ(model["alias_history"].get_array().size(), 5u);
  ExpectError(Call("POST", "/v1/models/ranker/tags", R"({"remove":["nope"]})"), 404, "not_found",
              "no tag \"nope\"");
}

TEST_F(ApiTest, AliasMoveToAVersionAnotherDeploymentCannotServeIsAConflict) {
  RegisterRanker(1, 1, 0);  // champion, serves `rank`
  const std::string artifact = dir_.File("three.json");
  testing::WriteFile(artifact, R"({"weights":[1,2,3]})");
  ASSERT_TRUE(instance_->registry()->Register("ranker", artifact, "linear").ok());
  HttpResponse res = Call("POST", "/v1/models/ranker/promote", R"({"version":2,"force":true})");
  ExpectError(res, 409, "failed_precondition",
              "deployment 'rank' (feature service 'scoring') cannot serve model \"ranker\" "
              "version 2: the model takes 3 features but the service has 2");
  EXPECT_EQ(instance_->registry()->Get("ranker")->aliases.at("champion"), 1);
}

TEST_F(ApiTest, ImportMlflowOverHttp) {
  const testing::PythonModels* models = testing::TrainedModels();
  ASSERT_NE(models, nullptr);
  const std::string dir = dir_.File("mlflow");
  std::filesystem::create_directories(dir + "/params");
  testing::WriteFile(dir + "/MLmodel",
                     "flavors:\n  xgboost: {data: model.xgb, model_format: xgb}\n");
  testing::WriteFile(dir + "/params/max_depth", "4\n");
  std::filesystem::copy_file(models->tree_legacy_binary, dir + "/model.xgb");
  HttpResponse res =
      Call("POST", "/v1/models/churn/import-mlflow", R"({"dir":")" + dir + R"(","by":"hal"})");
  ASSERT_EQ(res.status, 201) << res.body;
  simdjson::dom::element v = Json(res);
  EXPECT_EQ(std::string_view(v["runtime"]), "xgboost");
  EXPECT_EQ(std::string_view(v["params"]["max_depth"]), "4");
  EXPECT_EQ(std::string_view(v["lineage"]["created_by"]), "hal");
  ExpectError(Call("POST", "/v1/models/churn/import-mlflow", R"({"dir":")" + dir_.path() + "\"}"),
              400, "invalid_argument", "no MLmodel file");
}

TEST_F(ApiTest, LateEventsAreListedBySource) {
  Call("POST", "/v1/events/clicks", Click("u1", kT, 1));
  HttpResponse late = Call("POST", "/v1/events/clicks", Click("u1", kT - 2 * 24 * 60 * kMinute, 7));
  ASSERT_EQ(late.status, 200) << late.body;  // accepted into the log, then dead-lettered
  HttpResponse res = Call("GET", "/v1/late/clicks");
  ASSERT_EQ(res.status, 200) << res.body;
  simdjson::dom::element doc = Json(res);
  ASSERT_EQ(doc["late"].get_array().size(), 1u) << res.body;
  EXPECT_EQ(uint64_t(doc["late"].at(0)["offset"]), 1u);
  EXPECT_EQ(std::string_view(doc["late"].at(0)["record"]["user_id"]), "u1");
  EXPECT_DOUBLE_EQ(double(doc["late"].at(0)["record"]["amount"]), 7.0);
  ExpectError(Call("GET", "/v1/late/views"), 404, "not_found", "views");
}

TEST_F(ApiTest, HealthAndReadiness) {
  HttpResponse health = Call("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_TRUE(Json(health).is_object()) << health.body;
  HttpResponse metrics = Call("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("freshet_"), std::string::npos);
}

// The clicks source with one expectation per policy.
class ApiQualityTest : public ApiTest {
 protected:
  std::string Spec() const override {
    std::string spec = kSpec;
    const std::string fields = "fields: {user_id: string, ts_ms: int64, amount: double}\n";
    size_t at = spec.find(fields);
    spec.replace(at, fields.size(),
                 "fields: {user_id: string, ts_ms: int64, amount: double, channel: string}\n"
                 "    expectations:\n"
                 "      amount: {between: [0, 1000], policy: reject}\n"
                 "      user_id: {matches: \"^u[0-9]+$\", policy: quarantine}\n"
                 "      channel: {in: [web, app], policy: warn}\n");
    return spec;
  }

  uint64_t LogSize() { return *instance_->log()->NextOffset("clicks"); }
};

TEST_F(ApiQualityTest, RejectAnswers400NamingTheRecordAndStoresNothing) {
  std::string body = Click("u1", kT, 5) + "\n" + Click("u2", kT, -5) + "\n" + Click("u3", kT, 1);
  HttpResponse res = Call("POST", "/v1/events/clicks", body);
  ExpectError(res, 400, "invalid_argument",
              "line 2: field 'amount': expectation between [0, 1000]: got -5");
  simdjson::dom::element details = Json(res)["error"]["details"];
  EXPECT_EQ(uint64_t(details["line"]), 2u);
  EXPECT_EQ(std::string_view(details["field"]), "amount");
  EXPECT_EQ(std::string_view(details["expectation"]), "between");
  EXPECT_EQ(LogSize(), 0u);
  auto features = instance_->features()->Get({{"activity", "clicks_10m"}},
                                             {{"user_id", {Value::String("u1")}}});
  ASSERT_TRUE(features.ok()) << features.status().ToString();
  const Value& clicks = features->values[0][0];
  EXPECT_TRUE(clicks.is_null() || clicks == Value::Int(0)) << clicks.ToString();
  EXPECT_EQ(Json(Call("GET", "/v1/quarantine/clicks"))["quarantine"].get_array().size(), 0u);
  // The rejection is counted.
  HttpResponse quality = Call("GET", "/v1/quality");
  EXPECT_EQ(quality.body,
            R"({"violations":[{"source":"clicks","field":"amount","expectation":"between",)"
            R"("policy":"reject","count":1}],"total":1})");
}

TEST_F(ApiQualityTest, QuarantineKeepsTheRecordReadableAndAcceptsTheRest) {
  std::string body = "[" + Click("u1", kT, 5) + "," + Click("bob", kT, 6) + "]";
  HttpResponse res = Call("POST", "/v1/events/clicks", body);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.body,
            R"({"accepted":1,"first_offset":0,"duplicate":false,"quarantined":1,"warnings":0})");
  EXPECT_EQ(LogSize(), 1u);
  HttpResponse kept = Call("GET", "/v1/quarantine/clicks?limit=5");
  ASSERT_EQ(kept.status, 200) << kept.body;
  simdjson::dom::element first = Json(kept)["quarantine"].at(0);
  EXPECT_EQ(uint64_t(first["id"]), 0u);
  EXPECT_EQ(std::string_view(first["record"]["user_id"]), "bob");
  EXPECT_DOUBLE_EQ(double(first["record"]["amount"]), 6.0);
  EXPECT_EQ(std::string_view(first["violations"].at(0)),
            "field 'user_id': expectation matches '^u[0-9]+$': got \"bob\"");
  // A batch of only quarantined records appends nothing.
  HttpResponse all_bad = Call("POST", "/v1/events/clicks", Click("eve", kT, 1));
  EXPECT_EQ(all_bad.body,
            R"({"accepted":0,"first_offset":1,"duplicate":false,"quarantined":1,"warnings":0})");
  EXPECT_EQ(LogSize(), 1u);
  EXPECT_EQ(Json(Call("GET", "/v1/quarantine/clicks"))["quarantine"].get_array().size(), 2u);
  ExpectError(Call("GET", "/v1/quarantine/nope"), 404, "not_found", "nope");
}

TEST_F(ApiQualityTest, WarnAcceptsAndCountsInMetricsAndAcrossRestarts) {
  std::string body =
      R"({"user_id":"u1","ts_ms":)" + std::to_string(kT) + R"(,"amount":1,"channel":"tv"})";
  HttpResponse res = Call("POST", "/v1/events/clicks", body);
  EXPECT_EQ(res.body,
            R"({"accepted":1,"first_offset":0,"duplicate":false,"quarantined":0,"warnings":1})");
  EXPECT_EQ(LogSize(), 1u);
  HttpResponse metrics = Call("GET", "/metrics");
  EXPECT_NE(metrics.body.find("freshet_expectation_violations_total{source=\"clicks\","
                              "field=\"channel\",expectation=\"in\",policy=\"warn\"} 1"),
            std::string::npos)
      << metrics.body;
  instance_.reset();
  InstanceOptions options;
  options.project_dir = project_dir();
  options.data_dir = data_dir();
  auto reopened = Instance::Open(options);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->quarantine()->Counts().Count(
                {"clicks", "channel", ExpectationKind::kIn, ExpectationPolicy::kWarn}),
            1u);
}

// Open Inference Protocol (KServe v2): every endpoint's exact shape.
TEST_F(ApiTest, V2ServerMetadataAndHealth) {
  HttpResponse meta = Call("GET", "/v2");
  ASSERT_EQ(meta.status, 200);
  EXPECT_EQ(meta.body, R"({"name":"freshet","version":"0.1.0","extensions":[]})");
  for (const char* path : {"/v2/health/live", "/v2/health/ready"}) {
    HttpResponse res = Call("GET", path);
    EXPECT_EQ(res.status, 200) << path;
    EXPECT_EQ(res.body, "") << path;
  }
}

TEST_F(ApiTest, V2ModelMetadataAndReadiness) {
  EXPECT_EQ(Call("GET", "/v2/models/ranker/ready").status, 404);  // nothing registered
  ExpectV2Error(Call("GET", "/v2/models/ranker"), 404, "ranker");
  RegisterRanker(1, 10, 0.5);
  RegisterRanker(2, 20, 0.5);
  ASSERT_TRUE(instance_->registry()->SetAlias("ranker", "champion", 1).ok());
  HttpResponse res = Call("GET", "/v2/models/ranker");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.body, R"({"name":"ranker","versions":["1","2"],"platform":"linear",)"
                      R"("inputs":[{"name":"input__0","datatype":"FP32","shape":[-1,2]}],)"
                      R"("outputs":[{"name":"output__0","datatype":"FP32","shape":[-1,-1]}]})");
  EXPECT_EQ(Call("GET", "/v2/models/ranker/versions/2").status, 200);
  EXPECT_EQ(Call("GET", "/v2/models/ranker/ready").status, 200);
  EXPECT_EQ(Call("GET", "/v2/models/ranker/versions/2/ready").status, 200);
  EXPECT_EQ(Call("GET", "/v2/models/ranker/versions/3/ready").status, 404);
  EXPECT_EQ(Call("GET", "/v2/models/ranker/ready").body, "");
}

TEST_F(ApiTest, V2InferFlatAndNestedDataEachDatatype) {
  RegisterRanker(1, 10, 0.5);   // version 1: champion
  RegisterRanker(2, 20, 0.25);  // version 2
  HttpResponse res = Call("POST", "/v2/models/ranker/infer",
                          R"({"id":"r1","inputs":[{"name":"input__0","shape":[2,2],)"
                          R"("datatype":"FP32","data":[1,2,3,4]}]})");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.body, R"({"model_name":"ranker","model_version":"1","id":"r1","outputs":[{"name":)"
                      R"("output__0","shape":[2,1],"datatype":"FP32","data":[21.5,43.5]}]})");
  // Nested rows, FP64, an explicit version and requested outputs; no id: none echoed.
  res = Call("POST", "/v2/models/ranker/versions/2/infer",
             R"({"parameters":{},"inputs":[{"name":"input__0","shape":[1,2],"datatype":"FP64",)"
             R"("data":[[1.0,1.0]]}],"outputs":[{"name":"output__0"}]})");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.body,
            R"({"model_name":"ranker","model_version":"2","outputs":[{"name":"output__0",)"
            R"("shape":[1,1],"datatype":"FP32","data":[22.25]}]})");
  for (const char* input :
       {R"("datatype":"INT64","data":[1,1])", R"("datatype":"BOOL","data":[true,true])"}) {
    res = Call("POST", "/v2/models/ranker/infer",
               std::string(R"({"inputs":[{"name":"input__0","shape":[1,2],)") + input + "}]}");
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_DOUBLE_EQ(double(Json(res)["outputs"].at(0)["data"].at(0)), 11.5) << input;
  }
}

TEST_F(ApiTest, V2InferErrorsAreTheProtocolsShape) {
  RegisterRanker(1, 10, 0.5);
  auto infer = [this](const std::string& input) {
    return Call("POST", "/v2/models/ranker/infer", R"({"inputs":[)" + input + "]}");
  };
  ExpectV2Error(infer(R"({"name":"input__0","shape":[2,2],"datatype":"FP32","data":[1,2,3]})"), 400,
                "3 values, but shape [2, 2] needs 4");
  ExpectV2Error(infer(R"({"name":"input__0","shape":[1,3],"datatype":"FP32","data":[1,2,3]})"), 400,
                "3 features per row, but the model takes 2");
  ExpectV2Error(infer(R"({"name":"input__0","shape":[2],"datatype":"FP32","data":[1,2]})"), 400,
                "expected [rows, features]");
  ExpectV2Error(infer(R"({"name":"input__0","shape":[1,2],"datatype":"BYTES","data":["a","b"]})"),
                400, "unsupported 'BYTES'");
  ExpectV2Error(infer(R"({"name":"input__0","shape":[1,2],"datatype":"INT64","data":[1.5,2]})"),
                400, "INT64 expects integers");
  ExpectV2Error(infer(R"({"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]})"), 400,
                "unknown input 'x'");
  ExpectV2Error(Call("POST", "/v2/models/ranker/infer", "not json"), 400, "malformed JSON");
  ExpectV2Error(Call("POST", "/v2/models/nope/infer", R"({"inputs":[]})"), 404, "nope");
}

TEST_F(ApiTest, TableRowsAreUpsertedDeletedAndServedBesideStreamFeatures) {
  HttpResponse loaded =
      Call("POST", "/v1/tables/users", "user_id,plan,updated_at\nu1,free,1000\nu2,pro,1000\n",
           {{"Content-Type", "text/csv"}});
  ASSERT_EQ(loaded.status, 200) << loaded.body;
  EXPECT_EQ(loaded.body, R"({"source":"users","upserted":2})");
  HttpResponse json =
      Call("POST", "/v1/tables/users", R"({"user_id":"u1","plan":"team","updated_at":2000})");
  EXPECT_EQ(json.body, R"({"source":"users","upserted":1})");
  Call("POST", "/v1/events/clicks", Click("u1", kT - kMinute, 1));

  const std::string body = R"({"feature_service":"mixed","entities":{"user_id":["u1","u2","u3"]}})";
  HttpResponse res = Call("POST", "/v1/features", body);
  ASSERT_EQ(res.status, 200) << res.body;
  simdjson::dom::element doc = Json(res);
  EXPECT_EQ(int64_t(doc["rows"].at(0)["values"].at(0)), 1) << res.body;
  EXPECT_EQ(std::string_view(doc["rows"].at(0)["values"].at(1)), "team") << res.body;
  EXPECT_EQ(std::string_view(doc["rows"].at(1)["values"].at(1)), "pro") << res.body;
  EXPECT_EQ(std::string_view(doc["rows"].at(2)["statuses"].at(1)), "NOT_FOUND") << res.body;

  HttpResponse deleted = Call("DELETE", "/v1/tables/users?key=u2&ts=3000");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(deleted.body, R"({"source":"users","deleted":1})");
  HttpResponse after = Call("POST", "/v1/features", body);
  EXPECT_EQ(std::string_view(Json(after)["rows"].at(1)["statuses"].at(1)), "NOT_FOUND")
      << after.body;
  // As of before the delete, the row is still there.
  HttpResponse before = Call("POST", "/v1/features",
                             R"({"features":["profile:plan"],"entities":{"user_id":["u2"]},)"
                             R"("as_of":2500})");
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(std::string_view(Json(before)["rows"].at(0)["values"].at(0)), "pro") << before.body;
  HttpResponse by_body =
      Call("DELETE", "/v1/tables/users", R"({"user_id":"u1","updated_at":4000})");
  EXPECT_EQ(by_body.body, R"({"source":"users","deleted":1})");
}

TEST_F(ApiTest, TableRequestErrorsAreClear) {
  ExpectError(Call("POST", "/v1/tables/nope", "{}"), 404, "not_found", "unknown source 'nope'");
  ExpectError(Call("POST", "/v1/tables/clicks", Click("u1", kT, 1)), 400, "invalid_argument",
              "source 'clicks' is kind http, not table");
  ExpectError(Call("POST", "/v1/events/users", R"({"user_id":"u1","updated_at":1})"), 400,
              "invalid_argument", "source 'users' is kind table");
  ExpectError(Call("DELETE", "/v1/tables/nope?key=u1"), 404, "not_found", "nope");
  ExpectError(Call("DELETE", "/v1/tables/users"), 400, "invalid_argument", "'key'");
  ExpectError(Call("DELETE", "/v1/tables/users?key=u1&ts=later"), 400, "invalid_argument", "'ts'");
  // A bad row rejects the whole load, its position in the details; nothing is stored.
  HttpResponse bad = Call("POST", "/v1/tables/users",
                          "{\"user_id\":\"u1\",\"plan\":\"pro\",\"updated_at\":1}\n"
                          "{\"user_id\":\"u2\",\"plan\":3,\"updated_at\":1}\n");
  EXPECT_EQ(bad.status, 400);
  simdjson::dom::element details = Json(bad)["error"]["details"];
  EXPECT_EQ(int64_t(details["line"]), 2) << bad.body;
  EXPECT_EQ(std::string_view(details["field"]), "plan") << bad.body;
  auto stored = instance_->tables()->ReadLatest("users", "u1");
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value());
}

// Text deployments: a fastText classifier trained by the fasttext CLI, answering through
// /v1/predict and the Open Inference Protocol with the CLI's own labels and probabilities.
class ApiTextTest : public ApiTest {
 protected:
  std::string Spec() const override {
    return R"yaml(project: api_text_test
entities:
  user: {key: user_id}
sources:
  searches:
    kind: http
    timestamp: ts
    fields: {user_id: string, query: string, ts: int64}
    allowed_lateness: 1d
feature_views:
  search:
    entity: user
    source: searches
    features:
      n: {agg: count}
      last_query: {agg: last, of: query}
feature_services:
  of_request: {text: context.query}
  of_last_search: {text: search:last_query, features: [search:n]}
  plain: [search:n]
models:
  topics: {runtime: fasttext}
deployments:
  classify: {model: topics, features: of_request}
  classify_last: {model: topics, features: of_last_search}
  no_text: {model: topics, features: plain}
)yaml";
  }

  void SetUp() override {
    ApiTest::SetUp();
    model_ = testing::TrainedFasttextClassifier();
    ASSERT_NE(model_, nullptr);
    ASSERT_TRUE(instance_->registry()->Register("topics", model_->path, "fasttext").ok());
  }

  // Each prediction of a /v1/predict response equals the CLI's labels for `texts`.
  void ExpectCliLabels(const HttpResponse& res, const std::vector<std::string>& texts, int k) {
    ASSERT_EQ(res.status, 200) << res.body;
    std::vector<std::vector<TextLabel>> cli = testing::FasttextPredictProb(*model_, texts, k);
    ASSERT_EQ(cli.size(), texts.size());
    simdjson::dom::array predictions = Json(res)["predictions"];
    ASSERT_EQ(predictions.size(), texts.size()) << res.body;
    for (size_t r = 0; r < texts.size(); ++r) {
      simdjson::dom::array labels = predictions.at(r)["labels"];
      simdjson::dom::array probabilities = predictions.at(r)["probabilities"];
      ASSERT_EQ(labels.size(), cli[r].size()) << texts[r];
      ASSERT_EQ(probabilities.size(), cli[r].size()) << texts[r];
      for (size_t i = 0; i < cli[r].size(); ++i) {
        EXPECT_EQ(std::string_view(labels.at(i)), cli[r][i].label) << texts[r];
        // The CLI prints six significant digits.
        EXPECT_NEAR(double(probabilities.at(i)), cli[r][i].probability, 1e-5) << texts[r];
      }
    }
  }

  void Search(const std::string& user, const std::string& query, int64_t ts) {
    HttpResponse res = Call("POST", "/v1/events/searches",
                            R"({"user_id":")" + user + R"(","query":")" + query + R"(","ts":)" +
                                std::to_string(ts) + "}");
    ASSERT_EQ(res.status, 200) << res.body;
  }

  const testing::FasttextClassifier* model_ = nullptr;
};

TEST_F(ApiTextTest, PredictGivesTheCliLabelsAndProbabilitiesOfTheContextText) {
  const std::vector<std::string> texts = {"goal striker match", "recipe oven sugar",
                                          "kernel compiler today"};
  HttpResponse res = Call("POST", "/v1/predict/classify",
                          R"({"entities":{"user_id":["u1","u2","u3"]},"context":{"query":[)"
                          R"("goal striker match","recipe oven sugar","kernel compiler today"]},)"
                          R"("k":2})");
  ExpectCliLabels(res, texts, 2);
  EXPECT_EQ(std::string_view(Json(res)["model"]["name"]), "topics");
  // Without k: the top label; one context value applies to every row.
  res = Call("POST", "/v1/predict/classify",
             R"({"entities":{"user_id":["u1","u2"]},"context":{"query":"bake flour"}})");
  ExpectCliLabels(res, {"bake flour", "bake flour"}, 1);
}

TEST_F(ApiTextTest, PredictReadsTheTextFromTheEntitysLatestEvent) {
  Search("u1", "goal referee", kT - 2 * kMinute);
  Search("u1", "cache server thread", kT - kMinute);
  HttpResponse res =
      Call("POST", "/v1/predict/classify_last", R"({"entities":{"user_id":["u1"]},"k":3})");
  ExpectCliLabels(res, {"cache server thread"}, 3);
  // The request's context replaces the stored text, as for any feature of the service.
  res = Call("POST", "/v1/predict/classify_last",
             R"({"entities":{"user_id":["u1"]},"context":{"last_query":"goal referee"}})");
  ExpectCliLabels(res, {"goal referee"}, 1);
  // An entity without searches has no text.
  ExpectError(Call("POST", "/v1/predict/classify_last", R"({"entities":{"user_id":["u9"]}})"), 400,
              "invalid_argument",
              "text (search:last_query), row 0: expected a string, got no value");
}

TEST_F(ApiTextTest, BadTextInputIsA400NamingIt) {
  ExpectError(Call("POST", "/v1/predict/classify", R"({"entities":{"user_id":["u1"]}})"), 400,
              "invalid_argument", "text (context.query), row 0: the request has no context.query");
  ExpectError(Call("POST", "/v1/predict/classify",
                   R"({"entities":{"user_id":["u1"]},"context":{"query":5}})"),
              400, "invalid_argument", "text (context.query), row 0: expected a string, got 5");
  ExpectError(Call("POST", "/v1/predict/classify",
                   R"({"entities":{"user_id":["u1"]},"context":{"query":"a"},"k":0})"),
              400, "invalid_argument", "k: expected an integer from 1 to 1000");
  ExpectError(Call("POST", "/v1/predict/classify",
                   R"({"entities":{"user_id":["u1"]},"context":{"query":["a","b"]}})"),
              400, "invalid_argument", "context.query: 2 values for 1 entity rows");
}

TEST_F(ApiTextTest, AFasttextModelOnAServiceWithoutTextIsRefused) {
  ExpectError(Call("POST", "/v1/predict/no_text", R"({"entities":{"user_id":["u1"]}})"), 409,
              "failed_precondition",
              "takes text, but feature service 'plain' declares no text input");
  auto version = instance_->registry()->Resolve("topics", "champion");
  ASSERT_TRUE(version.ok());
  Status st =
      CheckSignature(instance_->spec(), instance_->spec().deployments.at("no_text"), *version);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("deployment 'no_text' (feature service 'plain') cannot serve model "
                              "\"topics\" version 1: the model (runtime fasttext) takes text"),
            std::string::npos)
      << st.ToString();
  EXPECT_TRUE(
      CheckSignature(instance_->spec(), instance_->spec().deployments.at("classify"), *version)
          .ok());
}

TEST_F(ApiTextTest, V2InferOnTextsGivesLabelsAndProbabilities) {
  HttpResponse meta = Call("GET", "/v2/models/topics");
  ASSERT_EQ(meta.status, 200) << meta.body;
  EXPECT_NE(meta.body.find(R"("inputs":[{"name":"text","datatype":"BYTES","shape":[-1]}])"),
            std::string::npos)
      << meta.body;
  const std::vector<std::string> texts = {"striker league", "spice oven"};
  HttpResponse res =
      Call("POST", "/v2/models/topics/infer",
           R"({"id":"t1","parameters":{"k":2},"inputs":[{"name":"text",)"
           R"("datatype":"BYTES","shape":[2],"data":["striker league","spice oven"]}]})");
  ASSERT_EQ(res.status, 200) << res.body;
  std::vector<std::vector<TextLabel>> cli = testing::FasttextPredictProb(*model_, texts, 2);
  ASSERT_EQ(cli.size(), 2u);
  simdjson::dom::array outputs = Json(res)["outputs"];
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(std::string_view(outputs.at(0)["name"]), "labels");
  EXPECT_EQ(std::string_view(outputs.at(1)["name"]), "probabilities");
  simdjson::dom::array labels = outputs.at(0)["data"], probabilities = outputs.at(1)["data"];
  ASSERT_EQ(labels.size(), 4u);
  for (size_t r = 0; r < 2; ++r) {
    ASSERT_EQ(cli[r].size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(std::string_view(labels.at(r * 2 + i)), cli[r][i].label);
      EXPECT_NEAR(double(probabilities.at(r * 2 + i)), cli[r][i].probability, 1e-5);
    }
  }
  auto infer = [this](const std::string& input) {
    return Call("POST", "/v2/models/topics/infer", R"({"inputs":[)" + input + "]}");
  };
  ExpectV2Error(infer(R"({"name":"text","shape":[1],"datatype":"FP32","data":[1]})"), 400,
                "unsupported 'FP32' (a text model takes BYTES)");
  ExpectV2Error(infer(R"({"name":"text","shape":[2],"datatype":"BYTES","data":["a"]})"), 400,
                "1 texts, but the shape has 2 rows");
  ExpectV2Error(infer(R"({"name":"text","shape":[1],"datatype":"BYTES","data":[3]})"), 400,
                "BYTES expects strings");
  ExpectV2Error(infer(R"({"name":"input__0","shape":[1],"datatype":"BYTES","data":["a"]})"), 400,
                "the model's input is 'text'");
}

TEST_F(ApiTextTest, ScoreTextsLabelsATextWithoutAFeatureRead) {
  auto p = instance_->predictor()->ScoreTexts("classify", {"match goal"}, 2);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  std::vector<std::vector<TextLabel>> cli =
      testing::FasttextPredictProb(*model_, {"match goal"}, 2);
  ASSERT_EQ(p->labels.size(), 1u);
  ASSERT_EQ(cli.size(), 1u);
  ASSERT_EQ(p->labels[0].size(), cli[0].size());
  EXPECT_EQ(p->labels[0][0].label, cli[0][0].label);
  EXPECT_NEAR(p->labels[0][0].probability, cli[0][0].probability, 1e-5);
  EXPECT_EQ(p->version, 1);
}

// Sends job `id` of queue "predict/m" to the dead letter: received and nacked max_attempts times.
void KillJob(Instance* instance, ManualClock* clock, const std::string& id) {
  JobQueue* queue = instance->queue();
  ASSERT_TRUE(queue->Enqueue(JobSpec{id, "predict/m", "", "{\"user\":\"" + id + "\"}", 0}).ok());
  for (int attempt = 0; attempt < QueueOptions().max_attempts; ++attempt) {
    std::vector<Job> jobs;
    ASSERT_TRUE(queue->Receive("predict/m", 1, 0, &jobs).ok());
    ASSERT_EQ(jobs.size(), 1u);
    ASSERT_TRUE(queue->Nack(id, jobs[0].lease, "model failed").ok());
    clock->Advance(QueueOptions().backoff_max_ms);
  }
}

TEST_F(ApiTest, QueueStatsAndDeadLetterListReplayPurge) {
  KillJob(instance_.get(), &clock_, "j1");
  KillJob(instance_.get(), &clock_, "j2");
  ASSERT_TRUE(instance_->queue()->Enqueue(JobSpec{"j3", "deliver/m/0", "", "x", 0}).ok());

  HttpResponse stats = Call("GET", "/v1/queue");
  ASSERT_EQ(stats.status, 200) << stats.body;
  simdjson::dom::element doc = Json(stats);
  EXPECT_EQ(uint64_t(doc["held"]), 1u);
  EXPECT_EQ(uint64_t(doc["capacity"]), QueueOptions().max_jobs);
  EXPECT_EQ(std::string_view(doc["queues"].at(0)["queue"]), "deliver/m/0");
  EXPECT_EQ(uint64_t(doc["queues"].at(0)["ready"]), 1u);
  EXPECT_EQ(std::string_view(doc["queues"].at(1)["queue"]), "predict/m");
  EXPECT_EQ(uint64_t(doc["queues"].at(1)["dead"]), 2u);
  EXPECT_EQ(uint64_t(doc["queues"].at(1)["dead_lettered"]), 2u);
  EXPECT_EQ(uint64_t(doc["queues"].at(1)["retries"]), 8u);

  HttpResponse dead = Call("GET", "/v1/queue/dead?queue=predict/m&limit=1");
  ASSERT_EQ(dead.status, 200) << dead.body;
  simdjson::dom::element first = Json(dead)["dead"].at(0);
  EXPECT_EQ(std::string_view(first["id"]), "j1");
  EXPECT_EQ(std::string_view(first["payload"]), R"({"user":"j1"})");
  EXPECT_EQ(std::string_view(first["last_error"]), "model failed");
  EXPECT_EQ(int64_t(first["receive_count"]), 5);
  EXPECT_EQ(Json(dead)["dead"].get_array().size(), 1u);
  EXPECT_EQ(Json(Call("GET", "/v1/queue/dead"))["dead"].get_array().size(), 2u);

  ExpectError(Call("GET", "/v1/queue/dead?limit=0"), 400, "invalid_argument", "limit");
  ExpectError(Call("POST", "/v1/queue/dead/replay", R"({"queue":7})"), 400, "invalid_argument",
              "member \"queue\": expected a string");
  ExpectError(Call("POST", "/v1/queue/dead/replay", R"({"job":"j1"})"), 400, "invalid_argument",
              "member \"job\": unknown");
  ExpectError(Call("POST", "/v1/queue/dead/replay", "[1]"), 400, "invalid_argument", "body");
  ExpectError(Call("POST", "/v1/queue/dead/replay", R"({"id":"nope"})"), 404, "not_found",
              "no dead job 'nope'");
  ExpectError(Call("DELETE", "/v1/queue/dead"), 400, "invalid_argument", "'queue' is required");

  HttpResponse replayed = Call("POST", "/v1/queue/dead/replay", R"({"id":"j2"})");
  ASSERT_EQ(replayed.status, 200) << replayed.body;
  EXPECT_EQ(replayed.body, R"({"replayed":1})");
  std::vector<Job> jobs;
  ASSERT_TRUE(instance_->queue()->Receive("predict/m", 5, 0, &jobs).ok());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, "j2");

  EXPECT_EQ(Call("DELETE", "/v1/queue/dead?queue=predict/m").body, R"({"purged":1})");
  EXPECT_EQ(Call("GET", "/v1/queue/dead").body, R"({"dead":[]})");
}

}  // namespace
}  // namespace freshet
