#include "store/store_test_util.h"

#include <stdlib.h>

#include <filesystem>

#include "spec/spec_loader.h"

namespace freshet::testing {

StoreHarness::StoreHarness() {
  char tmpl[] = "/tmp/freshet_store_test_XXXXXX";
  const char* dir = mkdtemp(tmpl);
  EXPECT_NE(dir, nullptr);
  dir_ = dir != nullptr ? dir : "";
  auto spec = ParseProject(kStoreSpec, "freshet.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  if (!spec.ok()) return;
  spec_ = std::move(*spec);
  auto db = Db::Open(dir_);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return;
  db_ = std::move(*db);
  backend_ = std::make_unique<RocksDbStateBackend>(db_.get());
  EngineOptions options;
  options.checkpoint_records = 1'000'000'000;
  options.checkpoint_interval_ms = INT64_MAX;
  auto engine = StreamEngine::Create(spec_, backend_.get(), &clock_, options);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  if (!engine.ok()) return;
  engine_ = std::move(*engine);
  online_ = std::make_unique<EngineOnlineStore>(engine_.get());
  store_ = std::make_unique<FeatureStore>(&spec_, online_.get(), &clock_);
}

StoreHarness::~StoreHarness() {
  store_.reset();
  online_.reset();
  engine_.reset();
  backend_.reset();
  db_.reset();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

void StoreHarness::Click(const std::string& user, int64_t ts_ms, double amount) {
  ASSERT_NE(engine_, nullptr);
  Record r;
  r.ts_ms = ts_ms;
  r.values = {Value::String(user), Value::Int(ts_ms), Value::Double(amount)};
  Status st = engine_->Apply("clicks", next_offset_++, {r});
  ASSERT_TRUE(st.ok()) << st.ToString();
}

}  // namespace freshet::testing
