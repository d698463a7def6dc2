#include "core/json.h"

#include <fmt/format.h>

#include <cmath>

namespace freshet {

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
