#include "spec/spec_loader.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "spec/spec_test_data.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A fresh directory under /tmp, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            fmt::format("freshet_spec_test_{}_{}", getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
  }

 private:
  fs::path path_;
};

class GoodSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write("freshet.yaml", kGoodSpec);
    Result<ProjectSpec> spec = LoadProject(dir_.path().string());
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(spec).value();
  }

  const FeatureSpec& Feature(const std::string& name) const {
    const FeatureSpec* f = spec_.feature_views.at("user_activity").Find(name);
    EXPECT_NE(f, nullptr) << name;
    return *f;
  }

  TempDir dir_;
  ProjectSpec spec_;
};

TEST_F(GoodSpecTest, ProjectAndPaths) {
  EXPECT_EQ(spec_.project, "meditation");
  EXPECT_EQ(spec_.dir, dir_.path().string());
  EXPECT_EQ(spec_.spec_path, (dir_.path() / "freshet.yaml").string());
}

TEST_F(GoodSpecTest, Entities) {
  ASSERT_EQ(spec_.entities.size(), 2u);
  const EntitySpec& user = spec_.entities.at("user");
  EXPECT_EQ(user.keys, std::vector<std::string>{"user_id"});
  EXPECT_EQ(user.line, 3);
  EXPECT_EQ(spec_.entities.at("pair").keys, (std::vector<std::string>{"user_id", "category"}));
  EXPECT_EQ(spec_.entities.at("pair").line, 4);
}

TEST_F(GoodSpecTest, HttpSourceAppendsTimestampField) {
  const SourceSpec& s = spec_.sources.at("app_events");
  EXPECT_EQ(s.kind, SourceKind::kHttp);
  EXPECT_EQ(s.timestamp_field, "ts_ms");
  EXPECT_EQ(s.allowed_lateness_ms, 600'000);
  EXPECT_EQ(s.line, 6);
  ASSERT_EQ(s.fields.size(), 6u);
  EXPECT_EQ(s.fields[0].name, "user_id");
  EXPECT_EQ(s.fields[3].name, "duration_s");
  EXPECT_EQ(s.fields[3].type, FieldType::kDouble);
  EXPECT_EQ(s.fields[4].type, FieldType::kInt64);
  EXPECT_EQ(s.fields[3].line, 9);
  EXPECT_EQ(s.fields[5].name, "ts_ms");
  EXPECT_EQ(s.fields[5].type, FieldType::kTimestamp);
  EXPECT_EQ(s.fields[5].line, 8);
  EXPECT_EQ(s.FieldIndex("category"), 2);
  EXPECT_EQ(s.FieldIndex("nope"), -1);
}

TEST_F(GoodSpecTest, FileSourcePathIsResolvedAgainstProjectDir) {
  const SourceSpec& s = spec_.sources.at("replay");
  EXPECT_EQ(s.kind, SourceKind::kFile);
  EXPECT_EQ(s.path, (dir_.path() / "events.csv").string());
  EXPECT_EQ(s.format, "csv");
  ASSERT_EQ(s.fields.size(), 2u);  // the declared timestamp field is not appended again
  EXPECT_EQ(s.fields[1].type, FieldType::kTimestamp);
}

TEST_F(GoodSpecTest, KafkaSource) {
  const SourceSpec& s = spec_.sources.at("clicks");
  EXPECT_EQ(s.kind, SourceKind::kKafka);
  EXPECT_EQ(s.topic, "clicks");
  EXPECT_EQ(s.brokers, "localhost:9092");
  EXPECT_EQ(s.group, "freshet");
  EXPECT_EQ(s.allowed_lateness_ms, 0);
  EXPECT_EQ(s.retention_ms, 0);  // keep everything
}

TEST_F(GoodSpecTest, FeatureView) {
  const FeatureViewSpec& v = spec_.feature_views.at("user_activity");
  EXPECT_EQ(v.entity, "user");
  EXPECT_EQ(v.source, "app_events");
  EXPECT_EQ(v.ttl_ms, 7 * 86'400'000LL);
  EXPECT_EQ(v.line, 25);
  ASSERT_EQ(v.features.size(), 13u);
  EXPECT_EQ(v.features[0].name, "events_10m");  // declaration order is kept
  EXPECT_EQ(v.features[12].name, "per_sec");
  EXPECT_EQ(v.Find("nope"), nullptr);
}

TEST_F(GoodSpecTest, WindowKinds) {
  const FeatureSpec& sliding = Feature("events_10m");
  EXPECT_EQ(sliding.agg, AggKind::kCount);
  EXPECT_EQ(sliding.window, WindowKind::kSliding);
  EXPECT_EQ(sliding.window_ms, 600'000);
  EXPECT_EQ(sliding.line, 30);

  const FeatureSpec& hopping = Feature("mean_len_1d");
  EXPECT_EQ(hopping.window, WindowKind::kHopping);
  EXPECT_EQ(hopping.window_ms, 86'400'000);
  EXPECT_EQ(hopping.hop_ms, 3'600'000);
  EXPECT_EQ(hopping.line, 33);

  EXPECT_EQ(Feature("day_count").window, WindowKind::kTumbling);

  const FeatureSpec& session = Feature("session_starts");
  EXPECT_EQ(session.window, WindowKind::kSession);
  EXPECT_EQ(session.session_gap_ms, 1'800'000);
  EXPECT_EQ(session.where, "event = 'start'");

  EXPECT_EQ(Feature("last_category").window, WindowKind::kLifetime);
}

TEST_F(GoodSpecTest, AggregationsAndOptions) {
  EXPECT_EQ(Feature("sleep_exits_10m").where, "event = 'exit' and category = 'sleep'");
  EXPECT_EQ(Feature("listen_s_1h").agg, AggKind::kSum);
  EXPECT_EQ(Feature("listen_s_1h").of, "duration_s");
  EXPECT_TRUE(Feature("categories_1h").approx);
  EXPECT_EQ(Feature("categories_1h").agg, AggKind::kDistinctCount);
  EXPECT_EQ(Feature("recent").agg, AggKind::kLastN);
  EXPECT_EQ(Feature("recent").n, 5);
  EXPECT_EQ(Feature("top_cats").agg, AggKind::kTopK);
  EXPECT_EQ(Feature("top_cats").n, 3);
  EXPECT_EQ(Feature("spread").agg, AggKind::kVariance);  // "var" is an alias
  EXPECT_EQ(Feature("per_sec").agg, AggKind::kRate);
  EXPECT_TRUE(Feature("per_sec").of.empty());
}

TEST_F(GoodSpecTest, DerivedFeatureKeepsExpressionText) {
  const FeatureSpec& f = Feature("sleep_bounce");
  EXPECT_FALSE(f.agg.has_value());
  EXPECT_EQ(f.expr, "sleep_exits_10m / nullif(events_10m, 0)");
  EXPECT_EQ(f.line, 37);
}

TEST_F(GoodSpecTest, ServicesModelsDeployments) {
  const FeatureServiceSpec& rec = spec_.feature_services.at("recommender");
  ASSERT_EQ(rec.features.size(), 2u);
  EXPECT_EQ(rec.features[1].view, "user_activity");
  EXPECT_EQ(rec.features[1].feature, "sleep_exits_10m");
  EXPECT_EQ(rec.line, 44);
  const FeatureServiceSpec& ranker = spec_.feature_services.at("ranker");
  ASSERT_EQ(ranker.features.size(), 1u);
  EXPECT_EQ(ranker.features[0].ToString(), "user_activity:listen_s_1h");

  EXPECT_EQ(spec_.models.at("next_content").runtime, "xgboost");
  EXPECT_EQ(spec_.models.at("next_content").line, 49);

  const DeploymentSpec& recommend = spec_.deployments.at("recommend");
  EXPECT_EQ(recommend.model, "next_content");
  EXPECT_EQ(recommend.feature_service, "recommender");
  EXPECT_EQ(recommend.alias, "champion");
  EXPECT_EQ(recommend.line, 51);
  EXPECT_EQ(spec_.deployments.at("rank").alias, "challenger");
}

TEST(LoadProjectTest, MissingSpecFile) {
  TempDir dir;
  Result<ProjectSpec> spec = LoadProject(dir.path().string());
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(), "no freshet.yaml in " + dir.path().string());
}

TEST(LoadProjectTest, ErrorsNameTheFileAsGiven) {
  TempDir dir;
  dir.Write("freshet.yaml", "project: p\nentities:\n  user: {kye: id}\n");
  Result<ProjectSpec> spec = LoadProject(dir.path().string());
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(),
              StartsWith((dir.path() / "freshet.yaml").string() + ":3: entities.user.kye: "));
}

