// The registry's on-disk format in column family "registry" (Cf::kRegistry): keys and the JSON
// documents stored under them. Part of the data directory format; see src/models/README.md.
// Internal to the models module. Thread-safety: free functions with no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/status.h"
#include "models/model_version.h"

namespace freshet {

// The mutable part of a model: which versions exist and where its aliases point.
struct ModelRecord {
  std::string name;
  int64_t created_ms = 0;
  int64_t latest_version = 0;
  std::map<std::string, int64_t> aliases;
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
