#include "store/feature_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "spec/spec_loader.h"
#include "stream/entity_key.h"

namespace freshet {

FeatureStore::FeatureStore(const ProjectSpec* spec, OnlineStore* online, const Clock* clock,
                           const AttributeLookup* tables)
    : spec_(spec), online_(online), clock_(clock), tables_(tables) {
  for (const auto& [name, view] : spec->feature_views) {
    if (spec->sources.at(view.source).kind == SourceKind::kTable) {
      table_views_.emplace(name, TableView(*spec, view));
    }
  }
}

Result<std::vector<FeatureRef>> FeatureStore::ServiceFeatures(const std::string& service) const {
  auto it = spec_->feature_services.find(service);
  if (it == spec_->feature_services.end()) {
    return Status::NotFound(fmt::format("unknown feature service '{}'", service));
  }
  return it->second.features;
}

Result<std::vector<FeatureRef>> FeatureStore::ParseRefs(
    const std::vector<std::string>& refs) const {
  std::vector<FeatureRef> out;
  out.reserve(refs.size());
  for (const std::string& text : refs) {
    ASSIGN_OR_RETURN(FeatureRef ref, ParseFeatureRef(text));
    auto view = spec_->feature_views.find(ref.view);
    if (view == spec_->feature_views.end()) {
      return Status::NotFound(
          fmt::format("feature '{}': unknown feature view '{}'", text, ref.view));
    }
    if (view->second.Find(ref.feature) == nullptr) {
      return Status::NotFound(
          fmt::format("feature '{}': view '{}' has no feature '{}'", text, ref.view, ref.feature));
    }
    out.push_back(std::move(ref));
  }
  if (out.empty()) return Status::InvalidArgument("no features requested");
  return out;
}

namespace {

// Whether `v` can be a value of a key field of type `type`; the canonical key encoding
// (stream/entity_key.h) then finds the entity its events were stored under.
bool KeyValueFits(FieldType type, const Value& v) {
  switch (type) {
    case FieldType::kString:
      return v.is_string();
    case FieldType::kInt64:
    case FieldType::kTimestamp:
      return v.is_int() || (v.is_double() && std::trunc(v.as_double()) == v.as_double() &&
                            std::abs(v.as_double()) < 9.2e18);
    case FieldType::kDouble:
      return v.is_number();
    case FieldType::kBool:
      return v.is_bool();
  }
  return false;
}

std::string_view KeyTypeDescription(FieldType type) {
  switch (type) {
    case FieldType::kString:
      return "a string";
    case FieldType::kInt64:
      return "an integer";
    case FieldType::kTimestamp:
      return "an integer (epoch milliseconds)";
    case FieldType::kDouble:
      return "a number";
    case FieldType::kBool:
      return "true or false";
  }
  return "a scalar";
}

}  // namespace

Result<size_t> FeatureStore::CheckEntities(const std::vector<FeatureRef>& refs,
                                           const EntityColumns& entities) const {
  std::optional<size_t> rows;
  const FeatureViewSpec* previous = nullptr;
  for (const FeatureRef& ref : refs) {
    const FeatureViewSpec& view = spec_->feature_views.at(ref.view);
    if (&view == previous) continue;  // a service lists a view's features together
    previous = &view;
    const EntitySpec& entity = spec_->entities.at(view.entity);
    const SourceSpec& source = spec_->sources.at(view.source);
    for (const std::string& key : entity.keys) {
      auto it = entities.find(key);
      if (it == entities.end()) {
        return Status::InvalidArgument(fmt::format(
            "entities: missing key '{}' (needed by feature view '{}')", key, view.name));
      }
      if (rows && *rows != it->second.size()) {
        return Status::InvalidArgument(
            fmt::format("entities: key '{}' has {} values but other keys have {}", key,
                        it->second.size(), *rows));
      }
      rows = it->second.size();
      const int field = source.FieldIndex(key);
      if (field < 0) continue;
      const FieldType type = source.fields[field].type;
      for (size_t r = 0; r < it->second.size(); ++r) {
        const Value& v = it->second[r];
        if (KeyValueFits(type, v)) continue;
        return Status::InvalidArgument(fmt::format(
            "entities.{}[{}]: expected {} (key of entity '{}', a {} field of source '{}'), got {}",
            key, r, KeyTypeDescription(type), entity.name, FieldTypeName(type), source.name,
            v.ToString()));
      }
    }
  }
  return rows.value_or(0);
}

Result<FeatureTable> FeatureStore::Get(const std::vector<FeatureRef>& refs,
                                       const EntityColumns& entities,
                                       std::optional<int64_t> as_of_ms,
                                       const GenerationPick* generations) const {
  ASSIGN_OR_RETURN(size_t rows, CheckEntities(refs, entities));
  const int64_t t = as_of_ms.value_or(clock_->NowMs());

  FeatureTable table;
  table.features = refs;
  table.num_rows = rows;
  table.values.assign(refs.size(), std::vector<Value>(rows));
  table.statuses.assign(refs.size(), std::vector<ReadStatus>(rows, ReadStatus::kNotFound));
  table.event_ms.assign(refs.size(), std::vector<int64_t>(rows, 0));

  // One store read per view covering all of that view's requested features and entity rows,
  // views in order of first mention.
  std::vector<std::pair<const std::string*, std::vector<size_t>>> columns_by_view;
  for (size_t c = 0; c < refs.size(); ++c) {
    auto it = std::find_if(columns_by_view.begin(), columns_by_view.end(),
                           [&](const auto& entry) { return *entry.first == refs[c].view; });
    if (it == columns_by_view.end()) {
      columns_by_view.emplace_back(&refs[c].view, std::vector<size_t>{c});
    } else {
      it->second.push_back(c);
    }
  }

  std::vector<std::vector<Value>> keys;
  std::vector<std::string> names;
  std::vector<ViewRead> reads;
  for (const auto& [view_name, columns] : columns_by_view) {
    const FeatureViewSpec& view = spec_->feature_views.at(*view_name);
    const EntitySpec& entity = spec_->entities.at(view.entity);
    names.clear();
    for (size_t c : columns) names.push_back(refs[c].feature);
    keys.resize(rows);
    for (size_t r = 0; r < rows; ++r) keys[r].resize(entity.keys.size());
    for (size_t k = 0; k < entity.keys.size(); ++k) {
      const std::vector<Value>& column = entities.at(entity.keys[k]);
      for (size_t r = 0; r < rows; ++r) keys[r][k] = column[r];
    }
    if (auto table = table_views_.find(*view_name); table != table_views_.end()) {
      RETURN_IF_ERROR(ReadTable(table->second, keys, names, t, &reads));
    } else {
      uint32_t generation = 0;
      if (generations != nullptr) {
        auto picked = generations->find(*view_name);
        if (picked != generations->end()) generation = picked->second;
      }
      RETURN_IF_ERROR(online_->Read(*view_name, keys, names, t, &reads, generation));
    }
    if (reads.size() != rows) {
      return Status::Internal(
          fmt::format("online store '{}' answered {} of {} entities of view '{}'", online_->kind(),
                      reads.size(), rows, *view_name));
    }
    for (size_t i = 0; i < columns.size(); ++i) {
      std::vector<Value>& values = table.values[columns[i]];
      std::vector<ReadStatus>& statuses = table.statuses[columns[i]];
      std::vector<int64_t>& event_ms = table.event_ms[columns[i]];
      for (size_t r = 0; r < rows; ++r) {
        values[r] = std::move(reads[r].values[i]);
        ReadStatus status = reads[r].status;
        if (status == ReadStatus::kPresent && values[r].is_null()) status = ReadStatus::kNullValue;
        statuses[r] = status;
        event_ms[r] = reads[r].event_ms;
      }
    }
  }
  return table;
}

Status FeatureStore::ReadTable(const TableView& view, const std::vector<std::vector<Value>>& keys,
                               const std::vector<std::string>& features, int64_t as_of_ms,
                               std::vector<ViewRead>* out) const {
  if (tables_ == nullptr) {
    return Status::FailedPrecondition(
        fmt::format("feature view '{}' reads table '{}', and this store has no tables",
                    view.spec().name, view.table()));
  }
  ASSIGN_OR_RETURN(std::vector<int> fields, view.FieldIndexes(features));
  std::vector<std::string> entity_keys;
  entity_keys.reserve(keys.size());
  for (const std::vector<Value>& key : keys) entity_keys.push_back(EncodeEntityKey(key));
  ASSIGN_OR_RETURN(auto versions, tables_->VersionsBefore(view.table(), entity_keys, as_of_ms));
  out->clear();
  out->reserve(keys.size());
  for (const auto& version : versions) out->push_back(view.Resolve(version, as_of_ms, fields));
  return Status::Ok();
}

}  // namespace freshet