TEST(ParseFeatureRefTest, SplitsViewAndFeature) {
  Result<FeatureRef> ref = ParseFeatureRef("user_activity:events_10m");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->view, "user_activity");
  EXPECT_EQ(ref->feature, "events_10m");
  EXPECT_EQ(ref->ToString(), "user_activity:events_10m");
}

TEST(ParseFeatureRefTest, RejectsMalformedRefs) {
  for (const char* text : {"events_10m", ":f", "v:", "a:b:c", ""}) {
    Result<FeatureRef> ref = ParseFeatureRef(text);
    ASSERT_FALSE(ref.ok()) << text;
    EXPECT_EQ(ref.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(ref.status().message(), HasSubstr("must be view:feature"));
  }
}

// ---- Errors: one case per check, each naming file, line and field path ----

struct ErrorCase {
  const char* name;
  std::string yaml;
  int line;
  std::string path;     // "" for errors with no field (syntax)
  std::string message;  // a fragment of what is wrong
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

// 7 lines: an entity and an http source with fields user_id, event, dur (double), ts.
const std::string kBase =
    "project: p\n"
    "entities:\n"
    "  user: {key: user_id}\n"
    "sources:\n"
    "  ev:\n"
    "    timestamp: ts\n"
    "    fields: {user_id: string, event: string, dur: double}\n";

// kBase plus a view `v` (lines 8-12) whose feature `f` is on line 13.
std::string WithFeature(const std::string& feature) {
  return kBase +
         "feature_views:\n"
         "  v:\n"
         "    entity: user\n"
         "    source: ev\n"
         "    features:\n"
         "      f: " +
         feature + "\n";
}

// kBase with one field's expectations on line 9.
std::string WithExpectation(const std::string& expectation) {
  return kBase + "    expectations:\n      " + expectation + "\n";
}

// A valid view (lines 8-13) followed by `tail` starting on line 14.
std::string WithTail(const std::string& tail) {
  return WithFeature("{agg: count, window: 10m}") + tail;
}

const char kFeature[] = "feature_views.v.features.f";

// A valid project whose deployment `d` (line 19) has `outputs:` on line 22 and `output` as its
// only item, on line 23.
std::string WithOutput(const std::string& output) {
  return WithTail(
      "feature_services:\n  s: [v:f]\nmodels:\n  m: {runtime: linear}\n"
      "deployments:\n  d:\n    model: m\n    features: s\n    outputs:\n      - " +
      output + "\n");
}

// A project whose model m (line 3) has `train` (line 5) and then `rest` (from line 6).
std::string WithTraining(const std::string& runtime, const std::string& train,
                         const std::string& rest = "") {
  return "project: p\nmodels:\n  m:\n    runtime: " + runtime + "\n" + train + rest;
}

// A valid project whose deployment `d` (line 19: model m, features s on lines 20-21) goes on
// with `rest`, from line 22.
std::string WithDeployment(const std::string& rest) {
  return WithTail(
      "feature_services:\n  s: [v:f]\nmodels:\n  m: {runtime: linear}\n"
      "deployments:\n  d:\n    model: m\n    features: s\n" +
      rest);
}

std::vector<ErrorCase> ErrorCases() {
  return {
      {"SyntaxError", "a:\n  b: 1\n c: 2\n", 3, "", "YAML syntax error"},
      {"MissingProject", "entities: {}\n", 1, "project", "missing required key"},
      {"ProjectNotIdentifier", "project: my-proj\n", 1, "project", "'my-proj' is not a valid name"},
      {"UnknownTopLevelKey", "project: p\nfeature_view: {}\n", 2, "feature_view",
       "unknown key 'feature_view' (did you mean 'feature_views'?)"},
      {"DuplicateKey", "project: p\nproject: q\n", 2, "project", "key given twice"},
      {"EntityWithoutKey", "project: p\nentities:\n  user: {}\n", 3, "entities.user",
       "needs key (one field) or keys"},
      {"EntityNameNotIdentifier", "project: p\nentities:\n  1user: {key: id}\n", 3,
       "entities.1user", "'1user' is not a valid name"},
      {"EntityUnknownKey", "project: p\nentities:\n  user: {kye: id}\n", 3, "entities.user.kye",
       "unknown key 'kye' (did you mean 'key'?)"},
      {"SourceWithoutTimestamp", "project: p\nsources:\n  ev:\n    kind: http\n", 3,
       "sources.ev.timestamp", "missing required key"},
      {"SourceUnknownKind", "project: p\nsources:\n  ev:\n    kind: s3\n    timestamp: ts\n", 4,
       "sources.ev.kind", "unknown kind 's3'"},
      {"BadFieldType",
       "project: p\nsources:\n  ev:\n    timestamp: ts\n    fields:\n      a: strng\n", 6,
       "sources.ev.fields.a", "unknown type 'strng'"},
      {"TimestampFieldOfWrongType",
       "project: p\nsources:\n  ev:\n    timestamp: ts\n    fields: {ts: string}\n", 4,
       "sources.ev.timestamp", "field 'ts' is declared string"},
      {"BadLateness", kBase + "    allowed_lateness: soon\n", 8, "sources.ev.allowed_lateness",
       "bad duration 'soon'"},
      {"BadRetention", kBase + "    retention: forever\n", 8, "sources.ev.retention",
       "bad duration 'forever'"},
      {"ZeroRetention", kBase + "    retention: 0s\n", 8, "sources.ev.retention",
       "must be positive"},
      {"FileSourceWithoutPath", "project: p\nsources:\n  ev:\n    kind: file\n    timestamp: ts\n",
       3, "sources.ev.path", "missing required key"},
      {"KafkaKeyOnHttpSource", kBase + "    topic: t\n", 8, "sources.ev.topic",
       "applies only to kind kafka"},
      {"ViewWithoutEntity", kBase + "feature_views:\n  v:\n    source: ev\n", 9,
       "feature_views.v.entity", "missing required key"},
      {"ViewUnknownEntity", kBase + "feature_views:\n  v:\n    entity: usr\n    source: ev\n", 10,
       "feature_views.v.entity", "unknown entity 'usr' (defined: user)"},
      {"ViewUnknownSource", kBase + "feature_views:\n  v:\n    entity: user\n    source: evs\n", 11,
       "feature_views.v.source", "unknown source 'evs' (defined: ev)"},
      {"EntityKeyNotInSource",
       "project: p\nentities:\n  user: {key: uid}\nsources:\n  ev: {timestamp: ts}\n"
       "feature_views:\n  v:\n    entity: user\n    source: ev\n    features: {f: {agg: count}}\n",
       8, "feature_views.v.entity",
       "key field 'uid' of entity 'user' is not a field of source 'ev'"},
      {"BadTtl", kBase + "feature_views:\n  v:\n    entity: user\n    source: ev\n    ttl: 7x\n",
       12, "feature_views.v.ttl", "bad duration '7x': unknown unit 'x'"},
      {"ViewWithoutFeatures", kBase + "feature_views:\n  v:\n    entity: user\n    source: ev\n", 9,
       "feature_views.v.features", "missing required key"},
      {"BadWindowDuration", WithFeature("{agg: count, window: 10x}"), 13,
       std::string(kFeature) + ".window",
       "bad duration '10x': unknown unit 'x' (use ms, s, m, h, d, w)"},
      {"FeatureKeyTypo", WithFeature("{agg: count, windw: 10m}"), 13,
       std::string(kFeature) + ".windw", "unknown key 'windw' (did you mean 'window'?)"},
      {"UnknownAgg", WithFeature("{agg: cnt}"), 13, std::string(kFeature) + ".agg",
       "unknown aggregation 'cnt'"},
      {"BothAggAndExpr", WithFeature("{agg: count, expr: \"1\"}"), 13, kFeature,
       "has both agg and expr"},
      {"NeitherAggNorExpr", WithFeature("{window: 10m}"), 13, kFeature, "needs agg"},
      {"OfNotASourceField", WithFeature("{agg: sum, of: duration}"), 13,
       std::string(kFeature) + ".of", "'duration' is not a field of source 'ev'"},
      {"SumOfString", WithFeature("{agg: sum, of: event}"), 13, std::string(kFeature) + ".of",
       "sum needs a numeric field (int64 or double); 'event' is string"},
      {"CountWithOf", WithFeature("{agg: count, of: dur}"), 13, std::string(kFeature) + ".of",
       "count takes no 'of'"},
      {"MeanWithoutOf", WithFeature("{agg: mean, window: 1h}"), 13, std::string(kFeature) + ".of",
       "mean needs 'of'"},
      {"LastNWithZeroN", WithFeature("{agg: last_n, of: event, n: 0}"), 13,
       std::string(kFeature) + ".n", "last_n needs n >= 1"},
      {"TopKWithoutK", WithFeature("{agg: top_k, of: event}"), 13, std::string(kFeature) + ".k",
       "top_k needs k >= 1"},
      {"NOnCount", WithFeature("{agg: count, n: 3}"), 13, std::string(kFeature) + ".n",
       "applies only to last_n"},
      {"PercentileWithoutQ", WithFeature("{agg: approx_percentile, of: dur, window: 1h}"), 13,
       kFeature, "approx_percentile needs q (the quantile, e.g. q: 0.9)"},
      {"PercentileQAboveOne", WithFeature("{agg: approx_percentile, of: dur, q: 90}"), 13,
       std::string(kFeature) + ".q", "must be a quantile between 0 and 1, exclusive"},
      {"PercentileQZero", WithFeature("{agg: approx_percentile, of: dur, q: 0}"), 13,
       std::string(kFeature) + ".q", "got 0"},
      {"PercentileQNotANumber", WithFeature("{agg: approx_percentile, of: dur, q: high}"), 13,
       std::string(kFeature) + ".q", "expected a number"},
      {"PercentileQNaN", WithFeature("{agg: approx_percentile, of: dur, q: .nan}"), 13,
       std::string(kFeature) + ".q", "must be a quantile between 0 and 1"},
      {"QOnMean", WithFeature("{agg: mean, of: dur, q: 0.5}"), 13, std::string(kFeature) + ".q",
       "applies only to approx_percentile"},
      {"PercentileOfString", WithFeature("{agg: approx_percentile, of: event, q: 0.5}"), 13,
       std::string(kFeature) + ".of", "approx_percentile needs a numeric field"},
      {"TrendOfString", WithFeature("{agg: trend, of: event, window: 10m}"), 13,
       std::string(kFeature) + ".of", "trend needs a numeric field"},
      {"TrendWithoutOf", WithFeature("{agg: trend, window: 10m}"), 13,
       std::string(kFeature) + ".of", "trend needs 'of'"},
      {"HopNotDividingWindow", WithFeature("{agg: count, window: 1h, hop: 7m}"), 13,
       std::string(kFeature) + ".hop", "hop 7m must be smaller than the window 1h and divide it"},
      {"HopWithoutWindow", WithFeature("{agg: count, hop: 1m}"), 13, std::string(kFeature) + ".hop",
       "needs a window"},
      {"SessionWithWindow", WithFeature("{agg: count, window: 1h, session_gap: 30m}"), 13,
       std::string(kFeature) + ".window", "cannot be combined with session_gap"},
      {"ExprWithWindow", WithFeature("{expr: \"a + 1\", window: 1h}"), 13,
       std::string(kFeature) + ".window", "does not apply to a derived (expr) feature"},
      {"FeatureNameNotIdentifier",
       kBase + "feature_views:\n  v:\n    entity: user\n    source: ev\n"
               "    features:\n      bad-name: {agg: count}\n",
       13, "feature_views.v.features.bad-name", "'bad-name' is not a valid name"},
      {"ServiceRefWithoutColon", WithTail("feature_services:\n  s: [v:f, f]\n"), 15,
       "feature_services.s[1]", "feature reference 'f' must be view:feature"},
      {"ServiceUnknownView", WithTail("feature_services:\n  s:\n    - w:f\n"), 16,
       "feature_services.s[0]", "unknown feature view 'w' (defined: v)"},
      {"ServiceUnknownFeature", WithTail("feature_services:\n  s: {features: [v:g]}\n"), 15,
       "feature_services.s.features[0]", "feature view 'v' has no feature 'g'"},
      {"UnknownRuntime", "project: p\nmodels:\n  m: {runtime: sklearn}\n", 3, "models.m.runtime",
       "unknown runtime 'sklearn' (use xgboost, torchscript, fasttext, linear)"},
      {"ModelWithoutRuntime", "project: p\nmodels:\n  m: {}\n", 3, "models.m.runtime",
       "missing required key"},
      {"TrainOnLinear", WithTraining("linear", "    train: {label: y}\n"), 5, "models.m.train",
       "freshet trains runtime xgboost only, not 'linear'"},
      {"TrainWithoutLabel", WithTraining("xgboost", "    train: {rounds: 5}\n"), 5,
       "models.m.train.label", "missing required key"},
      {"TrainHoldoutNotAFraction", WithTraining("xgboost", "    train: {label: y, holdout: 1.5}\n"),
       5, "models.m.train.holdout", "must be a fraction in (0, 1)"},
      {"TrainTwoHoldouts",
       WithTraining("xgboost", "    train: {label: y, holdout: 0.2, holdout_from: 5}\n"), 5,
       "models.m.train.holdout_from", "give holdout (a fraction) or holdout_from, not both"},
      {"TrainBadHoldoutFrom",
       WithTraining("xgboost", "    train: {label: y, holdout_from: yesterday}\n"), 5,
       "models.m.train.holdout_from", "'yesterday' is not a timestamp"},
      {"TrainUnknownMetric", WithTraining("xgboost", "    train: {label: y, metrics: [auc, f1]}\n"),
       5, "models.m.train.metrics[1]", "unknown metric 'f1' (use auc, logloss, rmse, recall@K)"},
      {"TrainAucOfRegression",
       WithTraining("xgboost",
                    "    train: {label: y, objective: 'reg:squarederror', metrics: [auc]}\n"),
       5, "models.m.train.metrics[0]", "metric auc needs a binary objective"},
      {"TrainUnknownObjective",
       WithTraining("xgboost", "    train: {label: y, objective: 'multi:softmax'}\n"), 5,
       "models.m.train.objective", "objective 'multi:softmax' is not trained here"},
      {"TrainUnknownService", WithTraining("xgboost", "    train: {label: y, features: s}\n"), 5,
       "models.m.train.features", "unknown feature service 's'"},
      {"TuneWithoutTrain", WithTraining("xgboost", "    tune: {trials: 3}\n"), 5, "models.m.tune",
       "tune needs a train block"},
      {"TuneUnknownMethod",
       WithTraining("xgboost", "    train: {label: y}\n",
                    "    tune: {method: grid, space: {eta: {low: 0.1, high: 0.3}}}\n"),
       6, "models.m.tune.method", "unknown method 'grid' (use random or tpe)"},
      {"TuneEmptySpace",
       WithTraining("xgboost", "    train: {label: y}\n", "    tune: {trials: 3}\n"), 6,
       "models.m.tune.space", "needs at least one parameter range"},
      {"TuneLogRangeFromZero",
       WithTraining("xgboost", "    train: {label: y}\n",
                    "    tune:\n      space:\n        eta: {low: 0, high: 1, log: true}\n"),
       8, "models.m.tune.space.eta.low", "a log range needs low > 0"},
      {"TuneReversedRange",
       WithTraining("xgboost", "    train: {label: y}\n",
                    "    tune:\n      space:\n        max_depth: {low: 8, high: 2, int: true}\n"),
       8, "models.m.tune.space.max_depth", "low (8) must be below high (2)"},
      {"DeploymentUnknownModel",
       WithTail("feature_services:\n  s: [v:f]\nmodels:\n  m: {runtime: linear}\n"
                "deployments:\n  d: {model: n, features: s}\n"),
       19, "deployments.d.model", "unknown model 'n' (defined: m)"},
      {"DeploymentUnknownService",
       WithTail("feature_services:\n  s: [v:f]\nmodels:\n  m: {runtime: linear}\n"
                "deployments:\n  d:\n    model: m\n    features: t\n"),
       21, "deployments.d.features", "unknown feature service 't' (defined: s)"},
      {"OutputUnknownKind", WithOutput("{kind: sqs, topic: q}"), 23,
       "deployments.d.outputs[0].kind", "unknown kind 'sqs' (use file, webhook, kafka)"},
      {"OutputWithoutKind", WithOutput("{path: p.ndjson}"), 23, "deployments.d.outputs[0].kind",
       "missing required key"},
      {"FileOutputWithoutPath", WithOutput("{kind: file}"), 23, "deployments.d.outputs[0].path",
       "missing required key"},
      {"WebhookOutputNotAUrl", WithOutput("{kind: webhook, url: example.com/hook}"), 23,
       "deployments.d.outputs[0].url", "'example.com/hook' is not an http:// or https:// URL"},
      {"WebhookOutputBadTimeout", WithOutput("{kind: webhook, url: 'http://h/', timeout: 0s}"), 23,
       "deployments.d.outputs[0].timeout", "must be positive"},
      {"UrlOnFileOutput", WithOutput("{kind: file, path: p, url: 'http://h/'}"), 23,
       "deployments.d.outputs[0].url", "applies only to kind webhook"},
      {"SecretEnvOnFileOutput", WithOutput("{kind: file, path: p, secret_env: K}"), 23,
       "deployments.d.outputs[0].secret_env", "applies only to kind webhook"},
      {"WebhookOutputEmptySecretEnv",
       WithOutput("{kind: webhook, url: 'http://h/', secret_env: ''}"), 23,
       "deployments.d.outputs[0].secret_env", "must name an environment variable"},
      {"KafkaOutputWithoutTopic", WithOutput("{kind: kafka}"), 23, "deployments.d.outputs[0].topic",
       "missing required key"},
      {"ExpectationUnknownField", WithExpectation("durr: {between: [0, 1]}"), 9,
       "sources.ev.expectations.durr", "unknown field 'durr' (fields: user_id, event, dur, ts)"},
      {"ExpectationUnknownPolicy", WithExpectation("dur: {between: [0, 1], policy: drop}"), 9,
       "sources.ev.expectations.dur.policy",
       "unknown policy 'drop' (use reject, quarantine, warn)"},
      {"ExpectationUnknownKey", WithExpectation("dur: {unique: true}"), 9,
       "sources.ev.expectations.dur.unique", "unknown key 'unique'"},
      {"ExpectationNone", WithExpectation("dur: {policy: warn}"), 9, "sources.ev.expectations.dur",
       "no expectation"},
      {"BetweenOnString", WithExpectation("event: {between: [0, 1]}"), 9,
       "sources.ev.expectations.event.between",
       "applies to int64 or double fields; 'event' is string"},
      {"BetweenNotAPair", WithExpectation("dur: {between: [0]}"), 9,
       "sources.ev.expectations.dur.between", "expected [low, high]"},
      {"BetweenNotANumber", WithExpectation("dur: {between: [0, lots]}"), 9,
       "sources.ev.expectations.dur.between[1]", "'lots' is not a number"},
      {"BetweenReversed", WithExpectation("dur: {between: [5, 1]}"), 9,
       "sources.ev.expectations.dur.between", "low is above high"},
      {"BadRegex", WithExpectation("user_id: {matches: \"u[0-9\"}"), 9,
       "sources.ev.expectations.user_id.matches", "bad regular expression 'u[0-9'"},
      {"MatchesOnDouble", WithExpectation("dur: {matches: \"1\"}"), 9,
       "sources.ev.expectations.dur.matches", "applies to string fields; 'dur' is double"},
      {"InOfTheWrongType", WithExpectation("dur: {in: [1, x]}"), 9,
       "sources.ev.expectations.dur.in[1]", "'x' is not a number"},
      {"NegativeMaxLength", WithExpectation("user_id: {max_length: -1}"), 9,
       "sources.ev.expectations.user_id.max_length", "must not be negative"},
      {"NullFractionAboveOne", WithExpectation("event: {null_fraction_max: 1.5}"), 9,
       "sources.ev.expectations.event.null_fraction_max", "must be in [0, 1]"},
      {"NullFractionQuarantined",
       WithExpectation("event: {null_fraction_max: 0.5, policy: quarantine}"), 9,
       "sources.ev.expectations.event.policy", "holds per batch"},
      {"TrafficWithoutWeight", WithDeployment("    traffic:\n      - {version: 1}\n"), 23,
       "deployments.d.traffic[0]", "missing weight"},
      {"TrafficZeroWeight", WithDeployment("    traffic:\n      - {version: 1, weight: 0}\n"), 23,
       "deployments.d.traffic[0].weight", "expected a positive number"},
      {"TrafficVersionAndAlias",
       WithDeployment("    traffic:\n      - {version: 1, alias: a, weight: 1}\n"), 23,
       "deployments.d.traffic[0]", "exactly one of version or alias"},
      {"TrafficVersionZero", WithDeployment("    traffic:\n      - {version: 0, weight: 1}\n"), 23,
       "deployments.d.traffic[0].version", "expected a number >= 1"},
      {"TrafficNamedTwice",
       WithDeployment("    traffic:\n      - {version: 2, weight: 1}\n"
                      "      - {version: 2, weight: 3}\n"),
       24, "deployments.d.traffic[1]", "'2' is named twice"},
      {"TrafficEmpty", WithDeployment("    traffic: []\n"), 22, "deployments.d.traffic",
       "at least one entry"},
      {"TrafficWithAlias",
       WithDeployment("    alias: beta\n    traffic:\n      - {version: 1, weight: 1}\n"), 22,
       "deployments.d.alias", "alias and traffic are exclusive"},
      {"ShadowIsTheServedAlias", WithDeployment("    shadow: {alias: champion}\n"), 22,
       "deployments.d.shadow", "'champion' is named twice"},
      {"ShadowNegativeTolerance", WithDeployment("    shadow: {version: 2, tolerance: -1}\n"), 22,
       "deployments.d.shadow.tolerance", "expected a number >= 0"},
      {"ShadowUnknownKey", WithDeployment("    shadow: {version: 2, weight: 1}\n"), 22,
       "deployments.d.shadow.weight", "unknown key 'weight'"},
  };
}

class SpecErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(SpecErrorTest, NamesFileLineAndField) {
  const ErrorCase& c = GetParam();
  Result<ProjectSpec> spec = ParseProject(c.yaml, "/x/freshet.yaml");
  ASSERT_FALSE(spec.ok()) << "parsed:\n" << c.yaml;
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  std::string prefix = c.path.empty() ? fmt::format("/x/freshet.yaml:{}: ", c.line)
                                      : fmt::format("/x/freshet.yaml:{}: {}: ", c.line, c.path);
  EXPECT_THAT(spec.status().message(), StartsWith(prefix)) << c.yaml;
  EXPECT_THAT(spec.status().message(), HasSubstr(c.message));
}

INSTANTIATE_TEST_SUITE_P(AllChecks, SpecErrorTest, ::testing::ValuesIn(ErrorCases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) {
                           return info.param.name;
                         });

TEST(SourceRetentionTest, ADurationSetsHowLongTheLogKeepsRecords) {
  auto spec = ParseProject(kBase + "    retention: 30d\n", "freshet.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->sources.at("ev").retention_ms, 30 * 24 * 3600 * 1000LL);
}

TEST(SpecExpectationsTest, EachKindTypedByItsField) {
  Result<ProjectSpec> spec =
      ParseProject(kBase +
                       "    expectations:\n"
                       "      dur: {between: [0, 86400]}\n"
                       "      event: {in: [start, exit], policy: quarantine}\n"
                       "      user_id: {not_null: true, matches: \"^u[0-9]+$\", max_length: 32}\n"
                       "      ts: {null_fraction_max: 0.25, policy: warn}\n",
                   "f.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  const auto& e = spec->sources.at("ev").expectations;
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].field, "dur");
  EXPECT_EQ(e[0].line, 9);
  EXPECT_EQ(e[0].between, std::make_pair(0.0, 86400.0));
  EXPECT_EQ(e[0].policy, ExpectationPolicy::kReject);
  EXPECT_EQ(e[1].in, (std::vector<Value>{Value::String("start"), Value::String("exit")}));
  EXPECT_EQ(e[1].policy, ExpectationPolicy::kQuarantine);
  EXPECT_TRUE(e[2].not_null);
  EXPECT_EQ(e[2].matches, "^u[0-9]+$");
  EXPECT_EQ(e[2].max_length, 32);
  EXPECT_EQ(e[3].null_fraction_max, 0.25);
  EXPECT_EQ(e[3].policy, ExpectationPolicy::kWarn);
}

TEST(SpecErrorTest, BaseDocumentsAreValid) {
  // Guards the error cases above: each fails for its own reason, not the scaffolding's.
  EXPECT_TRUE(ParseProject(kBase, "f.yaml").ok());
  Result<ProjectSpec> spec =
      ParseProject(WithTail("feature_services:\n  s: [v:f]\nmodels:\n  m: {runtime: linear}\n"
                            "deployments:\n  d: {model: m, features: s}\n"),
                   "f.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->feature_views.at("v").features.at(0).line, 13);
  EXPECT_EQ(spec->deployments.at("d").line, 19);
  EXPECT_TRUE(spec->deployments.at("d").outputs.empty());
}

TEST(SpecTrainingTest, TrainAndTuneBlocks) {
  Result<ProjectSpec> spec = ParseProject(
      WithTraining("xgboost",
                   "    train:\n      label: clicked\n      rounds: 30\n"
                   "      params: {max_depth: 4, eta: 0.1}\n"
                   "      holdout_from: 2026-01-01T00:00:00Z\n      metrics: [auc, recall@10]\n",
                   "    tune:\n      trials: 12\n      method: tpe\n      space:\n"
                   "        eta: {low: 0.01, high: 0.3, log: true}\n"
                   "        booster: {choices: [gbtree, dart]}\n"),
      "f.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  const ModelSpec& m = spec->models.at("m");
  ASSERT_TRUE(m.train.has_value());
  EXPECT_EQ(m.train->label, "clicked");
  EXPECT_EQ(m.train->objective, "binary:logistic");
  EXPECT_EQ(m.train->rounds, 30);
  EXPECT_EQ(m.train->params,
            (std::map<std::string, std::string>{{"eta", "0.1"}, {"max_depth", "4"}}));
  EXPECT_EQ(m.train->holdout_from_ms, 1'767'225'600'000);
  EXPECT_EQ(m.train->metrics, (std::vector<std::string>{"auc", "recall@10"}));
  ASSERT_TRUE(m.tune.has_value());
  EXPECT_EQ(m.tune->trials, 12);
  EXPECT_EQ(m.tune->method, "tpe");
  ASSERT_EQ(m.tune->space.size(), 2u);
  EXPECT_TRUE(m.tune->space[0].log);
  EXPECT_EQ(m.tune->space[0].high, 0.3);
  EXPECT_EQ(m.tune->space[1].choices, (std::vector<std::string>{"gbtree", "dart"}));
  // Defaults: the metrics follow the objective.
  spec = ParseProject(
      WithTraining("xgboost", "    train: {label: y, objective: 'reg:squarederror'}\n"), "f.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->models.at("m").train->metrics, std::vector<std::string>{"rmse"});
  EXPECT_EQ(spec->models.at("m").train->holdout, 0.2);
  EXPECT_FALSE(spec->models.at("m").tune.has_value());
}

TEST(FeatureParseTest, TrendAndApproxPercentile) {
  for (const char* feature : {"{agg: trend, of: dur, window: 10m}",
                              "{agg: approx_percentile, of: dur, window: 1h, hop: 10m, q: 0.95}"}) {
    Result<ProjectSpec> spec = ParseProject(WithFeature(feature), "f.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    const FeatureSpec& f = spec->feature_views.at("v").features.at(0);
    EXPECT_EQ(f.of, "dur");
    if (*f.agg == AggKind::kTrend) {
      EXPECT_EQ(f.window, WindowKind::kSliding);
      EXPECT_EQ(f.q, 0);
    } else {
      EXPECT_EQ(f.agg, AggKind::kApproxPercentile);
      EXPECT_EQ(f.window, WindowKind::kHopping);
      EXPECT_DOUBLE_EQ(f.q, 0.95);
    }
  }
}

// A deployment's `batching:` block: off without one, defaults for omitted keys, bounds checked.
TEST(SpecBatchingTest, OffByDefaultDefaultsAndBounds) {
  auto with = [](const std::string& deployment) {
    return ParseProject(WithTail("feature_services:\n  s: [v:f]\nmodels:\n  m: {runtime: linear}\n"
                                 "deployments:\n  d: " +
                                 deployment + "\n"),
                        "freshet.yaml");
  };
  Result<ProjectSpec> off = with("{model: m, features: s}");
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(off->deployments.at("d").batching.max_batch, 0);
  Result<ProjectSpec> on = with("{model: m, features: s, batching: {max_delay_us: 50}}");
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  EXPECT_EQ(on->deployments.at("d").batching.max_batch, 64);
  EXPECT_EQ(on->deployments.at("d").batching.max_delay_us, 50);
  Result<ProjectSpec> bad = with("{model: m, features: s, batching: {max_batch: 0}}");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("max_batch"), std::string::npos) << bad.status().message();
  Result<ProjectSpec> unknown = with("{model: m, features: s, batching: {size: 8}}");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("size"), std::string::npos)
      << unknown.status().message();
}

// A deployment's `on:` trigger: source, where and debounce parsed; an unknown source, a table
// source and a source lacking the entity's key fields are refused naming file, line and field.
TEST(SpecTriggerTest, ParsesAndChecksTheSource) {
  auto with = [](const std::string& deployment) {
    return ParseProject(WithTail("feature_services:\n  s: [v:f]\nmodels:\n  m: {runtime: linear}\n"
                                 "deployments:\n  d: " +
                                 deployment + "\n"),
                        "freshet.yaml");
  };
  Result<ProjectSpec> off = with("{model: m, features: s}");
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(off->deployments.at("d").on.has_value());
  Result<ProjectSpec> on =
      with("{model: m, features: s, on: {source: ev, where: \"event = 'exit'\", debounce: 2s}}");
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  const TriggerSpec& trigger = *on->deployments.at("d").on;
  EXPECT_EQ(trigger.source, "ev");
  EXPECT_EQ(trigger.where, "event = 'exit'");
  EXPECT_EQ(trigger.debounce_ms, 2000);
  EXPECT_EQ(trigger.line, 19);
  EXPECT_EQ(DeploymentKeyFields(*on, on->deployments.at("d")), std::vector<std::string>{"user_id"});
  Result<ProjectSpec> unknown = with("{model: m, features: s, on: {source: clicks}}");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(),
            "freshet.yaml:19: deployments.d.on.source: unknown source 'clicks' (defined: ev)");
  Result<ProjectSpec> negative = with("{model: m, features: s, on: {source: ev, debounce: -1s}}");
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.status().message().find("debounce"), std::string::npos)
      << negative.status().message();

  Result<ProjectSpec> keyless = ParseProject(
      "project: p\nentities:\n  user: {key: user_id}\nsources:\n"
      "  ev: {timestamp: ts, fields: {user_id: string}}\n"
      "  other: {timestamp: ts, fields: {event: string}}\n"
      "feature_views:\n  v: {entity: user, source: ev, features: {f: {agg: count}}}\n"
      "feature_services:\n  s: [v:f]\nmodels:\n  m: {runtime: linear}\n"
      "deployments:\n  d: {model: m, features: s, on: {source: other}}\n",
      "freshet.yaml");
  ASSERT_FALSE(keyless.ok());
  EXPECT_EQ(keyless.status().message(),
            "freshet.yaml:14: deployments.d.on.source: source 'other' has no field 'user_id', a "
            "key of the deployment's entities");
}

// A triggered text deployment reads its text from the event: the service's `text: context.NAME`
// must be a string field of the trigger's source.
TEST(SpecTriggerTest, TextFromTheEventNeedsAStringFieldOfTheSource) {
  auto with = [](const std::string& text) {
    return ParseProject(
        "project: p\nentities:\n  ad: {key: ad_id}\nsources:\n"
        "  ads: {timestamp: ts, fields: {ad_id: string, text: string, bid: double}}\n"
        "feature_views:\n  v: {entity: ad, source: ads, features: {n: {agg: count}}}\n"
        "feature_services:\n  s: {text: " +
            text +
            ", features: [v:n]}\nmodels:\n  m: {runtime: fasttext}\n"
            "deployments:\n  d: {model: m, features: s, on: {source: ads}}\n",
        "freshet.yaml");
  };
  Result<ProjectSpec> ok = with("context.text");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->feature_services.at("s").text->context_field, "text");
  ASSERT_TRUE(with("v:n").ok());  // a stored feature: read as for a request
  Result<ProjectSpec> missing = with("context.body");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "freshet.yaml:13: deployments.d.on.source: source 'ads' has no field 'body', the text "
            "input (context.body) of feature service 's'");
  Result<ProjectSpec> numeric = with("context.bid");
  ASSERT_FALSE(numeric.ok());
  EXPECT_EQ(numeric.status().message(),
            "freshet.yaml:13: deployments.d.on.source: field 'bid' of source 'ads' is double, but "
            "the text input (context.bid) of feature service 's' needs a string");
}

