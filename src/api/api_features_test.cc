// The feature routes in process (POST /get-online-features in Feast's shape, POST /v1/features
// in freshet's): per-value statuses and event timestamps, entities of several key fields, and
// the 400s for missing or mistyped keys. A real Instance (RocksDB in a temporary directory, a
// manual clock) behind a Router with every route registered; no sockets.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "api/api.h"
#include "core/time_util.h"
#include "models/models_test_util.h"

namespace freshet {
namespace {

constexpr int64_t kT = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kMinute = 60'000;

// `device` has two key fields; `account` an int64 one. `activity` has a 1h TTL.
constexpr const char* kSpec = R"yaml(project: api_features_test
entities:
  user: {key: user_id}
  device: {keys: [user_id, device_id]}
  account: {key: account_id}
sources:
  clicks:
    kind: http
    timestamp: ts_ms
    fields: {user_id: string, device_id: int64, account_id: int64, ts_ms: int64, amount: double}
    allowed_lateness: 1d
feature_views:
  activity:
    entity: user
    source: clicks
    ttl: 1h
    features:
      clicks_10m: {agg: count, window: 10m}
      mean_amount_10m: {agg: mean, of: amount, window: 10m}
  per_device:
    entity: device
    source: clicks
    features:
      clicks: {agg: count}
  per_account:
    entity: account
    source: clicks
    features:
      amount: {agg: sum, of: amount}
feature_services:
  scoring: [activity:clicks_10m, activity:mean_amount_10m]
)yaml";

class ApiFeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string project = dir_.File("project");
    std::filesystem::create_directories(project);
    std::ofstream(project + "/freshet.yaml") << kSpec;
    InstanceOptions options;
    options.project_dir = project;
    options.data_dir = dir_.File("data");
    options.clock = &clock_;
    auto instance = Instance::Open(options);
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    instance_ = std::move(*instance);
    ASSERT_TRUE(RegisterApi(&router_, instance_.get()).ok());
    // fresh: a click 2 min ago with an amount; quiet: one 20 min ago (in the TTL, out of the
    // 10 min window); stale: 3 h ago (past the TTL). Devices 1 (two clicks) and 2 of u1.
    ASSERT_EQ(Post("/v1/events/clicks", Click("fresh", 1, 7, kT - 2 * kMinute, "4") +
                                            Click("quiet", 1, 7, kT - 20 * kMinute, "null") +
                                            Click("stale", 1, 7, kT - 180 * kMinute, "1") +
                                            Click("u1", 1, 8, kT - 5 * kMinute, "1") +
                                            Click("u1", 1, 8, kT - 4 * kMinute, "2") +
                                            Click("u1", 2, 8, kT - 3 * kMinute, "3"))
                  .status,
              200);
  }

  static std::string Click(const std::string& user, int64_t device, int64_t account, int64_t ts,
                           const std::string& amount) {
    return R"({"user_id":")" + user + R"(","device_id":)" + std::to_string(device) +
           R"(,"account_id":)" + std::to_string(account) + R"(,"ts_ms":)" + std::to_string(ts) +
           R"(,"amount":)" + amount + "}\n";
  }

  // Routes a POST like the server does and runs the handler.
  HttpResponse Post(const std::string& path, const std::string& body) {
    HttpRequest req;
    req.method = "POST";
    req.target = req.path = path;
    req.body = body;
    HttpResponse res;
    auto match = router_.Match("POST", path);
    if (!match.ok() || match->route == nullptr) {
      ADD_FAILURE() << "no route for POST " << path;
      res.status = 404;
      return res;
    }
    req.path_params = match->path_params;
    match->route->handler(req, &res);
    return res;
  }

  simdjson::dom::element Json(const HttpResponse& res) {
    simdjson::dom::element doc;
    EXPECT_FALSE(parser_.parse(res.body).get(doc)) << "not JSON: " << res.body;
    return doc;
  }

  static std::vector<std::string> Strings(simdjson::dom::element array) {
    std::vector<std::string> out;
    for (simdjson::dom::element e : array.get_array()) out.emplace_back(std::string_view(e));
    return out;
  }

  // A 400 whose message contains `part`, on both feature routes.
  void ExpectBadRequest(const std::string& body, std::string_view part) {
    for (const char* path : {"/get-online-features", "/v1/features"}) {
      HttpResponse res = Post(path, body);
      EXPECT_EQ(res.status, 400) << path << " " << body << " -> " << res.body;
      std::string_view message;
      ASSERT_FALSE(Json(res)["error"]["message"].get(message)) << res.body;
      EXPECT_NE(message.find(part), std::string_view::npos) << path << ": " << message;
    }
  }

  testing::ScopedTempDir dir_{"api_features_test"};
  ManualClock clock_{kT};
  std::unique_ptr<Instance> instance_;
  Router router_;
  simdjson::dom::parser parser_;
};

