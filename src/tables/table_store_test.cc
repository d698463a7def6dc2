// TableStore on a real RocksDB: loads (NDJSON, CSV), upserts and deletes kept as history,
// as-of reads, and whole-load rejection of a bad row.
#include "tables/table_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "spec/spec_loader.h"

namespace freshet {
namespace {

constexpr const char* kSpec = R"yaml(project: tables_test
entities:
  user: {key: user_id}
  content: {keys: [catalog, content_id]}
sources:
  clicks: {kind: http, timestamp: ts, fields: {user_id: string}}
  users:
    kind: table
    entity: user
    timestamp: updated_at
    fields: {user_id: string, plan: string, tenure_days: int64}
  catalog:
    kind: table
    entity: content
    timestamp: ts
    fields: {catalog: string, content_id: int64, category: string}
)yaml";

class TableStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/freshet_tables_XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto spec = ParseProject(kSpec, "freshet.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(*spec);
    auto db = Db::Open(dir_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    store_ = std::make_unique<TableStore>(&spec_, db_.get());
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The plan of `user` as of t, or "<none>" / "<deleted>".
  std::string PlanAsOf(const std::string& user, int64_t t) {
    auto v = store_->ReadAsOf("users", user, t);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    if (!v.ok() || !v->has_value()) return "<none>";
    if ((*v)->deleted) return "<deleted>";
    return (*v)->values[1].ToString();
  }

  std::string dir_;
  ProjectSpec spec_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<TableStore> store_;
};

TEST_F(TableStoreTest, UpsertsKeepEveryVersionAndReadAsOfIsStrictlyBefore) {
  auto n = store_->Upsert("users",
                          "{\"user_id\": \"u1\", \"plan\": \"free\", \"updated_at\": 1000}\n"
                          "{\"user_id\": \"u1\", \"plan\": \"pro\", \"updated_at\": 2000}\n"
                          "{\"user_id\": \"u2\", \"plan\": \"team\", \"updated_at\": 1500}\n",
                          TableFormat::kJson);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(PlanAsOf("u1", 1000), "<none>");  // a version is visible after its event time
  EXPECT_EQ(PlanAsOf("u1", 1001), "\"free\"");
  EXPECT_EQ(PlanAsOf("u1", 2000), "\"free\"");
  EXPECT_EQ(PlanAsOf("u1", 2001), "\"pro\"");
  EXPECT_EQ(PlanAsOf("u2", 1501), "\"team\"");
  EXPECT_EQ(PlanAsOf("u3", 5000), "<none>");
  auto latest = store_->ReadLatest("users", "u1");
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->event_ms, 2000);
  auto history = store_->History("users", "u1");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].values[1].as_string(), "free");
  EXPECT_TRUE((*history)[0].values[2].is_null());  // absent field: null
}

TEST_F(TableStoreTest, DeletesAreTombstonesInTheHistory) {
  ASSERT_TRUE(store_
                  ->Upsert("users", R"([{"user_id": "u1", "plan": "free", "updated_at": 1000},
                                          {"user_id": "u2", "plan": "pro", "updated_at": 1000}])",
                           TableFormat::kJson)
                  .ok());
  auto deleted = store_->Delete("users", "{\"user_id\": \"u1\", \"updated_at\": 3000, \"plan\": 7}",
                                TableFormat::kJson);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 1u);
  ASSERT_TRUE(store_->DeleteKeys("users", {{Value::String("u2")}}, 4000).ok());
  EXPECT_EQ(PlanAsOf("u1", 3000), "\"free\"");  // the backfill still sees the old row
  EXPECT_EQ(PlanAsOf("u1", 3001), "<deleted>");
  EXPECT_EQ(PlanAsOf("u2", 4001), "<deleted>");
  ASSERT_TRUE(store_
                  ->Upsert("users",
                           "{\"user_id\": \"u1\", \"plan\": \"team\", "
                           "\"updated_at\": 5000}",
                           TableFormat::kJson)
                  .ok());
  EXPECT_EQ(PlanAsOf("u1", 5001), "\"team\"");
  EXPECT_EQ(store_->History("users", "u1")->size(), 3u);
  auto arity = store_->DeleteKeys("users", {{Value::String("u1"), Value::String("x")}}, 1);
  EXPECT_EQ(arity.status().code(), StatusCode::kInvalidArgument);
}

