#include "stream/entity_key.h"

#include <fmt/format.h>

#include <charconv>
#include <iterator>

namespace freshet {

void AppendEntityKeyPart(const Value& v, std::string* out) {
  if (v.is_string()) {
    out->append(v.as_string());
  } else if (v.is_int()) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v.as_int());
    out->append(buf, end);
  } else if (v.is_double()) {
    double d = v.as_double();
    if (d >= -9.2e18 && d <= 9.2e18 && static_cast<double>(static_cast<int64_t>(d)) == d) {
      AppendEntityKeyPart(Value::Int(static_cast<int64_t>(d)), out);
    } else {
      fmt::format_to(std::back_inserter(*out), "{}", d);
    }
  } else if (v.is_bool()) {
    out->append(v.as_bool() ? "true" : "false");
  }
}

std::string EncodeEntityKey(const std::vector<Value>& key_values) {
  std::string out;
  for (size_t i = 0; i < key_values.size(); ++i) {
    if (i > 0) out.push_back('\x1f');
    AppendEntityKeyPart(key_values[i], &out);
  }
  return out;
}

void EncodeRecordKey(const Record& r, std::span<const int> key_fields, std::string* out) {
  out->clear();
  for (size_t k = 0; k < key_fields.size(); ++k) {
    if (k > 0) out->push_back('\x1f');
    if (static_cast<size_t>(key_fields[k]) < r.values.size())
      AppendEntityKeyPart(r.values[key_fields[k]], out);
  }
}

std::string_view RecordKeyView(const Record& r, std::span<const int> key_fields,
                               std::string* scratch) {
  if (key_fields.size() == 1 && static_cast<size_t>(key_fields[0]) < r.values.size() &&
      r.values[key_fields[0]].is_string()) {
    return r.values[key_fields[0]].as_string();
  }
  EncodeRecordKey(r, key_fields, scratch);
  return *scratch;
}

}  // namespace freshet
