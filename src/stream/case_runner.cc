#include "stream/case_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "format/record_parser.h"
#include "spec/spec_loader.h"

namespace freshet {

namespace fs = std::filesystem;

namespace {

std::string OnlyOr(const std::vector<std::string>& names, const std::string& fallback) {
  return names.size() == 1 ? names[0] : fallback;
}

}  // namespace

Status ParseEvents(LoadedCase* c) {
  std::vector<std::string> views, sources;
  for (const auto& [name, unused] : c->spec.feature_views) views.push_back(name);
  for (const auto& [name, unused] : c->spec.sources) sources.push_back(name);
  c->default_view = OnlyOr(views, "v");
  c->default_source = OnlyOr(sources, "events");
  c->records.resize(c->file.steps.size());
  for (size_t i = 0; i < c->file.steps.size(); ++i) {
    CaseStep& step = c->file.steps[i];
    if (step.kind != CaseStep::Kind::kEvents) continue;
    if (step.source.empty()) step.source = c->default_source;
    auto source = c->spec.sources.find(step.source);
    if (source == c->spec.sources.end()) {
      return Status::InvalidArgument(
          fmt::format("{}:{}: unknown source '{}'", c->file.path, step.line, step.source));
    }
    RecordParser parser(source->second, RequiredFields(c->spec, step.source));
    std::vector<Record> parsed;
    for (const auto& [line, json] : step.events) {
      Status s = parser.Parse(json, &parsed);
      if (!s.ok())
        return Status::InvalidArgument(fmt::format("{}:{}: {}", c->file.path, line, s.message()));
      c->records[i].insert(c->records[i].end(), parsed.begin(), parsed.end());
    }
    c->total_records += c->records[i].size();
  }
  return Status::Ok();
}

std::vector<std::string> RunCase(LoadedCase& c, CaseTarget* target) {
  std::vector<std::string> failures;
  auto fail = [&](int line, const std::string& what) {
    failures.push_back(fmt::format("{}:{}: [{}] {}", c.file.path, line, target->name(), what));
  };
  std::map<std::string, uint64_t> offsets;
  for (size_t i = 0; i < c.file.steps.size(); ++i) {
    const CaseStep& step = c.file.steps[i];
    if (step.kind == CaseStep::Kind::kEvents) {
      Status s = target->Apply(step.source, offsets[step.source], c.records[i]);
      offsets[step.source] += c.records[i].size();
      if (!s.ok()) fail(step.line, "apply failed: " + s.ToString());
      continue;
    }
    if (step.kind == CaseStep::Kind::kLate) {
      auto late = target->Late();
      if (!late.ok() || *late != step.late) {
        fail(step.line, fmt::format("late events: expected {}, got {}", step.late,
                                    late.ok() ? std::to_string(*late) : late.status().ToString()));
      }
      continue;
    }
    const std::string view = step.view.empty() ? c.default_view : step.view;
    auto read = target->Read(view, step.key, step.at_ms);
    if (!read.ok()) {
      fail(step.line, "read failed: " + read.status().ToString());
      continue;
    }
    const std::string where = fmt::format("{} at {}", step.key_text, step.at_ms);
    if (step.kind == CaseStep::Kind::kStatus) {
      if (!target->reports_status()) continue;
      std::string_view actual = ReadStatusName(read->status);
      if (actual != step.status)
        fail(step.line, fmt::format("{}: status: expected {}, got {}", where, step.status, actual));
      continue;
    }
    const FeatureViewSpec& spec = c.spec.feature_views.at(view);
    for (const auto& [feature, expected] : step.values) {
      // By value: clang before 16 cannot capture a structured binding.
      auto f = std::find_if(spec.features.begin(), spec.features.end(),
                            [name = feature](const FeatureSpec& s) { return s.name == name; });
      if (f == spec.features.end()) {
        fail(step.line, fmt::format("{}: no feature '{}' in view '{}'", where, feature, view));
        continue;
      }
      const Value& actual = read->values[f - spec.features.begin()];
      if (!expected.Matches(actual)) {
        fail(step.line, fmt::format("{}: feature '{}': expected {}, got {}", where, feature,
                                    expected.ToString(), actual.ToString()));
      }
    }
  }
  return failures;
}

std::string CasesDir() { return FRESHET_CASES_DIR; }

std::vector<std::string> CaseFiles() {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(CasesDir(), ec)) {
    if (entry.path().extension() == ".case") files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> EventCaseFiles() {
  std::vector<std::string> files;
  for (const std::string& name : CaseFiles()) {
    auto c = LoadCase(name);
    if (!c.ok() || c->file.expected_error.empty()) files.push_back(name);
  }
  return files;
}

std::string CaseTestName(const testing::TestParamInfo<std::string>& info) {
  std::string name = fs::path(info.param).stem().string();
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

Result<LoadedCase> LoadCase(const std::string& name) {
  const std::string path = CasesDir() + "/" + name;
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  LoadedCase c;
  ASSIGN_OR_RETURN(c.file, ParseCaseFile("cases/" + name, text.str()));
  if (!c.file.expected_error.empty()) return c;
  auto spec = ParseProject(c.file.spec_yaml, c.file.path);
  if (!spec.ok()) return spec.status().WithContext(c.file.spec_yaml);
  c.spec = std::move(spec).value();
  RETURN_IF_ERROR(ParseEvents(&c));
  return c;
}

}  // namespace freshet