// A batch read through one iterator answers each key as ReadAsOf does, whatever the order of the
// keys (an iterator moved backwards and forwards among rows), deletions and absent rows included.
TEST_F(TableStoreTest, VersionsBeforeAnswersEachKeyAsReadAsOf) {
  ASSERT_TRUE(store_
                  ->Upsert("users", R"([{"user_id": "u1", "plan": "free", "updated_at": 1000},
                                        {"user_id": "u1", "plan": "pro", "updated_at": 2000},
                                        {"user_id": "u2", "plan": "team", "updated_at": 1500},
                                        {"user_id": "u4", "plan": "free", "updated_at": 900}])",
                           TableFormat::kJson)
                  .ok());
  ASSERT_TRUE(store_->DeleteKeys("users", {{Value::String("u4")}}, 1800).ok());
  const std::vector<std::string> keys = {"u2", "u1", "u3", "u4", "u1", "u0"};
  for (int64_t t : {1000, 1501, 1900, 2500}) {
    auto batch = store_->VersionsBefore("users", keys, t);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    ASSERT_EQ(batch->size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      auto one = store_->ReadAsOf("users", keys[i], t);
      ASSERT_TRUE(one.ok());
      ASSERT_EQ((*batch)[i].has_value(), one->has_value()) << keys[i] << " at " << t;
      if (!one->has_value()) continue;
      EXPECT_EQ((*batch)[i]->event_ms, (*one)->event_ms) << keys[i] << " at " << t;
      EXPECT_EQ((*batch)[i]->deleted, (*one)->deleted) << keys[i] << " at " << t;
      EXPECT_EQ((*batch)[i]->values, (*one)->values) << keys[i] << " at " << t;
    }
  }
  auto at = store_->VersionsBefore("users", keys, 2500);
  EXPECT_EQ((*at)[1]->values[1].as_string(), "pro");
  EXPECT_TRUE((*at)[3]->deleted);
  EXPECT_FALSE((*at)[2].has_value());
  EXPECT_EQ(store_->VersionsBefore("nope", keys, 1).status().code(), StatusCode::kNotFound);
}

// A read after a row's last change is answered from memory: with the stored version made
// unreadable underneath, the cached read still answers while History (which always reads
// RocksDB) fails. Reads before that version, and every write, go back to RocksDB.
TEST_F(TableStoreTest, ReadsAfterARowsLastChangeComeFromMemoryUntilItChanges) {
  ASSERT_TRUE(store_
                  ->Upsert("users", R"({"user_id": "u1", "plan": "free", "updated_at": 1000})",
                           TableFormat::kJson)
                  .ok());
  EXPECT_EQ(PlanAsOf("u1", 5000), "\"free\"");  // caches u1's newest version
  std::unique_ptr<rocksdb::Iterator> it = db_->NewIterator(Cf::kTables);
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  const std::string key = it->key().ToString();
  it.reset();
  ASSERT_TRUE(db_->Put(Cf::kTables, key, "not a version").ok());

  EXPECT_EQ(PlanAsOf("u1", 6000), "\"free\"");
  auto batch = store_->VersionsBefore("users", {"u1"}, 7000);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ((*batch)[0]->values[1].as_string(), "free");
  EXPECT_FALSE(store_->History("users", "u1").ok());
  EXPECT_EQ(PlanAsOf("u1", 900), "<none>");  // before the cached version: read from RocksDB

  // An upsert replaces the cached version; so does a delete.
  ASSERT_TRUE(store_
                  ->Upsert("users", R"({"user_id": "u1", "plan": "pro", "updated_at": 2000})",
                           TableFormat::kJson)
                  .ok());
  EXPECT_EQ(PlanAsOf("u1", 5000), "\"pro\"");
  EXPECT_FALSE(store_->ReadAsOf("users", "u1", 1500).ok());  // the unreadable version, read
  ASSERT_TRUE(store_->DeleteKeys("users", {{Value::String("u1")}}, 3000).ok());
  EXPECT_EQ(PlanAsOf("u1", 5000), "<deleted>");
  EXPECT_EQ(PlanAsOf("u1", 2500), "\"pro\"");
}

