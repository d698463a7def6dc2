// The declarative stream-semantics cases (src/stream/testdata/cases, format in
// stream/case_file.h) run through the real backfill, RunBackfill: every expected read becomes a
// one-row labels file over the events applied so far, so the offline path must give the value
// the online engine gives at the same point of the stream. `status` steps are skipped: a
// training set holds values, not statuses.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "format/csv.h"
#include "offline/backfill.h"
#include "stream/case_runner.h"
#include "stream/entity_key.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

// One source's records, in arrival order, from memory.
class MemoryEventReader final : public EventReader {
 public:
  explicit MemoryEventReader(const std::map<std::string, std::vector<Record>>* log) : log_(log) {}
  Status Scan(const std::string& source, const BatchSink& sink) override {
    auto it = log_->find(source);
    if (it == log_->end()) return Status::Ok();
    std::vector<Record> batch = it->second;
    return sink(&batch);
  }
  uint64_t EstimateBytes(const std::string&) const override { return 0; }

 private:
  const std::map<std::string, std::vector<Record>>* log_;
};

// A training-set cell back as a value: empty is null; true/false; an integer; a double; a
// list in Value::ToString's form (JSON for the values cases use); otherwise a string.
Value ParseCell(std::string_view cell) {
  if (cell.empty()) return Value::Null();
  if (cell == "true" || cell == "false") return Value::Bool(cell == "true");
  int64_t i;
  auto [iend, iec] = std::from_chars(cell.data(), cell.data() + cell.size(), i);
  if (iec == std::errc() && iend == cell.data() + cell.size()) return Value::Int(i);
  double d;
  auto [dend, dec] = std::from_chars(cell.data(), cell.data() + cell.size(), d);
  if (dec == std::errc() && dend == cell.data() + cell.size()) return Value::Double(d);
  if (cell.front() == '[') {
    rapidjson::Document doc;
    doc.Parse(cell.data(), cell.size());
    if (!doc.HasParseError() && doc.IsArray()) {
      std::vector<Value> items;
      for (const auto& item : doc.GetArray()) {
        items.push_back(item.IsString()  ? Value::String(item.GetString())
                        : item.IsNull()  ? Value::Null()
                        : item.IsBool()  ? Value::Bool(item.GetBool())
                        : item.IsInt64() ? Value::Int(item.GetInt64())
                                         : Value::Double(item.GetDouble()));
      }
      return Value::MakeList(std::move(items));
    }
  }
  return Value::String(std::string(cell));
}

class BackfillTarget final : public CaseTarget {
 public:
  BackfillTarget(const ProjectSpec& spec, std::string dir) : spec_(spec), dir_(std::move(dir)) {
    fs::create_directories(dir_);
  }
  ~BackfillTarget() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string name() const override { return "backfill"; }
  bool reports_status() const override { return false; }

  Status Apply(const std::string& source, uint64_t, const std::vector<Record>& records) override {
    auto& log = log_[source];
    log.insert(log.end(), records.begin(), records.end());
    return Status::Ok();
  }

  Result<ViewRead> Read(const std::string& view, const std::vector<Value>& key,
                        int64_t at_ms) override {
    const FeatureViewSpec& spec = spec_.feature_views.at(view);
    const EntitySpec& entity = spec_.entities.at(spec.entity);
    std::string labels;
    for (const std::string& k : entity.keys) labels += k + ",";
    labels += "label_ts\n";
    for (size_t i = 0; i < key.size(); ++i) {
      if (key[i].is_string()) {
        AppendCsvField(key[i].as_string(), &labels);
      } else {
        AppendEntityKeyPart(key[i], &labels);
      }
      labels += ",";
    }
    labels += fmt::format("{}\n", at_ms);
    BackfillOptions options;
    options.labels_path = dir_ + "/labels.csv";
    options.out_path = dir_ + "/out.csv";
    options.timestamp_column = "label_ts";
    for (const FeatureSpec& f : spec.features) options.features.push_back({view, f.name});
    std::ofstream(options.labels_path) << labels;
    MemoryEventReader reader(&log_);
    ASSIGN_OR_RETURN(BackfillStats stats, RunBackfill(spec_, options, &reader));
    late_ = stats.late_events;

    std::ifstream in(options.out_path);
    std::stringstream text;
    text << in.rdbuf();
    std::string out = text.str();
    CsvParser parser(out, 1);
    CsvRow header, row;
    if (!parser.Next(&header) || !parser.Next(&row))
      return Status::Internal("backfill wrote no row: " + out);
    const size_t first = entity.keys.size() + 1;
    if (row.fields.size() != first + spec.features.size())
      return Status::Internal("backfill row has the wrong width: " + out);
    ViewRead read;
    read.status = ReadStatus::kPresent;
    for (size_t i = first; i < row.fields.size(); ++i) {
      // Quoted cells are strings, or lists (their ", " needs quotes).
      std::string_view cell = row.fields[i];
      bool list = !cell.empty() && cell.front() == '[';
      read.values.push_back(row.quoted[i] && !list ? Value::String(std::string(cell))
                                                   : ParseCell(cell));
    }
    return read;
  }

  // Late events of every source so far: a backfill of one view per source counts them.
  Result<uint64_t> Late() override {
    uint64_t late = 0;
    for (const auto& [source, unused] : log_) {
      for (const auto& [name, view] : spec_.feature_views) {
        if (view.source != source) continue;
        std::vector<Value> key(spec_.entities.at(view.entity).keys.size(), Value::String("-"));
        ASSIGN_OR_RETURN(ViewRead read, Read(name, key, 0));
        late += late_;
        break;
      }
    }
    return late;
  }

 private:
  const ProjectSpec& spec_;
  std::string dir_;
  std::map<std::string, std::vector<Record>> log_;
  uint64_t late_ = 0;
};

class CasesBackfillTest : public testing::TestWithParam<std::string> {};

TEST_P(CasesBackfillTest, MatchesExpectations) {
  auto loaded = LoadCase(GetParam());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  BackfillTarget target(loaded->spec, (fs::temp_directory_path() /
                                       fmt::format("freshet_cases_backfill_{}_{}", getpid(),
                                                   fs::path(GetParam()).stem().string()))
                                          .string());
  for (const std::string& failure : RunCase(*loaded, &target)) ADD_FAILURE() << failure;
}

INSTANTIATE_TEST_SUITE_P(Cases, CasesBackfillTest, testing::ValuesIn(EventCaseFiles()),
                         CaseTestName);

}  // namespace
}  // namespace freshet
