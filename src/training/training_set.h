// TrainingSet: a backfilled training set (offline/backfill.h's output CSV: the labels' own
// columns, then one column per feature) as the numeric matrix XGBoost trains on, and the
// time-based split that keeps the future out of training.
//
// Feature cells become floats: numbers as they are, true/false as 1/0, an empty cell (null) as
// NaN, which XGBoost treats as missing. A string or list feature cannot feed XGBoost and is an
// error naming the column and line.
// Thread-safety: values; const methods are safe from several threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace freshet {

// The columns of the training set CSV that TrainingSet reads.
struct TrainingColumns {
  std::vector<std::string> features;  // model inputs, in input order; REQUIRES: non-empty
  std::string label;                  // a number (or true/false) per row
  std::string timestamp;              // epoch ms or RFC 3339 per row
  std::string group;                  // optional: the rows' group for recall@K
};

struct TrainingSet {
  std::vector<std::string> feature_names;
  std::vector<float> x;                 // rows() x feature_names.size(), row-major; NaN: missing
  std::vector<float> y;                 // labels
  std::vector<int64_t> ts_ms;           // each row's label time
  std::vector<std::string> groups;      // one per row when TrainingColumns::group was given
  std::string label_header;             // the labels' own columns, as a CSV header line
  std::vector<std::string> label_rows;  // each row's labels columns, as a CSV line

  size_t rows() const { return y.size(); }
  size_t cols() const { return feature_names.size(); }
  // The rows at `indices`, in that order.
  TrainingSet Subset(const std::vector<size_t>& indices) const;
};

// Reads `path`, whose columns after the labels' own are `columns.features` (the backfill's
// BackfillStats::columns). kInvalidArgument naming the file, line and column for a missing
// column or a bad cell; kIoError when the file cannot be read.
Result<TrainingSet> ReadTrainingSet(const std::string& path, const TrainingColumns& columns);

// How the holdout is chosen: the rows whose time is at or after `from_ms` when set, else the
// latest `fraction` of the rows by time.
struct HoldoutRule {
  double fraction = 0.2;
  std::optional<int64_t> from_ms;
};

// A split of row indices (each list in row order) such that every `later` row's time is at or
// after `cut_ms` and every `earlier` row's is before it: rows that share the cut's timestamp
// all go to `later`, so no earlier row is from the same moment as a later one.
struct TimeSplit {
  std::vector<size_t> earlier;
  std::vector<size_t> later;
  int64_t cut_ms = 0;
};

// kFailedPrecondition when either side would be empty (too few rows or distinct times).
Result<TimeSplit> SplitByTime(const std::vector<int64_t>& ts_ms, const HoldoutRule& rule);

// Writes `set`'s label columns for `rows` as a CSV file (header included): the holdout's
// identity, hashed into lineage.holdout_sha256, the same for every model evaluated on the same
// labels and split whatever features it reads. Through a temp file and a rename.
Status WriteLabelRows(const TrainingSet& set, const std::vector<size_t>& rows,
                      const std::string& path);

// Writes `contents` to `path` through a temp file and a rename; kIoError on failure.
Status WriteFileAtomically(const std::string& path, const std::string& contents);

}  // namespace freshet
