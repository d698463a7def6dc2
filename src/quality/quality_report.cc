#include "quality/quality_report.h"

#include <fmt/format.h>

#include <algorithm>

namespace freshet {
namespace {

void WriteString(JsonWriter* w, std::string_view s) {
  w->String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

Result<std::string> StringMember(simdjson::dom::object obj, std::string_view key) {
  std::string_view value;
  if (obj[key].get_string().get(value) != simdjson::SUCCESS) {
    return Status::InvalidArgument(fmt::format("quality report: '{}' must be a string", key));
  }
  return std::string(value);
}

}  // namespace

void QualityReport::Add(const ViolationKey& key, uint64_t count) {
  if (count > 0) counts_[key] += count;
}

void QualityReport::Add(const std::string& source, const CheckResult& result) {
  for (const Violation& v : result.violations) Add({source, v.field, v.kind, v.policy}, 1);
}

void QualityReport::Merge(const QualityReport& other) {
  for (const auto& [key, count] : other.counts_) Add(key, count);
}

uint64_t QualityReport::total() const {
  uint64_t sum = 0;
  for (const auto& [key, count] : counts_) sum += count;
  return sum;
}

uint64_t QualityReport::Count(const ViolationKey& key) const {
  auto it = counts_.find(key);
  return it == counts_.end() ? 0 : it->second;
}

void QualityReport::WriteJsonMembers(JsonWriter* w) const {
  w->Key("violations");
  w->StartArray();
  for (const auto& [key, count] : counts_) {
    w->StartObject();
    w->Key("source");
    WriteString(w, key.source);
    w->Key("field");
    WriteString(w, key.field);
    w->Key("expectation");
    WriteString(w, ExpectationKindName(key.kind));
    w->Key("policy");
    WriteString(w, ExpectationPolicyName(key.policy));
    w->Key("count");
    w->Uint64(count);
    w->EndObject();
  }
  w->EndArray();
  w->Key("total");
  w->Uint64(total());
}

std::string QualityReport::ToJson() const {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteJsonMembers(&w);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string QualityReport::ToText() const {
  if (counts_.empty()) return "no violations\n";
  size_t source_w = 6, field_w = 5;
  for (const auto& [key, count] : counts_) {
    source_w = std::max(source_w, key.source.size());
    field_w = std::max(field_w, key.field.size());
  }
  std::string out = fmt::format("{:<{}}  {:<{}}  {:<17}  {:<10}  {}\n", "SOURCE", source_w, "FIELD",
                                field_w, "EXPECTATION", "POLICY", "COUNT");
  for (const auto& [key, count] : counts_) {
    out += fmt::format("{:<{}}  {:<{}}  {:<17}  {:<10}  {}\n", key.source, source_w, key.field,
                       field_w, ExpectationKindName(key.kind), ExpectationPolicyName(key.policy),
                       count);
  }
  out += fmt::format("{} violations in all\n", total());
  return out;
}

Result<QualityReport> QualityReport::FromJson(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(json)).get(doc) != simdjson::SUCCESS) {
    return Status::InvalidArgument("quality report: not JSON");
  }
  simdjson::dom::array items;
  if (doc["violations"].get_array().get(items) != simdjson::SUCCESS) {
    return Status::InvalidArgument("quality report: 'violations' must be an array");
  }
  QualityReport report;
  for (simdjson::dom::element item : items) {
    simdjson::dom::object obj;
    if (item.get_object().get(obj) != simdjson::SUCCESS) {
      return Status::InvalidArgument("quality report: a violation must be an object");
    }
    ViolationKey key;
    ASSIGN_OR_RETURN(key.source, StringMember(obj, "source"));
    ASSIGN_OR_RETURN(key.field, StringMember(obj, "field"));
    ASSIGN_OR_RETURN(std::string kind, StringMember(obj, "expectation"));
    ASSIGN_OR_RETURN(std::string policy, StringMember(obj, "policy"));
    uint64_t count = 0;
    if (!ParseExpectationKind(kind, &key.kind) || !ParseExpectationPolicy(policy, &key.policy) ||
        obj["count"].get_uint64().get(count) != simdjson::SUCCESS) {
      return Status::InvalidArgument(
          fmt::format("quality report: bad violation of '{}.{}'", key.source, key.field));
    }
    report.Add(key, count);
  }
  return report;
}

}  // namespace freshet
