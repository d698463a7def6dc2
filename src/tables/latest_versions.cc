#include "tables/latest_versions.h"

namespace freshet {

LatestVersions::LatestVersions(size_t capacity, MetricsRegistry* metrics) : capacity_(capacity) {
  if (metrics == nullptr) return;
  hits_ = metrics
              ->GetCounter("freshet_table_cache_hits_total",
                           "Table row reads answered from the rows' newest versions in memory")
              ->WithLabels({});
  misses_ = metrics
                ->GetCounter("freshet_table_cache_misses_total",
                             "Table row reads that sought the row's version in RocksDB")
                ->WithLabels({});
  rows_held_ = metrics
                   ->GetGauge("freshet_table_cache_rows",
                              "Table rows whose newest version is held in memory")
                   ->WithLabels({});
}

std::optional<AttributeVersion> LatestVersions::Find(const std::string& row, int64_t t_ms) const {
  std::optional<AttributeVersion> answer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = rows_.find(row);
    if (it != rows_.end() && it->second.event_ms < t_ms) answer = it->second;
  }
  Counter* counter = answer ? hits_ : misses_;
  if (counter != nullptr) counter->Increment();
  return answer;
}

uint64_t LatestVersions::Epoch() const {
  std::lock_guard<std::mutex> lock(mu_);
  return epoch_;
}

void LatestVersions::Insert(const std::string& row, const AttributeVersion& latest,
                            uint64_t epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (epoch != epoch_) return;
  auto it = rows_.find(row);
  if (it != rows_.end()) {
    it->second = latest;
    return;
  }
  if (rows_.size() >= capacity_) rows_.erase(rows_.begin());
  rows_.emplace(row, latest);
  if (rows_held_ != nullptr) rows_held_->Set(static_cast<double>(rows_.size()));
}

void LatestVersions::Invalidate(const std::vector<std::string>& rows) {
  std::lock_guard<std::mutex> lock(mu_);
  ++epoch_;
  for (const std::string& row : rows) rows_.erase(row);
  if (rows_held_ != nullptr) rows_held_->Set(static_cast<double>(rows_.size()));
}

size_t LatestVersions::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rows_.size();
}

}  // namespace freshet
