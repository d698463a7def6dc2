#include "stream/case_file.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "core/int_math.h"
#include "core/parse_int.h"
#include "core/time_util.h"

namespace freshet {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Reads values of expect lines from left to right.
class ValueScanner {
 public:
  explicit ValueScanner(std::string_view text) : s_(text) {}

  bool AtEnd() {
    SkipSpaces();
    return pos_ >= s_.size();
  }

  // "name=" -> name.
  Result<std::string> Name() {
    SkipSpaces();
    size_t eq = s_.find('=', pos_);
    if (eq == std::string_view::npos) return Fail("expected name=value");
    std::string name(Trim(s_.substr(pos_, eq - pos_)));
    pos_ = eq + 1;
    return name;
  }

  Result<CaseValue> Expected() {
    SkipSpaces();
    CaseValue out;
    if (Peek() != '~') {
      ASSIGN_OR_RETURN(out.exact, Exact());
      return out;
    }
    ++pos_;
    out.approx = true;
    ASSIGN_OR_RETURN(out.target, Number());
    out.tolerance = 1e-6 * std::max(1.0, std::abs(out.target));
    if (s_.substr(pos_, 2) == "\xc2\xb1" || s_.substr(pos_, 2) == "+-") {
      pos_ += 2;
      ASSIGN_OR_RETURN(out.tolerance, Number());
    }
    return out;
  }

 private:
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void SkipSpaces() {
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }
  Status Fail(std::string_view what) const {
    return Status::InvalidArgument(fmt::format("column {}: {}", pos_ + 1, what));
  }

  Result<double> Number() {
    size_t stop = s_.find_first_of(" ,]", pos_);
    std::string copy(s_.substr(pos_, stop == std::string_view::npos ? stop : stop - pos_));
    char* end = nullptr;
    double d = std::strtod(copy.c_str(), &end);
    if (end == copy.c_str()) return Fail("expected a number");
    pos_ += static_cast<size_t>(end - copy.c_str());
    return d;
  }

  Result<Value> Exact() {
    SkipSpaces();
    char c = Peek();
    if (c == '"') return Quoted();
    if (c == '[') return List();
    if (c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9')) {
      size_t start = pos_;
      ASSIGN_OR_RETURN(double d, Number());
      std::string_view text = s_.substr(start, pos_ - start);
      if (text.find_first_of(".eE") == std::string_view::npos) {
        ASSIGN_OR_RETURN(int64_t i, ParseInt64(text, "integer"));
        return Value::Int(i);
      }
      return Value::Double(d);
    }
    size_t end = s_.find_first_of(" ,]", pos_);
    std::string word(s_.substr(pos_, end == std::string_view::npos ? end : end - pos_));
    if (word.empty()) return Fail("expected a value");
    pos_ += word.size();
    if (word == "null") return Value();
    if (word == "true") return Value::Bool(true);
    if (word == "false") return Value::Bool(false);
    return Value::String(word);  // a bare word is a string
  }

  Result<Value> Quoted() {
    std::string out;
    for (++pos_; pos_ < s_.size() && s_[pos_] != '"'; ++pos_) {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
      out.push_back(s_[pos_]);
    }
    if (pos_ >= s_.size()) return Fail("unterminated string");
    ++pos_;
    return Value::String(std::move(out));
  }

