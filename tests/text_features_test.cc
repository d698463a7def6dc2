// Request-time features on a real Instance (RocksDB in a temporary directory, a manual clock) and
// a fastText model trained by the fasttext CLI: the mean sentence vector of a user's last
// searches equals the mean of `fasttext print-sentence-vectors` over them, is what the model is
// fed online, and the backfill writes the same values at each label's time.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "format/csv.h"
#include "instance/instance.h"
#include "instance/service_backfill.h"
#include "models/models_test_util.h"
#include "offline/backfill.h"
#include "serving/request_features.h"
#include "sources/source_event_reader.h"
#include "spec/spec_loader.h"

namespace freshet {
namespace {

constexpr int64_t kT = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kMinute = 60'000;
constexpr size_t kDim = testing::FasttextClassifier::kDim;

constexpr const char* kSpec = R"yaml(project: text_features
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
      recent: {agg: last_n, of: query, n: 3}
feature_services:
  intent:
    features: [search:n]
    request_features:
      - {name: query_vec, fn: mean_sentence_vector, model: topics, of: search:recent}
  intent_now:
    features: [search:n]
    request_features:
      - {name: q, fn: mean_sentence_vector, model: topics, of: context.query}
models:
  topics: {runtime: fasttext}
  ranker: {runtime: linear}
deployments:
  rank: {model: ranker, features: intent}
  rank_now: {model: ranker, features: intent_now}
)yaml";

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

class TextFeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = testing::TrainedFasttextClassifier();
    ASSERT_NE(model_, nullptr);
    std::filesystem::create_directories(dir_.File("project"));
    testing::WriteFile(dir_.File("project/freshet.yaml"), kSpec);
    InstanceOptions options;
    options.project_dir = dir_.File("project");
    options.data_dir = dir_.File("data");
    options.clock = &clock_;
    options.checkpoint_interval_ms = 3'600'000;
    auto instance = Instance::Open(options);
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    instance_ = std::move(*instance);
    ASSERT_TRUE(instance_->registry()->Register("topics", model_->path, "fasttext").ok());
  }

  void Search(const std::string& user, const std::string& query, int64_t ts) {
    auto ack = instance_->Ingest(
        "searches", fmt::format(R"({{"user_id":"{}","query":"{}","ts":{}}})", user, query, ts));
    ASSERT_TRUE(ack.ok()) << ack.status().ToString();
  }

  // Registers a linear `ranker` with these weights (search:n, then the request feature).
  void RegisterRanker(const std::vector<float>& weights) {
    std::string json = "{\"weights\":[";
    for (size_t i = 0; i < weights.size(); ++i)
      json += (i ? "," : "") + fmt::format("{}", weights[i]);
    json += "],\"bias\":0}";
    testing::WriteFile(dir_.File("ranker.json"), json);
    ASSERT_TRUE(instance_->registry()->Register("ranker", dir_.File("ranker.json"), "linear").ok());
  }

  // The mean of the CLI's sentence vectors of `texts`.
  std::vector<float> CliMean(const std::vector<std::string>& texts) {
    std::vector<std::vector<float>> vectors = testing::FasttextSentenceVectors(*model_, texts);
    EXPECT_EQ(vectors.size(), texts.size());
    std::vector<float> mean(kDim, 0.0f);
    for (const auto& v : vectors) {
      EXPECT_EQ(v.size(), kDim);
      for (size_t d = 0; d < kDim && d < v.size(); ++d) mean[d] += v[d] / texts.size();
    }
    return mean;
  }

  // The request features of `service` for one user at `t`, as the server computes them.
  std::vector<float> Online(const std::string& service, const std::string& user, int64_t t,
                            const PredictContext& context = {}) {
    auto bound =
        instance_->predictor()->BindRequestFeatures(instance_->spec().feature_services.at(service));
    EXPECT_TRUE(bound.ok()) << bound.status().ToString();
    std::vector<float> out(kDim);
    if (!bound.ok()) return out;
    EXPECT_EQ(bound->width(), kDim);
    Status st = bound->ComputeRows(*instance_->features(), {{"user_id", {Value::String(user)}}}, t,
                                   context, 1, kDim, 0, out.data());
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  // Backfills `service` for `labels_csv` (user_id,ts[,query]); the rows' cells after the labels'.
  std::vector<std::vector<std::string>> Backfill(const std::string& service,
                                                 const std::string& labels_csv,
                                                 std::vector<std::string>* header) {
    testing::WriteFile(dir_.File("labels.csv"), labels_csv);
    BackfillOptions options;
    options.labels_path = dir_.File("labels.csv");
    options.out_path = dir_.File("out.csv");
    Status bound =
        BindServiceBackfill(instance_->spec(), service, instance_->predictor(), &options);
    EXPECT_TRUE(bound.ok()) << bound.ToString();
    SourceEventReader reader(SourceContext{&instance_->spec(), instance_->log()});
    auto stats = RunBackfill(instance_->spec(), options, &reader);
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    std::ifstream in(dir_.File("out.csv"));
    std::stringstream text;
    text << in.rdbuf();
    std::string all = text.str();
    CsvParser parser(all, 1);
    CsvRow row;
    const size_t label_columns =
        std::count(labels_csv.begin(), labels_csv.begin() + labels_csv.find('\n'), ',') + 1;
    if (parser.Next(&row)) header->assign(row.fields.begin() + label_columns, row.fields.end());
    std::vector<std::vector<std::string>> rows;
    while (parser.Next(&row))
      rows.emplace_back(row.fields.begin() + label_columns, row.fields.end());
    return rows;
  }

  static void ExpectNear(const std::vector<float>& got, const std::vector<float>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t d = 0; d < want.size(); ++d) {
      // print-sentence-vectors prints five significant digits of each vector; a mean of them
      // carries their rounding.
      EXPECT_NEAR(got[d], want[d], 1e-4f * std::abs(want[d]) + 1e-5f) << "dimension " << d;
    }
  }

  // The backfill's cells of one computed column group equal the online floats exactly (both are
  // the same float; the CSV holds its shortest round-trip form, NaN as an empty field).
  static void ExpectSameCells(const std::vector<std::string>& cells, size_t first,
                              const std::vector<float>& online) {
    ASSERT_GE(cells.size(), first + online.size());
    for (size_t d = 0; d < online.size(); ++d) {
      if (std::isnan(online[d])) {
        EXPECT_EQ(cells[first + d], "") << "dimension " << d;
      } else {
        EXPECT_EQ(std::strtof(cells[first + d].c_str(), nullptr), online[d]) << "dimension " << d;
      }
    }
  }

  testing::ScopedTempDir dir_{"text_features"};
  ManualClock clock_{kT + 60 * kMinute};
  std::unique_ptr<Instance> instance_;
  const testing::FasttextClassifier* model_ = nullptr;
};

