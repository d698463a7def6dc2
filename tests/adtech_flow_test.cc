// The ad-tech flow end to end (examples/adtech) on librdkafka's mock cluster: ad texts produced
// to the `ad_texts` topic are consumed by an Instance running the example's freshet.yaml (its
// brokers pointed at the mock cluster), each record triggers its own prediction by the fastText
// classifier examples/adtech/train.sh trains with the fasttext CLI, and the predictions are
// produced to the `ad_categories` topic. Checked: one prediction per record, keyed by its job id
// (`categorize/ad_texts/<partition>/<offset>`), with the record's partition and offset, its
// advertiser, and the label and probability `fasttext predict-prob` gives its text; the same in
// the prediction store; and after a restart, only the new records predicted.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <simdjson.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "instance/instance.h"
#include "kafka_mock_cluster.h"
#include "models/models_test_util.h"

namespace freshet {
namespace {

using testing::FasttextClassifier;
using testing::MockKafkaCluster;

constexpr int kPartitions = 3;
constexpr int kAdvertisers = 4;
// The longest wait for predictions to reach the output topic (a failure, never the usual case).
constexpr auto kWait = std::chrono::seconds(30);

// Polls `done` every 20 ms for up to kWait.
bool WaitFor(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// The ad of record n: words of the example's four categories mixed in varying proportions,
// so the probabilities differ from ad to ad; a few hold words the corpus never saw.
std::string AdText(int n) {
  static const std::vector<std::vector<std::string>> kWords = {
      {"flight", "hotel", "beach", "resort", "island", "cruise"},
      {"loan", "mortgage", "savings", "credit", "invest", "rates"},
      {"console", "quest", "players", "arcade", "multiplayer", "level"},
      {"dress", "sneakers", "jacket", "style", "denim", "handbag"},
  };
  std::string text;
  for (int w = 0; w < 2 + n % 4; ++w) {
    const auto& topic = kWords[(n + (w % 3 == 2 ? 1 : 0)) % kWords.size()];
    text += (text.empty() ? "" : " ") + topic[(n * 7 + w * 3) % topic.size()];
  }
  if (n % 5 == 0) text += " zebra unicorn";
  return text;
}

struct Ad {
  std::string advertiser;
  std::string text;
};

class AdtechFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.CreateTopic("ad_texts", kPartitions));
    ASSERT_TRUE(cluster_.CreateTopic("ad_categories", 1));
    std::ifstream in(std::string(FRESHET_SOURCE_DIR) + "/examples/adtech/freshet.yaml");
    std::stringstream spec;
    spec << in.rdbuf();
    std::string yaml = spec.str();
    const std::string local = "127.0.0.1:9092";
    ASSERT_NE(yaml.find(local), std::string::npos);
    for (size_t at; (at = yaml.find(local)) != std::string::npos;) {
      yaml.replace(at, local.size(), cluster_.bootstraps());
    }
    std::filesystem::create_directories(dir_.File("project"));
    testing::WriteFile(dir_.File("project/freshet.yaml"), yaml);
    ASSERT_TRUE(testing::RunCommand(
        fmt::format("bash {}/examples/adtech/train.sh {}", FRESHET_SOURCE_DIR, model_.dir.path()),
        model_.dir));
    model_.path = model_.dir.File("ad_category.bin");
  }

