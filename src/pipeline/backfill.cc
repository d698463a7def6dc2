#include "pipeline/backfill.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <queue>
#include <thread>
#include <unordered_map>

#include "pipeline/backfill_io.h"
#include "stream/compiled_view.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

// Labels take about this many times their file size once parsed into LabelEntries.
constexpr uint64_t kLabelExpansion = 3;
// Partitions per entity group when everything fits in memory: enough to keep threads busy.
constexpr size_t kPartitionsPerThread = 4;
constexpr size_t kMaxPartitions = 256;
// An entity's state is evicted after this many inserts, so sliding windows stay small.
constexpr size_t kEvictEvery = 256;
constexpr size_t kLabelBlockBytes = size_t{16} << 20;
constexpr size_t kWriteBufferBytes = size_t{1} << 20;

// ---- plan: which views to sweep and where their values go ----------------------------------

struct ViewPlan {
  std::shared_ptr<const CompiledView> view;
  std::vector<int> features;  // indexes in the view
  std::vector<size_t> cells;  // each feature's index among the group's cells
};

// Views reading one source for one entity: one partitioned sweep serves them all.
struct Group {
  std::string source;
  std::string entity;
  std::vector<int> key_fields;          // indexes into Record::values, entity key order
  std::vector<FieldType> key_types;
  std::vector<std::string> key_names;
  std::vector<size_t> key_columns;      // in the labels file
  std::vector<ViewPlan> views;
  std::vector<size_t> cell_columns;     // output column (after the labels') of each cell
};

struct Plan {
  std::vector<Group> groups;
  std::vector<std::string> columns;  // feature column names
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
    *group = &g;
    for (ViewPlan& v : g.views) {
      if (v.view->spec().name == name) return &v;
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const CompiledView> compiled, CompiledView::Compile(spec, vs));
  if (*group == nullptr) {
    Group& g = groups->emplace_back();
    g.source = vs.source;
    g.entity = vs.entity;
    g.key_fields = compiled->key_field_indexes();
    const SourceSpec& source = spec.sources.at(vs.source);
    for (int f : g.key_fields) {
      g.key_names.push_back(source.fields[f].name);
      g.key_types.push_back(source.fields[f].type);
    }
    *group = &g;
  }
  ViewPlan& v = (*group)->views.emplace_back();
  v.view = std::move(compiled);
  return &v;
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

Result<Plan> MakePlan(const ProjectSpec& spec, const BackfillOptions& options) {
  if (options.features.empty()) return Status::InvalidArgument("no features to backfill");
  Plan plan;
  for (size_t col = 0; col < options.features.size(); ++col) {
    const FeatureRef& ref = options.features[col];
    for (size_t prev = 0; prev < col; ++prev) {
      if (options.features[prev].ToString() == ref.ToString()) {
        return Status::InvalidArgument(fmt::format("feature '{}' listed twice", ref.ToString()));
      }
    }
    Group* group = nullptr;
    ASSIGN_OR_RETURN(ViewPlan * view, FindOrAddView(spec, ref.view, &group, &plan.groups));
    int index = view->view->FeatureIndex(ref.feature);
    if (index < 0) {
      return Status::InvalidArgument(
          fmt::format("feature view '{}' has no feature '{}'", ref.view, ref.feature));
    }
    view->features.push_back(index);
    view->cells.push_back(group->cell_columns.size());
    group->cell_columns.push_back(col);
  }
  plan.columns = ColumnNames(options.features);
  plan.ts_name = options.timestamp_column;
  if (plan.ts_name.empty()) {
    const std::string& view = options.features.front().view;
    plan.ts_name = spec.sources.at(spec.feature_views.at(view).source).timestamp_field;
  }
  return plan;
}

// ---- spill files ------------------------------------------------------------------------------

void PutU32(uint32_t v, std::string* out) { out->append(reinterpret_cast<const char*>(&v), 4); }
void PutU64(uint64_t v, std::string* out) { out->append(reinterpret_cast<const char*>(&v), 8); }
void PutBytes(std::string_view b, std::string* out) {
  PutU32(static_cast<uint32_t>(b.size()), out);
  out->append(b);
}

// Reads what Put* wrote, from memory. Reading past the end sets !ok().
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  bool done() const { return in_.empty(); }
  bool ok() const { return ok_; }
  uint32_t U32() { return Fixed<uint32_t>(); }
  uint64_t U64() { return Fixed<uint64_t>(); }
  std::string_view Bytes() {
    uint32_t n = U32();
    if (n > in_.size()) ok_ = false;
    if (!ok_) return {};
    std::string_view b = in_.substr(0, n);
    in_.remove_prefix(n);
    return b;
  }