TEST_F(TextFeaturesTest, MeanSentenceVectorIsTheCliMeanAndWhatTheModelIsFed) {
  Search("u1", "goal striker", kT - 4 * kMinute);
  Search("u1", "recipe oven flour", kT - 3 * kMinute);
  Search("u1", "kernel cache", kT - 2 * kMinute);
  Search("u1", "league referee match", kT - kMinute);
  // last_n 3: the three latest searches.
  const std::vector<float> mean =
      CliMean({"recipe oven flour", "kernel cache", "league referee match"});
  std::vector<float> online = Online("intent", "u1", kT);
  ExpectNear(online, mean);

  // The linear ranker sees [n, query_vec_0..9]: its score is that dot product.
  std::vector<float> weights = {0.5f};
  for (size_t d = 0; d < kDim; ++d) weights.push_back(static_cast<float>(d) - 4.5f);
  RegisterRanker(weights);
  auto p = instance_->predictor()->Predict("rank", {{"user_id", {Value::String("u1")}}}, kT);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  double expected = 0.5 * 4;
  for (size_t d = 0; d < kDim; ++d) expected += weights[d + 1] * online[d];
  ASSERT_EQ(p->scores.size(), 1u);
  EXPECT_NEAR(p->scores[0], expected, 1e-4);

  // A user without searches: the vector is missing (NaN), as the model sees a missing feature.
  for (float v : Online("intent", "u2", kT)) EXPECT_TRUE(std::isnan(v));
}