const std::vector<std::string> kStatusesOfCount = {"PRESENT", "PRESENT", "OUTSIDE_MAX_AGE",
                                                   "NOT_FOUND"};
const std::vector<std::string> kStatusesOfMean = {"PRESENT", "NULL_VALUE", "OUTSIDE_MAX_AGE",
                                                  "NOT_FOUND"};

TEST_F(ApiFeaturesTest, FeastAnswersEveryStatusAndEventTimestampPerValue) {
  HttpResponse res = Post(
      "/get-online-features",
      R"({"feature_service":"scoring","entities":{"user_id":["fresh","quiet","stale","nobody"]}})");
  ASSERT_EQ(res.status, 200) << res.body;
  simdjson::dom::element doc = Json(res);
  EXPECT_EQ(Strings(doc["metadata"]["feature_names"]),
            (std::vector<std::string>{"user_id", "clicks_10m", "mean_amount_10m"}));
  simdjson::dom::element key = doc["results"].at(0);
  EXPECT_EQ(Strings(key["values"]),
            (std::vector<std::string>{"fresh", "quiet", "stale", "nobody"}));
  EXPECT_EQ(Strings(key["statuses"]), std::vector<std::string>(4, "PRESENT"));
  simdjson::dom::element count = doc["results"].at(1);
  simdjson::dom::element mean = doc["results"].at(2);
  EXPECT_EQ(Strings(count["statuses"]), kStatusesOfCount);
  EXPECT_EQ(Strings(mean["statuses"]), kStatusesOfMean);
  EXPECT_EQ(int64_t(count["values"].at(0)), 1);
  EXPECT_EQ(int64_t(count["values"].at(1)), 0);
  EXPECT_TRUE(count["values"].at(2).is_null());
  EXPECT_DOUBLE_EQ(double(mean["values"].at(0)), 4.0);
  EXPECT_TRUE(mean["values"].at(1).is_null());
  // The entity's newest event time, whatever the value's status; the epoch when not found.
  const std::vector<std::string> times = {FormatRfc3339Ms(kT - 2 * kMinute),
                                          FormatRfc3339Ms(kT - 20 * kMinute),
                                          FormatRfc3339Ms(kT - 180 * kMinute), FormatRfc3339Ms(0)};
  EXPECT_EQ(Strings(count["event_timestamps"]), times);
  EXPECT_EQ(Strings(mean["event_timestamps"]), times);
}

TEST_F(ApiFeaturesTest, OwnShapeAnswersTheSameStatusesRowByRow) {
  HttpResponse res =
      Post("/v1/features", R"({"features":["activity:clicks_10m","activity:mean_amount_10m"],)"
                           R"("entities":{"user_id":["fresh","quiet","stale","nobody"]}})");
  ASSERT_EQ(res.status, 200) << res.body;
  simdjson::dom::element doc = Json(res);
  const std::vector<int64_t> times = {kT - 2 * kMinute, kT - 20 * kMinute, kT - 180 * kMinute, 0};
  for (size_t r = 0; r < 4; ++r) {
    simdjson::dom::element row = doc["rows"].at(r);
    EXPECT_EQ(Strings(row["statuses"]),
              (std::vector<std::string>{kStatusesOfCount[r], kStatusesOfMean[r]}))
        << "row " << r;
    EXPECT_EQ(int64_t(row["event_timestamps"].at(0)), times[r]);
    EXPECT_EQ(int64_t(row["event_timestamps"].at(1)), times[r]);
  }
  EXPECT_EQ(std::string_view(doc["rows"].at(1)["entity"]["user_id"]), "quiet");
}

