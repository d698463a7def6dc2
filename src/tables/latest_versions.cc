#include "tables/latest_versions.h"

namespace freshet {

LatestVersions::LatestVersions(size_t capacity) : capacity_(capacity) {}

std::optional<AttributeVersion> LatestVersions::Find(const std::string& row) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rows_.find(row);
  if (it == rows_.end()) return std::nullopt;
  return it->second;
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
}

void LatestVersions::Invalidate(const std::vector<std::string>& rows) {
  std::lock_guard<std::mutex> lock(mu_);
  ++epoch_;
  for (const std::string& row : rows) rows_.erase(row);
}

size_t LatestVersions::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rows_.size();
}

}  // namespace freshet