 private:
  template <typename T>
  T Fixed() {
    T v = 0;
    if (in_.size() < sizeof(T)) ok_ = false;
    if (!ok_) return v;
    std::memcpy(&v, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return v;
  }
  std::string_view in_;
  bool ok_ = true;
};

Status AppendToFile(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (!f) return Status::IoError(fmt::format("{}: {}", path, std::strerror(errno)));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok &= std::fclose(f) == 0;
  return ok ? Status::Ok() : Status::IoError(path + ": write failed");
}

Result<std::string> ReadFile(const std::string& path) {
  std::string out;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return errno == ENOENT ? Result<std::string>(out)
                                 : Status::IoError(fmt::format("{}: {}", path, std::strerror(errno)));
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  bool ok = !std::ferror(f);
  std::fclose(f);
  if (!ok) return Status::IoError(path + ": read error");
  return out;
}

Status CorruptSpill(const std::string& path) {
  return Status::IoError(path + ": corrupt spill file");
}

// A private temp directory, removed with everything in it.
class TempDir {
 public:
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  Status Create(const std::string& parent) {
    std::string base = parent;
    if (base.empty()) {
      const char* env = std::getenv("TMPDIR");
      base = env && *env ? env : "/tmp";
    }
    std::string templ = base + "/freshet-backfill-XXXXXX";
    if (!mkdtemp(templ.data())) {
      return Status::IoError(fmt::format("{}: {}", templ, std::strerror(errno)));
    }
    path_ = templ;
    return Status::Ok();
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// ---- partitions ---------------------------------------------------------------------------------

struct LabelEntry {
  uint64_t row;
  int64_t ts;
  std::string key;
};

struct KeyedEvent {
  std::string key;
  Record record;
};

size_t MemoryOf(const KeyedEvent& e) {
  return sizeof(KeyedEvent) + e.record.values.size() * sizeof(Value) + e.key.size();
}

// One hash partition of one entity group's labels and events. While spilling, what is buffered
// goes to the partition's two files when it passes `flush_bytes`.
class Partition {
 public:
  void Init(std::string labels_path, std::string events_path, size_t flush_bytes) {
    labels_path_ = std::move(labels_path);
    events_path_ = std::move(events_path);
    flush_bytes_ = flush_bytes;
  }

  Status AddLabel(LabelEntry label) {
    bytes_ += sizeof(LabelEntry) + label.key.size();
    labels_.push_back(std::move(label));
    return MaybeFlush();
  }
  Status AddEvent(KeyedEvent event) {
    bytes_ += MemoryOf(event);
    events_.push_back(std::move(event));
    return MaybeFlush();
  }

  // Takes everything (spilled and buffered) back, in the order it was added.
  Status Load(std::vector<LabelEntry>* labels, std::vector<KeyedEvent>* events) {
    if (!labels_path_.empty()) RETURN_IF_ERROR(LoadSpilled(labels, events));
    std::move(labels_.begin(), labels_.end(), std::back_inserter(*labels));
    std::move(events_.begin(), events_.end(), std::back_inserter(*events));
    labels_ = {};
    events_ = {};
    return Status::Ok();
  }

 private:
  Status MaybeFlush() {
    if (labels_path_.empty() || bytes_ < flush_bytes_) return Status::Ok();
    std::string out;
    for (const LabelEntry& l : labels_) {
      PutU64(l.row, &out);
      PutU64(static_cast<uint64_t>(l.ts), &out);
      PutBytes(l.key, &out);
    }
    RETURN_IF_ERROR(AppendToFile(labels_path_, out));
    out.clear();
    std::string rec;
    for (const KeyedEvent& e : events_) {
      PutBytes(e.key, &out);
      rec.clear();
      EncodeRecord(e.record, &rec);
      PutBytes(rec, &out);
    }
    RETURN_IF_ERROR(AppendToFile(events_path_, out));
    labels_.clear();
    events_.clear();
    bytes_ = 0;
    return Status::Ok();
  }

  Status LoadSpilled(std::vector<LabelEntry>* labels, std::vector<KeyedEvent>* events) {
    ASSIGN_OR_RETURN(std::string bytes, ReadFile(labels_path_));
    for (ByteReader in(bytes); !in.done() && in.ok();) {
      LabelEntry& l = labels->emplace_back();
      l.row = in.U64();
      l.ts = static_cast<int64_t>(in.U64());
      l.key = std::string(in.Bytes());
      if (!in.ok()) return CorruptSpill(labels_path_);
    }
    ASSIGN_OR_RETURN(bytes, ReadFile(events_path_));
    for (ByteReader in(bytes); !in.done() && in.ok();) {
      KeyedEvent& e = events->emplace_back();
      e.key = std::string(in.Bytes());
      std::string_view rec = in.Bytes();
      if (!in.ok() || !DecodeRecord(rec, &e.record).ok()) return CorruptSpill(events_path_);
    }
    return Status::Ok();
  }

  std::string labels_path_, events_path_;  // empty: never spills
  size_t flush_bytes_ = 0;
  size_t bytes_ = 0;
  std::vector<LabelEntry> labels_;
  std::vector<KeyedEvent> events_;
};

// ---- results ----------------------------------------------------------------------------------

// One label row's formatted cells of one entity group.
struct ResultRow {
  uint64_t row = 0;
  std::vector<std::string> cells;
};

// A partition's results in row order: in memory, or in a spill file.
class ResultRun {
 public:
  Status Finish(std::vector<ResultRow> rows, const std::string& spill_path) {
    if (spill_path.empty()) {
      rows_ = std::move(rows);
      return Status::Ok();
    }
    path_ = spill_path;
    std::string out;
    for (const ResultRow& r : rows) {
      PutU64(r.row, &out);
      PutU32(static_cast<uint32_t>(r.cells.size()), &out);
      for (const std::string& c : r.cells) PutBytes(c, &out);
    }
    return AppendToFile(path_, out);
  }

  Status Open() {
    if (path_.empty()) return Status::Ok();
    file_ = std::fopen(path_.c_str(), "rb");
    if (!file_) return Status::IoError(fmt::format("{}: {}", path_, std::strerror(errno)));
    return Status::Ok();
  }
  ~ResultRun() {
    if (file_) std::fclose(file_);
  }

  // The next row into `*row`; false at the end.
  Result<bool> Next(ResultRow* row) {
    if (path_.empty()) {
      if (next_ == rows_.size()) return false;
      *row = std::move(rows_[next_++]);
      return true;
    }
    if (!Read(&row->row, 8)) return false;
    uint32_t n = 0;
    if (!Read(&n, 4)) return CorruptSpill(path_);
    row->cells.resize(n);
    for (std::string& c : row->cells) {
      uint32_t len = 0;
      if (!Read(&len, 4)) return CorruptSpill(path_);
      c.resize(len);
      if (!Read(c.data(), len)) return CorruptSpill(path_);
    }
    return true;
  }

 private:
  bool Read(void* to, size_t n) { return std::fread(to, 1, n, file_) == n; }

  std::vector<ResultRow> rows_;
  size_t next_ = 0;
  std::string path_;
  std::FILE* file_ = nullptr;
};

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

// ---- the sweep ----------------------------------------------------------------------------------

// Index ranges per entity: order[begin[e], begin[e + 1]) are the items of entity e.
struct Buckets {
  std::vector<uint32_t> begin;
  std::vector<uint32_t> order;
};

// A stable counting sort of items by entity id; kNoEntity items are left out.
constexpr uint32_t kNoEntity = UINT32_MAX;
Buckets GroupByEntity(const std::vector<uint32_t>& entity_of, size_t entities) {
  Buckets b;
  b.begin.assign(entities + 1, 0);
  for (uint32_t e : entity_of) {
    if (e != kNoEntity) ++b.begin[e + 1];
  }
  for (size_t e = 0; e < entities; ++e) b.begin[e + 1] += b.begin[e];
  b.order.resize(b.begin[entities]);
  std::vector<uint32_t> fill(b.begin.begin(), b.begin.end() - 1);
  for (uint32_t i = 0; i < entity_of.size(); ++i) {
    if (entity_of[i] != kNoEntity) b.order[fill[entity_of[i]]++] = i;
  }
  return b;
}

// Computes one partition: for each entity, its events in time order (ties in arrival order)
// go into fresh EntityStates, and each of its labels reads them at its time t after exactly
// the events with ts < t were inserted.
std::vector<ResultRow> Sweep(const Group& g, const std::vector<LabelEntry>& labels,
                             const std::vector<KeyedEvent>& events) {
  std::unordered_map<std::string_view, uint32_t> ids;
  ids.reserve(labels.size());
  std::vector<uint32_t> label_entity(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    label_entity[i] = ids.try_emplace(labels[i].key, static_cast<uint32_t>(ids.size())).first->second;
  }
  std::vector<uint32_t> event_entity(events.size(), kNoEntity);
  for (size_t i = 0; i < events.size(); ++i) {
    auto it = ids.find(events[i].key);
    if (it != ids.end()) event_entity[i] = it->second;
  }
  Buckets by_label = GroupByEntity(label_entity, ids.size());
  Buckets by_event = GroupByEntity(event_entity, ids.size());

  size_t num_cells = g.cell_columns.size();
  std::vector<ResultRow> out;
  out.reserve(labels.size());
  std::vector<std::unique_ptr<EntityState>> states(g.views.size());
  std::vector<Value> values;
  for (size_t e = 0; e < ids.size(); ++e) {
    auto ev_first = by_event.order.begin() + by_event.begin[e];
    auto ev_last = by_event.order.begin() + by_event.begin[e + 1];
    auto by_ts = [&](uint32_t a, uint32_t b) { return events[a].record.ts_ms < events[b].record.ts_ms; };
    if (!std::is_sorted(ev_first, ev_last, by_ts)) std::stable_sort(ev_first, ev_last, by_ts);
    auto lb_first = by_label.order.begin() + by_label.begin[e];
    auto lb_last = by_label.order.begin() + by_label.begin[e + 1];
    std::stable_sort(lb_first, lb_last, [&](uint32_t a, uint32_t b) { return labels[a].ts < labels[b].ts; });

    for (size_t v = 0; v < g.views.size(); ++v) states[v] = g.views[v].view->NewState();
    size_t since_evict = 0;
    for (auto lb = lb_first; lb != lb_last; ++lb) {
      const LabelEntry& label = labels[*lb];
      for (; ev_first != ev_last && events[*ev_first].record.ts_ms < label.ts; ++ev_first) {
        for (auto& state : states) state->Insert(events[*ev_first].record);
        ++since_evict;
      }
      ResultRow& row = out.emplace_back();
      row.row = label.row;
      row.cells.resize(num_cells);
      for (size_t v = 0; v < g.views.size(); ++v) {
        const ViewPlan& view = g.views[v];
        if (since_evict >= kEvictEvery) states[v]->Evict(label.ts);
        states[v]->Read(label.ts, view.features, &values);
        for (size_t f = 0; f < view.features.size(); ++f) AppendCell(values[f], &row.cells[view.cells[f]]);
      }
      if (since_evict >= kEvictEvery) since_evict = 0;
    }
  }
  std::sort(out.begin(), out.end(), [](const ResultRow& a, const ResultRow& b) { return a.row < b.row; });
  return out;
}

// Runs fn(0) .. fn(n - 1) on `threads` threads; returns the first error.
Status ParallelFor(size_t n, int threads, const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::vector<Status> status(std::max(1, threads));
  auto work = [&](size_t t) {
    for (size_t i; (i = next.fetch_add(1)) < n && status[t].ok();) status[t] = fn(i);
  };
  std::vector<std::thread> workers;
  for (size_t t = 1; t < status.size(); ++t) workers.emplace_back(work, t);
  work(0);
  for (std::thread& w : workers) w.join();
  for (const Status& st : status) RETURN_IF_ERROR(st);
  return Status::Ok();
}

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
    uint64_t total = fs::file_size(options_.labels_path, ec) * kLabelExpansion;
    if (ec) return Status::IoError(fmt::format("{}: {}", options_.labels_path, ec.message()));
    for (const Group& g : plan_.groups) total += reader.EstimateBytes(g.source);
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
    parts_.resize(plan_.groups.size());
    runs_.resize(plan_.groups.size());
    for (size_t g = 0; g < parts_.size(); ++g) {
      parts_[g].resize(partitions);
      runs_[g].resize(partitions);
      if (!stats_.spilled) continue;
      for (size_t p = 0; p < partitions; ++p) {
        parts_[g][p].Init(temp_.File(fmt::format("labels-{}-{}", g, p)),
                          temp_.File(fmt::format("events-{}-{}", g, p)), flush_bytes);
      }
    }
    return Status::Ok();
  }

