#include "spec/yaml_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/time_util.h"

namespace freshet {
namespace {

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

int LineOf(const YAML::Node& node, int fallback) {
  int line = node.Mark().line;
  return line >= 0 ? line + 1 : fallback;
}

std::string_view KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "nothing";
  }
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "(did you mean 'window'?)" for a near miss, else the list of allowed keys.
std::string UnknownKeyHint(std::string_view key, std::initializer_list<std::string_view> allowed) {
  std::string_view best;
  size_t best_distance = 3;  // further than two edits is not a typo
  for (std::string_view candidate : allowed) {
    size_t d = EditDistance(key, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  if (!best.empty()) return fmt::format("did you mean '{}'?", best);
  return fmt::format("allowed: {}", fmt::join(allowed, ", "));
}

}  // namespace

bool IsIdentifier(std::string_view name) {
  if (name.empty()) return false;
  auto is_alpha = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (!is_alpha(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return is_alpha(c) || (c >= '0' && c <= '9'); });
}

YamlField YamlObject::Get(std::string_view key) const {
  auto it = fields_.find(key);
  if (it != fields_.end()) return it->second;
  return YamlField{YAML::Node(YAML::NodeType::Undefined), JoinPath(self_.path, key), self_.line};
}

Result<YamlField> YamlReader::Parse(const std::string& text) const {
  try {
    return YamlField{YAML::Load(text), "", 1};
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(
        fmt::format("{}:{}: YAML syntax error: {}", spec_path_, e.mark.line + 1, e.msg));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(fmt::format("{}: cannot read YAML: {}", spec_path_, e.what()));
  }
}

Status YamlReader::Error(const YamlField& at, std::string_view what) const {
  if (at.path.empty())
    return Status::InvalidArgument(fmt::format("{}:{}: {}", spec_path_, at.line, what));
  return Status::InvalidArgument(fmt::format("{}:{}: {}: {}", spec_path_, at.line, at.path, what));
}

Result<YamlObject> YamlReader::Object(const YamlField& field,
                                      std::initializer_list<std::string_view> allowed) const {
  std::map<std::string, YamlField, std::less<>> fields;
  if (field.present() && !field.node.IsMap()) {
    return Error(field, fmt::format("expected a mapping of {}, got {}", fmt::join(allowed, "/"),
                                    KindOf(field.node)));
  }
  if (!field.present()) return YamlObject(field, std::move(fields));
  for (auto it = field.node.begin(); it != field.node.end(); ++it) {
    YamlField key_field{it->first, field.path, LineOf(it->first, field.line)};
    ASSIGN_OR_RETURN(std::string key, String(key_field));
    YamlField value{it->second, JoinPath(field.path, key), key_field.line};
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Error(value, fmt::format("unknown key '{}' ({})", key, UnknownKeyHint(key, allowed)));
    }
    if (!fields.emplace(key, value).second) return Error(value, "key given twice");
  }
  return YamlObject(field, std::move(fields));
}

Result<std::vector<YamlEntry>> YamlReader::Named(const YamlField& field) const {
  std::vector<YamlEntry> entries;
  if (!field.present()) return entries;
  if (!field.node.IsMap()) {
    return Error(field, fmt::format("expected a mapping of names, got {}", KindOf(field.node)));
  }
  std::set<std::string, std::less<>> seen;
  for (auto it = field.node.begin(); it != field.node.end(); ++it) {
    YamlField key_field{it->first, field.path, LineOf(it->first, field.line)};
    ASSIGN_OR_RETURN(std::string name, String(key_field));
    YamlField value{it->second, JoinPath(field.path, name), key_field.line};
    RETURN_IF_ERROR(CheckName(value, name));
    if (!seen.insert(name).second) return Error(value, fmt::format("'{}' is defined twice", name));
    entries.push_back({std::move(name), std::move(value)});
  }
  return entries;
}

Result<std::vector<YamlField>> YamlReader::Sequence(const YamlField& field) const {
  if (!field.node.IsSequence()) {
    return Error(field, fmt::format("expected a list, got {}", KindOf(field.node)));
  }
  std::vector<YamlField> items;
  for (size_t i = 0; i < field.node.size(); ++i) {
    YAML::Node item = field.node[i];
    items.push_back({item, fmt::format("{}[{}]", field.path, i), LineOf(item, field.line)});
  }
  return items;
}

Result<std::string> YamlReader::String(const YamlField& field) const {
  if (!field.node.IsScalar()) {
    return Error(field, fmt::format("expected a value, got {}", KindOf(field.node)));
  }
  return field.node.Scalar();
}

Result<std::string> YamlReader::Name(const YamlField& field) const {
  ASSIGN_OR_RETURN(std::string name, String(field));
  RETURN_IF_ERROR(CheckName(field, name));
  return name;
}

Status YamlReader::CheckName(const YamlField& at, std::string_view name) const {
  if (IsIdentifier(name)) return Status::Ok();
  return Error(at, fmt::format("'{}' is not a valid name (use letters, digits and _, "
                               "not starting with a digit)",
                               name));
}

Status YamlReader::ReadString(const YamlObject& obj, std::string_view key, std::string* out) const {
  if (!obj.Has(key)) return Status::Ok();
  ASSIGN_OR_RETURN(*out, String(obj.Get(key)));
  return Status::Ok();
}

Status YamlReader::RequireString(const YamlObject& obj, std::string_view key,
                                 std::string* out) const {
  if (!obj.Has(key)) return Error(obj.Get(key), "missing required key");
  return ReadString(obj, key, out);
}

Status YamlReader::ReadDuration(const YamlObject& obj, std::string_view key, int64_t* out) const {
  if (!obj.Has(key)) return Status::Ok();
  YamlField field = obj.Get(key);
  ASSIGN_OR_RETURN(std::string text, String(field));
  Result<int64_t> ms = ParseDurationMs(text);
  if (!ms.ok()) return Error(field, ms.status().message());
  *out = *ms;
  return Status::Ok();
}

Status YamlReader::ReadBool(const YamlObject& obj, std::string_view key, bool* out) const {
  if (!obj.Has(key)) return Status::Ok();
  YamlField field = obj.Get(key);
  if (!field.node.IsScalar() || !YAML::convert<bool>::decode(field.node, *out)) {
    return Error(field, "expected true or false");
  }
  return Status::Ok();
}

Status YamlReader::ReadInt(const YamlObject& obj, std::string_view key, int* out) const {
  if (!obj.Has(key)) return Status::Ok();
  YamlField field = obj.Get(key);
  if (!field.node.IsScalar() || !YAML::convert<int>::decode(field.node, *out)) {
    return Error(field, "expected an integer");
  }
  return Status::Ok();
}

Status YamlReader::ReadDouble(const YamlObject& obj, std::string_view key, double* out) const {
  if (!obj.Has(key)) return Status::Ok();
  YamlField field = obj.Get(key);
  if (!field.node.IsScalar() || !YAML::convert<double>::decode(field.node, *out)) {
    return Error(field, "expected a number");
  }
  return Status::Ok();
}

}  // namespace freshet
