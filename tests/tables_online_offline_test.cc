// Table sources end to end on a real Instance (RocksDB in a temporary directory, a manual
// clock): table features read online (FeatureStore) and by the backfill at each label's time
// agree, as do stream features computed with lookups of a table that changes between events.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "format/csv.h"
#include "instance/instance.h"
#include "models/models_test_util.h"
#include "offline/backfill.h"
#include "sources/source_event_reader.h"
#include "spec/spec_loader.h"

namespace freshet {
namespace {

constexpr int64_t kT = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kMinute = 60'000;

constexpr const char* kSpec = R"yaml(project: tables_e2e
entities:
  user: {key: user_id}
  content: {key: content_id}
sources:
  plays:
    kind: http
    timestamp: ts
    fields: {user_id: string, content_id: int64, ts: int64}
    allowed_lateness: 1d
  users:
    kind: table
    entity: user
    timestamp: updated_at
    fields: {user_id: string, plan: string, tenure_days: int64}
  content:
    kind: table
    entity: content
    timestamp: updated_at
    fields: {content_id: int64, category: string, length_s: double}
feature_views:
  profile:
    entity: user
    source: users
    ttl: 1h
    features:
      plan: {attr: plan}
      tenure: {attr: tenure_days}
  plays:
    entity: user
    source: plays
    lookups:
      content: {by: content_id, fields: [category, length_s]}
    features:
      n: {agg: count}
      comedy: {agg: count, where: "category = 'comedy'"}
      seconds: {agg: sum, of: length_s}
      last_category: {agg: last, of: category}
      top: {agg: top_k, of: category, k: 2}
)yaml";

// A value as the backfill writes it in its CSV (test data holds no commas or quotes).
std::string CellText(const Value& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.as_string();
  if (v.is_int()) return fmt::format("{}", v.as_int());
  if (v.is_double()) return fmt::format("{}", v.as_double());
  return v.ToString();
}

class TablesOnlineOfflineTest : public ::testing::Test {
 protected:
  void SetUp() override {
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
  }

  void Load(const std::string& table, const std::string& csv) {
    auto n = instance_->tables()->Upsert(table, csv, TableFormat::kCsv);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
  }

  void Play(const std::string& user, int64_t content, int64_t ts) {
    auto ack = instance_->Ingest(
        "plays", fmt::format(R"({{"user_id":"{}","content_id":{},"ts":{}}})", user, content, ts));
    ASSERT_TRUE(ack.ok()) << ack.status().ToString();
  }

  // Online values of `refs` for `user` at `t`, as backfill cell texts.
  std::vector<std::string> Online(const std::vector<FeatureRef>& refs, const std::string& user,
                                  int64_t t) {
    auto table = instance_->features()->Get(refs, {{"user_id", {Value::String(user)}}}, t);
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    std::vector<std::string> cells;
    if (!table.ok()) return cells;
    for (size_t c = 0; c < refs.size(); ++c) cells.push_back(CellText(table->values[c][0]));
    return cells;
  }

  // Backfills `refs` for labels (user, t) through the instance's log and tables; returns each
  // label's feature cells.
  std::vector<std::vector<std::string>> Backfill(
      const std::vector<FeatureRef>& refs,
      const std::vector<std::pair<std::string, int64_t>>& labels) {
    std::string csv = "user_id,ts\n";
    for (const auto& [user, t] : labels) csv += fmt::format("{},{}\n", user, t);
    testing::WriteFile(dir_.File("labels.csv"), csv);
    BackfillOptions options;
    options.labels_path = dir_.File("labels.csv");
    options.out_path = dir_.File("out.csv");
    options.features = refs;
    options.timestamp_column = "ts";
    options.tables = instance_->tables();
    SourceEventReader reader(SourceContext{&instance_->spec(), instance_->log()});
    auto stats = RunBackfill(instance_->spec(), options, &reader);
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    std::vector<std::vector<std::string>> rows;
    std::ifstream in(dir_.File("out.csv"));
    std::stringstream text;
    text << in.rdbuf();
    std::string all = text.str();
    CsvParser parser(all, 1);
    CsvRow row;
    parser.Next(&row);  // header
    while (parser.Next(&row)) {
      rows.emplace_back(row.fields.begin() + 2, row.fields.end());
    }
    return rows;
  }