// `traffic:` entries keep their order, refs and weights; `shadow:` its ref and tolerance;
// Refs() lists what the deployment scores with.
TEST(SpecTrafficTest, WeightedRefsAndShadow) {
  Result<ProjectSpec> spec = ParseProject(WithDeployment("    traffic:\n"
                                                         "      - {version: 3, weight: 90}\n"
                                                         "      - {alias: challenger, weight: 10}\n"
                                                         "    shadow: {version: 4}\n"),
                                          "freshet.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  const DeploymentSpec& d = spec->deployments.at("d");
  ASSERT_EQ(d.traffic.size(), 2u);
  EXPECT_EQ(d.traffic[0].ref, "3");
  EXPECT_EQ(d.traffic[0].weight, 90);
  EXPECT_EQ(d.traffic[0].line, 23);
  EXPECT_EQ(d.traffic[1].ref, "challenger");
  ASSERT_TRUE(d.shadow.has_value());
  EXPECT_EQ(d.shadow->target.ref, "4");
  EXPECT_EQ(d.shadow->tolerance, 0.05);
  EXPECT_EQ(d.Refs(), (std::vector<std::string>{"3", "challenger", "4"}));

  Result<ProjectSpec> plain = ParseProject(WithDeployment(""), "freshet.yaml");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_TRUE(plain->deployments.at("d").traffic.empty());
  EXPECT_EQ(plain->deployments.at("d").Refs(), (std::vector<std::string>{"champion"}));
}

TEST(SpecOutputsTest, EachKindWithItsSettings) {
  Result<ProjectSpec> spec =
      ParseProject(WithTail("feature_services:\n  s: [v:f]\nmodels:\n  m: {runtime: linear}\n"
                            "deployments:\n  d:\n    model: m\n    features: s\n"
                            "    outputs:\n"
                            "      - {kind: file, path: out/preds.ndjson}\n"
                            "      - kind: webhook\n"
                            "        url: http://127.0.0.1:9/hook\n"
                            "        timeout: 2s\n"
                            "        secret_env: HOOK_SECRET\n"
                            "      - {kind: kafka, topic: preds, brokers: \"b1:9092\"}\n"),
                   "/proj/freshet.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  const std::vector<OutputSpec>& outputs = spec->deployments.at("d").outputs;
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(outputs[0].kind, "file");
  EXPECT_EQ(outputs[0].path, "/proj/out/preds.ndjson");  // relative to the project
  EXPECT_EQ(outputs[0].kind_line, 23);
  EXPECT_EQ(outputs[1].kind, "webhook");
  EXPECT_EQ(outputs[1].url, "http://127.0.0.1:9/hook");
  EXPECT_EQ(outputs[1].timeout_ms, 2000);
  EXPECT_EQ(outputs[1].line, 24);
  EXPECT_EQ(outputs[1].kind_line, 24);
  EXPECT_EQ(outputs[1].secret_env, "HOOK_SECRET");
  EXPECT_EQ(outputs[0].secret_env, "");
  EXPECT_EQ(outputs[2].topic, "preds");
  EXPECT_EQ(outputs[2].brokers, "b1:9092");
  EXPECT_EQ(outputs[2].kind_line, 28);
}

// CheckBuiltKinds: what the language accepts but this build does not implement.
class BuiltKindsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<ProjectSpec> spec = ParseProject(kGoodSpec, "/p/freshet.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(spec).value();
  }
  ProjectSpec spec_;
  BuiltKinds all_{{"file", "http", "kafka"},
                  {"file", "kafka", "webhook"},
                  {"xgboost"},
                  {"mean_sentence_vector"}};
};

TEST_F(BuiltKindsTest, EverythingBuiltPasses) { EXPECT_TRUE(CheckBuiltKinds(spec_, all_).ok()); }

TEST_F(BuiltKindsTest, SourceKindNotBuiltNamesFileLineAndField) {
  BuiltKinds built = all_;
  built.sources = {"file", "http"};
  Status st = CheckBuiltKinds(spec_, built);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "/p/freshet.yaml:18: sources.clicks.kind: 'kafka' is not built in this version "
            "(built: file, http)");
}

