#include "stream/view_lookups.h"

#include "stream/entity_key.h"

namespace freshet {

ViewLookups::ViewLookups(const ProjectSpec& spec, const FeatureViewSpec& view) {
  const SourceSpec& source = spec.sources.at(view.source);
  for (const LookupSpec& l : view.lookups) {
    const SourceSpec& table = spec.sources.at(l.table);
    Lookup& lookup = lookups_.emplace_back();
    lookup.table = l.table;
    for (const std::string& by : l.by) lookup.by.push_back(source.FieldIndex(by));
    for (const std::string& field : l.fields) lookup.fields.push_back(table.FieldIndex(field));
  }
}

Status ViewLookups::Enrich(const AttributeLookup& lookup, const Record& in, Record* out) const {
  out->ts_ms = in.ts_ms;
  out->values.assign(in.values.begin(), in.values.end());
  std::string key;
  for (const Lookup& l : lookups_) {
    EncodeRecordKey(in, l.by, &key);
    ASSIGN_OR_RETURN(std::optional<AttributeVersion> version,
                     lookup.VersionBefore(l.table, key, in.ts_ms));
    for (int field : l.fields) {
      bool present =
          version && !version->deleted && static_cast<size_t>(field) < version->values.size();
      out->values.push_back(present ? version->values[field] : Value());
    }
  }
  return Status::Ok();
}

}  // namespace freshet