// With room for one row, reads of many rows stay correct (each evicts another).
TEST_F(TableStoreTest, ASmallCacheOnlyCostsSeeks) {
  store_ = std::make_unique<TableStore>(&spec_, db_.get(), /*metrics=*/nullptr, /*cached_rows=*/1);
  ASSERT_TRUE(store_
                  ->Upsert("users", R"([{"user_id": "u1", "plan": "free", "updated_at": 1000},
                                        {"user_id": "u2", "plan": "pro", "updated_at": 1000},
                                        {"user_id": "u3", "plan": "team", "updated_at": 1000}])",
                           TableFormat::kJson)
                  .ok());
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(PlanAsOf("u1", 2000), "\"free\"");
    EXPECT_EQ(PlanAsOf("u2", 2000), "\"pro\"");
    EXPECT_EQ(PlanAsOf("u3", 2000), "\"team\"");
  }
}

TEST_F(TableStoreTest, LoadsCsvWithCompositeKeys) {
  auto n = store_->Upsert("catalog",
                          "catalog,content_id,category,ts,extra\n"
                          "eu,42,comedy,2026-01-01T00:00:00Z,x\n"
                          "eu,43,drama,1000,y\n"
                          "us,42,news,1000,z\n",
                          TableFormat::kCsv);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 3u);
  // The key is the canonical entity key: string and int parts joined by 0x1f.
  auto eu42 = store_->ReadLatest("catalog",
                                 "eu\x1f"
                                 "42");
  ASSERT_TRUE(eu42.ok() && eu42->has_value());
  EXPECT_EQ((*eu42)->values[2].as_string(), "comedy");
  EXPECT_EQ((*eu42)->event_ms, 1'767'225'600'000);
  auto us42 = store_->ReadLatest("catalog",
                                 "us\x1f"
                                 "42");
  ASSERT_TRUE(us42.ok() && us42->has_value());
  EXPECT_EQ((*us42)->values[2].as_string(), "news");
}

TEST_F(TableStoreTest, ABadRowRejectsTheWholeLoadNamingLineAndField) {
  ParseError error;
  auto n =
      store_->Upsert("users",
                     "{\"user_id\": \"u1\", \"plan\": \"free\", \"updated_at\": 1000}\n"
                     "{\"user_id\": \"u2\", \"tenure_days\": \"long\", \"updated_at\": 1000}\n",
                     TableFormat::kJson, &error);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(error.line, 2u);
  EXPECT_EQ(error.field, "tenure_days");
  EXPECT_EQ(PlanAsOf("u1", 9999), "<none>");  // nothing of the load was written

  auto csv = store_->Upsert("users", "user_id,plan,updated_at\nu1,free,1000\n,pro,1000\n",
                            TableFormat::kCsv, &error);
  ASSERT_FALSE(csv.ok());
  EXPECT_EQ(error.line, 3u);
  EXPECT_EQ(error.field, "user_id");
  EXPECT_EQ(PlanAsOf("u1", 9999), "<none>");

  auto no_ts = store_->Upsert("users", "user_id,plan\nu1,free\n", TableFormat::kCsv);
  ASSERT_FALSE(no_ts.ok());
  EXPECT_NE(no_ts.status().message().find("updated_at"), std::string::npos)
      << no_ts.status().message();
}

TEST_F(TableStoreTest, UnknownAndNonTableSourcesAreRefused) {
  auto unknown = store_->Upsert("nope", "{}", TableFormat::kJson);
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().message(), "unknown source 'nope'");
  auto stream = store_->Upsert("clicks", "{}", TableFormat::kJson);
  EXPECT_EQ(stream.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(stream.status().message().find("source 'clicks' is kind http, not table"),
            std::string::npos);
  EXPECT_EQ(store_->ReadLatest("clicks", "u1").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace freshet
