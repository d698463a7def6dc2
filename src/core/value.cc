#include "core/value.h"

#include <fmt/format.h>

namespace freshet {

std::string_view FieldTypeName(FieldType t) {
  switch (t) {
    case FieldType::kString:
      return "string";
    case FieldType::kInt64:
      return "int64";
    case FieldType::kDouble:
      return "double";
    case FieldType::kBool:
      return "bool";
    case FieldType::kTimestamp:
      return "timestamp";
  }
  return "unknown";
}

bool ParseFieldType(std::string_view name, FieldType* out) {
  if (name == "string" || name == "str") {
    *out = FieldType::kString;
  } else if (name == "int" || name == "int64" || name == "long" || name == "integer") {
    *out = FieldType::kInt64;
  } else if (name == "double" || name == "float" || name == "float64") {
    *out = FieldType::kDouble;
  } else if (name == "bool" || name == "boolean") {
    *out = FieldType::kBool;
  } else if (name == "timestamp") {
    *out = FieldType::kTimestamp;
  } else {
    return false;
  }
  return true;
}

bool Value::operator==(const Value& other) const {
  if (is_number() && other.is_number()) {
    if (is_int() && other.is_int()) return as_int() == other.as_int();
    return to_double() == other.to_double();
  }
  if (rep_.index() != other.rep_.index()) return false;
  if (is_list()) return as_list() == other.as_list();
  return rep_ == other.rep_;
}

std::string Value::ToString() const {
  if (is_null()) return "null";
  if (is_bool()) return as_bool() ? "true" : "false";
  if (is_int()) return std::to_string(as_int());
  if (is_double()) return fmt::format("{}", as_double());
  if (is_string()) return fmt::format("\"{}\"", as_string());
  std::string s = "[";
  for (size_t i = 0; i < as_list().size(); ++i) {
    if (i) s += ", ";
    s += as_list()[i].ToString();
  }
  return s + "]";
}

}  // namespace freshet