  // The end offset of partition 0 of `topic` (how many messages it holds), or -1.
  int64_t EndOffset(const std::string& topic) {
    char error[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", cluster_.bootstraps().c_str(), error,
                          sizeof(error)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return -1;
    }
    rd_kafka_t* client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (client == nullptr) return -1;
    int64_t low = 0, high = -1;
    if (rd_kafka_query_watermark_offsets(client, topic.c_str(), 0, &low, &high, 5000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      high = -1;
    }
    rd_kafka_destroy(client);
    return high;
  }

  Result<std::unique_ptr<Instance>> Open() {
    InstanceOptions options;
    options.project_dir = dir_.File("project");
    options.data_dir = dir_.File("data");
    options.checkpoint_interval_ms = 3'600'000;  // checkpoints when the instance closes
    options.triggers.poll_ms = 20;
    return Instance::Open(options);
  }

  // Produces ads from..to-1: ad n to partition n % kPartitions, from advertiser
  // a<n % kAdvertisers> (so each partition holds several ads of one advertiser), and remembers
  // each at its (partition, offset).
  void Produce(int from, int to) {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    for (int n = from; n < to; ++n) {
      const int32_t partition = n % kPartitions;
      Ad ad{fmt::format("a{}", n % kAdvertisers), AdText(n)};
      ASSERT_TRUE(cluster_.Produce(
          "ad_texts", partition,
          fmt::format(R"({{"ad_id":"ad{}","advertiser_id":"{}","text":"{}","ts":{}}})", n,
                      ad.advertiser, ad.text, now_ms + n)));
      ads_[{partition, next_offset_[partition]++}] = std::move(ad);
    }
  }

  // Checks every message of the output topic against the ad it names and the CLI's answer for
  // its text; every ad must be named exactly once.
  void CheckPredictions() {
    const int64_t n = static_cast<int64_t>(ads_.size());
    ASSERT_TRUE(WaitFor([&] { return EndOffset("ad_categories") >= n; }))
        << EndOffset("ad_categories") << " of " << n;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // anything more would show
    ASSERT_EQ(EndOffset("ad_categories"), n);
    auto messages = cluster_.ReadAll("ad_categories", ads_.size(), 30'000);
    std::vector<std::string> texts;
    std::vector<std::pair<int32_t, uint64_t>> at;
    for (const auto& [where, ad] : ads_) {
      texts.push_back(ad.text);
      at.push_back(where);
    }
    std::vector<std::vector<TextLabel>> cli = testing::FasttextPredictProb(model_, texts, 1);
    ASSERT_EQ(cli.size(), texts.size());
    std::map<std::pair<int32_t, uint64_t>, TextLabel> expected;
    for (size_t i = 0; i < texts.size(); ++i) {
      ASSERT_EQ(cli[i].size(), 1u) << texts[i];
      expected[at[i]] = cli[i][0];
    }

    ASSERT_EQ(messages.size(), ads_.size());
    std::set<std::pair<int32_t, uint64_t>> seen;
    simdjson::dom::parser parser;
    for (const auto& [key, value] : messages) {
      simdjson::dom::element record;
      ASSERT_EQ(parser.parse(value).get(record), simdjson::SUCCESS) << value;
      simdjson::dom::element p = record["prediction"];
      const int32_t partition = static_cast<int32_t>(int64_t(p["event"]["partition"]));
      const uint64_t offset = uint64_t(p["event"]["offset"]);
      ASSERT_TRUE(seen.insert({partition, offset}).second) << "twice: " << value;
      auto ad = ads_.find({partition, offset});
      ASSERT_NE(ad, ads_.end()) << value;
      const std::string id = fmt::format("categorize/ad_texts/{}/{}", partition, offset);
      EXPECT_EQ(key, id);
      EXPECT_EQ(std::string_view(record["id"]), id);
      EXPECT_EQ(std::string_view(p["job_id"]), id);
      EXPECT_EQ(std::string_view(p["deployment"]), "categorize");
      EXPECT_EQ(std::string_view(p["event"]["source"]), "ad_texts");
      EXPECT_EQ(std::string_view(p["entity"]["advertiser_id"]), ad->second.advertiser);
      EXPECT_EQ(std::string_view(p["model"]), "ad_category");
      EXPECT_EQ(int64_t(p["version"]), 1);
      simdjson::dom::array labels = p["labels"], probabilities = p["probabilities"];
      ASSERT_EQ(labels.size(), 1u) << value;
      ASSERT_EQ(probabilities.size(), 1u) << value;
      const TextLabel& want = expected.at({partition, offset});
      EXPECT_EQ(std::string_view(labels.at(0)), want.label) << ad->second.text;
      EXPECT_NEAR(double(probabilities.at(0)), want.probability, 1e-5) << ad->second.text;
      EXPECT_TRUE(p["score"].error() == simdjson::NO_SUCH_FIELD) << value;
    }
  }

  MockKafkaCluster cluster_;
  testing::ScopedTempDir dir_{"adtech_flow_test"};
  FasttextClassifier model_;
  std::map<std::pair<int32_t, uint64_t>, Ad> ads_;  // by (partition, offset)
  std::map<int32_t, uint64_t> next_offset_;
};

TEST_F(AdtechFlowTest, EveryAdTextGetsItsOwnPredictionOnTheOutputTopic) {
  constexpr int kAds = 30;
  {
    auto instance = Open();
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    Instance* in = instance->get();
    // Registered before any ad arrives: the first version becomes the champion.
    auto version = in->registry()->Register("ad_category", model_.path, "fasttext");
    ASSERT_TRUE(version.ok()) << version.status().ToString();
    Produce(0, kAds);
    ASSERT_TRUE(WaitFor([&] { return EndOffset("ad_categories") >= kAds; }));

    // The pull side holds the same predictions: each advertiser's, newest first.
    for (int a = 0; a < kAdvertisers; ++a) {
      auto history = in->predictions()->Get("categorize", {Value::String(fmt::format("a{}", a))});
      ASSERT_TRUE(history.ok()) << history.status().ToString();
      ASSERT_FALSE(history->empty());
      for (const StoredPrediction& p : *history) {
        const Ad& ad = ads_.at({p.event.partition, p.event.offset});
        EXPECT_EQ(ad.advertiser, fmt::format("a{}", a));
        ASSERT_TRUE(p.labels.has_value());
        ASSERT_EQ(p.labels->size(), 1u);
        EXPECT_FLOAT_EQ(p.score, p.labels->front().probability);
      }
      EXPECT_EQ(history->size(),
                std::min<size_t>(PredictionStore::kHistory, kAds / kAdvertisers + (a < 2)));
    }
  }  // closing checkpoints and commits the consumed offsets

  // A restart resumes at the checkpoint: only the new ads are predicted.
  Produce(kAds, kAds + 9);
  auto instance = Open();
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  CheckPredictions();
}

}  // namespace
}  // namespace freshet
