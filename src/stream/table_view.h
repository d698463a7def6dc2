// TableView: a feature view whose source is a table (`kind: table`), compiled for reads. Its
// features are attributes (`{attr: field}`): the field's value in the entity's row as of the
// read time. The feature store (online: a batch's versions from one VersionsBefore, then
// Resolve) and the backfill (at each label's time: Read) apply the same rule, Resolve, so online
// and offline values agree by construction.
//
// Read rule at time t, from the row's newest version before t (AttributeLookup::VersionBefore):
// none, or a tombstone: NOT_FOUND and nulls; a version older than t - ttl (the view's TTL):
// OUTSIDE_MAX_AGE and nulls; else PRESENT with the version's values. `event_ms` is the
// version's event time (0 when not found), as for stream views.
// Thread-safety: immutable after construction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "spec/project_spec.h"
#include "stream/attribute_lookup.h"
#include "stream/engine.h"

namespace freshet {

class TableView {
 public:
  // REQUIRES: `view` belongs to `spec` and its source is kind table.
  TableView(const ProjectSpec& spec, const FeatureViewSpec& view);

  const FeatureViewSpec& spec() const { return view_; }
  const std::string& table() const { return view_.source; }
  // The table field index each of `features` reads (all features when empty); kNotFound naming
  // the first unknown feature.
  Result<std::vector<int>> FieldIndexes(const std::vector<std::string>& features) const;

  // Reads `fields` (from FieldIndexes) of the row of `entity_key` as of `t_ms` by the rule above.
  Result<ViewRead> Read(const AttributeLookup& lookup, std::string_view entity_key, int64_t t_ms,
                        const std::vector<int>& fields) const;
  // The rule alone, on a version already looked up.
  ViewRead Resolve(const std::optional<AttributeVersion>& version, int64_t t_ms,
                   const std::vector<int>& fields) const;

 private:
  FeatureViewSpec view_;
  std::vector<int> attr_fields_;  // per feature of the view, its table field index
};

}  // namespace freshet
