#include "store/feature_json.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <array>
#include <charconv>
#include <cstring>

#include "core/json.h"
#include "core/parse_int.h"
#include "core/time_util.h"

namespace freshet {
namespace {

Result<std::vector<std::string>> StringArray(simdjson::dom::element e, std::string_view field) {
  simdjson::dom::array array;
  if (e.get_array().get(array)) {
    return Status::InvalidArgument(fmt::format("{}: expected an array of strings", field));
  }
  std::vector<std::string> out;
  for (simdjson::dom::element item : array) {
    std::string_view s;
    if (item.get_string().get(s)) {
      return Status::InvalidArgument(fmt::format("{}: expected an array of strings", field));
    }
    out.emplace_back(s);
  }
  return out;
}

Result<int64_t> ParseAsOf(simdjson::dom::element e) {
  int64_t ms;
  if (!e.get_int64().get(ms)) return ms;
  std::string_view text;
  if (!e.get_string().get(text)) {
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
      return ParseInt64(text, "as_of");
    }
    Result<int64_t> ms = ParseRfc3339Ms(text);
    if (!ms.ok()) return ms.status().WithContext("as_of");
    return ms;
  }
  return Status::InvalidArgument("as_of: expected epoch milliseconds or an RFC 3339 string");
}

Status ParseEntities(simdjson::dom::element e, FeatureRequest* out) {
  simdjson::dom::object object;
  if (e.get_object().get(object)) {
    return Status::InvalidArgument("entities: expected an object of key -> array of values");
  }
  for (auto field : object) {
    std::string key(field.key);
    simdjson::dom::array array;
    if (field.value.get_array().get(array)) {
      return Status::InvalidArgument(fmt::format("entities.{}: expected an array of values", key));
    }
    if (out->entities.count(key)) {
      return Status::InvalidArgument(fmt::format("entities.{}: given twice", key));
    }
    std::vector<Value>& column = out->entities[key];
    column.reserve(array.size());
    for (simdjson::dom::element item : array) {
      Result<Value> v = JsonToValue(item, key);
      const size_t row = column.size();
      if (!v.ok()) return JsonToValue(item, fmt::format("entities.{}[{}]", key, row)).status();
      if (v->is_null()) {
        return Status::InvalidArgument(fmt::format("entities.{}[{}]: null key value", key, row));
      }
      column.push_back(std::move(*v));
    }
    out->entity_order.push_back(std::move(key));
  }
  if (out->entities.empty()) return Status::InvalidArgument("entities: no entity keys given");
  // Every column is echoed row by row in the response, so all need one value per row — also
  // keys no requested view uses.
  const std::string& first = out->entity_order.front();
  for (const std::string& key : out->entity_order) {
    if (out->entities[key].size() != out->entities[first].size()) {
      return Status::InvalidArgument(fmt::format("entities.{}: {} values, but entities.{} has {}",
                                                 key, out->entities[key].size(), first,
                                                 out->entities[first].size()));
    }
  }
  return Status::Ok();
}

// A response buffer sized for `values` values up front (responses run to hundreds of KB, which
// growing from RapidJSON's default 256 bytes would copy over and over).
rapidjson::StringBuffer ResponseBuffer(size_t values) {
  return rapidjson::StringBuffer(nullptr, 256 + values * 48);
}

std::string FeatureName(const FeatureRequest& request, const FeatureRef& ref) {
  return request.full_feature_names ? ref.view + "__" + ref.feature : ref.feature;
}

}  // namespace

std::string_view QuotedStatus(ReadStatus status) {
  static const std::array<std::string, 4> kQuoted = [] {
    std::array<std::string, 4> quoted;
    for (ReadStatus s : {ReadStatus::kPresent, ReadStatus::kNotFound, ReadStatus::kOutsideMaxAge,
                         ReadStatus::kNullValue}) {
      quoted[static_cast<size_t>(s)] = fmt::format("\"{}\"", ReadStatusName(s));
    }
    return quoted;
  }();
  return kQuoted[static_cast<size_t>(status)];
}

Result<FeatureRequest> ParseFeatureRequest(std::string_view body, const FeatureStore& store,
                                           const std::vector<FeatureRef>* fixed_features) {
  // One parser per thread keeps its buffers from request to request; the document is only
  // read within this call.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto error = parser.parse(body.data(), body.size()).get(doc)) {
    return Status::InvalidArgument(
        fmt::format("malformed JSON: {}", simdjson::error_message(error)));
  }
  if (!doc.is_object()) return Status::InvalidArgument("expected a JSON object");
  FeatureRequest request;
  simdjson::dom::element e;
  if (fixed_features) {
    request.features = *fixed_features;
  } else if (!doc["feature_service"].get(e)) {
    std::string_view name;
    if (e.get_string().get(name))
      return Status::InvalidArgument("feature_service: expected a string");
    ASSIGN_OR_RETURN(request.features, store.ServiceFeatures(std::string(name)));
  } else if (!doc["features"].get(e)) {
    ASSIGN_OR_RETURN(auto refs, StringArray(e, "features"));
    ASSIGN_OR_RETURN(request.features, store.ParseRefs(refs));
  } else {
    return Status::InvalidArgument(
        "give either 'features' (view:feature list) or 'feature_service'");
  }
  if (doc["entities"].get(e)) return Status::InvalidArgument("entities: missing");
  RETURN_IF_ERROR(ParseEntities(e, &request));
  if (!doc["as_of"].get(e)) {
    ASSIGN_OR_RETURN(int64_t as_of, ParseAsOf(e));
    request.as_of_ms = as_of;
  }
  if (!doc["full_feature_names"].get(e) && e.get_bool().get(request.full_feature_names)) {
    return Status::InvalidArgument("full_feature_names: expected true or false");
  }
  return request;
}

