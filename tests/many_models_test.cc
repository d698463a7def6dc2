// Thousands of models, one per audience segment, on a real Instance (RocksDB in a temporary
// directory, a manual clock): 2,000 linear models are registered, each user's segment is a table
// attribute, and a `model_by` deployment scores each user with their segment's model while the
// model cache holds at most 300 of them (`serving: {model_memory: ...}`). Every row names its
// segment's model and equals that model's own prediction on the same input, from concurrent
// callers, with models evicted and reloaded meanwhile; a segment without a model is a clear
// error.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include "instance/instance.h"
#include "models/model_runtime.h"
#include "models/models_test_util.h"

namespace freshet {
namespace {

constexpr int64_t kT = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int kModels = 2000;
constexpr int kCached = 300;

constexpr const char* kSpec = R"yaml(project: many_models
entities:
  user: {key: user_id}
sources:
  clicks:
    kind: http
    timestamp: ts
    fields: {user_id: string, ts: int64}
    allowed_lateness: 1d
  users:
    kind: table
    entity: user
    timestamp: updated_at
    fields: {user_id: string, segment: string}
feature_views:
  activity:
    entity: user
    source: clicks
    features:
      n: {agg: count}
  profile:
    entity: user
    source: users
    features:
      segment: {attr: segment}
feature_services:
  ctr_inputs: [activity:n]
deployments:
  ctr:
    features: ctr_inputs
    model_by: {attribute: profile:segment, model: "ctr_{segment}"}
serving: {model_memory: MEMORY}
)yaml";

// Model i scores n + 1000 + i; every artifact has the same size.
std::string Artifact(int i) {
  return fmt::format(R"({{"weights":[1.0],"bias":{:.4f}}})", 1000.0 + i);
}

class ManyModelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int64_t size = static_cast<int64_t>(Artifact(0).size());
    std::string spec = kSpec;
    spec.replace(spec.find("MEMORY"), 6, std::to_string(kCached * size));
    std::filesystem::create_directories(dir_.File("project"));
    testing::WriteFile(dir_.File("project/freshet.yaml"), spec);
    InstanceOptions options;
    options.project_dir = dir_.File("project");
    options.data_dir = dir_.File("data");
    options.clock = &clock_;
    options.checkpoint_interval_ms = 3'600'000;
    auto instance = Instance::Open(options);
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    instance_ = std::move(*instance);

    std::string users = "user_id,segment,updated_at\n";
    for (int i = 0; i < kModels; ++i) {
      const std::string path = dir_.File(fmt::format("m{}.json", i));
      testing::WriteFile(path, Artifact(i));
      auto v = instance_->registry()->Register(fmt::format("ctr_s{}", i), path, "linear");
      ASSERT_TRUE(v.ok()) << v.status().ToString();
      users += fmt::format("u{},s{},{}\n", i, i, kT - 60'000);
    }
    auto rows = instance_->tables()->Upsert("users", users, TableFormat::kCsv);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    for (int i = 0; i < kModels; i += 7) {  // some users have clicks: n varies by row
      for (int c = 0; c <= i % 3; ++c) {
        auto ack = instance_->Ingest(
            "clicks", fmt::format(R"({{"user_id":"u{}","ts":{}}})", i, kT - 1000 + c));
        ASSERT_TRUE(ack.ok()) << ack.status().ToString();
      }
    }
  }

  double Metric(const std::string& name) {
    std::string text = instance_->metrics()->Render();
    size_t at = text.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + name.size() + 2));
  }

  testing::ScopedTempDir dir_{"many_models"};
  ManualClock clock_{kT};
  std::unique_ptr<Instance> instance_;
};

TEST_F(ManyModelsTest, EachUserIsScoredByTheirSegmentsModelUnderTheMemoryBound) {
  std::atomic<int> checked{0};
  std::vector<std::string> failures(2);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < failures.size(); ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t + 1);
      for (int request = 0; request < 60 && failures[t].empty(); ++request) {
        EntityColumns entities;
        std::vector<int> users;
        for (int r = 0; r < 20; ++r) {
          users.push_back(static_cast<int>(rng() % kModels));
          entities["user_id"].push_back(Value::String(fmt::format("u{}", users.back())));
        }
        auto p = instance_->predictor()->Predict("ctr", entities, kT);
        if (!p.ok()) {
          failures[t] = p.status().ToString();
          return;
        }
        for (size_t r = 0; r < users.size(); ++r) {
          const int i = users[r];
          // The segment's own model, loaded directly, on the row's input.
          auto direct = LoadRuntime(
              "linear",
              instance_->registry()->Resolve(fmt::format("ctr_s{}", i), "champion")->artifact_path);
          const Value& n = p->features.values[0][r];
          float input = n.is_null() ? std::nanf("") : static_cast<float>(n.to_double());
          std::vector<float> out;
          if (!direct.ok() || !(*direct)->Predict(&input, 1, 1, &out).ok()) {
            failures[t] = "direct predict failed";
            return;
          }
          if (p->models[r] != fmt::format("ctr_s{}", i) || p->versions[r] != 1 ||
              static_cast<float>(p->scores[r]) != out[0]) {
            failures[t] = fmt::format("row {} (u{}): model {} v{} scored {}, direct {}", r, i,
                                      p->models[r], p->versions[r], p->scores[r], out[0]);
            return;
          }
          ++checked;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& failure : failures) EXPECT_EQ(failure, "");
  EXPECT_EQ(checked.load(), 2 * 60 * 20);
  const double size = static_cast<double>(Artifact(0).size());
  EXPECT_LE(Metric("freshet_model_cache_bytes"), kCached * size);
  EXPECT_LE(Metric("freshet_model_cache_models"), kCached);
  EXPECT_GT(Metric("freshet_model_cache_evictions_total"), 0);
  EXPECT_EQ(
      Metric("freshet_model_cache_loads_total") - Metric("freshet_model_cache_evictions_total"),
      Metric("freshet_model_cache_models"));
}

}  // namespace
}  // namespace freshet
