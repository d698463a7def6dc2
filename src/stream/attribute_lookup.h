// AttributeLookup: the seam through which the feature engine reads table sources (`kind: table`
// rows keyed by an entity, every version kept with its event time) without depending on where
// they are stored. The tables module implements it (tables/table_store.h); the instance passes
// it to the engine, the feature store and the backfill.
//
// Visibility (docs/semantics.md): a version with event time e is visible at times t > e, as an
// event at e is to a window read at t (windows cover ts < t). A tombstone (a deleted row) is a
// version too: reads at times after it find no row until a later upsert.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/value.h"

namespace freshet {

// One version of one table row.
struct AttributeVersion {
  int64_t event_ms = 0;
  bool deleted = false;       // a tombstone: the row was deleted at event_ms
  std::vector<Value> values;  // the table source's fields in schema order; empty when deleted
};

class AttributeLookup {
 public:
  virtual ~AttributeLookup() = default;
  // The newest version of the row of `entity_key` (stream/entity_key.h) in table source
  // `table` whose event time is < t_ms, tombstones included; nullopt when there is none.
  // Errors: kNotFound when `table` is not a table source; kIoError from storage.
  // Thread-safety: implementations are thread-safe.
  virtual Result<std::optional<AttributeVersion>> VersionBefore(const std::string& table,
                                                                std::string_view entity_key,
                                                                int64_t t_ms) const = 0;
  // VersionBefore of each of `entity_keys` at t_ms, in their order (one read of a batch: a
  // store may share its work among them). The default asks VersionBefore for each.
  virtual Result<std::vector<std::optional<AttributeVersion>>> VersionsBefore(
      const std::string& table, const std::vector<std::string>& entity_keys, int64_t t_ms) const {
    std::vector<std::optional<AttributeVersion>> out;
    out.reserve(entity_keys.size());
    for (const std::string& key : entity_keys) {
      ASSIGN_OR_RETURN(std::optional<AttributeVersion> version, VersionBefore(table, key, t_ms));
      out.push_back(std::move(version));
    }
    return out;
  }
};

}  // namespace freshet
