#include "offline/backfill.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "core/byte_codec.h"
#include "core/thread_pool.h"
#include "format/csv.h"
#include "offline/backfill_io.h"
#include "offline/backfill_partitions.h"
#include "quality/expectation.h"
#include "stream/compiled_view.h"
#include "stream/entity_key.h"
#include "stream/table_view.h"
#include "stream/view_lookups.h"
#include "stream/watermark.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

// Labels take about this many times their file size once partitioned.
constexpr uint64_t kLabelExpansion = 3;
// Partitions keep events encoded: about this many times smaller than parsed Records.
constexpr uint64_t kEncodedShrink = 4;
// Partitions per entity group when everything fits in memory: enough to keep threads busy.
constexpr size_t kPartitionsPerThread = 16;
constexpr size_t kMaxPartitions = 256;
static_assert(kMaxPartitions <= 1 << 16, "label partitions are noted in 16 bits");
// An entity's state is evicted after this many inserts, so sliding windows stay small.
constexpr size_t kEvictEvery = 256;
constexpr size_t kLabelBlockBytes = size_t{16} << 20;
constexpr size_t kWriteBufferBytes = size_t{1} << 20;
// Batches smaller than this are routed on one thread.
constexpr size_t kMinParallelEvents = 4096;
// How many events ahead routing prefetches.
constexpr size_t kRouteAhead = 8;

// ---- plan: which views to sweep and where their values go ----------------------------------

// A stream view (`view`) or a table view (`table`).
struct ViewPlan {
  std::shared_ptr<const CompiledView> view;
  std::shared_ptr<const TableView> table;
  std::vector<int> features;  // indexes in the view; a table view's: table field indexes
  std::vector<size_t> cells;  // each feature's index among the group's cells
  // Per feature: the computed columns it is the input of (its cell holds their fields), or null.
  std::vector<const ComputedColumns*> computed;

  const FeatureViewSpec& spec() const { return table ? table->spec() : view->spec(); }
};

// Views reading one source for one entity: one partitioned sweep serves them all.
struct Group {
  std::string source;
  std::string entity;
  bool is_table = false;  // views of a table source: read per label, no events
  // A view with lookups has its group to itself: its events are enriched (as of their time)
  // before they are routed, as the engine enriches them before it applies them.
  std::shared_ptr<const ViewLookups> lookups;
  std::vector<int> key_fields;  // indexes into Record::values, entity key order
  std::vector<FieldType> key_types;
  std::vector<std::string> key_names;
  std::vector<size_t> key_columns;  // in the labels file
  std::vector<ViewPlan> views;
  std::vector<size_t> cell_columns;  // output column (after the labels') of each cell
};

struct Plan {
  std::vector<Group> groups;
  std::vector<std::string> columns;  // output column names after the labels'
  size_t cells = 0;                  // per row: one per feature, one per computed column
  // Computed columns reading a labels column: (their cell, the column's name).
  std::vector<std::pair<size_t, const ComputedColumns*>> label_computed;
  std::string ts_name;
};

Result<ViewPlan*> FindOrAddView(const ProjectSpec& spec, const std::string& name, Group** group,
                                std::vector<Group>* groups) {
  auto it = spec.feature_views.find(name);
  if (it == spec.feature_views.end()) {
    return Status::InvalidArgument(fmt::format("unknown feature view '{}'", name));
  }
  const FeatureViewSpec& vs = it->second;
  for (Group& g : *groups) {
    if (g.source != vs.source || g.entity != vs.entity) continue;
    if (g.lookups || !vs.lookups.empty()) continue;
    *group = &g;
    for (ViewPlan& v : g.views) {
      if (v.spec().name == name) return &v;
    }
  }
  const SourceSpec& source = spec.sources.at(vs.source);
  ViewPlan plan;
  std::vector<int> key_fields;
  if (source.kind == SourceKind::kTable) {
    plan.table = std::make_shared<const TableView>(spec, vs);
    for (const std::string& key : spec.entities.at(vs.entity).keys)
      key_fields.push_back(source.FieldIndex(key));
  } else {
    ASSIGN_OR_RETURN(plan.view, CompiledView::Compile(spec, vs));
    key_fields = plan.view->key_field_indexes();
  }
  if (*group == nullptr) {
    Group& g = groups->emplace_back();
    g.source = vs.source;
    g.entity = vs.entity;
    g.is_table = source.kind == SourceKind::kTable;
    if (!vs.lookups.empty()) g.lookups = std::make_shared<const ViewLookups>(spec, vs);
    g.key_fields = std::move(key_fields);
    for (int f : g.key_fields) {
      g.key_names.push_back(source.fields[f].name);
      g.key_types.push_back(source.fields[f].type);
    }
    *group = &g;
  }
  return &(*group)->views.emplace_back(std::move(plan));
}

std::vector<std::string> ColumnNames(const std::vector<FeatureRef>& refs) {
  std::map<std::string, int> uses;
  for (const FeatureRef& r : refs) ++uses[r.feature];
  std::vector<std::string> names;
  for (const FeatureRef& r : refs) {
    names.push_back(uses[r.feature] > 1 ? r.view + "__" + r.feature : r.feature);
  }
  return names;
}