  Status LabelsError(uint64_t line, const std::string& what) const {
    if (line == 0) return Status::InvalidArgument(fmt::format("{}: {}", options_.labels_path, what));
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
    if (ts < 0) return LabelsError(0, fmt::format("no column '{}' (the label timestamp)", plan_.ts_name));
    ts_column_ = static_cast<size_t>(ts);
    for (Group& g : plan_.groups) {
      for (const std::string& key : g.key_names) {
        int c = column(key);
        if (c < 0) {
          return LabelsError(0, fmt::format("no column '{}' (a key of entity '{}', read by view '{}')",
                                            key, g.entity, g.views.front().view->spec().name));
        }
        g.key_columns.push_back(static_cast<size_t>(c));
      }
    }
    return Status::Ok();
  }

  // The canonical entity key of label `row` for `g` (the engine's state key), typed by the
  // source schema so "42" in a label matches the int 42 of an event.
  Result<std::string> LabelKey(const Group& g, const CsvRow& row) {
    key_values_.resize(g.key_columns.size());
    for (size_t i = 0; i < g.key_columns.size(); ++i) {
      std::string_view cell = row.fields[g.key_columns[i]];
      if (!ParseCsvCell(g.key_types[i], cell, &key_values_[i])) {
        return LabelsError(row.line, fmt::format("column '{}': expected {}, got '{}'", g.key_names[i],
                                                 FieldTypeName(g.key_types[i]), cell));
      }
    }
    return EncodeEntityKey(key_values_);
  }

