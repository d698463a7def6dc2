// Blue-green feature generations through a real Instance (RocksDB data directory, real linear
// models in the registry): a changed definition is built from the event log while the old
// generation serves, both stay current once caught up, releases switch a model version and
// generations together under concurrent predictions, retirement frees state, and retention
// drops old log records.
#include "instance/generations.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "instance/instance.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kHour = 3'600'000;

// `total_where` filters the sum (a changed definition); `retention` is the source's.
std::string Yaml(const std::string& total_where = "", const std::string& retention = "30d") {
  std::string where = total_where.empty() ? "" : ", where: \"" + total_where + "\"";
  return "project: t\n"
         "entities:\n"
         "  user: {key: user_id}\n"
         "sources:\n"
         "  clicks: {timestamp: ts, fields: {user_id: string, amount: double}, retention: " +
         retention +
         "}\n"
         "feature_views:\n"
         "  activity:\n"
         "    entity: user\n"
         "    source: clicks\n"
         "    features:\n"
         "      n: {agg: count}\n"
         "      total: {agg: sum, of: amount" +
         where +
         "}\n"
         "feature_services:\n"
         "  scoring: [activity:n, activity:total]\n"
         "models:\n"
         "  ranker: {runtime: linear}\n"
         "deployments:\n"
         "  rank: {model: ranker, features: scoring}\n";
}

std::string Events(const std::vector<std::pair<std::string, double>>& clicks, int64_t ts) {
  std::string body;
  for (const auto& [user, amount] : clicks) {
    body += "{\"user_id\":\"" + user + "\",\"amount\":" + std::to_string(amount) +
            ",\"ts\":" + std::to_string(ts) + "}\n";
  }
  return body;
}

class GenerationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("freshet_generations_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    WriteSpec(Yaml());
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteSpec(const std::string& yaml) { std::ofstream(dir_ / "freshet.yaml") << yaml; }
  std::unique_ptr<Instance> Open(const std::string& data = "data") {
    InstanceOptions options;
    options.project_dir = dir_.string();
    options.data_dir = (dir_ / data).string();
    options.checkpoint_interval_ms = 3'600'000;
    options.clock = &clock_;
    options.build_generations_in_background = false;
    auto instance = Instance::Open(options);
    EXPECT_TRUE(instance.ok()) << instance.status().ToString();
    return instance.ok() ? std::move(*instance) : nullptr;
  }
  static void Ingest(Instance* instance, const std::string& body) {
    auto ack = instance->Ingest("clicks", body);
    ASSERT_TRUE(ack.ok()) << ack.status().ToString();
  }
  // activity:total of `user` in `generation` (0: the default).
  static double Total(Instance* instance, const std::string& user, uint32_t generation = 0) {
    GenerationPick pick;
    if (generation != 0) pick["activity"] = generation;
    auto table = instance->features()->Get(
        {{"activity", "total"}}, {{"user_id", {Value::String(user)}}}, std::nullopt, &pick);
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    return table.ok() ? table->values[0][0].to_double() : -1;
  }
  static std::map<uint32_t, GenerationState> States(Instance* instance) {
    std::map<uint32_t, GenerationState> out;
    auto list = instance->generations()->List("activity");
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    for (const GenerationInfo& g : list.ok() ? *list : std::vector<GenerationInfo>{}) {
      out[g.generation] = g.state;
    }
    return out;
  }
  int64_t RegisterLinear(Instance* instance, const std::string& weights, double bias) {
    const std::string path = (dir_ / "linear.json").string();
    std::ofstream(path) << R"({"weights":[)" << weights << R"(],"bias":)" << bias << "}";
    auto v = instance->registry()->Register("ranker", path, "linear");
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? v->version : 0;
  }
  // Opens v1, ingests the first events, reopens with the changed definition (total counts
  // amounts above 1) and builds generation 2 to caught-up.
  std::unique_ptr<Instance> TwoLiveGenerations() {
    {
      auto v1 = Open();
      Ingest(v1.get(), Events({{"u1", 1}, {"u1", 5}, {"u2", 3}}, kNow - kHour));
    }
    WriteSpec(Yaml("amount > 1"));
    auto instance = Open();
    EXPECT_TRUE(instance->generations()->BuildPending().ok());
    return instance;
  }

  fs::path dir_;
  ManualClock clock_{kNow};
};