// Adds `ref` to the plan, its value going to cell `cell` (through `computed`, when not null).
Status AddFeature(const ProjectSpec& spec, const FeatureRef& ref, size_t cell,
                  const ComputedColumns* computed, Plan* plan) {
  Group* group = nullptr;
  ASSIGN_OR_RETURN(ViewPlan * view, FindOrAddView(spec, ref.view, &group, &plan->groups));
  int index = -1;
  if (view->table) {
    auto fields = view->table->FieldIndexes({ref.feature});
    if (fields.ok()) index = fields->front();
  } else {
    index = view->view->FeatureIndex(ref.feature);
  }
  if (index < 0) {
    return Status::InvalidArgument(
        fmt::format("feature view '{}' has no feature '{}'", ref.view, ref.feature));
  }
  view->features.push_back(index);
  view->cells.push_back(group->cell_columns.size());
  view->computed.push_back(computed);
  group->cell_columns.push_back(cell);
  return Status::Ok();
}

Result<Plan> MakePlan(const ProjectSpec& spec, const BackfillOptions& options) {
  Plan plan;
  for (size_t col = 0; col < options.features.size(); ++col) {
    const FeatureRef& ref = options.features[col];
    for (size_t prev = 0; prev < col; ++prev) {
      if (options.features[prev].ToString() == ref.ToString()) {
        return Status::InvalidArgument(fmt::format("feature '{}' listed twice", ref.ToString()));
      }
    }
    RETURN_IF_ERROR(AddFeature(spec, ref, col, nullptr, &plan));
  }
  plan.columns = ColumnNames(options.features);
  plan.cells = options.features.size();
  for (const ComputedColumns& computed : options.computed) {
    if (computed.input.from_context()) {
      plan.label_computed.emplace_back(plan.cells, &computed);
    } else {
      RETURN_IF_ERROR(AddFeature(spec, computed.input.feature, plan.cells, &computed, &plan));
    }
    plan.columns.insert(plan.columns.end(), computed.names.begin(), computed.names.end());
    ++plan.cells;
  }
  if (plan.groups.empty()) return Status::InvalidArgument("no features to backfill");
  for (const Group& g : plan.groups) {
    if ((g.is_table || g.lookups) && options.tables == nullptr) {
      const FeatureViewSpec& view = g.views.front().spec();
      return Status::InvalidArgument(fmt::format(
          "feature view '{}' reads table '{}': the backfill needs the table store (run it on "
          "the data directory)",
          view.name, g.is_table ? g.source : view.lookups.front().table));
    }
  }
  plan.ts_name = options.timestamp_column;
  if (plan.ts_name.empty()) {
    // The first event source's timestamp field (a table's names when a row changed instead).
    const Group* first = &plan.groups.front();
    for (const Group& g : plan.groups) {
      if (!g.is_table) {
        first = &g;
        break;
      }
    }
    plan.ts_name = spec.sources.at(first->source).timestamp_field;
  }
  return plan;
}

// ---- the sweep ----------------------------------------------------------------------------------

void AppendCell(const Value& v, std::string* out) {
  if (v.is_null()) return;
  if (v.is_bool()) {
    out->append(v.as_bool() ? "true" : "false");
  } else if (v.is_int()) {
    fmt::format_to(std::back_inserter(*out), "{}", v.as_int());
  } else if (v.is_double()) {
    fmt::format_to(std::back_inserter(*out), "{}", v.as_double());
  } else if (v.is_string()) {
    AppendCsvField(v.as_string(), out);
  } else {
    AppendCsvField(v.ToString(), out);
  }
}

// The CSV text of `computed`'s fields for input `v`: its values separated by commas, NaN empty.
// Errors name the label row (1-based, in the labels file's order).
Status AppendComputed(const ComputedColumns& computed, const Value& v, uint64_t row,
                      std::vector<float>* scratch, std::string* out) {
  scratch->resize(computed.names.size());
  Status st = computed.compute(v, scratch->data());
  if (!st.ok()) {
    return Status(st.code(), fmt::format("label row {}: {}", row + 1, st.message()));
  }
  for (size_t i = 0; i < scratch->size(); ++i) {
    if (i > 0) out->push_back(',');
    float f = (*scratch)[i];
    if (!std::isnan(f)) fmt::format_to(std::back_inserter(*out), "{}", f);
  }
  return Status::Ok();
}

// A feature's cell: its value, or the fields of the computed columns it feeds.
Status AppendFeatureCell(const ComputedColumns* computed, const Value& v, uint64_t row,
                         std::vector<float>* scratch, std::string* out) {
  if (computed == nullptr) {
    AppendCell(v, out);
    return Status::Ok();
  }
  return AppendComputed(*computed, v, row, scratch, out);
}

// One entry of a run: [u64 row][u32 n][n bytes of cells], each cell [u32 len][CSV text].
void AppendRunEntry(uint64_t row, std::string_view cells, std::string* run) {
  byte_codec::PutFixed64(run, row);
  byte_codec::PutBytes32(run, cells);
}

