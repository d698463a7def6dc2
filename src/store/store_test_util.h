// Test support for the store module: a project spec, a stream engine on a real RocksDB in a
// fresh temporary directory, and events applied to it at known times.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "spec/project_spec.h"
#include "storage/db.h"
#include "store/engine_online_store.h"
#include "store/feature_store.h"
#include "stream/engine.h"
#include "stream/rocksdb_state_backend.h"

namespace freshet::testing {

// Read time of the store tests: 2026-01-01T00:00:00Z.
inline constexpr int64_t kT = 1'767'225'600'000;
inline constexpr int64_t kMinute = 60'000;

// Two views of one entity over one source; `activity` has a 1h TTL, `lifetime` none.
inline constexpr const char* kStoreSpec = R"yaml(project: store_test
entities:
  user: {key: user_id}
sources:
  clicks:
    kind: http
    timestamp: ts_ms
    fields: {user_id: string, ts_ms: int64, amount: double}
    allowed_lateness: 1d
feature_views:
  activity:
    entity: user
    source: clicks
    ttl: 1h
    features:
      clicks_10m: {agg: count, window: 10m}
      amount_1h: {agg: sum, of: amount, window: 1h}
  lifetime:
    entity: user
    source: clicks
    features:
      total: {agg: count}
      last_amount: {agg: last, of: amount}
feature_services:
  scoring: [activity:clicks_10m, lifetime:total, activity:amount_1h]
)yaml";

// A FeatureStore over a real engine and RocksDB state backend in a temporary directory.
class StoreHarness {
 public:
  StoreHarness();
  ~StoreHarness();

  // Applies clicks (user, ts, amount) in order at the next log offsets; fails the test on error.
  void Click(const std::string& user, int64_t ts_ms, double amount);

  const std::string& dir() const { return dir_; }
  Db* db() { return db_.get(); }
  const ProjectSpec& spec() const { return spec_; }
  FeatureStore* store() { return store_.get(); }
  ManualClock* clock() { return &clock_; }

 private:
  std::string dir_;
  ProjectSpec spec_;
  ManualClock clock_{kT};
  std::unique_ptr<Db> db_;
  std::unique_ptr<RocksDbStateBackend> backend_;
  std::unique_ptr<StreamEngine> engine_;
  std::unique_ptr<EngineOnlineStore> online_;
  std::unique_ptr<FeatureStore> store_;
  uint64_t next_offset_ = 0;
};

}  // namespace freshet::testing