  Result<Value> List() {
    ++pos_;
    Value::List items;
    SkipSpaces();
    if (Peek() == ']') {
      ++pos_;
      return Value::MakeList({});
    }
    for (;;) {
      ASSIGN_OR_RETURN(Value item, Exact());
      items.push_back(std::move(item));
      SkipSpaces();
      if (Peek() == ']') break;
      if (Peek() != ',') return Fail("expected ',' or ']' in a list");
      ++pos_;
    }
    ++pos_;
    return Value::MakeList(std::move(items));
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// "[view/]a,b" -> view and key parts (strings; numbers key like their decimal text).
void ParseKey(std::string_view text, CaseStep* step) {
  step->key_text = std::string(text);
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    step->view = std::string(text.substr(0, slash));
    text.remove_prefix(slash + 1);
  }
  for (size_t start = 0;;) {
    size_t comma = text.find(',', start);
    step->key.push_back(Value::String(std::string(text.substr(start, comma - start))));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
}

Result<int64_t> ParseTime(std::string_view text) {
  bool negative = StartsWith(text, "-");
  ASSIGN_OR_RETURN(int64_t ms, ParseDurationMs(negative ? text.substr(1) : text));
  return negative ? -ms : ms;
}

// "at T KEY: values" / "status KEY at T: STATUS" / "late: N".
Status ParseExpectLine(std::string_view line, CaseStep* step) {
  if (StartsWith(line, "late:")) {
    step->kind = CaseStep::Kind::kLate;
    ASSIGN_OR_RETURN(int64_t late, ParseInt64InRange(Trim(line.substr(5)), "late", 0, kInt64Max));
    step->late = static_cast<uint64_t>(late);
    return Status::Ok();
  }
  size_t colon = line.find(": ");
  if (colon == std::string_view::npos && line.back() == ':') colon = line.size() - 1;
  if (colon == std::string_view::npos) return Status::InvalidArgument("expected 'HEAD: ...'");
  std::istringstream head{std::string(line.substr(0, colon))};
  std::string word, time, key, at;
  head >> word;
  std::string_view rest = colon + 2 <= line.size() ? line.substr(colon + 2) : std::string_view();
  if (word == "at") {
    head >> time >> key;
    step->kind = CaseStep::Kind::kRead;
  } else if (word == "status") {
    head >> key >> at >> time;
    if (at != "at") return Status::InvalidArgument("expected 'status KEY at T: STATUS'");
    step->kind = CaseStep::Kind::kStatus;
    step->status = std::string(Trim(rest));
  } else {
    return Status::InvalidArgument(fmt::format("unknown expectation '{}'", word));
  }
  if (key.empty()) return Status::InvalidArgument("missing entity key");
  ASSIGN_OR_RETURN(step->at_ms, ParseTime(time));
  ParseKey(key, step);
  if (step->kind != CaseStep::Kind::kRead) return Status::Ok();
  ValueScanner scan(rest);
  while (!scan.AtEnd()) {
    ASSIGN_OR_RETURN(std::string name, scan.Name());
    ASSIGN_OR_RETURN(CaseValue value, scan.Expected());
    step->values.emplace_back(std::move(name), std::move(value));
  }
  if (step->values.empty()) return Status::InvalidArgument("no name=value to check");
  return Status::Ok();
}

// Reads sections line by line.
class CaseParser {
 public:
  CaseParser(const std::string& path, CaseFile* out) : path_(path), out_(out) {}

  Status Parse(const std::string& text) {
    std::istringstream in(text);
    std::string raw;
    for (int line_no = 1; std::getline(in, raw); ++line_no) {
      Status s = Line(line_no, raw);
      if (!s.ok())
        return Status::InvalidArgument(fmt::format("{}:{}: {}", path_, line_no, s.message()));
    }
    if (spec_lines_.empty())
      return Status::InvalidArgument(fmt::format("{}: no spec: section", path_));
    bool full = false;
    for (const auto& l : spec_lines_) full = full || StartsWith(l, "project:");
    std::string yaml;
    for (const auto& l : spec_lines_) yaml += l + "\n";
    out_->spec_yaml = full ? yaml : DefaultSpec(spec_lines_);
    if (out_->name.empty())
      return Status::InvalidArgument(fmt::format("{}: missing '# name:'", path_));
    return Status::Ok();
  }

 private:
  enum class Section { kNone, kSpec, kEvents, kExpect, kError };

  Status Line(int line_no, const std::string& raw) {
    std::string_view line = Trim(raw);
    if (section_ == Section::kNone || section_ == Section::kExpect ||
        section_ == Section::kEvents) {
      if (StartsWith(line, "# name:")) out_->name = std::string(Trim(line.substr(7)));
      if (StartsWith(line, "# description:"))
        out_->description = std::string(Trim(line.substr(14)));
      if (StartsWith(line, "# group:")) out_->group = std::string(Trim(line.substr(8)));
      if (line.empty() || StartsWith(line, "#")) return Status::Ok();
    }
    if (raw == "spec:") return Enter(Section::kSpec);
    if (raw == "expect:") return Enter(Section::kExpect);
    if (raw == "error:") return Enter(Section::kError);
    if (StartsWith(raw, "events") && raw.back() == ':' && raw.find(' ') == raw.rfind(' ')) {
      section_ = Section::kEvents;
      CaseStep step;
      step.kind = CaseStep::Kind::kEvents;
      step.line = line_no;
      step.source = std::string(Trim(std::string_view(raw).substr(6, raw.size() - 7)));
      out_->steps.push_back(std::move(step));
      return Status::Ok();
    }
    switch (section_) {
      case Section::kSpec:
        if (!line.empty() && !StartsWith(line, "#")) spec_lines_.push_back(raw);
        return Status::Ok();
      case Section::kEvents:
        out_->steps.back().events.emplace_back(line_no, std::string(line));
        return Status::Ok();
      case Section::kExpect: {
        CaseStep step;
        step.line = line_no;
        RETURN_IF_ERROR(ParseExpectLine(line, &step));
        out_->steps.push_back(std::move(step));
        return Status::Ok();
      }
      case Section::kError:
        if (!line.empty()) out_->expected_error = std::string(line);
        return Status::Ok();
      case Section::kNone:
        break;
    }
    return Status::InvalidArgument("text outside of a section (spec:, events:, expect:, error:)");
  }

  Status Enter(Section s) {
    section_ = s;
    return Status::Ok();
  }

  const std::string& path_;
  CaseFile* out_;
  Section section_ = Section::kNone;
  std::vector<std::string> spec_lines_;
};

}  // namespace

bool CaseValue::Matches(const Value& actual) const {
  if (approx) return actual.is_number() && std::abs(actual.to_double() - target) <= tolerance;
  if (exact.is_number() && actual.is_number()) {
    if (exact.is_int() && actual.is_int()) return exact.as_int() == actual.as_int();
    double e = exact.to_double();
    return std::abs(actual.to_double() - e) <= 1e-9 * std::max(1.0, std::abs(e));
  }
  if (exact.is_list() && actual.is_list()) {
    const auto& a = actual.as_list();
    const auto& e = exact.as_list();
    if (a.size() != e.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!CaseValue{e[i]}.Matches(a[i])) return false;
    }
    return true;
  }
  return exact == actual;
}

std::string CaseValue::ToString() const {
  if (approx) return fmt::format("~{}±{}", target, tolerance);
  return exact.ToString();
}

std::string DefaultSpec(const std::vector<std::string>& body_lines) {
  std::string lateness = "0s", entity = "user", body;
  for (const std::string& l : body_lines) {
    if (StartsWith(l, "allowed_lateness:")) {
      lateness = std::string(Trim(std::string_view(l).substr(17)));
    } else if (StartsWith(l, "entity:")) {
      entity = std::string(Trim(std::string_view(l).substr(7)));
    } else {
      body += "    " + l + "\n";
    }
  }
  return fmt::format(R"(project: cases
entities:
  user: {{key: user_id}}
  pair: {{keys: [user_id, item_id]}}
sources:
  events:
    kind: http
    timestamp: ts
    allowed_lateness: {}
    fields: {{user_id: string, item_id: string, ts: timestamp, event: string, category: string,
             amount: double, qty: int64, ok: bool}}
feature_views:
  v:
    entity: {}
    source: events
{})",
                     lateness, entity, body);
}

Result<CaseFile> ParseCaseFile(const std::string& path, const std::string& text) {
  CaseFile out;
  out.path = path;
  RETURN_IF_ERROR(CaseParser(path, &out).Parse(text));
  return out;
}

}  // namespace freshet