// Sorts `items` by entity, stably (a counting sort): afterwards items of entity e are
// [(*begin)[e], (*begin)[e + 1]), still in their original order.
template <typename T>
void GroupByEntity(std::vector<T>* items, size_t entities, std::vector<uint32_t>* begin) {
  begin->assign(entities + 1, 0);
  for (const T& item : *items) ++(*begin)[item.entity + 1];
  for (size_t e = 0; e < entities; ++e) (*begin)[e + 1] += (*begin)[e];
  std::vector<uint32_t> fill(begin->begin(), begin->end() - 1);
  std::vector<T> sorted(items->size());
  for (const T& item : *items) sorted[fill[item.entity]++] = item;
  *items = std::move(sorted);
}

// One partition's computation, entity by entity: the entity's events go in time order (ties
// in arrival order) into fresh EntityStates, and each of its labels, in time order, reads them
// at its time t once exactly the events with ts < t are in. The result ("run") has one entry
// per label in row order: [u64 row][u32 n][n bytes of cells], each cell [u32 len][CSV text].
class Sweep {
 public:
  explicit Sweep(const Group& g) : g_(g) {}

  // `labels` and `events` (in arrival order) of one partition, whose entities are numbered
  // below `entities`.
  Result<std::string> Run(std::vector<SweepLabel> labels, std::vector<SweepEvent> events,
                          size_t entities) {
    std::vector<uint32_t> label_begin, event_begin;
    GroupByEntity(&labels, entities, &label_begin);
    GroupByEntity(&events, entities, &event_begin);
    ordered_.resize(g_.cell_columns.size());
    for (size_t e = 0; e < entities; ++e) {
      RETURN_IF_ERROR(
          SweepEntity(labels.data() + label_begin[e], labels.data() + label_begin[e + 1],
                      events.data() + event_begin[e], events.data() + event_begin[e + 1]));
    }
    return RunBytes();
  }

 private:
  Status SweepEntity(SweepLabel* lb, SweepLabel* lb_end, SweepEvent* ev, SweepEvent* ev_end) {
    if (lb == lb_end) return Status::Ok();
    auto by_ts = [](const auto& a, const auto& b) { return a.ts < b.ts; };
    if (!std::is_sorted(ev, ev_end, by_ts)) std::stable_sort(ev, ev_end, by_ts);
    if (!std::is_sorted(lb, lb_end, by_ts)) std::stable_sort(lb, lb_end, by_ts);
    if (states_.empty()) {
      for (const ViewPlan& view : g_.views) states_.push_back(view.view->NewState());
    } else {
      for (auto& state : states_) state->Clear();
    }
    const SweepEvent* const first_event = ev;
    size_t since_evict = 0;
    for (; lb != lb_end; ++lb) {
      for (; ev != ev_end && ev->ts < lb->ts; ++ev, ++since_evict) {
        // The encoded events lie all over the partition's buffer: fetch ahead.
        if (ev + 8 < ev_end) __builtin_prefetch(ev[8].record.data());
        RETURN_IF_ERROR(DecodeRecord(ev->record, &record_));
        for (auto& state : states_) state->Insert(record_);
      }
      if (since_evict >= kEvictEvery) {  // later reads are at times >= lb->ts
        for (auto& state : states_) state->Evict(lb->ts);
        since_evict = 0;
      }
      RETURN_IF_ERROR(ReadLabel(*lb, /*seen=*/ev != first_event));
    }
    return Status::Ok();
  }

  // Reads the label's features through the online read rules (CompiledView::ReadEntity): an
  // entity without events before the label reads as not found, a stale one (TTL) as nulls.
  Status ReadLabel(const SweepLabel& label, bool seen) {
    for (size_t v = 0; v < g_.views.size(); ++v) {
      const ViewPlan& view = g_.views[v];
      view.view->ReadEntity(seen ? states_[v].get() : nullptr, label.ts, view.features, &values_);
      for (size_t f = 0; f < values_.size(); ++f) {
        std::string& cell = ordered_[view.cells[f]];
        cell.clear();
        RETURN_IF_ERROR(
            AppendFeatureCell(view.computed[f], values_[f], label.row, &computed_, &cell));
      }
    }
    LabelCells& result = results_.emplace_back();
    result.row = label.row;
    for (const std::string& cell : ordered_) byte_codec::PutBytes32(&result.cells, cell);
    return Status::Ok();
  }

  std::string RunBytes() {
    std::sort(results_.begin(), results_.end(),
              [](const LabelCells& a, const LabelCells& b) { return a.row < b.row; });
    std::string run;
    for (const LabelCells& r : results_) AppendRunEntry(r.row, r.cells, &run);
    return run;
  }

  // One label's cells, each [u32 len][CSV text].
  struct LabelCells {
    uint64_t row;
    std::string cells;
  };

  const Group& g_;
  std::vector<LabelCells> results_;
  std::vector<std::unique_ptr<EntityState>> states_;  // of the current entity, per view
  Record record_;                                     // the event being inserted, decoded
  std::vector<Value> values_;
  std::vector<std::string> ordered_;  // one label's cells in the group's order
  std::vector<float> computed_;       // scratch of computed columns
};