TEST_F(TextFeaturesTest, TheBackfillWritesTheServersRequestFeaturesAtEachLabelsTime) {
  Search("u1", "goal striker", kT - 4 * kMinute);
  Search("u1", "recipe oven flour", kT - 3 * kMinute);
  Search("u1", "kernel cache", kT - 2 * kMinute);
  Search("u1", "league referee match", kT - kMinute);
  Search("u2", "bake sugar", kT - kMinute);
  const std::vector<std::pair<std::string, int64_t>> labels = {
      {"u1", kT - 5 * kMinute}, {"u1", kT - 150'000}, {"u1", kT}, {"u2", kT}, {"u3", kT},
  };
  std::string csv = "user_id,ts\n";
  for (const auto& [user, t] : labels) csv += fmt::format("{},{}\n", user, t);
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows = Backfill("intent", csv, &header);
  ASSERT_EQ(header.size(), 1 + kDim);
  EXPECT_EQ(header[0], "n");
  EXPECT_EQ(header[1], "query_vec_0");
  EXPECT_EQ(header[kDim], "query_vec_9");
  ASSERT_EQ(rows.size(), labels.size());
  // At kT, after every search, the server reads what the backfill computes. (Online reads at an
  // earlier `as_of` see every event applied, so earlier labels are checked against the CLI.)
  for (size_t i = 2; i < labels.size(); ++i) {
    SCOPED_TRACE(labels[i].first + " at " + std::to_string(labels[i].second));
    ExpectSameCells(rows[i], 1, Online("intent", labels[i].first, labels[i].second));
  }
  std::vector<float> last3(kDim);
  for (size_t d = 0; d < kDim; ++d) last3[d] = std::strtof(rows[2][1 + d].c_str(), nullptr);
  ExpectNear(last3, CliMean({"recipe oven flour", "kernel cache", "league referee match"}));
  // At kT - 150 s: the two searches before it.
  std::vector<float> two(kDim);
  for (size_t d = 0; d < kDim; ++d) two[d] = std::strtof(rows[1][1 + d].c_str(), nullptr);
  ExpectNear(two, CliMean({"goal striker", "recipe oven flour"}));
  EXPECT_EQ(rows[0][1], "");  // before any search: missing
}

TEST_F(TextFeaturesTest, AContextInputIsALabelsColumnInTheBackfill) {
  Search("u1", "goal striker", kT - kMinute);
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows = Backfill(
      "intent_now", fmt::format("user_id,ts,query\nu1,{0},oven flour\nu1,{0},\n", kT), &header);
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_EQ(header.size(), 1 + kDim);
  EXPECT_EQ(header[1], "q_0");
  std::vector<float> online =
      Online("intent_now", "u1", kT, {{"query", {Value::String("oven flour")}}});
  ExpectNear(online, CliMean({"oven flour"}));
  ExpectSameCells(rows[0], 1, online);
  ExpectSameCells(rows[1], 1, Online("intent_now", "u1", kT, {{"query", {Value::Null()}}}));
  EXPECT_EQ(rows[1][1], "");
}

TEST_F(TextFeaturesTest, BadInputsAndUnknownFunctionsAreNamed) {
  std::vector<float> weights(1 + kDim, 1.0f);
  RegisterRanker(weights);
  const EntityColumns u1 = {{"user_id", {Value::String("u1")}}};
  auto p = instance_->predictor()->Predict("rank_now", u1, kT);
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find(
                "request feature 'q' (context.query), row 0: the request has no context.query"),
            std::string::npos)
      << p.status().ToString();
  p = instance_->predictor()->Predict("rank_now", u1, kT, {{"query", {Value::Int(7)}}});
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("mean_sentence_vector takes a string or a list of strings, "
                                      "got 7"),
            std::string::npos)
      << p.status().ToString();
  p = instance_->predictor()->Predict("rank_now", u1, kT, {{"query", {Value::String("goal")}}});
  EXPECT_TRUE(p.ok()) << p.status().ToString();

  // An unknown function: refused by freshet apply / serve (CheckBuiltKinds) and by Bind.
  std::string spec_text = kSpec;
  spec_text.replace(spec_text.find("fn: mean_sentence_vector, model: topics, of: context"), 24,
                    "fn: median_vector");
  auto spec = ParseProject(spec_text, "freshet.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  Status built = CheckBuiltKinds(
      *spec, BuiltKinds{{"http"}, {}, {"fasttext", "linear"}, KnownRequestFeatureFns()});
  EXPECT_EQ(built.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(built.message().find("feature_services.intent_now.request_features[0].fn: "
                                 "'median_vector' is not built in this version (built: "
                                 "mean_sentence_vector)"),
            std::string::npos)
      << built.ToString();
  auto bound = instance_->predictor()->BindRequestFeatures(spec->feature_services.at("intent_now"));
  EXPECT_EQ(bound.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(
      bound.status().message().find("request feature 'q' (median_vector): unknown function (known: "
                                    "mean_sentence_vector)"),
      std::string::npos)
      << bound.status().ToString();

  // A ranker of the wrong width: the deployment is misconfigured.
  RegisterRanker({1.0f, 2.0f});
  ASSERT_TRUE(instance_->registry()->SetAlias("ranker", "champion", 2).ok());
  p = instance_->predictor()->Predict("rank", u1, kT);
  EXPECT_EQ(p.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("takes 2 features but feature service 'intent' has 11"),
            std::string::npos)
      << p.status().ToString();
}

}  // namespace
}  // namespace freshet
