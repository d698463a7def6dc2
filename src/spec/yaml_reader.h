// YamlReader: typed, located access to a parsed YAML document for the spec loader. Every value
// it hands out carries its dotted path and 1-based line, so every error reads
//   "<spec file>:<line>: <dotted.path>: <what is wrong>".
// yaml-cpp throws; this is the adapter that keeps its exceptions inside the spec module.
// Thread-safety: a YamlReader is immutable after construction and may be shared.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace freshet {

// A YAML node and where it sits in the document. An absent key is a field whose node is not
// defined, located at its parent mapping's line.
struct YamlField {
  YAML::Node node;
  std::string path;  // e.g. "feature_views.user_activity.features.events_10m.window"
  int line = 1;

  bool present() const { return node.IsDefined() && !node.IsNull(); }
};

// A mapping whose keys were checked against the keys its schema allows.
class YamlObject {
 public:
  YamlObject(YamlField self, std::map<std::string, YamlField, std::less<>> fields)
      : self_(std::move(self)), fields_(std::move(fields)) {}

  const YamlField& self() const { return self_; }
  bool Has(std::string_view key) const { return fields_.count(key) > 0; }
  // The field under `key`, or an absent field located at this mapping.
  YamlField Get(std::string_view key) const;

 private:
  YamlField self_;
  std::map<std::string, YamlField, std::less<>> fields_;
};

// One key of a mapping whose keys are names (entities, sources, features...), in file order.
struct YamlEntry {
  std::string name;
  YamlField value;
};

class YamlReader {
 public:
  explicit YamlReader(std::string spec_path) : spec_path_(std::move(spec_path)) {}

  // Parses `text`; a syntax error names its line. The root is located at line 1, path "".
  Result<YamlField> Parse(const std::string& text) const;

  // kInvalidArgument "<spec file>:<line>: <path>: <what>".
  Status Error(const YamlField& at, std::string_view what) const;

  // A mapping whose keys must be among `allowed` (an unknown key is named, with the closest
  // allowed key as a suggestion) and appear once. An absent field is an empty object.
  Result<YamlObject> Object(const YamlField& field,
                            std::initializer_list<std::string_view> allowed) const;
  // A mapping of name -> definition: names must be identifiers and unique. Absent: empty.
  Result<std::vector<YamlEntry>> Named(const YamlField& field) const;
  // The items of a sequence, located at their own lines ("path[i]").
  Result<std::vector<YamlField>> Sequence(const YamlField& field) const;

  // The text of a scalar; a missing value, a mapping or a sequence is an error.
  Result<std::string> String(const YamlField& field) const;
  // An identifier: [A-Za-z_][A-Za-z0-9_]*.
  Result<std::string> Name(const YamlField& field) const;

  // Optional keys of an object: `*out` is left untouched when the key is absent.
  Status ReadString(const YamlObject& obj, std::string_view key, std::string* out) const;
  Status ReadDuration(const YamlObject& obj, std::string_view key, int64_t* out) const;
  Status ReadBool(const YamlObject& obj, std::string_view key, bool* out) const;
  Status ReadInt(const YamlObject& obj, std::string_view key, int* out) const;
  Status ReadDouble(const YamlObject& obj, std::string_view key, double* out) const;
  // A required key: absent is "missing required key".
  Status RequireString(const YamlObject& obj, std::string_view key, std::string* out) const;

  // The error for `name` not being an identifier, or OK.
  Status CheckName(const YamlField& at, std::string_view name) const;

 private:
  std::string spec_path_;
};

bool IsIdentifier(std::string_view name);

}  // namespace freshet
