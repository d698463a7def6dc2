#include "format/record_parser.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "core/json.h"
#include "core/time_util.h"

namespace freshet {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// Values outside [-2^63, 2^63) do not fit an int64; both bounds are exact doubles.
constexpr double kInt64Bound = 9223372036854775808.0;

template <typename Word>
Word LoadWord(const char* p) {
  Word w;
  std::memcpy(&w, p, sizeof(Word));
  return w;
}

// Field names are short: comparing inline beats a call to memcmp. From 4 to 16 bytes, two
// overlapping words (the first and the last) per name cover every byte without a loop.
bool SameName(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n >= 8 && n <= 16) {
    return LoadWord<uint64_t>(x) == LoadWord<uint64_t>(y) &&
           LoadWord<uint64_t>(x + n - 8) == LoadWord<uint64_t>(y + n - 8);
  }
  if (n >= 4 && n < 8) {
    return LoadWord<uint32_t>(x) == LoadWord<uint32_t>(y) &&
           LoadWord<uint32_t>(x + n - 4) == LoadWord<uint32_t>(y + n - 4);
  }
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return false;
  }
  return true;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

size_t SkipSpace(std::string_view s, size_t pos) {
  while (pos < s.size() && IsJsonSpace(s[pos])) ++pos;
  return pos;
}

// Walks the non-blank lines of NDJSON, counting every line (for the positions in errors).
class LineCursor {
 public:
  LineCursor(std::string_view body, size_t pos, size_t line)
      : body_(body), pos_(pos), line_(line) {}

  // The next non-blank line, [*content, *end): from its first non-space byte to its newline or
  // the end of the body. False when no such line is left.
  bool Next(size_t* content, size_t* end) {
    while (pos_ < body_.size()) {
      const void* newline = std::memchr(body_.data() + pos_, '\n', body_.size() - pos_);
      *end = newline ? static_cast<const char*>(newline) - body_.data() : body_.size();
      ++line_;
      *content = SkipSpace(body_, pos_);
      pos_ = *end + 1;
      if (*content < *end) return true;
    }
    return false;
  }
  size_t line() const { return line_; }

 private:
  std::string_view body_;
  size_t pos_;
  size_t line_;
};

// The position just past the object or array opening at `start`, found by bracket counting
// outside strings; s.size() when it never closes (the JSON parser then names the problem).
size_t FindValueEnd(std::string_view s, size_t start) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = start; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return s.size();
}

