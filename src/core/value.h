// Value: one typed scalar of an event field or a feature — null, bool, int64, double or string —
// plus Value::List for last_n / top_k results. Thread-safety: a value type.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace freshet {

// Declared field types of a source schema. Part of the on-disk record format (docs/formats.md):
// never renumber.
enum class FieldType : uint8_t {
  kString = 1,
  kInt64 = 2,
  kDouble = 3,
  kBool = 4,
  kTimestamp = 5,  // epoch milliseconds in storage; RFC 3339 strings or epoch ms on input
};

// "string", "int64", ... Used in errors and plans.
std::string_view FieldTypeName(FieldType t);
// Parses "string", "int"/"int64"/"long", "double"/"float", "bool"/"boolean", "timestamp".
bool ParseFieldType(std::string_view name, FieldType* out);

class Value {
 public:
  using List = std::vector<Value>;

  Value() = default;  // null
  static Value Null() { return Value(); }
  static Value Bool(bool b) { return Value(Rep(b)); }
  static Value Int(int64_t i) { return Value(Rep(i)); }
  static Value Double(double d) { return Value(Rep(d)); }
  static Value String(std::string s) { return Value(Rep(std::move(s))); }
  static Value MakeList(List items) {
    return Value(Rep(std::make_shared<const List>(std::move(items))));
  }

  // In-place setters for parsers that refill the same records: no temporary Value, and a
  // value that already holds a string keeps its buffer.
  void SetBool(bool b) { rep_ = b; }
  void SetInt(int64_t i) { rep_ = i; }
  void SetDouble(double d) { rep_ = d; }
  void SetString(std::string_view s) {
    if (auto* str = std::get_if<std::string>(&rep_)) {
      str->assign(s.data(), s.size());
    } else {
      rep_.emplace<std::string>(s);
    }
  }

  bool is_null() const { return rep_.index() == 0; }
  bool is_bool() const { return rep_.index() == 1; }
  bool is_int() const { return rep_.index() == 2; }
  bool is_double() const { return rep_.index() == 3; }
  bool is_number() const { return is_int() || is_double(); }
  bool is_string() const { return rep_.index() == 4; }
  bool is_list() const { return rep_.index() == 5; }

  // Preconditions: the matching is_*() holds.
  bool as_bool() const { return std::get<bool>(rep_); }
  int64_t as_int() const { return std::get<int64_t>(rep_); }
  double as_double() const { return std::get<double>(rep_); }
  const std::string& as_string() const { return std::get<std::string>(rep_); }
  const List& as_list() const { return *std::get<std::shared_ptr<const List>>(rep_); }
  // Numeric value of an int or double. Precondition: is_number().
  double to_double() const { return is_int() ? static_cast<double>(as_int()) : as_double(); }

  // Equality by value; an int and a double compare numerically.
  bool operator==(const Value& other) const;
  // A short human form: null, true, 12, 1.5, "text", [a, b].
  std::string ToString() const;

 private:
  using Rep =
      std::variant<std::monostate, bool, int64_t, double, std::string, std::shared_ptr<const List>>;
  explicit Value(Rep r) : rep_(std::move(r)) {}
  Rep rep_;
};

}  // namespace freshet
