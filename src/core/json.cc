#include "core/json.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace freshet {

void ResponseWriter::Quoted(std::string_view quoted) {
  Prefix(rapidjson::kStringType);
  std::memcpy(os_->Push(quoted.size()), quoted.data(), quoted.size());
}

void ResponseWriter::Plain(std::string_view s) {
  bool plain = std::none_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\';
  });
  if (!plain) {
    String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return;
  }
  Prefix(rapidjson::kStringType);
  char* out = os_->Push(s.size() + 2);
  out[0] = '"';
  std::memcpy(out + 1, s.data(), s.size());
  out[s.size() + 1] = '"';
}

void WriteJsonValue(JsonWriter* w, const Value& v) {
  if (v.is_null()) {
    w->Null();
  } else if (v.is_bool()) {
    w->Bool(v.as_bool());
  } else if (v.is_int()) {
    w->Int64(v.as_int());
  } else if (v.is_double()) {
    if (std::isfinite(v.as_double())) {
      w->Double(v.as_double());
    } else {
      w->Null();
    }
  } else if (v.is_string()) {
    w->String(v.as_string().data(), static_cast<rapidjson::SizeType>(v.as_string().size()));
  } else {
    w->StartArray();
    for (const Value& item : v.as_list()) WriteJsonValue(w, item);
    w->EndArray();
  }
}

Status StringTooLong(size_t bytes) {
  return Status::InvalidArgument(fmt::format("a string of {} bytes is over the limit of {} bytes",
                                             bytes, kMaxJsonStringBytes));
}

Result<Value> JsonToValue(simdjson::dom::element e, std::string_view what) {
  switch (e.type()) {
    case simdjson::dom::element_type::NULL_VALUE:
      return Value::Null();
    case simdjson::dom::element_type::BOOL:
      return Value::Bool(bool(e));
    case simdjson::dom::element_type::INT64:
      return Value::Int(int64_t(e));
    case simdjson::dom::element_type::UINT64:
      return Value::Double(double(uint64_t(e)));
    case simdjson::dom::element_type::DOUBLE:
      return Value::Double(double(e));
    case simdjson::dom::element_type::STRING: {
      std::string_view text(e);
      if (text.size() > kMaxJsonStringBytes) return StringTooLong(text.size()).WithContext(what);
      return Value::String(std::string(text));
    }
    default:
      return Status::InvalidArgument(
          fmt::format("{}: expected a scalar, got an array or object", what));
  }
}

}  // namespace freshet