// A partition's run, read back in row order: from memory, or from its spill file.
class RunReader {
 public:
  RunReader() = default;
  RunReader(const RunReader&) = delete;
  RunReader& operator=(const RunReader&) = delete;
  ~RunReader() {
    if (file_) std::fclose(file_);
  }

  Status Finish(std::string run, const std::string& spill_path) {
    if (spill_path.empty()) {
      memory_ = std::move(run);
      in_ = byte_codec::ByteReader(memory_);
      return Status::Ok();
    }
    RETURN_IF_ERROR(AppendToFile(spill_path, run));
    path_ = spill_path;
    file_ = std::fopen(spill_path.c_str(), "rb");
    if (!file_) return Status::IoError(fmt::format("{}: {}", spill_path, std::strerror(errno)));
    return Status::Ok();
  }

  // The next entry: its label row and cells (valid until the next call). False at the end.
  Result<bool> Next(uint64_t* row, std::vector<std::string_view>* cells) {
    std::string_view block;
    if (file_) {
      uint32_t n = 0;
      if (std::fread(row, 1, 8, file_) != 8) return false;
      if (std::fread(&n, 1, 4, file_) != 4) return CorruptSpill(path_);
      scratch_.resize(n);
      if (std::fread(scratch_.data(), 1, n, file_) != n) return CorruptSpill(path_);
      block = scratch_;
    } else {
      if (in_.empty()) return false;
      if (!in_.GetFixed64(row) || !in_.GetBytes32(&block)) return Status::Internal("corrupt run");
    }
    cells->clear();
    for (byte_codec::ByteReader cell(block); !cell.empty();) {
      std::string_view c;
      if (!cell.GetBytes32(&c)) return Status::Internal("corrupt run entry");
      cells->push_back(c);
    }
    return true;
  }

 private:
  std::string memory_;
  byte_codec::ByteReader in_{std::string_view()};
  std::string path_;
  std::FILE* file_ = nullptr;
  std::string scratch_;
};

// ---- the whole run ------------------------------------------------------------------------------

Status ForEachCsvRow(const std::string& path, const std::function<Status(const CsvRow&)>& fn) {
  BlockReader reader(/*csv=*/true, kLabelBlockBytes);
  RETURN_IF_ERROR(reader.Open(path));
  std::string_view block;
  uint64_t first_line = 0;
  CsvRow row;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader.Next(&block, &first_line));
    if (!more) return Status::Ok();
    CsvParser parser(block, first_line);
    while (parser.Next(&row)) RETURN_IF_ERROR(fn(row));
  }
}

// Events of one batch routed and encoded by one thread.
struct EncodedSlice {
  std::string bytes;
  std::vector<std::pair<uint32_t, size_t>> entries;  // (partition, end offset in bytes)
  std::string keys[kRouteAhead];  // RecordKeyView's scratch for the events staged ahead
};

// One entity group's partitions and, once swept, their runs.
struct GroupData {
  std::unique_ptr<Partitions> parts;       // null for a table group
  std::string table_run;                   // a table group's run, built as labels are read
  std::vector<uint16_t> label_partitions;  // by label row
  std::vector<RunReader> runs;             // per partition
};

class Backfill {
 public:
  Backfill(const ProjectSpec& spec, const BackfillOptions& options)
      : spec_(spec), options_(options), threads_(std::max(1, options.threads)) {}

  Result<BackfillStats> Run(EventReader* reader) {
    ASSIGN_OR_RETURN(plan_, MakePlan(spec_, options_));
    std::unique_ptr<EventReader> files;
    if (reader == nullptr) {
      ASSIGN_OR_RETURN(files, MakeFileReader());
      reader = files.get();
    }
    RETURN_IF_ERROR(SizePartitions(*reader));
    RETURN_IF_ERROR(ForEachCsvRow(options_.labels_path,
                                  [this](const CsvRow& row) { return PartitionLabel(row); }));
    if (!header_seen_) return LabelsError(0, "empty file: expected a header line");
    RETURN_IF_ERROR(PartitionEvents(reader));
    RETURN_IF_ERROR(ComputeRuns());
    RETURN_IF_ERROR(WriteOutput());
    RETURN_IF_ERROR(WriteQualityReport());
    stats_.columns = plan_.columns;
    return stats_;
  }

 private:
  Result<std::unique_ptr<EventReader>> MakeFileReader() const {
    if (options_.event_files.empty()) {
      return Status::InvalidArgument("no events: give event files or an event reader");
    }
    std::string source = options_.source;
    for (const Group& g : plan_.groups) {
      if (g.is_table) continue;
      if (source.empty()) source = g.source;
      if (options_.source.empty() && g.source != source) {
        return Status::InvalidArgument(fmt::format(
            "the features read sources '{}' and '{}': name the one the event files hold", source,
            g.source));
      }
    }
    return std::unique_ptr<EventReader>(
        std::make_unique<FileEventReader>(spec_, source, options_.event_files, threads_));
  }