  size_t PartitionOf(const std::string& key) const {
    return std::hash<std::string>{}(key) % stats_.partitions;
  }

  // Checks a data row of the labels file; false for the header.
  Result<bool> CheckRow(const CsvRow& row) {
    if (!header_seen_) {
      RETURN_IF_ERROR(ReadHeader(row));
      return false;
    }
    if (row.fields.size() != label_fields_) {
      return LabelsError(row.line, fmt::format("expected {} fields, got {}", label_fields_, row.fields.size()));
    }
    return true;
  }

  Status PartitionLabel(const CsvRow& row) {
    ASSIGN_OR_RETURN(bool data, CheckRow(row));
    if (!data) return Status::Ok();
    Value ts;
    std::string_view ts_cell = row.fields[ts_column_];
    if (!ParseCsvCell(FieldType::kTimestamp, ts_cell, &ts)) {
      return LabelsError(row.line, fmt::format("column '{}': bad timestamp '{}'", plan_.ts_name, ts_cell));
    }
    uint64_t index = stats_.labels++;
    for (size_t g = 0; g < plan_.groups.size(); ++g) {
      ASSIGN_OR_RETURN(std::string key, LabelKey(plan_.groups[g], row));
      size_t p = PartitionOf(key);
      RETURN_IF_ERROR(parts_[g][p].AddLabel({index, ts.as_int(), std::move(key)}));
    }
    return Status::Ok();
  }

