#include "training/training_set.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <numeric>

#include "format/csv.h"
#include "models/artifact_file.h"

namespace freshet {
namespace {

// Where each needed column sits in the header.
struct ColumnIndex {
  std::vector<size_t> features;
  size_t label = 0;
  size_t timestamp = 0;
  std::optional<size_t> group;
  size_t label_columns = 0;  // the labels' own columns come first
};

Result<size_t> FindColumn(const std::string& path, const std::vector<std::string>& header,
                          std::string_view role, const std::string& name, size_t limit) {
  for (size_t i = 0; i < limit; ++i) {
    if (header[i] == name) return i;
  }
  return Status::InvalidArgument(fmt::format("{}: no {} column '{}' (columns: {})", path, role,
                                             name, fmt::join(header, ", ")));
}

Result<ColumnIndex> IndexColumns(const std::string& path, const std::vector<std::string>& header,
                                 const TrainingColumns& columns) {
  if (columns.features.empty() || header.size() < columns.features.size()) {
    return Status::InvalidArgument(
        fmt::format("{}: expected the labels' columns then {} feature "
                    "columns, found {} columns",
                    path, columns.features.size(), header.size()));
  }
  ColumnIndex index;
  index.label_columns = header.size() - columns.features.size();
  for (size_t i = 0; i < columns.features.size(); ++i) {
    if (header[index.label_columns + i] != columns.features[i]) {
      return Status::InvalidArgument(fmt::format(
          "{}: column {} is '{}', expected feature '{}'", path, index.label_columns + i + 1,
          header[index.label_columns + i], columns.features[i]));
    }
    index.features.push_back(index.label_columns + i);
  }
  ASSIGN_OR_RETURN(index.label,
                   FindColumn(path, header, "label", columns.label, index.label_columns));
  ASSIGN_OR_RETURN(index.timestamp,
                   FindColumn(path, header, "timestamp", columns.timestamp, index.label_columns));
  if (!columns.group.empty()) {
    ASSIGN_OR_RETURN(index.group,
                     FindColumn(path, header, "group", columns.group, index.label_columns));
  }
  return index;
}

// A feature or label cell as a float: NaN for an empty cell when `allow_missing`.
Result<float> NumberCell(std::string_view text, bool allow_missing) {
  if (text.empty()) {
    if (allow_missing) return std::numeric_limits<float>::quiet_NaN();
    return Status::InvalidArgument("empty");
  }
  if (text == "true") return 1.0f;
  if (text == "false") return 0.0f;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument(
        fmt::format("'{}' is not a number (XGBoost takes numbers, booleans and nulls)", text));
  }
  return static_cast<float>(value);
}

std::string LabelColumnsLine(const CsvRow& row, size_t count) {
  std::string line;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) line += ',';
    AppendCsvField(row.fields[i], &line);
  }
  return line;
}

Status AppendRow(const std::string& path, const CsvRow& row, const ColumnIndex& index,
                 const std::vector<std::string>& header, TrainingSet* set) {
  auto cell_error = [&](size_t column, const Status& st) {
    return Status::InvalidArgument(
        fmt::format("{}:{}: column '{}': {}", path, row.line, header[column], st.message()));
  };
  for (size_t column : index.features) {
    Result<float> v = NumberCell(row.fields[column], /*allow_missing=*/true);
    if (!v.ok()) return cell_error(column, v.status());
    set->x.push_back(*v);
  }
  Result<float> label = NumberCell(row.fields[index.label], /*allow_missing=*/false);
  if (!label.ok()) return cell_error(index.label, label.status());
  set->y.push_back(*label);
  Value ts;
  if (!ParseCsvCell(FieldType::kTimestamp, row.fields[index.timestamp], &ts)) {
    return cell_error(index.timestamp, Status::InvalidArgument(fmt::format(
                                           "bad timestamp '{}'", row.fields[index.timestamp])));
  }
  set->ts_ms.push_back(ts.as_int());
  if (index.group) set->groups.emplace_back(row.fields[*index.group]);
  set->label_rows.push_back(LabelColumnsLine(row, index.label_columns));
  return Status::Ok();
}

}  // namespace

TrainingSet TrainingSet::Subset(const std::vector<size_t>& indices) const {
  TrainingSet out;
  out.feature_names = feature_names;
  out.label_header = label_header;
  const size_t width = cols();
  for (size_t i : indices) {
    out.x.insert(out.x.end(), x.begin() + i * width, x.begin() + (i + 1) * width);
    out.y.push_back(y[i]);
    out.ts_ms.push_back(ts_ms[i]);
    if (!groups.empty()) out.groups.push_back(groups[i]);
    out.label_rows.push_back(label_rows[i]);
  }
  return out;
}

Result<TrainingSet> ReadTrainingSet(const std::string& path, const TrainingColumns& columns) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  CsvParser parser(text, 1);
  CsvRow row;
  if (!parser.Next(&row)) return Status::InvalidArgument(fmt::format("{}: no header line", path));
  const std::vector<std::string> header(row.fields.begin(), row.fields.end());
  ASSIGN_OR_RETURN(ColumnIndex index, IndexColumns(path, header, columns));
  TrainingSet set;
  set.feature_names = columns.features;
  set.label_header = LabelColumnsLine(row, index.label_columns);
  while (parser.Next(&row)) {
    if (row.fields.size() != header.size()) {
      return Status::InvalidArgument(fmt::format("{}:{}: {} fields, the header has {}", path,
                                                 row.line, row.fields.size(), header.size()));
    }
    RETURN_IF_ERROR(AppendRow(path, row, index, header, &set));
  }
  return set;
}

Result<TimeSplit> SplitByTime(const std::vector<int64_t>& ts_ms, const HoldoutRule& rule) {
  TimeSplit split;
  if (ts_ms.empty()) return Status::FailedPrecondition("no rows to split");
  if (rule.from_ms) {
    split.cut_ms = *rule.from_ms;
  } else {
    std::vector<int64_t> sorted = ts_ms;
    std::sort(sorted.begin(), sorted.end());
    const auto later =
        static_cast<size_t>(std::ceil(rule.fraction * static_cast<double>(sorted.size())));
    split.cut_ms = sorted[sorted.size() - std::clamp<size_t>(later, 1, sorted.size())];
  }
  for (size_t i = 0; i < ts_ms.size(); ++i) {
    (ts_ms[i] >= split.cut_ms ? split.later : split.earlier).push_back(i);
  }
  if (split.earlier.empty() || split.later.empty()) {
    return Status::FailedPrecondition(fmt::format(
        "cannot split {} rows by time at {} ms: {} rows before, {} at or after (need both)",
        ts_ms.size(), split.cut_ms, split.earlier.size(), split.later.size()));
  }
  return split;
}

Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string temp = path + ".tmp";
  std::FILE* file = std::fopen(temp.c_str(), "wb");
  if (file == nullptr) return Status::IoError(fmt::format("cannot write {}", temp));
  const bool written = std::fwrite(contents.data(), 1, contents.size(), file) == contents.size();
  if (std::fclose(file) != 0 || !written) {
    std::remove(temp.c_str());
    return Status::IoError(fmt::format("cannot write {}", temp));
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec)
    return Status::IoError(fmt::format("cannot rename {} to {}: {}", temp, path, ec.message()));
  return Status::Ok();
}

Status WriteLabelRows(const TrainingSet& set, const std::vector<size_t>& rows,
                      const std::string& path) {
  std::string text = set.label_header + "\n";
  for (size_t i : rows) text += set.label_rows[i] + "\n";
  return WriteFileAtomically(path, text);
}

}  // namespace freshet
