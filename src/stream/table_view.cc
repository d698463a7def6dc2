#include "stream/table_view.h"

#include <fmt/format.h>

#include "core/int_math.h"

namespace freshet {

TableView::TableView(const ProjectSpec& spec, const FeatureViewSpec& view) : view_(view) {
  const SourceSpec& table = spec.sources.at(view.source);
  for (const FeatureSpec& f : view.features) attr_fields_.push_back(table.FieldIndex(f.attr));
}

Result<std::vector<int>> TableView::FieldIndexes(const std::vector<std::string>& features) const {
  if (features.empty()) return attr_fields_;
  std::vector<int> out;
  out.reserve(features.size());
  for (const std::string& name : features) {
    size_t i = 0;
    while (i < view_.features.size() && view_.features[i].name != name) ++i;
    if (i == view_.features.size()) {
      return Status::NotFound(
          fmt::format("feature view '{}' has no feature '{}'", view_.name, name));
    }
    out.push_back(attr_fields_[i]);
  }
  return out;
}

Result<ViewRead> TableView::Read(const AttributeLookup& lookup, std::string_view entity_key,
                                 int64_t t_ms, const std::vector<int>& fields) const {
  ASSIGN_OR_RETURN(std::optional<AttributeVersion> version,
                   lookup.VersionBefore(view_.source, entity_key, t_ms));
  return Resolve(version, t_ms, fields);
}

ViewRead TableView::Resolve(const std::optional<AttributeVersion>& version, int64_t t_ms,
                            const std::vector<int>& fields) const {
  ViewRead read;
  read.values.assign(fields.size(), Value());
  if (!version || version->deleted) return read;
  read.event_ms = version->event_ms;
  if (view_.ttl_ms > 0 && version->event_ms < SaturatingSub(t_ms, view_.ttl_ms)) {
    read.status = ReadStatus::kOutsideMaxAge;
    return read;
  }
  read.status = ReadStatus::kPresent;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (static_cast<size_t>(fields[i]) < version->values.size())
      read.values[i] = version->values[fields[i]];
  }
  return read;
}

}  // namespace freshet