  // Reads each source once, in arrival order, dropping late events as the engine does.
  Status PartitionEvents(EventReader* reader) {
    std::vector<std::string> done;
    for (const Group& first : plan_.groups) {
      if (std::find(done.begin(), done.end(), first.source) != done.end()) continue;
      done.push_back(first.source);
      std::vector<size_t> groups;
      for (size_t g = 0; g < plan_.groups.size(); ++g) {
        if (plan_.groups[g].source == first.source) groups.push_back(g);
      }
      int64_t lateness = spec_.sources.at(first.source).allowed_lateness_ms;
      int64_t max_ts = INT64_MIN;
      RETURN_IF_ERROR(reader->Scan(first.source, [&](std::vector<Record>* batch) -> Status {
        stats_.events += batch->size();
        for (Record& r : *batch) {
          if (max_ts != INT64_MIN && r.ts_ms < max_ts - lateness) {
            ++stats_.late_events;
            continue;
          }
          max_ts = std::max(max_ts, r.ts_ms);
          for (size_t i = 0; i < groups.size(); ++i) {
            bool last = i + 1 == groups.size();
            RETURN_IF_ERROR(AddEvent(groups[i], last ? std::move(r) : r));
          }
        }
        return Status::Ok();
      }));
    }
    return Status::Ok();
  }

