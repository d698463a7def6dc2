// FeatureStore: the online read path. Resolves feature references ("view:feature") and feature
// services to OnlineStore reads (online_store.h: one batch per view) for a batch of entities at
// one time (now, or an `as_of`), and returns a table in request order. Windows are evaluated at
// the read time, so values decay as time passes without new events. Views of table sources
// read their attributes from `tables` (AttributeLookup) through TableView (stream/table_view.h):
// the row's newest version before the read time, with the same statuses and TTL rule.
//
// Thread-safety: thread-safe (OnlineStore reads are). Does not own the spec, store or clock.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "core/value.h"
#include "spec/project_spec.h"
#include "store/online_store.h"
#include "stream/attribute_lookup.h"
#include "stream/engine.h"
#include "stream/table_view.h"

namespace freshet {

// Entity key columns of a request: key field name -> one value per entity row.
using EntityColumns = std::map<std::string, std::vector<Value>>;

struct FeatureTable {
  std::vector<FeatureRef> features;  // column order
  size_t num_rows = 0;
  // Column-major, as Feast answers: values[feature][row].
  std::vector<std::vector<Value>> values;
  std::vector<std::vector<ReadStatus>> statuses;
  std::vector<std::vector<int64_t>> event_ms;
};

class FeatureStore {
 public:
  // `tables` serves the views of table sources; null: reading one fails (kFailedPrecondition).
  FeatureStore(const ProjectSpec* spec, OnlineStore* online, const Clock* clock,
               const AttributeLookup* tables = nullptr);

  // The refs of a feature service, or kNotFound naming it.
  Result<std::vector<FeatureRef>> ServiceFeatures(const std::string& service) const;
  // Parses and checks "view:feature" strings: each must name an existing view and feature.
  Result<std::vector<FeatureRef>> ParseRefs(const std::vector<std::string>& refs) const;

  // Reads `refs` for every entity row at `as_of_ms` (now when nullopt). Every view's entity
  // key fields must be present with the same number of rows, each value of the type its source
  // declares for the field (an integral number for int64 and timestamp keys, any number for
  // double); kInvalidArgument otherwise, naming the key (and the row: "entities.user_id[2]").
  // Statuses are the store's per entity (PRESENT, NOT_FOUND, OUTSIDE_MAX_AGE), with a null
  // value of a PRESENT entity answered as NULL_VALUE. `generations`, when given, names the
  // feature generation to read per stream view (store/generation_router.h; others read their
  // default); a generation that does not exist is kNotFound naming it.
  Result<FeatureTable> Get(const std::vector<FeatureRef>& refs, const EntityColumns& entities,
                           std::optional<int64_t> as_of_ms = std::nullopt,
                           const GenerationPick* generations = nullptr) const;
  // True for a view of a table source (read from the tables; it has no generations).
  bool IsTableView(const std::string& view) const { return table_views_.count(view) > 0; }

 private:
  // The number of entity rows, after checking the key columns `refs` need (see Get).
  Result<size_t> CheckEntities(const std::vector<FeatureRef>& refs,
                               const EntityColumns& entities) const;
  // OnlineStore::Read's contract for a table view.
  Status ReadTable(const TableView& view, const std::vector<std::vector<Value>>& keys,
                   const std::vector<std::string>& features, int64_t as_of_ms,
                   std::vector<ViewRead>* out) const;

  const ProjectSpec* spec_;
  OnlineStore* online_;
  const Clock* clock_;
  const AttributeLookup* tables_;
  std::map<std::string, TableView> table_views_;  // by view name
};

}  // namespace freshet
