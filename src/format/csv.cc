#include "format/csv.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "core/time_util.h"

namespace freshet {
namespace {

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ParseBool(std::string_view text, bool* out) {
  if (text == "true" || text == "t" || text == "1" || text == "TRUE" || text == "True") {
    *out = true;
  } else if (text == "false" || text == "f" || text == "0" || text == "FALSE" || text == "False") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

bool ParseTimestamp(std::string_view text, int64_t* out) {
  if (ParseNumber(text, out)) return true;
  Result<int64_t> ms = ParseRfc3339Ms(text);
  if (!ms.ok()) return false;
  *out = *ms;
  return true;
}

Status MissingColumn(const std::string& file, const std::string& name) {
  return Status::InvalidArgument(fmt::format("{}: no column '{}' in the header", file, name));
}

}  // namespace

bool ParseCsvCell(FieldType type, std::string_view text, Value* out) {
  switch (type) {
    case FieldType::kString:
      out->SetString(text);
      return true;
    case FieldType::kInt64: {
      int64_t i;
      if (!ParseNumber(text, &i)) return false;
      out->SetInt(i);
      return true;
    }
    case FieldType::kDouble: {
      double d;
      if (!ParseNumber(text, &d)) return false;
      out->SetDouble(d);
      return true;
    }
    case FieldType::kBool: {
      bool b;
      if (!ParseBool(text, &b)) return false;
      out->SetBool(b);
      return true;
    }
    case FieldType::kTimestamp: {
      int64_t ms;
      if (!ParseTimestamp(text, &ms)) return false;
      out->SetInt(ms);
      return true;
    }
  }
  return false;
}

bool CsvParser::Next(CsvRow* row) {
  const size_t size = text_.size();
  while (pos_ < size && (text_[pos_] == '\n' || text_[pos_] == '\r'))
    line_ += text_[pos_++] == '\n';
  if (pos_ >= size) return false;
  row->line = line_;
  row->quoted.clear();
  row->fields.clear();
  // The common case: a line without quotes, split at its commas (memchr finds the newline,
  // any quote and each comma with vector compares).
  const char* begin = text_.data() + pos_;
  const char* end = text_.data() + size;
  const char* p = static_cast<const char*>(std::memchr(begin, '\n', end - begin));
  if (p == nullptr) p = end;
  if (std::memchr(begin, '"', p - begin)) return NextQuoted(row);
  const char* field = begin;
  for (const char* comma; (comma = static_cast<const char*>(std::memchr(field, ',', p - field)));
       field = comma + 1) {
    row->fields.emplace_back(field, comma - field);
  }
  const char* line_end = p > begin && p[-1] == '\r' ? p - 1 : p;
  row->fields.emplace_back(field, std::max(field, line_end) - field);
  row->raw = std::string_view(begin, line_end - begin);
  row->quoted.resize(row->fields.size(), 0);
  pos_ = (p < end ? p + 1 : end) - text_.data();
  line_ += p < end;
  return true;
}

bool CsvParser::NextQuoted(CsvRow* row) {
  const size_t size = text_.size();
  const size_t start = pos_;
  row->fields.clear();
  unescaped_.clear();
  std::vector<Span>& spans = spans_;
  spans.clear();
  while (true) {
    bool quoted = pos_ < size && text_[pos_] == '"';
    if (!quoted) {
      size_t begin = pos_;
      while (pos_ < size && text_[pos_] != ',' && text_[pos_] != '\n') ++pos_;
      size_t end = pos_;
      if (end > begin && text_[end - 1] == '\r' && (pos_ == size || text_[pos_] == '\n')) --end;
      spans.push_back({begin, end - begin, false});
    } else {
      size_t begin = unescaped_.size();
      ++pos_;
      while (pos_ < size) {
        char c = text_[pos_++];
        if (c == '"') {
          if (pos_ < size && text_[pos_] == '"') {
            unescaped_.push_back('"');
            ++pos_;
            continue;
          }
          break;
        }
        line_ += c == '\n';
        unescaped_.push_back(c);
      }
      // Anything after the closing quote up to the separator is kept as written.
      while (pos_ < size && text_[pos_] != ',' && text_[pos_] != '\n') {
        if (text_[pos_] != '\r') unescaped_.push_back(text_[pos_]);
        ++pos_;
      }
      spans.push_back({begin, unescaped_.size() - begin, true});
    }
    row->quoted.push_back(quoted);
    if (pos_ == size || text_[pos_] != ',') break;
    ++pos_;
  }
  size_t end = pos_;
  if (pos_ < size) ++pos_, ++line_;  // the newline
  if (end > start && text_[end - 1] == '\r') --end;
  row->raw = text_.substr(start, end - start);
  for (const Span& s : spans) {
    row->fields.push_back(s.unescaped ? std::string_view(unescaped_).substr(s.offset, s.length)
                                      : text_.substr(s.offset, s.length));
  }
  return true;
}

void AppendCsvField(std::string_view field, std::string* out) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(field);
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

Status CsvRecordParser::SetHeader(const CsvRow& header, const std::vector<std::string>& required) {
  columns_.clear();
  bool has_ts = false;
  for (std::string_view name : header.fields) {
    int index = source_.FieldIndex(std::string(name));
    bool is_ts = name == source_.timestamp_field;
    has_ts |= is_ts;
    FieldType type = is_ts        ? FieldType::kTimestamp
                     : index >= 0 ? source_.fields[index].type
                                  : FieldType::kString;
    columns_.push_back({std::string(name), index, type, is_ts,
                        std::find(required.begin(), required.end(), name) != required.end()});
  }
  if (!has_ts) return MissingColumn(file_, source_.timestamp_field);
  for (const std::string& name : required) {
    auto same = [&](const Column& c) { return c.name == name; };
    if (std::none_of(columns_.begin(), columns_.end(), same)) return MissingColumn(file_, name);
  }
  return Status::Ok();
}

Status CsvRecordParser::Parse(std::string_view text, uint64_t first_line, std::vector<Record>* out,
                              ParseError* error) const {
  CsvParser parser(text, first_line);
  CsvRow row;
  size_t n = 0;
  while (parser.Next(&row)) {
    if (row.fields.size() != columns_.size()) {
      return Fail(row.line, "",
                  fmt::format("expected {} fields, got {}", columns_.size(), row.fields.size()),
                  error);
    }
    if (n == out->size()) out->emplace_back();
    Record& rec = (*out)[n++];
    // Fields without a column stay null: every reused record comes from this same header.
    rec.values.resize(source_.fields.size());
    for (size_t i = 0; i < columns_.size(); ++i) {
      RETURN_IF_ERROR(ReadCell(columns_[i], row.fields[i], row.quoted[i], row.line, &rec, error));
    }
  }
  out->resize(n);
  return Status::Ok();
}

Status CsvRecordParser::ReadCell(const Column& c, std::string_view cell, bool quoted, uint64_t line,
                                 Record* rec, ParseError* error) const {
  if (c.value_index < 0 && !c.is_timestamp) return Status::Ok();
  if (cell.empty() && !quoted) {
    if (c.is_timestamp || c.required) {
      return Fail(line, c.name, "required but empty", error);
    }
    if (c.value_index >= 0) rec->values[c.value_index] = Value();
    return Status::Ok();
  }
  // Parsed straight into the record's value, whose string buffer is reused.
  Value scratch;
  Value* v = c.value_index >= 0 ? &rec->values[c.value_index] : &scratch;
  if (!ParseCsvCell(c.type, cell, v)) {
    return Fail(line, c.name,
                fmt::format("expected {}, got '{}'", FieldTypeName(c.type), cell.substr(0, 40)),
                error);
  }
  if (c.is_timestamp) rec->ts_ms = v->as_int();
  return Status::Ok();
}

Status CsvRecordParser::Fail(uint64_t line, std::string field, std::string reason,
                             ParseError* error) const {
  ParseError e{file_, line, 0, std::move(field), std::move(reason)};
  Status st = e.ToStatus();
  if (error != nullptr) *error = std::move(e);
  return st;
}

}  // namespace freshet