// A JSON value as named in errors: string "abc", number 3.5, bool true, object, array, null.
std::string Describe(element v) {
  switch (v.type()) {
    case element_type::STRING: {
      std::string_view s = v.get_string().value_unsafe();
      constexpr size_t kMaxShown = 40;
      if (s.size() > kMaxShown) return fmt::format("string \"{}...\"", s.substr(0, kMaxShown));
      return fmt::format("string \"{}\"", s);
    }
    case element_type::INT64:
      return fmt::format("number {}", v.get_int64().value_unsafe());
    case element_type::UINT64:
      return fmt::format("number {}", v.get_uint64().value_unsafe());
    case element_type::DOUBLE:
      return fmt::format("number {}", v.get_double().value_unsafe());
    case element_type::BOOL:
      return v.get_bool().value_unsafe() ? "bool true" : "bool false";
    case element_type::OBJECT:
      return "object";
    case element_type::ARRAY:
      return "array";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

bool IntegralDoubleToInt(double d, int64_t* out) {
  if (!std::isfinite(d) || d != std::trunc(d) || d < -kInt64Bound || d >= kInt64Bound) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

// The converters return false when `v` does not fit the type; ConversionError then says why.
// (Statuses are built only on failure: this is the per-field hot path.)

bool ToInt64(element v, Value* out) {
  int64_t i = 0;
  switch (v.type()) {
    case element_type::INT64:
      out->SetInt(v.get_int64().value_unsafe());
      return true;
    case element_type::DOUBLE:
      if (!IntegralDoubleToInt(v.get_double().value_unsafe(), &i)) return false;
      out->SetInt(i);
      return true;
    default:
      return false;
  }
}

bool ToDouble(element v, Value* out) {
  switch (v.type()) {
    case element_type::INT64:
      out->SetDouble(static_cast<double>(v.get_int64().value_unsafe()));
      return true;
    case element_type::UINT64:
      out->SetDouble(static_cast<double>(v.get_uint64().value_unsafe()));
      return true;
    case element_type::DOUBLE:
      out->SetDouble(v.get_double().value_unsafe());
      return true;
    default:
      return false;
  }
}

// Epoch ms from a number (fractions of a millisecond are dropped) or an RFC 3339 string.
bool ToTimestampMs(element v, int64_t* ms) {
  switch (v.type()) {
    case element_type::INT64:
      *ms = v.get_int64().value_unsafe();
      return true;
    case element_type::DOUBLE:
      return IntegralDoubleToInt(std::floor(v.get_double().value_unsafe()), ms);
    case element_type::STRING: {
      Result<int64_t> parsed = ParseRfc3339Ms(v.get_string().value_unsafe());
      if (!parsed.ok()) return false;
      *ms = *parsed;
      return true;
    }
    default:
      return false;
  }
}

// Converts non-null `v` to a value of the declared `type`.
bool ToValue(FieldType type, element v, Value* out) {
  switch (type) {
    case FieldType::kString: {
      if (v.type() != element_type::STRING) return false;
      std::string_view s = v.get_string().value_unsafe();
      if (s.size() > kMaxJsonStringBytes) return false;
      out->SetString(s);
      return true;
    }
    case FieldType::kBool:
      if (v.type() != element_type::BOOL) return false;
      out->SetBool(v.get_bool().value_unsafe());
      return true;
    case FieldType::kInt64:
      return ToInt64(v, out);
    case FieldType::kDouble:
      return ToDouble(v, out);
    case FieldType::kTimestamp: {
      int64_t ms = 0;
      if (!ToTimestampMs(v, &ms)) return false;
      out->SetInt(ms);
      return true;
    }
  }
  return false;
}

// Why `v` did not convert to `type`.
Status ConversionError(FieldType type, element v) {
  if (type == FieldType::kString && v.type() == element_type::STRING) {
    return StringTooLong(v.get_string().value_unsafe().size());
  }
  if (type == FieldType::kInt64 && v.type() == element_type::UINT64) {
    return Status::InvalidArgument(fmt::format("{} is out of range for int64", Describe(v)));
  }
  std::string_view expected = type == FieldType::kTimestamp
                                  ? "a timestamp (epoch ms or RFC 3339 string)"
                                  : FieldTypeName(type);
  return Status::InvalidArgument(fmt::format("expected {}, got {}", expected, Describe(v)));
}

// Where a record sits in the body, for errors: line 3 (NDJSON) or record 3 (array, object).
struct Position {
  enum Unit { kNone, kLine, kRecord } unit;
  size_t number;
};

}  // namespace

struct RecordParser::Impl {
  // A field the parser looks for in each object. The timestamp field gets one even when it is
  // not declared in `fields` (value_index -1: it only sets Record::ts_ms).
  struct Slot {
    std::string name;
    FieldType type;
    int value_index;
    bool is_timestamp;
    bool required;
  };

  size_t num_values = 0;
  std::vector<Slot> slots;
  Status config_error;  // a required field the schema lacks: every Parse fails with it

  simdjson::dom::parser parser;
  std::string padded;             // a padded copy when the input has no room after it; reused
  std::vector<uint64_t> seen_in;  // per slot: the number of the last record that had the key
  uint64_t record_serial = 0;     // distinguishes records for seen_in without clearing it
  std::vector<int> key_order;     // the slot of each key position in the last record, or -1
  size_t filled = 0;              // records of the output written by this parse
  uint64_t first_line = 1;        // the number of the body's first line, for errors
  bool file_block = false;        // a piece of a file: a lone object is named by its line
  ParseError error;               // the last failure, as data
  std::string error_field;        // the field ReadFields or CheckRequired failed on

  Impl(const SourceSpec& source, const std::vector<std::string>& required);

  int FindSlot(std::string_view key, size_t position);
  Status ParseBody(std::string_view body, std::vector<Record>* out);
  Status ParseArray(std::string_view body, std::vector<Record>* out);
  Status ParseNdjson(std::string_view body, std::vector<Record>* out);
  bool ParseStream(std::string_view body, std::vector<Record>* out, size_t* lines);
  Status ParseDocument(std::string_view body, size_t begin, size_t end, Position pos,
                       std::vector<Record>* out);
  Status ParseRecord(element v, Position pos, std::vector<Record>* out);
  Status ReadFields(simdjson::dom::object object, Record* rec, bool* has_ts);
  Status CheckRequired(const Record& rec, bool has_ts);
  // Records the failure in `error` and returns it as a Status.
  Status Fail(Position pos, std::string field, std::string reason);
};

RecordParser::Impl::Impl(const SourceSpec& source, const std::vector<std::string>& required)
    : num_values(source.fields.size()) {
  std::set<std::string> required_set(required.begin(), required.end());
  bool ts_declared = false;
  for (size_t i = 0; i < source.fields.size(); ++i) {
    const FieldSpec& f = source.fields[i];
    bool is_ts = f.name == source.timestamp_field;
    ts_declared = ts_declared || is_ts;
    bool is_required = required_set.erase(f.name) > 0 || is_ts;
    slots.push_back(
        {f.name, is_ts ? FieldType::kTimestamp : f.type, static_cast<int>(i), is_ts, is_required});
  }
  if (!ts_declared) {
    slots.push_back({source.timestamp_field, FieldType::kTimestamp, -1, true, true});
  }
  required_set.erase(source.timestamp_field);
  if (source.timestamp_field.empty()) {
    config_error =
        Status::FailedPrecondition(fmt::format("source '{}' has no timestamp field", source.name));
  } else if (!required_set.empty()) {
    config_error = Status::FailedPrecondition(fmt::format(
        "required field '{}' is not declared in source '{}'", *required_set.begin(), source.name));
  }
  seen_in.assign(slots.size(), 0);
  parser.threaded = false;  // parse_many on the caller's thread only: one core per stream
}

// Records of one body usually list the same keys in the same order, so the slot that the key at
// this position matched last time is tried first.
int RecordParser::Impl::FindSlot(std::string_view key, size_t position) {
  if (position < key_order.size()) {
    int guess = key_order[position];
    if (guess >= 0 && SameName(slots[guess].name, key)) return guess;
  } else {
    key_order.resize(position + 1, -1);
  }
  int found = -1;
  for (size_t i = 0; i < slots.size() && found < 0; ++i) {
    if (SameName(slots[i].name, key)) found = static_cast<int>(i);
  }
  key_order[position] = found;
  return found;
}

Status RecordParser::Impl::ReadFields(simdjson::dom::object object, Record* rec, bool* has_ts) {
  size_t position = 0;
  for (simdjson::dom::key_value_pair field : object) {
    int index = FindSlot(field.key, position++);
    if (index < 0) continue;  // unknown fields are ignored
    const Slot& slot = slots[index];
    seen_in[index] = record_serial;
    if (field.value.is_null()) {
      if (slot.value_index >= 0) rec->values[slot.value_index] = Value();
      if (slot.is_timestamp) *has_ts = false;
      continue;
    }
    bool converted = slot.is_timestamp
                         ? ToTimestampMs(field.value, &rec->ts_ms)
                         : ToValue(slot.type, field.value, &rec->values[slot.value_index]);
    if (!converted) {
      error_field = slot.name;
      return ConversionError(slot.type, field.value);
    }
    if (!slot.is_timestamp) continue;
    *has_ts = true;
    if (slot.value_index >= 0) rec->values[slot.value_index].SetInt(rec->ts_ms);
  }
  return Status::Ok();
}

Status RecordParser::Impl::CheckRequired(const Record& rec, bool has_ts) {
  for (size_t i = 0; i < slots.size(); ++i) {
    const Slot& slot = slots[i];
    if (!slot.required) continue;
    bool present = slot.is_timestamp ? has_ts : !rec.values[slot.value_index].is_null();
    if (present) continue;
    const char* problem = seen_in[i] == record_serial ? "null" : "missing";
    error_field = slot.name;
    return Status::InvalidArgument(fmt::format("required but {}", problem));
  }
  return Status::Ok();
}

Status RecordParser::Impl::ParseRecord(element v, Position pos, std::vector<Record>* out) {
  if (v.type() != element_type::OBJECT) {
    return Fail(pos, "", "expected a JSON object");
  }
  ++record_serial;
  Record& rec = filled < out->size() ? (*out)[filled] : out->emplace_back();
  ++filled;
  rec.values.resize(num_values);
  bool has_ts = false;
  Status st = ReadFields(v.get_object().value_unsafe(), &rec, &has_ts);
  // A reused record still holds the previous one's values where this one has no field.
  for (size_t i = 0; i < slots.size(); ++i) {
    if (seen_in[i] != record_serial && slots[i].value_index >= 0) {
      rec.values[slots[i].value_index] = Value();
    }
  }
  if (st.ok()) st = CheckRequired(rec, has_ts);
  if (!st.ok()) return Fail(pos, std::move(error_field), st.message());
  return st;
}

Status RecordParser::Impl::Fail(Position pos, std::string field, std::string reason) {
  error = ParseError{};
  if (pos.unit == Position::kLine) error.line = first_line - 1 + pos.number;
  if (pos.unit == Position::kRecord) error.record = pos.number;
  error.field = std::move(field);
  error.reason = std::move(reason);
  return error.ToStatus();
}

// Parses body[begin, end) as one JSON document holding one record. simdjson reads up to
// SIMDJSON_PADDING bytes past the end, whatever they hold: a document followed by that much of
// the body (every NDJSON line but the last few) is parsed where it lies, others from a padded
// copy.
Status RecordParser::Impl::ParseDocument(std::string_view body, size_t begin, size_t end,
                                         Position pos, std::vector<Record>* out) {
  const char* data = body.data() + begin;
  if (body.size() - end < simdjson::SIMDJSON_PADDING) {
    padded.assign(data, end - begin);
    padded.append(simdjson::SIMDJSON_PADDING, ' ');
    data = padded.data();
  }
  auto doc = parser.parse(data, end - begin, /*realloc_if_needed=*/false);
  if (doc.error()) {
    return Fail(pos, "", fmt::format("malformed JSON: {}", simdjson::error_message(doc.error())));
  }
  return ParseRecord(doc.value_unsafe(), pos, out);
}

Status RecordParser::Impl::ParseArray(std::string_view body, std::vector<Record>* out) {
  padded.assign(body.data(), body.size());
  padded.append(simdjson::SIMDJSON_PADDING, ' ');
  auto doc = parser.parse(padded.data(), body.size(), /*realloc_if_needed=*/false);
  if (doc.error()) {
    return Fail({Position::kNone, 0}, "",
                fmt::format("malformed JSON array: {}", simdjson::error_message(doc.error())));
  }
  simdjson::dom::array array = doc.value_unsafe().get_array().value_unsafe();
  out->reserve(array.size());
  size_t number = 0;
  for (element v : array) RETURN_IF_ERROR(ParseRecord(v, {Position::kRecord, ++number}, out));
  return Status::Ok();
}

// NDJSON goes through simdjson's document stream, which finds the structure of many lines in
// one pass, as far as the last line ending SIMDJSON_PADDING bytes before the body does (the
// stream reads that far past its end); the lines after it are parsed one by one. Should the
// stream meet anything but one good record per line (malformed JSON, a bad field, two objects
// on a line, one across lines), its records are dropped and the whole body is parsed line by
// line, which names the line at fault exactly as it always did.
Status RecordParser::Impl::ParseNdjson(std::string_view body, std::vector<Record>* out) {
  size_t streamed = 0;
  if (body.size() > simdjson::SIMDJSON_PADDING) {
    size_t last = body.rfind('\n', body.size() - simdjson::SIMDJSON_PADDING - 1);
    streamed = last == std::string_view::npos ? 0 : last + 1;
  }
  size_t lines = 0;
  if (streamed > 0 && !ParseStream(body.substr(0, streamed), out, &lines)) {
    filled = 0;
    streamed = 0;
    lines = 0;
  }
  LineCursor cursor(body, streamed, lines);
  size_t content, end;
  while (cursor.Next(&content, &end)) {
    RETURN_IF_ERROR(ParseDocument(body, content, end, {Position::kLine, cursor.line()}, out));
  }
  return Status::Ok();
}

// True when every non-blank line of `body` (which ends with a newline) held one document that
// made a record; `lines` is then the number of lines.
bool RecordParser::Impl::ParseStream(std::string_view body, std::vector<Record>* out,
                                     size_t* lines) {
  simdjson::dom::document_stream docs;
  if (parser.parse_many(body.data(), body.size(), simdjson::dom::DEFAULT_BATCH_SIZE).get(docs)) {
    return false;
  }
  LineCursor cursor(body, 0, 0);
  size_t content, end;
  for (auto it = docs.begin(); it != docs.end(); ++it) {
    element doc;
    if ((*it).get(doc) || !cursor.Next(&content, &end) || it.current_index() != content) {
      return false;
    }
    if (!ParseRecord(doc, {Position::kLine, cursor.line()}, out).ok()) return false;
  }
  if (cursor.Next(&content, &end)) return false;  // the stream stops early at a truncated document
  *lines = cursor.line();
  return true;
}

Status RecordParser::Impl::ParseBody(std::string_view body, std::vector<Record>* out) {
  size_t first = SkipSpace(body, 0);
  if (first == body.size()) {
    return Fail({Position::kNone, 0}, "", "empty body: expected a JSON object, array or NDJSON");
  }
  if (body[first] == '[') return ParseArray(body, out);
  if (body[first] == '{' && SkipSpace(body, FindValueEnd(body, first)) < body.size()) {
    return ParseNdjson(body, out);
  }
  if (file_block) {
    size_t line = 1 + std::count(body.begin(), body.begin() + first, '\n');
    return ParseDocument(body, 0, body.size(), {Position::kLine, line}, out);
  }
  return ParseDocument(body, 0, body.size(), {Position::kRecord, 1}, out);
}

RecordParser::RecordParser(const SourceSpec& source, std::vector<std::string> required)
    : impl_(std::make_unique<Impl>(source, required)) {}

RecordParser::~RecordParser() = default;

Status RecordParser::Parse(std::string_view body, std::vector<Record>* out, ParseError* error) {
  return ParseBody(body, out, /*first_line=*/1, /*file_block=*/false, error);
}

Status RecordParser::ParseFileBlock(std::string_view body, uint64_t first_line,
                                    std::vector<Record>* out, ParseError* error) {
  return ParseBody(body, out, first_line, /*file_block=*/true, error);
}

Status RecordParser::ParseBody(std::string_view body, std::vector<Record>* out, uint64_t first_line,
                               bool file_block, ParseError* error) {
  Status st = impl_->config_error;
  impl_->filled = 0;
  impl_->first_line = first_line;
  impl_->file_block = file_block;
  if (st.ok()) {
    st = impl_->ParseBody(body, out);
    if (!st.ok() && error != nullptr) *error = impl_->error;
  } else if (error != nullptr) {
    *error = ParseError{};
    error->reason = st.message();
  }
  out->resize(st.ok() ? impl_->filled : 0);
  return st;
}

std::vector<std::string> RequiredFields(const ProjectSpec& spec, const std::string& source) {
  std::vector<std::string> fields;
  for (const auto& [name, view] : spec.feature_views) {
    if (view.source != source) continue;
    auto entity = spec.entities.find(view.entity);
    if (entity == spec.entities.end()) continue;
    for (const std::string& key : entity->second.keys) {
      if (std::find(fields.begin(), fields.end(), key) == fields.end()) fields.push_back(key);
    }
  }
  return fields;
}

}  // namespace freshet