std::string FeatureTableToJson(const FeatureRequest& request, const FeatureTable& table,
                               int64_t as_of_ms) {
  rapidjson::StringBuffer buf = ResponseBuffer(table.num_rows * (table.features.size() + 1));
  ResponseWriter w(buf);
  w.StartObject();
  w.Key("as_of_ms");
  w.Int64(as_of_ms);
  w.Key("features");
  w.StartArray();
  for (const FeatureRef& ref : table.features) w.String(ref.ToString().c_str());
  w.EndArray();
  w.Key("rows");
  w.StartArray();
  for (size_t r = 0; r < table.num_rows; ++r) {
    w.StartObject();
    w.Quoted(R"("entity")");
    w.StartObject();
    for (const std::string& key : request.entity_order) {
      w.Key(key.c_str());
      WriteJsonValue(&w, request.entities.at(key)[r]);
    }
    w.EndObject();
    w.Quoted(R"("values")");
    w.StartArray();
    for (size_t c = 0; c < table.features.size(); ++c) WriteJsonValue(&w, table.values[c][r]);
    w.EndArray();
    w.Quoted(R"("statuses")");
    w.StartArray();
    for (size_t c = 0; c < table.features.size(); ++c) {
      w.Quoted(QuotedStatus(table.statuses[c][r]));
    }
    w.EndArray();
    w.Quoted(R"("event_timestamps")");
    w.StartArray();
    for (size_t c = 0; c < table.features.size(); ++c) w.Int64(table.event_ms[c][r]);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string FeatureTableToFeastJson(const FeatureRequest& request, const FeatureTable& table) {
  const size_t rows = table.num_rows;
  rapidjson::StringBuffer buf =
      ResponseBuffer(rows * (table.features.size() + request.entity_order.size()));
  ResponseWriter w(buf);
  w.StartObject();
  w.Key("metadata");
  w.StartObject();
  w.Key("feature_names");
  w.StartArray();
  for (const std::string& key : request.entity_order) {
    w.String(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  }
  for (const FeatureRef& ref : table.features) {
    const std::string name = FeatureName(request, ref);
    w.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
  }
  w.EndArray();
  w.EndObject();
  w.Key("results");
  w.StartArray();
  const std::string epoch = fmt::format("\"{}\"", FormatRfc3339Ms(0));
  for (const std::string& key : request.entity_order) {
    w.StartObject();
    w.Quoted(R"("values")");
    w.StartArray();
    for (const Value& v : request.entities.at(key)) WriteJsonValue(&w, v);
    w.EndArray();
    w.Quoted(R"("statuses")");
    w.StartArray();
    for (size_t r = 0; r < rows; ++r) w.Quoted(QuotedStatus(ReadStatus::kPresent));
    w.EndArray();
    w.Quoted(R"("event_timestamps")");
    w.StartArray();
    for (size_t r = 0; r < rows; ++r) w.Quoted(epoch);
    w.EndArray();
    w.EndObject();
  }
  // The features of one view share an entity's newest event time: each row keeps the last
  // time it formatted, so a view's time is formatted once per entity.
  std::vector<int64_t> formatted_ms(rows, 0);
  std::vector<std::string> formatted(rows, epoch);
  for (size_t c = 0; c < table.features.size(); ++c) {
    w.StartObject();
    w.Quoted(R"("values")");
    w.StartArray();
    for (size_t r = 0; r < rows; ++r) WriteJsonValue(&w, table.values[c][r]);
    w.EndArray();
    w.Quoted(R"("statuses")");
    w.StartArray();
    for (size_t r = 0; r < rows; ++r) w.Quoted(QuotedStatus(table.statuses[c][r]));
    w.EndArray();
    w.Quoted(R"("event_timestamps")");
    w.StartArray();
    for (size_t r = 0; r < rows; ++r) {
      const int64_t ms = table.event_ms[c][r];
      if (ms != formatted_ms[r]) {
        formatted_ms[r] = ms;
        formatted[r] = fmt::format("\"{}\"", FormatRfc3339Ms(ms));
      }
      w.Quoted(formatted[r]);
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace freshet