TEST_F(GenerationsTest, ChangedDefinitionIsBuiltFromTheLogWhileTheOldOneServesThenBothStayCurrent) {
  const std::vector<std::string> batches = {
      Events({{"u1", 1}, {"u1", 5}, {"u2", 3}}, kNow - 2 * kHour),
      Events({{"u2", 0.5}, {"u3", 7}}, kNow - kHour)};
  {
    auto v1 = Open();
    for (const std::string& b : batches) Ingest(v1.get(), b);
    EXPECT_DOUBLE_EQ(Total(v1.get(), "u1"), 6);
  }
  WriteSpec(Yaml("amount > 1"));
  auto instance = Open();
  // The new definition has a generation of its own, building; the old one keeps serving.
  EXPECT_EQ(States(instance.get()),
            (std::map<uint32_t, GenerationState>{{1, GenerationState::kLive},
                                                 {2, GenerationState::kBuilding}}));
  EXPECT_DOUBLE_EQ(Total(instance.get(), "u1"), 6);

  // Build while events keep arriving: the old generation applies them at once; the new one
  // gets them from the log, then live once it caught up.
  std::vector<std::string> live;
  for (int i = 0; i < 50; ++i) live.push_back(Events({{"u1", 2}, {"u4", 0.25}}, kNow - 30'000 + i));
  Status built;
  std::thread builder([&] { built = instance->generations()->BuildPending(); });
  for (const std::string& b : live) Ingest(instance.get(), b);
  builder.join();
  ASSERT_TRUE(built.ok()) << built.ToString();
  EXPECT_EQ(States(instance.get()), (std::map<uint32_t, GenerationState>{
                                        {1, GenerationState::kLive}, {2, GenerationState::kLive}}));
  const std::string after = Events({{"u1", 4}, {"u2", 9}}, kNow - 1'000);
  Ingest(instance.get(), after);

  // The old generation: every amount; the new: amounts above 1, as a fresh start of the new
  // definition over the same events computes. Reads default to the newest caught-up.
  EXPECT_DOUBLE_EQ(Total(instance.get(), "u1", 1), 1 + 5 + 50 * 2 + 4);
  EXPECT_DOUBLE_EQ(Total(instance.get(), "u1", 2), 5 + 50 * 2 + 4);
  EXPECT_DOUBLE_EQ(Total(instance.get(), "u1"), Total(instance.get(), "u1", 2));
  auto scratch = Open("scratch");
  for (const std::string& b : batches) Ingest(scratch.get(), b);
  for (const std::string& b : live) Ingest(scratch.get(), b);
  Ingest(scratch.get(), after);
  for (const std::string user : {"u1", "u2", "u3", "u4"}) {
    EXPECT_DOUBLE_EQ(Total(instance.get(), user, 2), Total(scratch.get(), user)) << user;
  }

  // Both stay current across a restart (each generation's own checkpoint and offsets).
  instance.reset();
  instance = Open();
  Ingest(instance.get(), Events({{"u1", 3}}, kNow));
  EXPECT_DOUBLE_EQ(Total(instance.get(), "u1", 1), 1 + 5 + 50 * 2 + 4 + 3);
  EXPECT_DOUBLE_EQ(Total(instance.get(), "u1", 2), 5 + 50 * 2 + 4 + 3);
}

TEST_F(GenerationsTest, DeployAndRollbackSwitchModelVersionAndGenerationTogether) {
  auto instance = TwoLiveGenerations();
  int64_t v1 = RegisterLinear(instance.get(), "0, 1", 0);
  int64_t v2 = RegisterLinear(instance.get(), "0, 1", 100);
  auto r1 = instance->Deploy("rank", v1, 1);
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(r1->generations, (GenerationPick{{"activity", 1}}));
  // Defaults: the alias's version (champion: v1) and the newest caught-up generation.
  auto r2 = instance->Deploy("rank", std::nullopt, std::nullopt);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->model_version, v1);
  EXPECT_EQ(r2->generations, (GenerationPick{{"activity", 2}}));
  auto users = EntityColumns{{"user_id", {Value::String("u1")}}};
  auto p = instance->predictor()->Predict("rank", users);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->release, r2->id);
  EXPECT_EQ(p->generations, (GenerationPick{{"activity", 2}}));
  EXPECT_DOUBLE_EQ(p->scores[0], 5);  // generation 2: amounts above 1

  auto back = instance->RollbackRelease("rank");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, r1->id);
  p = instance->predictor()->Predict("rank", users);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->version, v1);
  EXPECT_DOUBLE_EQ(p->scores[0], 6);  // generation 1: every amount

  // A release survives a restart; bad requests name what is wrong.
  ASSERT_TRUE(instance->Deploy("rank", v2, 2).ok());
  instance.reset();
  instance = Open();
  p = instance->predictor()->Predict("rank", users);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->version, v2);
  EXPECT_DOUBLE_EQ(p->scores[0], 105);
  EXPECT_EQ(instance->Deploy("rank", 9, std::nullopt).status().code(), StatusCode::kNotFound);
  auto foreign = instance->Deploy("rank", std::nullopt, 77);
  EXPECT_EQ(foreign.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(foreign.status().message(), HasSubstr("generation 77"));
  EXPECT_EQ(instance->Deploy("nope", std::nullopt, std::nullopt).status().code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(instance->generations()->Rebuild("activity", std::nullopt).ok());
  auto building = instance->Deploy("rank", std::nullopt, 3);
  EXPECT_EQ(building.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(building.status().message(), HasSubstr("building"));
}

// The issue's test: predictions under concurrent load while the release switches and rolls
// back several times. Every response must name one release's (model version, generation) and
// carry that pair's score, so a request mixing model and features of two releases would fail.
TEST_F(GenerationsTest, PredictUnderConcurrentLoadWhileSwitchingAndRollingBack) {
  auto instance = TwoLiveGenerations();
  int64_t v1 = RegisterLinear(instance.get(), "0, 1", 0);
  int64_t v2 = RegisterLinear(instance.get(), "0, 1", 100);
  // u1: total 6 in generation 1, 5 in generation 2.
  const std::map<std::pair<int64_t, uint32_t>, double> expected = {{{v1, 1}, 6}, {{v2, 2}, 105}};
  ASSERT_TRUE(instance->Deploy("rank", v1, 1).ok());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::set<std::pair<int64_t, uint32_t>> seen;
  auto users = EntityColumns{{"user_id", {Value::String("u1")}}};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        auto p = instance->predictor()->Predict("rank", users);
        std::lock_guard lock(mu);
        if (!p.ok()) {
          failures.push_back(p.status().ToString());
        } else {
          auto pair = std::pair(p->version, p->generations["activity"]);
          auto it = expected.find(pair);
          if (it == expected.end() || p->scores[0] != it->second) {
            failures.push_back(
                fmt::format("v{} g{} score {}", pair.first, pair.second, p->scores[0]));
          }
          seen.insert(pair);
        }
        ++done;
      }
    });
  }
  // Each switch waits for some predictions under the release before the next one.
  auto await = [&](uint64_t n) {
    const uint64_t target = done.load() + n;
    for (int i = 0; i < 20'000 && done.load() < target; ++i) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  };
  for (int round = 0; round < 4; ++round) {
    await(50);
    ASSERT_TRUE(instance->Deploy("rank", v2, 2).ok());
    await(50);
    ASSERT_TRUE(instance->RollbackRelease("rank").ok());
  }
  await(50);
  stop = true;
  for (std::thread& t : threads) t.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " bad responses, first: " << failures[0];
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_GE(done.load(), 8u * 50u);
}

TEST_F(GenerationsTest, RetireFreesStateAndIsRefusedWhileAReleaseUsesIt) {
  auto instance = TwoLiveGenerations();
  int64_t v1 = RegisterLinear(instance.get(), "0, 1", 0);
  ASSERT_TRUE(instance->Deploy("rank", v1, 1).ok());
  Status used = instance->RetireGeneration("activity", 1);
  EXPECT_EQ(used.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(used.message(), HasSubstr("rank"));
  // The previous release still uses it too (a rollback could bring it back).
  ASSERT_TRUE(instance->Deploy("rank", v1, 2).ok());
  EXPECT_EQ(instance->RetireGeneration("activity", 1).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(instance->Deploy("rank", v1, 2).ok());
  ASSERT_TRUE(instance->RetireGeneration("activity", 1).ok());
  EXPECT_EQ(States(instance.get())[1], GenerationState::kRetired);
  GenerationPick old{{"activity", 1}};
  auto read = instance->features()->Get({{"activity", "total"}},
                                        {{"user_id", {Value::String("u1")}}}, std::nullopt, &old);
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
  EXPECT_DOUBLE_EQ(Total(instance.get(), "u1"), 5);
  Status last = instance->RetireGeneration("activity", 2);
  EXPECT_EQ(last.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(instance->RetireGeneration("activity", 1).code(), StatusCode::kNotFound);

  // Stored states of generation 1 are gone; generation 2's remain. Restarts keep it retired.
  instance.reset();
  {
    auto db = Db::Open((dir_ / "data").string());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    std::map<uint32_t, int> states_by_view;
    auto it = (*db)->NewIterator(Cf::kState);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++states_by_view[ReadBigEndian32(it->key().data())];
    }
    auto id = [&](const std::string& name) {
      auto v = (*db)->Get(Cf::kCheckpoints, "view:" + name);
      EXPECT_TRUE(v.ok() && *v && (*v)->size() == 4) << name;
      return v.ok() && *v ? ReadBigEndian32((*v)->data()) : 0u;
    };
    EXPECT_EQ(states_by_view[id("activity")], 0);
    EXPECT_EQ(states_by_view[id("activity@g2")], 2);  // u1, u2
  }
  instance = Open();
  EXPECT_EQ(States(instance.get())[1], GenerationState::kRetired);
  EXPECT_DOUBLE_EQ(Total(instance.get(), "u1"), 5);
}

TEST_F(GenerationsTest, RetentionDropsOldLogRecordsAndBoundsARebuild) {
  WriteSpec(Yaml("", "1h"));
  auto instance = Open();
  Ingest(instance.get(), Events({{"u1", 1}, {"u1", 2}}, kNow - 3 * kHour));
  Ingest(instance.get(), Events({{"u1", 4}}, kNow - 10 * 60'000));
  ASSERT_TRUE(instance->Checkpoint().ok());
  auto oldest = instance->log()->Oldest("clicks");
  ASSERT_TRUE(oldest.ok() && *oldest) << oldest.status().ToString();
  EXPECT_EQ((*oldest)->first, 2u);                   // the two records older than an hour are gone
  EXPECT_DOUBLE_EQ(Total(instance.get(), "u1"), 7);  // applied state is kept

  // A rebuild reaches back no further than retention, whatever --since asks.
  auto g = instance->generations()->Rebuild("activity", kNow - 5 * kHour);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->since_ms, kNow - kHour);
  ASSERT_TRUE(instance->generations()->BuildPending().ok());
  EXPECT_DOUBLE_EQ(Total(instance.get(), "u1", g->generation), 4);
  auto late = instance->generations()->Rebuild("activity", kNow - 60'000);
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  EXPECT_EQ(late->since_ms, kNow - 60'000);
  ASSERT_TRUE(instance->generations()->BuildPending().ok());
  auto table = instance->features()->Get({{"activity", "n"}}, {{"user_id", {Value::String("u1")}}},
                                         std::nullopt);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->statuses[0][0], ReadStatus::kNotFound);  // no event that recent
}

}  // namespace
}  // namespace freshet