TEST_F(BuiltKindsTest, RuntimeNotBuilt) {
  BuiltKinds built = all_;
  built.runtimes = {"linear"};
  EXPECT_EQ(CheckBuiltKinds(spec_, built).message(),
            "/p/freshet.yaml:49: models.next_content.runtime: 'xgboost' is not built in this "
            "version (built: linear)");
}

TEST_F(BuiltKindsTest, DefaultHttpKindIsCheckedAtTheSourceLine) {
  Result<ProjectSpec> spec = ParseProject(kBase, "/p/freshet.yaml");
  ASSERT_TRUE(spec.ok());
  BuiltKinds built = all_;
  built.sources = {"file"};
  EXPECT_EQ(CheckBuiltKinds(*spec, built).message(),
            "/p/freshet.yaml:5: sources.ev.kind: 'http' is not built in this version "
            "(built: file)");
}

TEST_F(BuiltKindsTest, OutputKindNotBuiltAndFirstInFileOrder) {
  Result<ProjectSpec> spec = ParseProject(WithOutput("{kind: kafka, topic: preds}"), "/p/f.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  BuiltKinds built = all_;
  built.sinks = {"file", "webhook"};
  built.runtimes = {"linear", "xgboost"};
  EXPECT_EQ(CheckBuiltKinds(*spec, built).message(),
            "/p/f.yaml:23: deployments.d.outputs[0].kind: 'kafka' is not built in this version "
            "(built: file, webhook)");
  built.runtimes = {"xgboost"};  // model m (line 17, runtime linear) now fails first
  EXPECT_THAT(CheckBuiltKinds(*spec, built).message(),
              StartsWith("/p/f.yaml:17: models.m.runtime: 'linear' is not built"));
}

// ---- Table sources, table views and lookups ----

// 14 lines: entities user and item, an event source `ev` and a table `items` (lines 9-13),
// then `feature_views:`.
const std::string kTableBase =
    "project: p\n"
    "entities:\n"
    "  user: {key: user_id}\n"
    "  item: {key: item_id}\n"
    "sources:\n"
    "  ev:\n"
    "    timestamp: ts\n"
    "    fields: {user_id: string, item_id: int64}\n"
    "  items:\n"
    "    kind: table\n"
    "    entity: item\n"
    "    timestamp: updated_at\n"
    "    fields: {item_id: int64, category: string, length_s: double}\n"
    "feature_views:\n";

// A table view `tv` of items (lines 15-18) whose feature `f` is on line 19.
std::string WithTableFeature(const std::string& feature) {
  return kTableBase +
         "  tv:\n"
         "    entity: item\n"
         "    source: items\n"
         "    features:\n"
         "      f: " +
         feature + "\n";
}

// A stream view `sv` of ev with `lookups:` on line 18 (its entry on line 19).
std::string WithLookup(const std::string& lookup, const std::string& feature = "{agg: count}") {
  return kTableBase +
         "  sv:\n"
         "    entity: user\n"
         "    source: ev\n"
         "    lookups:\n"
         "      " +
         lookup +
         "\n"
         "    features:\n"
         "      f: " +
         feature + "\n";
}

std::vector<ErrorCase> TableErrorCases() {
  const std::string table_source = "project: p\nentities:\n  item: {key: item_id}\nsources:\n";
  return {
      {"TableWithoutEntity",
       table_source + "  t: {kind: table, timestamp: ts, fields: {a: int64}}\n", 5,
       "sources.t.entity", "missing required key"},
      {"TableKeyNotAField",
       table_source + "  t: {kind: table, entity: item, timestamp: ts, fields: {a: int64}}\n", 5,
       "sources.t.entity", "key field 'item_id' of entity 'item' is not a field of the table"},
      {"EntityOnHttpSource",
       table_source + "  t: {entity: item, timestamp: ts, fields: {item_id: int64}}\n", 5,
       "sources.t.entity", "applies only to kind table"},
      {"LatenessOnTable",
       table_source + "  t: {kind: table, entity: item, timestamp: ts, allowed_lateness: 1m, "
                      "fields: {item_id: int64}}\n",
       5, "sources.t.allowed_lateness", "does not apply to kind table"},
      {"RetentionOnTable",
       table_source + "  t: {kind: table, entity: item, timestamp: ts, retention: 1d, "
                      "fields: {item_id: int64}}\n",
       5, "sources.t.retention", "does not apply to kind table"},
      {"AggOnTableView", WithTableFeature("{agg: count}"), 19, "feature_views.tv.features.f.agg",
       "does not apply to a feature of table source 'items' (use attr: FIELD)"},
      {"AttrMissing", WithTableFeature("{}"), 19, "feature_views.tv.features.f",
       "needs attr (a field of table source 'items')"},
      {"AttrUnknownField", WithTableFeature("{attr: categry}"), 19,
       "feature_views.tv.features.f.attr", "'categry' is not a field of table 'items'"},
      {"AttrOnStreamView",
       kTableBase + "  sv:\n    entity: user\n    source: ev\n    features:\n      f: {attr: x}\n",
       19, "feature_views.sv.features.f.attr", "applies only to views of a table source"},
      {"TableViewOfOtherEntity",
       kTableBase + "  tv:\n    entity: user\n    source: items\n    features:\n"
                    "      f: {attr: category}\n",
       16, "feature_views.tv.entity", "table source 'items' is keyed by entity 'item', not 'user'"},
      {"LookupOfNonTable", WithLookup("ev: {by: item_id, fields: [category]}"), 19,
       "feature_views.sv.lookups.ev", "'ev' is not a source of kind table"},
      {"LookupByUnknownField", WithLookup("items: {by: itm, fields: [category]}"), 19,
       "feature_views.sv.lookups.items.by", "'itm' is not a field of source 'ev'"},
      {"LookupByWrongArity", WithLookup("items: {by: [item_id, user_id], fields: [category]}"), 19,
       "feature_views.sv.lookups.items.by", "has 1 key field(s); by lists 2"},
      {"LookupUnknownTableField", WithLookup("items: {by: item_id, fields: [genre]}"), 19,
       "feature_views.sv.lookups.items.fields", "'genre' is not a field of table 'items'"},
      {"LookupFieldCollides", WithLookup("items: {by: item_id, fields: [item_id]}"), 19,
       "feature_views.sv.lookups.items.fields",
       "'item_id' is already a field of the view's events"},
      {"LookupWithoutFields", WithLookup("items: {by: item_id}"), 19,
       "feature_views.sv.lookups.items.fields", "missing required key"},
      {"FeatureOfUnlookedField",
       WithLookup("items: {by: item_id, fields: [category]}", "{agg: sum, of: length_s}"), 21,
       "feature_views.sv.features.f.of", "'length_s' is not a field of source 'ev'"},
  };
}

INSTANTIATE_TEST_SUITE_P(TableChecks, SpecErrorTest, ::testing::ValuesIn(TableErrorCases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) {
                           return info.param.name;
                         });

TEST(TableSpecTest, TableViewsAndLookupsParse) {
  Result<ProjectSpec> spec =
      ParseProject(WithLookup("items: {by: item_id, fields: [category, length_s]}",
                              "{agg: sum, of: length_s, where: \"category = 'comedy'\"}") +
                       "  tv:\n    entity: item\n    source: items\n    features:\n"
                       "      cat: {attr: category}\n",
                   "f.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->sources.at("items").entity, "item");
  EXPECT_EQ(spec->feature_views.at("tv").features.at(0).attr, "category");
  const FeatureViewSpec& sv = spec->feature_views.at("sv");
  ASSERT_EQ(sv.lookups.size(), 1u);
  EXPECT_EQ(sv.lookups[0].table, "items");
  EXPECT_EQ(sv.lookups[0].by, std::vector<std::string>{"item_id"});
  EXPECT_EQ(sv.lookups[0].line, 19);
  SourceSpec input = ViewInputSchema(*spec, sv);
  // ev's fields (with the appended ts), then the looked-up ones with the table's types.
  ASSERT_EQ(input.fields.size(), 5u);
  EXPECT_EQ(input.fields[3].name, "category");
  EXPECT_EQ(input.fields[4].name, "length_s");
  EXPECT_EQ(input.fields[4].type, FieldType::kDouble);
}

// A feature service's text input and request features (lines 14 on, after WithFeature's view).
std::string WithService(const std::string& service) {
  return WithFeature("{agg: last_n, of: event, n: 3}") + "feature_services:\n  s:\n" + service +
         "models:\n  m: {runtime: fasttext}\n";
}

std::vector<ErrorCase> ServiceErrorCases() {
  return {
      {"TextContextWithoutName", WithService("    text: context.\n"), 16, "feature_services.s.text",
       "needs a field name after 'context.'"},
      {"TextUnknownFeature", WithService("    text: v:nope\n"), 16, "feature_services.s.text",
       "feature view 'v' has no feature 'nope'"},
      {"NeitherFeaturesNorText", WithService("    request_features: []\n"), 15,
       "feature_services.s.features", "missing required key"},
      {"RequestFeatureUnknownModel",
       WithService("    features: [v:f]\n    request_features:\n"
                   "      - {name: q, fn: mean_sentence_vector, model: nope, of: v:f}\n"),
       18, "feature_services.s.request_features[0].model", "unknown model 'nope' (defined: m)"},
      {"RequestFeatureWithoutInput",
       WithService("    features: [v:f]\n    request_features:\n"
                   "      - {name: q, fn: mean_sentence_vector, model: m}\n"),
       18, "feature_services.s.request_features[0].of", "missing required key"},
      {"RequestFeatureTwice",
       WithService("    features: [v:f]\n    request_features:\n"
                   "      - {name: q, fn: mean_sentence_vector, model: m, of: v:f}\n"
                   "      - {name: q, fn: mean_sentence_vector, model: m, of: context.x}\n"),
       19, "feature_services.s.request_features[1].name", "'q' is listed twice"},
  };
}

INSTANTIATE_TEST_SUITE_P(ServiceChecks, SpecErrorTest, ::testing::ValuesIn(ServiceErrorCases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) {
                           return info.param.name;
                         });

TEST(ServiceSpecTest, TextInputAndRequestFeaturesParse) {
  Result<ProjectSpec> spec =
      ParseProject(WithService("    text: context.query\n    request_features:\n"
                               "      - {name: q, fn: mean_sentence_vector, model: m, of: v:f}\n"
                               "      - {name: c, fn: mean_sentence_vector, model: m, "
                               "of: context.terms}\n"),
                   "/x/freshet.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  const FeatureServiceSpec& s = spec->feature_services.at("s");
  EXPECT_TRUE(s.features.empty());
  ASSERT_TRUE(s.text.has_value());
  EXPECT_EQ(s.text->context_field, "query");
  EXPECT_EQ(s.text->ToString(), "context.query");
  ASSERT_EQ(s.request_features.size(), 2u);
  EXPECT_EQ(s.request_features[0].name, "q");
  EXPECT_EQ(s.request_features[0].fn, "mean_sentence_vector");
  EXPECT_EQ(s.request_features[0].model, "m");
  EXPECT_FALSE(s.request_features[0].of.from_context());
  EXPECT_EQ(s.request_features[0].of.ToString(), "v:f");
  EXPECT_EQ(s.request_features[0].fn_line, 18);
  EXPECT_EQ(s.request_features[1].of.context_field, "terms");

  BuiltKinds built{{"http"}, {}, {"fasttext"}, {"mean_sentence_vector"}};
  EXPECT_TRUE(CheckBuiltKinds(*spec, built).ok());
  built.request_fns = {"other"};
  EXPECT_EQ(CheckBuiltKinds(*spec, built).message(),
            "/x/freshet.yaml:18: feature_services.s.request_features[0].fn: "
            "'mean_sentence_vector' is not built in this version (built: other)");
}

// A deployment picking its model per entity: `model_by` with its template split around the
// placeholder, and the errors naming the line; `serving.model_memory` with its units.
std::string WithModelBy(const std::string& model_by, const std::string& extra = "") {
  return WithTail(
      "feature_services:\n  s: [v:f]\n"
      "deployments:\n  d:\n    features: s\n    model_by: " +
      model_by + "\n" + extra);
}

TEST(SpecModelByTest, TemplateAttributeAndFallback) {
  Result<ProjectSpec> spec = ParseProject(
      WithModelBy("{attribute: v:f, model: \"ctr_{f}_m\", fallback: ctr_default}"), "freshet.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  const DeploymentSpec& d = spec->deployments.at("d");
  ASSERT_TRUE(d.model_by.has_value());
  EXPECT_TRUE(d.model.empty());
  EXPECT_EQ(d.alias, "champion");
  EXPECT_EQ(d.model_by->attribute.ToString(), "v:f");
  EXPECT_EQ(d.model_by->ModelFor("sports"), "ctr_sports_m");
  EXPECT_EQ(d.model_by->Template(), "ctr_{f}_m");
  EXPECT_TRUE(d.model_by->Names("ctr_news_m"));
  EXPECT_TRUE(d.model_by->Names("ctr_default"));
  EXPECT_FALSE(d.model_by->Names("ctr__m"));
  EXPECT_FALSE(d.model_by->Names("cvr_news_m"));
  EXPECT_EQ(spec->serving.model_memory_bytes, 0);

  Result<ProjectSpec> context =
      ParseProject(WithModelBy("{attribute: context.segment, model: \"{segment}\"}",
                               "serving: {model_memory: 512MiB}\n"),
                   "freshet.yaml");
  ASSERT_TRUE(context.ok()) << context.status().ToString();
  EXPECT_EQ(context->deployments.at("d").model_by->attribute.context_field, "segment");
  EXPECT_EQ(context->deployments.at("d").model_by->ModelFor("s1"), "s1");
  EXPECT_EQ(context->serving.model_memory_bytes, 512LL << 20);
  for (const auto& [text, bytes] : std::vector<std::pair<std::string, int64_t>>{
           {"4096", 4096}, {"2GiB", 2LL << 30}, {"100MB", 100'000'000}, {"3 KiB", 3072}}) {
    Result<ProjectSpec> sized =
        ParseProject(WithTail("serving: {model_memory: " + text + "}\n"), "freshet.yaml");
    ASSERT_TRUE(sized.ok()) << text << ": " << sized.status().ToString();
    EXPECT_EQ(sized->serving.model_memory_bytes, bytes) << text;
  }
}

TEST(SpecModelByTest, ErrorsNameTheLine) {
  auto error = [](const std::string& yaml) {
    Result<ProjectSpec> spec = ParseProject(yaml, "freshet.yaml");
    return spec.ok() ? std::string("ok") : spec.status().message();
  };
  EXPECT_NE(error(WithModelBy("{attribute: v:f, model: ctr}"))
                .find("the template 'ctr' must hold {f} (the attribute's value) exactly once"),
            std::string::npos);
  EXPECT_NE(error(WithModelBy("{attribute: v:f, model: \"{f}_{f}\"}")).find("exactly once"),
            std::string::npos);
  EXPECT_NE(error(WithModelBy("{attribute: v:nope, model: \"{nope}\"}"))
                .find("feature view 'v' has no feature 'nope'"),
            std::string::npos);
  EXPECT_NE(error(WithModelBy("{model: \"{f}\"}")).find("model_by: missing attribute"),
            std::string::npos);
  EXPECT_NE(error(WithModelBy("{attribute: v:f, model: \"{f}\"}", "    model: m\n"))
                .find("has both model and model_by"),
            std::string::npos);
  EXPECT_NE(error(WithModelBy("{attribute: v:f, model: \"{f}\"}",
                              "    traffic:\n      - {version: 1, weight: 1}\n"))
                .find("model_by and traffic are exclusive"),
            std::string::npos);
  EXPECT_NE(error(WithTail("feature_services:\n  s: [v:f]\ndeployments:\n  d: {features: s}\n"))
                .find("needs model (one model) or model_by (a model per entity)"),
            std::string::npos);
  std::string bad_size = error(WithTail("serving: {model_memory: 2TB}\n"));
  EXPECT_NE(bad_size.find("serving.model_memory: model_memory: expected a size"), std::string::npos)
      << bad_size;
  EXPECT_NE(error(WithTail("serving: {memory: 1}\n")).find("memory"), std::string::npos);
}

}  // namespace
}  // namespace freshet
