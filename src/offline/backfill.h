// Backfill: point-in-time-correct training sets. For every row of a labels CSV (entity key
// column(s), a timestamp t, any other columns), the value each requested feature had at t —
// computed by inserting the entity's events with ts < t into the stream engine's own
// EntityState and reading it at t, so offline values equal what the online path served.
//
// Lateness follows the online rule: walking a source's events in arrival order, the watermark
// is the largest event time seen minus the source's allowed_lateness, and an event older than
// the watermark is dropped (counted in BackfillStats::late_events), as the engine drops it.
//
// Memory is bounded: labels and (encoded) events are partitioned by entity key, and events of
// entities no label names are dropped on arrival; when the inputs are estimated to exceed the
// budget, partitions spill to temp files. Worker threads sweep one partition at a time, and
// the per-partition results (sorted by label row) are read back in the labels' input order.
// Small inputs never touch the disk.
//
// Expectations: the events of each source that declares expectations (freshet.yaml) are checked
// as they are read, batch by batch (quality/expectation.h), as the online path checks them: a
// reject-policy violation fails the backfill naming the source, the record (its ordinal in the
// source's arrival order) and the expectation; quarantined records are left out (they never
// reach the online engine either); warnings are counted. The counts are written beside the
// output, to <out>.quality.json ({"violations", "total", "records", "quarantined"}), when any
// source read declares expectations.
//
// Table views (source kind table) read each label's row as it was at the label's time through
// `BackfillOptions::tables` (stream/table_view.h, the online read rule): one as-of seek per
// label and table view, done while the labels are read; their cells stay in memory (or the
// spill directory) until the output is written.
//
// Computed columns (BackfillOptions::computed: request-time features, instance/service_backfill.h)
// apply a function to one input per label row — a feature's value at the label's time, or a
// labels column's text — and follow the features' columns. Their values are floats, written in
// the shortest form that round-trips a float; NaN (missing) is an empty field.
//
// Output CSV: the labels' own columns, copied as they were, then one column per feature named
// after the feature (view__feature when two requested features share a name), then the computed
// columns. Nulls are empty fields, doubles print in the shortest form that round-trips, lists as
// [a, "b"].
//
// Thread-safety: RunBackfill may run concurrently with itself on different outputs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "format/record.h"
#include "quality/quality_report.h"
#include "spec/project_spec.h"
#include "stream/attribute_lookup.h"

namespace freshet {

// An abstract source of one source's records in arrival order: files, or the embedded log.
class EventReader {
 public:
  // Receives consecutive batches; may move the records out. A non-OK status stops the scan.
  using BatchSink = std::function<Status(std::vector<Record>* batch)>;

  virtual ~EventReader() = default;
  // Calls `sink` with every record of `source`, in arrival order. kInvalidArgument when this
  // reader cannot provide `source`, or names the file and line of a bad record.
  virtual Status Scan(const std::string& source, const BatchSink& sink) = 0;
  // Approximate memory `source`'s records take once parsed, for sizing partitions; 0 when
  // unknown (then the backfill assumes they fit in memory).
  virtual uint64_t EstimateBytes(const std::string& source) const = 0;
};

// Columns computed from one input value per label row, e.g. a request-time feature.
struct ComputedColumns {
  // A view's feature, read at the label's time like a requested feature (it need not be one), or
  // (context.NAME) the labels column NAME, as a string (an unquoted empty cell: null).
  InputRef input;
  std::vector<std::string> names;  // the output columns. REQUIRES: non-empty
  // Writes names.size() floats for one row's input value. Called from several threads at once.
  std::function<Status(const Value& input, float* out)> compute;
};

struct BackfillOptions {
  std::string labels_path;  // REQUIRES: a CSV file with a header line
  std::string out_path;     // written through a temp file and renamed: never left half-written
  // Features to compute, in output order. REQUIRES: non-empty, or a computed column reading a
  // feature.
  std::vector<FeatureRef> features;
  // Computed columns, after the features, in order. Default: none.
  std::vector<ComputedColumns> computed;
  // Event files of `source` (see FileEventReader in backfill_io.h). Used when RunBackfill gets
  // no reader.
  std::vector<std::string> event_files;
  // The source `event_files` belong to. Default: the one source the features read.
  std::string source;
  // The labels column holding each row's time (epoch ms or RFC 3339).
  // Default: the timestamp field name of the first feature's source.
  std::string timestamp_column;
  // Inputs estimated beyond this spill to temp files. Default: 512 MiB.
  size_t memory_budget_bytes = size_t{512} << 20;
  // Where spill files go (a private subdirectory, removed after). Default: $TMPDIR or /tmp.
  std::string temp_dir;
  // Worker threads for parsing and partitions. Default: 2.
  int threads = 2;
  // The table sources' rows (tables/table_store.h), for table views and lookups. Not owned.
  // Required when a requested view reads a table; otherwise unused. Default: none.
  const AttributeLookup* tables = nullptr;
};

struct BackfillStats {
  uint64_t labels = 0;               // rows written
  uint64_t events = 0;               // events read (all sources involved), late ones included
  uint64_t late_events = 0;          // dropped by the watermark, as online
  size_t partitions = 0;             // hash partitions per entity group
  bool spilled = false;              // partitions went through temp files
  std::vector<std::string> columns;  // the feature column names written
  uint64_t quarantined = 0;          // events left out by quarantine expectations
  QualityReport quality;             // expectation violations found in the events
  std::string quality_path;          // where they were written; empty when no source has any
};

// Builds the training set described above. Reads events through `reader`, or from
// options.event_files when `reader` is null. Errors: kInvalidArgument for an unknown view or
// feature, a labels file without a needed column ("labels.csv: no column 'user_id' ..."), a bad
// label timestamp or field count ("labels.csv:7: column 'ts_ms': bad timestamp 'x'"), or a bad
// event; an error of a computed column's function, naming the label row; kIoError for files
// that cannot be read or written.
Result<BackfillStats> RunBackfill(const ProjectSpec& spec, const BackfillOptions& options,
                                  EventReader* reader = nullptr);

}  // namespace freshet