  Status SizePartitions(const EventReader& reader) {
    std::error_code ec;
    uint64_t label_bytes = fs::file_size(options_.labels_path, ec);
    if (ec) return Status::IoError(fmt::format("{}: {}", options_.labels_path, ec.message()));
    uint64_t event_bytes = 0;
    for (const Group& g : plan_.groups) {
      if (!g.is_table) event_bytes += reader.EstimateBytes(g.source) / kEncodedShrink;
    }
    uint64_t total = label_bytes * kLabelExpansion + event_bytes;
    uint64_t budget = std::max<uint64_t>(options_.memory_budget_bytes, 1);
    stats_.spilled = total > budget;
    size_t partitions = threads_ * kPartitionsPerThread;
    size_t flush_bytes = 0;
    if (stats_.spilled) {
      // Each worker holds one partition at a time; a quarter of the budget buffers the rest.
      partitions = std::clamp<uint64_t>(2 * (total * threads_ / budget + 1), 2, kMaxPartitions);
      flush_bytes = std::max<size_t>(budget / (4 * partitions * plan_.groups.size()), 4096);
      RETURN_IF_ERROR(temp_.Create(options_.temp_dir));
    }
    stats_.partitions = partitions;
    data_.resize(plan_.groups.size());
    for (size_t g = 0; g < data_.size(); ++g) {
      if (plan_.groups[g].is_table) {
        data_[g].runs = std::vector<RunReader>(1);
        continue;
      }
      // About 4 filter bits per label: few events of unlabelled entities get through.
      data_[g].parts =
          stats_.spilled
              ? NewSpilledPartitions(partitions, temp_, fmt::format("{}-", g), flush_bytes,
                                     std::min(label_bytes * 4, budget))
              : NewResidentPartitions(
                    partitions, reader.EstimateBytes(plan_.groups[g].source) / kEncodedShrink);
      data_[g].runs = std::vector<RunReader>(partitions);
    }
    return Status::Ok();
  }

  Status LabelsError(uint64_t line, const std::string& what) const {
    if (line == 0)
      return Status::InvalidArgument(fmt::format("{}: {}", options_.labels_path, what));
    return Status::InvalidArgument(fmt::format("{}:{}: {}", options_.labels_path, line, what));
  }

  Status ReadHeader(const CsvRow& header) {
    header_seen_ = true;
    header_raw_ = std::string(header.raw);
    label_fields_ = header.fields.size();
    auto column = [&](const std::string& name) -> int {
      auto it = std::find(header.fields.begin(), header.fields.end(), name);
      return it == header.fields.end() ? -1 : static_cast<int>(it - header.fields.begin());
    };
    int ts = column(plan_.ts_name);
    if (ts < 0)
      return LabelsError(0, fmt::format("no column '{}' (the label timestamp)", plan_.ts_name));
    ts_column_ = static_cast<size_t>(ts);
    label_computed_columns_.clear();
    for (const auto& [cell, computed] : plan_.label_computed) {
      int c = column(computed->input.context_field);
      if (c < 0) {
        return LabelsError(0, fmt::format("no column '{}' (the input of column '{}')",
                                          computed->input.context_field, computed->names.front()));
      }
      label_computed_columns_.push_back(static_cast<size_t>(c));
    }
    for (Group& g : plan_.groups) {
      g.key_columns.clear();  // the output pass reads the header again
      for (const std::string& key : g.key_names) {
        int c = column(key);
        if (c < 0) {
          return LabelsError(
              0, fmt::format("no column '{}' (a key of entity '{}', read by view '{}')", key,
                             g.entity, g.views.front().spec().name));
        }
        g.key_columns.push_back(static_cast<size_t>(c));
      }
    }
    return Status::Ok();
  }

  // Checks a row of the labels file; false for the header.
  Result<bool> CheckRow(const CsvRow& row) {
    if (!header_seen_) {
      RETURN_IF_ERROR(ReadHeader(row));
      return false;
    }
    if (row.fields.size() != label_fields_) {
      return LabelsError(
          row.line, fmt::format("expected {} fields, got {}", label_fields_, row.fields.size()));
    }
    return true;
  }

  // The entity key of label `row` for `g`, typed by the source schema so "42" in a label
  // matches the int 42 of an event.
  Result<std::string> LabelKey(const Group& g, const CsvRow& row) {
    key_values_.resize(g.key_columns.size());
    for (size_t i = 0; i < g.key_columns.size(); ++i) {
      std::string_view cell = row.fields[g.key_columns[i]];
      if (!ParseCsvCell(g.key_types[i], cell, &key_values_[i])) {
        return LabelsError(row.line,
                           fmt::format("column '{}': expected {}, got '{}'", g.key_names[i],
                                       FieldTypeName(g.key_types[i]), cell));
      }
    }
    return EncodeEntityKey(key_values_);
  }

