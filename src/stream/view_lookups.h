// ViewLookups: a stream view's `lookups` (spec LookupSpec), compiled: each event is extended
// with the looked-up table fields, as the table's row was at the event's time (the newest
// version before it, AttributeLookup), before any filter or aggregation reads it. The engine
// (when it applies an event) and the backfill (when it routes one) enrich through this one
// class, so online and offline values agree (docs/semantics.md, "Lookups").
//
// The enriched record's values follow ViewInputSchema(spec, view): the source's fields, then
// each lookup's fields in order. No row, or a tombstone, gives nulls.
// Thread-safety: immutable after construction; Enrich is safe from several threads when the
// lookup is.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "format/record.h"
#include "spec/project_spec.h"
#include "stream/attribute_lookup.h"

namespace freshet {

class ViewLookups {
 public:
  // REQUIRES: `view` belongs to `spec` (its lookups name table sources and their fields).
  ViewLookups(const ProjectSpec& spec, const FeatureViewSpec& view);

  // `in` (a record of the view's source) with the looked-up values appended, into `*out`
  // (its memory is reused). Errors: the lookup's (storage).
  Status Enrich(const AttributeLookup& lookup, const Record& in, Record* out) const;

 private:
  struct Lookup {
    std::string table;
    std::vector<int> by;      // indexes of the `by` fields in the source's records
    std::vector<int> fields;  // indexes of the looked-up fields in the table's rows
  };
  std::vector<Lookup> lookups_;
};

}  // namespace freshet
