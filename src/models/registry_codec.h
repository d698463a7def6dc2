// The registry's on-disk format in column family "registry" (Cf::kRegistry): keys and the JSON
// documents stored under them. Part of the data directory format; see src/models/README.md.
// Internal to the models module. Thread-safety: free functions with no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "models/model_version.h"

namespace freshet {

// The registry's record format; decoding refuses any other value with an error naming both.
inline constexpr int64_t kRegistryFormat = 2;

// The mutable part of a model: which versions exist, where its aliases point (and pointed), and
// its tags and its versions' tags.
struct ModelRecord {
  std::string name;
  int64_t created_ms = 0;
  int64_t latest_version = 0;    // the highest number ever given; deleted versions included
  std::vector<int64_t> deleted;  // deleted version numbers, ascending
  std::map<std::string, int64_t> aliases;
  std::map<std::string, std::string> tags;
  std::map<int64_t, std::map<std::string, std::string>> version_tags;
  std::vector<AliasChange> alias_history;

  bool IsDeleted(int64_t version) const;
  // The highest version not deleted; 0 when none is left.
  int64_t LatestExisting() const;
  // Existing versions, ascending.
  std::vector<int64_t> Versions() const;
};

// "model/<name>". Model names never contain '/', so prefixes cannot collide.
inline constexpr std::string_view kModelKeyPrefix = "model/";
std::string ModelKey(std::string_view name);
// "version/<name>/" then the version as 8 big-endian bytes, so versions iterate in order.
std::string VersionKeyPrefix(std::string_view name);
std::string VersionKey(std::string_view name, int64_t version);

std::string EncodeModelRecord(const ModelRecord& record);
// kInternal when `json` is not a model record this code wrote.
Result<ModelRecord> DecodeModelRecord(std::string_view json);

// `version.artifact_path` is stored as given (the registry stores it relative to the data dir).
std::string EncodeModelVersion(const ModelVersion& version);
// kInternal when `json` is not a version record this code wrote.
Result<ModelVersion> DecodeModelVersion(std::string_view json);

}  // namespace freshet