  Status PartitionLabel(const CsvRow& row) {
    ASSIGN_OR_RETURN(bool data, CheckRow(row));
    if (!data) return Status::Ok();
    Value ts;
    std::string_view ts_cell = row.fields[ts_column_];
    if (!ParseCsvCell(FieldType::kTimestamp, ts_cell, &ts)) {
      return LabelsError(row.line,
                         fmt::format("column '{}': bad timestamp '{}'", plan_.ts_name, ts_cell));
    }
    uint64_t index = stats_.labels++;
    for (size_t g = 0; g < plan_.groups.size(); ++g) {
      ASSIGN_OR_RETURN(std::string key, LabelKey(plan_.groups[g], row));
      if (plan_.groups[g].is_table) {
        RETURN_IF_ERROR(ReadTableLabel(g, index, ts.as_int(), key));
        data_[g].label_partitions.push_back(0);
        continue;
      }
      ASSIGN_OR_RETURN(uint32_t partition,
                       data_[g].parts->AddLabel(index, ts.as_int(), std::move(key)));
      data_[g].label_partitions.push_back(static_cast<uint16_t>(partition));
    }
    return Status::Ok();
  }

  // The cells of table group `g` for label `row`: each view's row as of the label's time, by
  // the online read rule (TableView), appended to the group's run (labels come in row order).
  Status ReadTableLabel(size_t g, uint64_t row, int64_t ts, const std::string& key) {
    const Group& group = plan_.groups[g];
    table_cells_.resize(group.cell_columns.size());
    for (const ViewPlan& view : group.views) {
      ASSIGN_OR_RETURN(ViewRead read, view.table->Read(*options_.tables, key, ts, view.features));
      for (size_t f = 0; f < read.values.size(); ++f) {
        std::string& cell = table_cells_[view.cells[f]];
        cell.clear();
        RETURN_IF_ERROR(
            AppendFeatureCell(view.computed[f], read.values[f], row, &computed_, &cell));
      }
    }
    std::string cells;
    for (const std::string& cell : table_cells_) byte_codec::PutBytes32(&cells, cell);
    AppendRunEntry(row, cells, &data_[g].table_run);
    return Status::Ok();
  }

  // Reads each event source once, in arrival order.
  Status PartitionEvents(EventReader* reader) {
    std::vector<std::string> done;
    for (const Group& first : plan_.groups) {
      if (first.is_table) continue;
      if (std::find(done.begin(), done.end(), first.source) != done.end()) continue;
      done.push_back(first.source);
      const SourceSpec& source = spec_.sources.at(first.source);
      WatermarkTracker watermark(source.allowed_lateness_ms);
      SourceExpectations expectations(source);
      if (!expectations.empty()) checked_sources_.push_back(first.source);
      uint64_t read = 0;  // records of the source before this batch
      RETURN_IF_ERROR(reader->Scan(first.source, [&](std::vector<Record>* batch) -> Status {
        expectations.Check(*batch, &checked_);
        RETURN_IF_ERROR(CountViolations(first.source, read));
        read += batch->size();
        AcceptOnTime(*batch, &watermark);
        for (size_t g = 0; g < plan_.groups.size(); ++g) {
          const Group& group = plan_.groups[g];
          if (group.source != first.source) continue;
          if (group.lookups) {
            RETURN_IF_ERROR(EnrichAccepted(*group.lookups, *batch));
            RETURN_IF_ERROR(RouteBatch(g, enriched_));
          } else {
            RETURN_IF_ERROR(RouteBatch(g, *batch));
          }
        }
        return Status::Ok();
      }));
    }
    return Status::Ok();
  }

  // Counts the violations checked_ holds, found in a batch of `source` whose first record is
  // the source's `read`-th (0-based); a reject fails the backfill naming the record.
  Status CountViolations(const std::string& source, uint64_t read) {
    if (checked_.violations.empty()) return Status::Ok();
    stats_.quality.Add(source, checked_);
    stats_.quarantined += checked_.quarantined.size();
    const Violation* reject = checked_.FirstReject();
    if (reject == nullptr) return Status::Ok();
    std::string at = reject->record == Violation::kBatch
                         ? fmt::format("the batch of records from {}", read + 1)
                         : fmt::format("record {}", read + reject->record + 1);
    return Status::InvalidArgument(
        fmt::format("source '{}': {}: {}", source, at, reject->ToString()));
  }

  // <out>.quality.json, when a source read declares expectations.
  Status WriteQualityReport() {
    if (checked_sources_.empty()) return Status::Ok();
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    stats_.quality.WriteJsonMembers(&w);
    w.Key("records");
    w.Uint64(stats_.events);
    w.Key("quarantined");
    w.Uint64(stats_.quarantined);
    w.Key("sources");
    w.StartArray();
    for (const std::string& source : checked_sources_) {
      w.String(source.data(), static_cast<rapidjson::SizeType>(source.size()));
    }
    w.EndArray();
    w.EndObject();
    stats_.quality_path = options_.out_path + ".quality.json";
    std::FILE* out = std::fopen(stats_.quality_path.c_str(), "wb");
    if (!out) {
      return Status::IoError(fmt::format("{}: {}", stats_.quality_path, std::strerror(errno)));
    }
    bool ok = std::fwrite(buffer.GetString(), 1, buffer.GetSize(), out) == buffer.GetSize();
    ok = std::fputc('\n', out) != EOF && ok;
    if (std::fclose(out) != 0 || !ok) {
      return Status::IoError(stats_.quality_path + ": write failed");
    }
    return Status::Ok();
  }