  testing::ScopedTempDir dir_{"tables_e2e"};
  ManualClock clock_{kT + 60 * kMinute};
  std::unique_ptr<Instance> instance_;
};

TEST_F(TablesOnlineOfflineTest, TableFeaturesOnlineEqualTheBackfillAtEachLabelsTime) {
  Load("users", fmt::format("user_id,plan,tenure_days,updated_at\n"
                            "u1,free,3,{}\nu2,team,40,{}\nu1,pro,10,{}\n",
                            kT, kT, kT + 10 * kMinute));
  auto deleted =
      instance_->tables()->DeleteKeys("users", {{Value::String("u2")}}, kT + 20 * kMinute);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();

  const std::vector<FeatureRef> refs = {{"profile", "plan"}, {"profile", "tenure"}};
  std::vector<std::pair<std::string, int64_t>> labels;
  for (const std::string user : {"u1", "u2", "u3"}) {
    for (int64_t t : {kT - 1, kT, kT + 1, kT + 10 * kMinute, kT + 10 * kMinute + 1,
                      kT + 21 * kMinute, kT + 80 * kMinute}) {
      labels.emplace_back(user, t);
    }
  }
  std::vector<std::vector<std::string>> offline = Backfill(refs, labels);
  ASSERT_EQ(offline.size(), labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    EXPECT_EQ(offline[i], Online(refs, labels[i].first, labels[i].second))
        << labels[i].first << " at " << labels[i].second;
  }
  // The values themselves: a version counts from just after its event time.
  EXPECT_EQ(offline[1], (std::vector<std::string>{"", ""}));            // u1 at kT
  EXPECT_EQ(offline[2], (std::vector<std::string>{"free", "3"}));       // u1 at kT + 1
  EXPECT_EQ(offline[3], (std::vector<std::string>{"free", "3"}));       // u1 at kT + 10m
  EXPECT_EQ(offline[4], (std::vector<std::string>{"pro", "10"}));       // u1 after the update
  EXPECT_EQ(offline[6], (std::vector<std::string>{"", ""}));            // u1 beyond the 1h TTL
  EXPECT_EQ(offline[7 + 2], (std::vector<std::string>{"team", "40"}));  // u2 at kT + 1
  EXPECT_EQ(offline[7 + 5], (std::vector<std::string>{"", ""}));        // u2 after its delete

  auto statuses =
      instance_->features()->Get(refs, {{"user_id", {Value::String("u1")}}}, kT + 80 * kMinute);
  ASSERT_TRUE(statuses.ok());
  EXPECT_EQ(statuses->statuses[0][0], ReadStatus::kOutsideMaxAge);
}

TEST_F(TablesOnlineOfflineTest, AnOnlineReadAfterAnUpdateEqualsTheBackfillAtThatTime) {
  Load("users", fmt::format("user_id,plan,tenure_days,updated_at\nu1,free,3,{}\n", kT));
  const std::vector<FeatureRef> refs = {{"profile", "plan"}, {"profile", "tenure"}};
  const int64_t now = clock_.NowMs();
  EXPECT_EQ(Online(refs, "u1", now), (std::vector<std::string>{"free", "3"}));
  Load("users", fmt::format("user_id,plan,tenure_days,updated_at\nu1,pro,4,{}\n", now - 1));
  std::vector<std::string> online = Online(refs, "u1", now);
  EXPECT_EQ(online, (std::vector<std::string>{"pro", "4"}));
  EXPECT_EQ(Backfill(refs, {{"u1", now}}), (std::vector<std::vector<std::string>>{online}));
}

// Plays are enriched with their content's category and length as of each play's time: the
// table changes between plays (an update, a delete), and the engine (as the plays arrive) and
// the backfill (afterwards, over the whole history) compute the same values.
TEST_F(TablesOnlineOfflineTest, LookupsSeeTheTableAsOfEachEventOnlineAndInTheBackfill) {
  Load("content", fmt::format("content_id,category,length_s,updated_at\n"
                              "1,comedy,100,{0}\n2,news,50,{0}\n",
                              kT));
  Play("u1", 1, kT + 1 * kMinute);  // comedy, 100
  Play("u1", 2, kT + 5 * kMinute);  // news, 50
  Play("u2", 2, kT + 6 * kMinute);  // news, 50
  Load("content",
       fmt::format("content_id,category,length_s,updated_at\n1,drama,200,{}\n", kT + 10 * kMinute));
  Play("u1", 1, kT + 10 * kMinute);  // comedy still: a version is seen after its time
  Play("u1", 1, kT + 11 * kMinute);  // drama, 200
  ASSERT_TRUE(
      instance_->tables()->DeleteKeys("content", {{Value::Int(2)}}, kT + 20 * kMinute).ok());
  Play("u1", 2, kT + 25 * kMinute);  // deleted: nulls
  Play("u1", 3, kT + 26 * kMinute);  // never in the table: nulls
  Play("u2", 1, kT + 27 * kMinute);  // drama, 200

  const std::vector<FeatureRef> refs = {{"plays", "n"},
                                        {"plays", "comedy"},
                                        {"plays", "seconds"},
                                        {"plays", "last_category"},
                                        {"plays", "top"}};
  const int64_t end = kT + 30 * kMinute;
  std::vector<std::vector<std::string>> offline =
      Backfill(refs, {{"u1", kT + 10 * kMinute + 1}, {"u1", end}, {"u2", end}});
  ASSERT_EQ(offline.size(), 3u);
  // After the first three plays of u1: two comedies (the third play's update not yet seen).
  EXPECT_EQ(std::vector<std::string>(offline[0].begin(), offline[0].begin() + 4),
            (std::vector<std::string>{"3", "2", "250", "comedy"}));
  EXPECT_EQ(std::vector<std::string>(offline[1].begin(), offline[1].begin() + 4),
            (std::vector<std::string>{"6", "2", "450", "drama"}));
  EXPECT_EQ(std::vector<std::string>(offline[2].begin(), offline[2].begin() + 4),
            (std::vector<std::string>{"2", "0", "250", "drama"}));
  EXPECT_EQ(offline[1], Online(refs, "u1", end));
  EXPECT_EQ(offline[2], Online(refs, "u2", end));
}

TEST_F(TablesOnlineOfflineTest, AViewWithLookupsNeedsTheTables) {
  BackfillOptions options;
  options.labels_path = dir_.File("labels.csv");
  options.out_path = dir_.File("out.csv");
  options.features = {{"plays", "n"}};
  testing::WriteFile(options.labels_path, "user_id,ts\nu1,1\n");
  SourceEventReader reader(SourceContext{&instance_->spec(), instance_->log()});
  auto stats = RunBackfill(instance_->spec(), options, &reader);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().message(),
            "feature view 'plays' reads table 'content': the backfill needs the table store (run "
            "it on the data directory)");
}

}  // namespace
}  // namespace freshet