  Status AddEvent(size_t g, Record r) {
    const Group& group = plan_.groups[g];
    key_values_.resize(group.key_fields.size());
    for (size_t i = 0; i < group.key_fields.size(); ++i) key_values_[i] = r.values[group.key_fields[i]];
    std::string key = EncodeEntityKey(key_values_);
    size_t p = PartitionOf(key);
    return parts_[g][p].AddEvent({std::move(key), std::move(r)});
  }

  Status ComputeRuns() {
    size_t partitions = stats_.partitions;
    return ParallelFor(plan_.groups.size() * partitions, threads_, [&](size_t task) -> Status {
      size_t g = task / partitions, p = task % partitions;
      std::vector<LabelEntry> labels;
      std::vector<KeyedEvent> events;
      RETURN_IF_ERROR(parts_[g][p].Load(&labels, &events));
      std::vector<ResultRow> rows = Sweep(plan_.groups[g], labels, events);
      std::string spill = stats_.spilled ? temp_.File(fmt::format("run-{}-{}", g, p)) : "";
      RETURN_IF_ERROR(runs_[g][p].Finish(std::move(rows), spill));
      return runs_[g][p].Open();
    });
  }

  // Copies each label row as it was and appends its cells, taken from the run of the row's
  // partition: runs are in row order, so each row is the next one of its run.
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

  Status WriteRows(std::FILE* out) {
    std::string buf = header_raw_;
    for (const std::string& name : plan_.columns) {
      buf.push_back(',');
      AppendCsvField(name, &buf);
    }
    buf.push_back('\n');
    header_seen_ = false;
    uint64_t index = 0;
    std::vector<ResultRow> current(plan_.groups.size());
    std::vector<const std::string*> cells(plan_.columns.size());
    RETURN_IF_ERROR(ForEachCsvRow(options_.labels_path, [&](const CsvRow& row) -> Status {
      ASSIGN_OR_RETURN(bool data, CheckRow(row));
      if (!data) return Status::Ok();
      for (size_t g = 0; g < plan_.groups.size(); ++g) {
        const Group& group = plan_.groups[g];
        ASSIGN_OR_RETURN(std::string key, LabelKey(group, row));
        ASSIGN_OR_RETURN(bool found, runs_[g][PartitionOf(key)].Next(&current[g]));
        if (!found || current[g].row != index) {
          return Status::Internal(fmt::format("backfill lost label row {}", index + 1));
        }
        for (size_t c = 0; c < group.cell_columns.size(); ++c) {
          cells[group.cell_columns[c]] = &current[g].cells[c];
        }
      }
      ++index;
      buf.append(row.raw);
      for (const std::string* cell : cells) buf.append(",").append(*cell);
      buf.push_back('\n');
      if (buf.size() < kWriteBufferBytes) return Status::Ok();
      bool ok = std::fwrite(buf.data(), 1, buf.size(), out) == buf.size();
      buf.clear();
      return ok ? Status::Ok() : Status::IoError(options_.out_path + ": write failed");
    }));
    if (index != stats_.labels) return Status::Internal("labels file changed during the backfill");
    bool ok = std::fwrite(buf.data(), 1, buf.size(), out) == buf.size();
    return ok ? Status::Ok() : Status::IoError(options_.out_path + ": write failed");
  }

  const ProjectSpec& spec_;
  const BackfillOptions& options_;
  const int threads_;
  Plan plan_;
  TempDir temp_;
  std::vector<std::vector<Partition>> parts_;  // [group][partition]
  std::vector<std::vector<ResultRun>> runs_;        // [group][partition]
  bool header_seen_ = false;
  std::string header_raw_;
  size_t label_fields_ = 0;
  size_t ts_column_ = 0;
  std::vector<Value> key_values_;  // scratch
  BackfillStats stats_;
};

}  // namespace

Result<BackfillStats> RunBackfill(const ProjectSpec& spec, const BackfillOptions& options,
                                  EventReader* reader) {
  Backfill backfill(spec, options);
  return backfill.Run(reader);
}

}  // namespace freshet