  // The engine's watermark rule (stream/watermark.h), record by record: late events are
  // dropped, and so are quarantined ones (checked_), which never reach the engine. Leaves the
  // others' indexes in accepted_.
  void AcceptOnTime(const std::vector<Record>& batch, WatermarkTracker* watermark) {
    stats_.events += batch.size();
    accepted_.clear();
    size_t next_quarantined = 0;
    for (uint32_t i = 0; i < batch.size(); ++i) {
      if (next_quarantined < checked_.quarantined.size() &&
          checked_.quarantined[next_quarantined] == i) {
        ++next_quarantined;
        continue;
      }
      if (!watermark->Accept(batch[i].ts_ms)) {
        ++stats_.late_events;
        continue;
      }
      accepted_.push_back(i);
    }
  }

  // The accepted events of `batch` with a view's looked-up fields, as of each event's time,
  // into enriched_ (same indexes), on all threads.
  Status EnrichAccepted(const ViewLookups& lookups, const std::vector<Record>& batch) {
    if (enriched_.size() < batch.size()) enriched_.resize(batch.size());
    const size_t n = accepted_.size();
    const size_t slices = n < kMinParallelEvents ? 1 : threads_;
    return ThreadPool::Shared()->ParallelFor(slices, threads_, [&](size_t k) -> Status {
      for (size_t j = n * k / slices; j < n * (k + 1) / slices; ++j) {
        const uint32_t i = accepted_[j];
        RETURN_IF_ERROR(lookups.Enrich(*options_.tables, batch[i], &enriched_[i]));
      }
      return Status::Ok();
    });
  }

  // Routes and encodes the accepted events on all threads, then adds them to their partitions
  // (in arrival order) on all threads.
  Status RouteBatch(size_t g, const std::vector<Record>& batch) {
    const std::vector<int>& key_fields = plan_.groups[g].key_fields;
    Partitions& parts = *data_[g].parts;
    size_t n = accepted_.size();
    slices_.resize(n < kMinParallelEvents ? 1 : threads_);
    RETURN_IF_ERROR(ThreadPool::Shared()->ParallelFor(slices_.size(), threads_, [&](size_t k) {
      EncodedSlice& slice = slices_[k];
      slice.bytes.clear();
      slice.entries.clear();
      const size_t begin = n * k / slices_.size(), end = n * (k + 1) / slices_.size();
      // Each key is built and hashed once, kRouteAhead events before it is routed, when its
      // slot is prefetched.
      std::string_view keys[kRouteAhead];
      uint64_t hashes[kRouteAhead];
      auto stage = [&](size_t j) {
        const size_t at = j % kRouteAhead;
        keys[at] = RecordKeyView(batch[accepted_[j]], key_fields, &slice.keys[at]);
        hashes[at] = KeyHash(keys[at]);
        parts.Prefetch(hashes[at]);
      };
      for (size_t j = begin; j < std::min(end, begin + kRouteAhead); ++j) stage(j);
      for (size_t j = begin; j < end; ++j) {
        const Record& r = batch[accepted_[j]];
        std::string_view key = keys[j % kRouteAhead];
        uint32_t entity = 0;
        uint32_t partition = parts.Route(key, hashes[j % kRouteAhead], r.ts_ms, &entity);
        if (partition != kNoPartition) {
          parts.EncodeEvent(entity, key, r, &slice.bytes);
          slice.entries.emplace_back(partition, slice.bytes.size());
        }
        if (j + kRouteAhead < end) stage(j + kRouteAhead);  // reuses the slots of j
      }
      return Status::Ok();
    }));
    // Each thread adds the entries of its own share of the partitions, visiting the slices in
    // order: every partition still gets its events in arrival order, and the copying is shared.
    const size_t adders = slices_.size();
    return ThreadPool::Shared()->ParallelFor(adders, threads_, [&](size_t k) -> Status {
      for (const EncodedSlice& slice : slices_) {
        size_t begin = 0;
        for (auto [partition, end] : slice.entries) {
          if (partition % adders == k) {
            RETURN_IF_ERROR(parts.AddEvent(
                partition, std::string_view(slice.bytes).substr(begin, end - begin)));
          }
          begin = end;
        }
      }
      return Status::Ok();
    });
  }

  Status ComputeRuns() {
    for (size_t g = 0; g < plan_.groups.size(); ++g) {
      if (!plan_.groups[g].is_table) continue;
      std::string spill = stats_.spilled ? temp_.File(fmt::format("{}-run-table", g)) : "";
      RETURN_IF_ERROR(data_[g].runs[0].Finish(std::move(data_[g].table_run), spill));
    }
    size_t partitions = stats_.partitions;
    return ThreadPool::Shared()->ParallelFor(
        plan_.groups.size() * partitions, threads_, [&](size_t task) -> Status {
          size_t g = task / partitions, p = task % partitions;
          if (plan_.groups[g].is_table) return Status::Ok();
          std::vector<SweepLabel> labels;
          std::string bytes;
          std::vector<SweepEvent> events;
          size_t entities = 0;
          RETURN_IF_ERROR(data_[g].parts->Take(p, &labels, &bytes, &events, &entities));
          ASSIGN_OR_RETURN(
              std::string run,
              Sweep(plan_.groups[g]).Run(std::move(labels), std::move(events), entities));
          std::string spill = stats_.spilled ? temp_.File(fmt::format("{}-run-{}", g, p)) : "";
          return data_[g].runs[p].Finish(std::move(run), spill);
        });
  }