TEST_F(ApiFeaturesTest, FullFeatureNamesWithAFeatureService) {
  HttpResponse res = Post("/get-online-features",
                          R"({"feature_service":"scoring","entities":{"user_id":["fresh"]},)"
                          R"("full_feature_names":true})");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(
      Strings(Json(res)["metadata"]["feature_names"]),
      (std::vector<std::string>{"user_id", "activity__clicks_10m", "activity__mean_amount_10m"}));
}

TEST_F(ApiFeaturesTest, EntitiesOfSeveralKeyFieldsOnBothRoutes) {
  // Keys in the request's order (device_id first), both echoed before the features.
  const std::string body = R"({"features":["per_device:clicks"],)"
                           R"("entities":{"device_id":[1,2,3],"user_id":["u1","u1","u1"]}})";
  HttpResponse feast = Post("/get-online-features", body);
  ASSERT_EQ(feast.status, 200) << feast.body;
  simdjson::dom::element doc = Json(feast);
  EXPECT_EQ(Strings(doc["metadata"]["feature_names"]),
            (std::vector<std::string>{"device_id", "user_id", "clicks"}));
  EXPECT_EQ(int64_t(doc["results"].at(0)["values"].at(1)), 2);
  simdjson::dom::element clicks = doc["results"].at(2);
  EXPECT_EQ(int64_t(clicks["values"].at(0)), 2);
  EXPECT_EQ(int64_t(clicks["values"].at(1)), 1);
  EXPECT_EQ(Strings(clicks["statuses"]),
            (std::vector<std::string>{"PRESENT", "PRESENT", "NOT_FOUND"}));

  HttpResponse own = Post("/v1/features", body);
  ASSERT_EQ(own.status, 200) << own.body;
  simdjson::dom::element row = Json(own)["rows"].at(1);
  EXPECT_EQ(int64_t(row["entity"]["device_id"]), 2);
  EXPECT_EQ(std::string_view(row["entity"]["user_id"]), "u1");
  EXPECT_EQ(int64_t(row["values"].at(0)), 1);
  EXPECT_EQ(int64_t(row["event_timestamps"].at(0)), kT - 3 * kMinute);
}

TEST_F(ApiFeaturesTest, AnIntegralNumberReadsAnInt64Key) {
  HttpResponse res = Post("/get-online-features",
                          R"({"features":["per_account:amount"],"entities":{"account_id":[8.0]}})");
  ASSERT_EQ(res.status, 200) << res.body;
  simdjson::dom::element amount = Json(res)["results"].at(1);
  EXPECT_DOUBLE_EQ(double(amount["values"].at(0)), 6.0);
  EXPECT_EQ(std::string_view(amount["statuses"].at(0)), "PRESENT");
}

TEST_F(ApiFeaturesTest, MissingOrMistypedKeysAre400sNamingTheKeyAndRow) {
  ExpectBadRequest(R"({"features":["per_device:clicks"],"entities":{"user_id":["u1"]}})",
                   "missing key 'device_id'");
  ExpectBadRequest(R"({"feature_service":"scoring","entities":{"user_id":["u1",null]}})",
                   "entities.user_id[1]: null key value");
  // A string key given a bool, a number or an object.
  ExpectBadRequest(R"({"feature_service":"scoring","entities":{"user_id":["u1",true]}})",
                   "entities.user_id[1]: expected a string");
  ExpectBadRequest(R"({"feature_service":"scoring","entities":{"user_id":[7]}})",
                   "entities.user_id[0]: expected a string");
  ExpectBadRequest(R"({"feature_service":"scoring","entities":{"user_id":["u1","u2",{"a":1}]}})",
                   "entities.user_id[2]");
  // An int64 key given a fractional number, a string or a bool.
  ExpectBadRequest(R"({"features":["per_device:clicks"],)"
                   R"("entities":{"user_id":["u1","u1"],"device_id":[1,1.5]}})",
                   "entities.device_id[1]: expected an integer");
  ExpectBadRequest(R"({"features":["per_account:amount"],"entities":{"account_id":["8"]}})",
                   "entities.account_id[0]: expected an integer");
  ExpectBadRequest(R"({"features":["per_account:amount"],"entities":{"account_id":[false]}})",
                   "entities.account_id[0]: expected an integer");
  // Columns of different lengths: a row misses a key.
  ExpectBadRequest(
      R"({"features":["per_device:clicks"],"entities":{"user_id":["u1","u1"],"device_id":[1]}})",
      "entities.device_id: 1 values");
}

}  // namespace
}  // namespace freshet