  // Writes through a temp file renamed at the end, so a failed run leaves no partial output.
  Status WriteOutput() {
    std::string tmp_path = options_.out_path + ".tmp";
    std::FILE* out = std::fopen(tmp_path.c_str(), "wb");
    if (!out) return Status::IoError(fmt::format("{}: {}", tmp_path, std::strerror(errno)));
    Status st = WriteRows(out);
    if (std::fclose(out) != 0 && st.ok()) st = Status::IoError(tmp_path + ": write failed");
    if (st.ok() && std::rename(tmp_path.c_str(), options_.out_path.c_str()) != 0) {
      st = Status::IoError(fmt::format("{}: {}", options_.out_path, std::strerror(errno)));
    }
    if (!st.ok()) std::remove(tmp_path.c_str());
    return st;
  }

  // Copies each label row as it was and appends its cells, taken from the run of the row's
  // partition (noted when the labels were partitioned): runs are in row order, so each row is
  // the next entry of its run.
  Status WriteRows(std::FILE* out) {
    std::string buf = header_raw_;
    for (const std::string& name : plan_.columns) {
      buf.push_back(',');
      AppendCsvField(name, &buf);
    }
    buf.push_back('\n');
    header_seen_ = false;
    uint64_t index = 0;
    std::vector<std::vector<std::string_view>> group_cells(plan_.groups.size());
    std::vector<std::string_view> cells(plan_.cells);
    std::vector<std::string> label_cells(plan_.label_computed.size());
    auto flush = [&] {
      bool ok = std::fwrite(buf.data(), 1, buf.size(), out) == buf.size();
      buf.clear();
      return ok ? Status::Ok() : Status::IoError(options_.out_path + ": write failed");
    };
    RETURN_IF_ERROR(ForEachCsvRow(options_.labels_path, [&](const CsvRow& row) -> Status {
      ASSIGN_OR_RETURN(bool data, CheckRow(row));
      if (!data) return Status::Ok();
      if (index >= stats_.labels) {
        return Status::Internal("labels file changed during the backfill");
      }
      for (size_t g = 0; g < plan_.groups.size(); ++g) {
        const Group& group = plan_.groups[g];
        uint64_t run_row = 0;
        RunReader& run = data_[g].runs[data_[g].label_partitions[index]];
        ASSIGN_OR_RETURN(bool found, run.Next(&run_row, &group_cells[g]));
        if (!found || run_row != index || group_cells[g].size() != group.cell_columns.size()) {
          return Status::Internal(fmt::format("backfill lost label row {}", index + 1));
        }
        for (size_t c = 0; c < group.cell_columns.size(); ++c)
          cells[group.cell_columns[c]] = group_cells[g][c];
      }
      for (size_t i = 0; i < plan_.label_computed.size(); ++i) {
        const size_t column = label_computed_columns_[i];
        const Value input = row.fields[column].empty() && !row.quoted[column]
                                ? Value::Null()
                                : Value::String(std::string(row.fields[column]));
        label_cells[i].clear();
        RETURN_IF_ERROR(AppendComputed(*plan_.label_computed[i].second, input, index, &computed_,
                                       &label_cells[i]));
        cells[plan_.label_computed[i].first] = label_cells[i];
      }
      ++index;
      buf.append(row.raw);
      for (std::string_view cell : cells) buf.append(",").append(cell);
      buf.push_back('\n');
      return buf.size() < kWriteBufferBytes ? Status::Ok() : flush();
    }));
    if (index != stats_.labels) return Status::Internal("labels file changed during the backfill");
    return flush();
  }

  const ProjectSpec& spec_;
  const BackfillOptions& options_;
  const int threads_;
  Plan plan_;
  TempDir temp_;
  std::vector<GroupData> data_;               // per group
  std::vector<uint32_t> accepted_;            // of the current batch
  CheckResult checked_;                       // expectations over the current batch
  std::vector<std::string> checked_sources_;  // sources read that declare expectations
  std::vector<EncodedSlice> slices_;          // of the current batch
  std::vector<Record> enriched_;              // of the current batch, for a group with lookups
  bool header_seen_ = false;
  std::string header_raw_;
  size_t label_fields_ = 0;
  size_t ts_column_ = 0;
  std::vector<Value> key_values_;               // scratch
  std::vector<std::string> table_cells_;        // scratch of ReadTableLabel
  std::vector<float> computed_;                 // scratch of computed columns (labels' thread)
  std::vector<size_t> label_computed_columns_;  // labels column of each plan_.label_computed
  BackfillStats stats_;
};

}  // namespace

Result<BackfillStats> RunBackfill(const ProjectSpec& spec, const BackfillOptions& options,
                                  EventReader* reader) {
  Backfill backfill(spec, options);
  return backfill.Run(reader);
}

}  // namespace freshet
