// ProjectSpec: the parsed, validated content of a project's freshet.yaml — entities, sources,
// feature views, feature services, models and deployments. Plain data; built by LoadProject()
// (spec_loader.h) and read by every other module. Thread-safety: immutable once loaded.
//
// Every spec object keeps the line of freshet.yaml it came from (`line`), so later stages (the
// expression compiler, the planner) can name the place of an error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/value.h"

namespace freshet {

struct EntitySpec {
  std::string name;
  std::vector<std::string> keys;  // key field names; usually one ("user_id")
  int line = 0;
};

struct FieldSpec {
  std::string name;
  FieldType type = FieldType::kString;
  int line = 0;
};

enum class SourceKind { kHttp, kFile, kKafka, kTable };

// What happens to a record that fails a data-quality expectation (quality/expectation.h):
// kReject fails its whole batch (nothing stored), kQuarantine keeps the record in the quarantine
// dead letter instead of the source, kWarn only counts it. Persisted in the quarantine column
// family's counts (docs/formats.md): never renumber.
enum class ExpectationPolicy : uint8_t { kReject = 1, kQuarantine = 2, kWarn = 3 };

// The expectations of one field of a source (`expectations.<field>: {...}` in freshet.yaml).
// Per record: not_null, between (numbers, inclusive), in (a set of the field's type), matches
// (an RE2 regular expression over the whole string), max_length (bytes); per batch:
// null_fraction_max. A null value passes every per-record expectation but not_null.
struct FieldExpectationsSpec {
  std::string field;
  bool not_null = false;
  std::optional<std::pair<double, double>> between;       // [low, high]; int64 or double fields
  std::vector<Value> in;                                  // empty: no `in`
  std::optional<std::string> matches;                     // string fields
  std::optional<int64_t> max_length;                      // string fields
  std::optional<double> null_fraction_max;                // in [0, 1]
  ExpectationPolicy policy = ExpectationPolicy::kReject;  // Default: reject
  int line = 0;
};

struct SourceSpec {
  std::string name;
  SourceKind kind = SourceKind::kHttp;
  std::string timestamp_field;      // required; epoch ms or RFC 3339 strings
  std::vector<FieldSpec> fields;    // declared schema, in declaration order
  int64_t allowed_lateness_ms = 0;  // Default: 0 (watermark = max event time)
  // How long the event log keeps records (by event time, against the clock); 0 = keep all.
  int64_t retention_ms = 0;
  std::string path;                                 // kind: file — NDJSON or CSV file to replay
  std::string format;                               // kind: file — "ndjson" (default) or "csv"
  std::string topic;                                // kind: kafka
  std::string brokers;                              // kind: kafka
  std::string group;                                // kind: kafka consumer group
  std::vector<FieldExpectationsSpec> expectations;  // in declaration order; at most one per field
  std::string entity;  // kind: table — the entity whose key fields key its rows
  int line = 0;
  int kind_line = 0;  // line of `kind:` (the source's line when it is left to the default)

  // Index of `field` in `fields`, or -1.
  int FieldIndex(const std::string& field) const;
};

// Aggregations of stream features. Part of the state format: never renumber.
enum class AggKind : uint8_t {
  kCount = 1,
  kSum = 2,
  kMean = 3,
  kMin = 4,
  kMax = 5,
  kVariance = 6,
  kStddev = 7,
  kFirst = 8,
  kLast = 9,
  kLastN = 10,
  kDistinctCount = 11,  // exact; with `approx: true` HyperLogLog
  kTopK = 12,
  kRate = 13,              // events per second over the window
  kTrend = 14,             // least-squares slope of `of` against event time, per second
  kApproxPercentile = 15,  // the `q`-quantile of `of`, from a DDSketch (quantile_sketch.h)
};

// Window kinds. Part of the state format: never renumber.
enum class WindowKind : uint8_t {
  kLifetime = 1,  // no window: all events so far
  kSliding = 2,   // exact: t - window <= ts < t
  kHopping = 3,   // sliding with a hop: sawtooth tiles, approximate at the tail
  kTumbling = 4,  // the current aligned window: floor(t / window) * window <= ts < t
  kSession = 5,   // the entity's current session: events with gaps < session_gap
};

struct FeatureSpec {
  std::string name;
  // Exactly one of: an aggregation (agg set) or a derived expression (expr non-empty).
  std::optional<AggKind> agg;
  std::string of;     // input field; empty for count
  std::string where;  // optional filter expression
  std::string expr;   // derived feature expression over other features of the view
  WindowKind window = WindowKind::kLifetime;
  int64_t window_ms = 0;       // sliding, hopping, tumbling
  int64_t hop_ms = 0;          // hopping
  int64_t session_gap_ms = 0;  // session
  int n = 0;                   // last_n: how many values; top_k: k
  bool approx = false;         // distinct_count: HyperLogLog instead of exact
  double q = 0;                // approx_percentile: the quantile, in (0, 1)
  // A table view's attribute feature: the table source field it reads (as of the read time).
  // Non-empty exactly for the features of views whose source is kind table.
  std::string attr;
  int line = 0;
};

// A stream view's lookup (`lookups.<table>: {by: [...], fields: [...]}`): each event is
// enriched, before any aggregation, with `fields` of the table source `table`'s row whose key
// is the event's `by` fields, as that row was at the event's time (docs/semantics.md).
struct LookupSpec {
  std::string table;                // a kind: table source
  std::vector<std::string> by;      // event fields, in the table entity's key order
  std::vector<std::string> fields;  // table fields appended to each event, by these names
  int line = 0;
};

struct FeatureViewSpec {
  std::string name;
  std::string entity;
  std::string source;
  int64_t ttl_ms = 0;               // 0 = no TTL; values older than this are reported stale
  std::vector<LookupSpec> lookups;  // stream views only; in declaration order
  std::vector<FeatureSpec> features;
  int line = 0;

  const FeatureSpec* Find(const std::string& feature) const;
};

// "view:feature".
struct FeatureRef {
  std::string view;
  std::string feature;
  std::string ToString() const { return view + ":" + feature; }
};

struct FeatureServiceSpec {
  std::string name;
  std::vector<FeatureRef> features;  // ordered: the model's input order
  int line = 0;
};

struct ModelSpec {
  std::string name;
  std::string runtime;  // "xgboost", "torchscript", "fasttext", "linear"
  int line = 0;
  int runtime_line = 0;
};

// Where a deployment's predictions are pushed: one entry of `outputs:`.
struct OutputSpec {
  std::string kind;           // "file", "webhook" or "kafka" (see CheckBuiltKinds)
  std::string path;           // kind: file — NDJSON file appended to (relative: to the project)
  std::string url;            // kind: webhook — http:// or https:// URL POSTed to
  std::string topic;          // kind: kafka
  int64_t timeout_ms = 5000;  // kind: webhook — per request. Default: 5 s.
  int line = 0;
  int kind_line = 0;
};

// Dynamic micro-batching of a deployment's concurrent predict calls (serving/micro_batcher.h).
// Off (max_batch 0) unless the deployment has a `batching:` block, whose defaults are 64 and 200.
struct BatchingSpec {
  int max_batch = 0;     // most rows per coalesced model call; 0: off
  int max_delay_us = 0;  // how long the first call of a batch waits for others to join
};

struct DeploymentSpec {
  std::string name;
  std::string model;  // registered model name
  std::string alias;  // Default: "champion"; or "latest" or a version number
  std::string feature_service;
  std::vector<OutputSpec> outputs;  // pushed predictions; empty: pull only
  int line = 0;
  BatchingSpec batching;
};

struct ProjectSpec {
  std::string project;
  std::string dir;        // project directory
  std::string spec_path;  // path of freshet.yaml
  std::map<std::string, EntitySpec> entities;
  std::map<std::string, SourceSpec> sources;
  std::map<std::string, FeatureViewSpec> feature_views;
  std::map<std::string, FeatureServiceSpec> feature_services;
  std::map<std::string, ModelSpec> models;
  std::map<std::string, DeploymentSpec> deployments;
};

// The fields a view's features read: its source's fields, then each lookup's fields (with the
// table's types) in lookup order. A looked-up event's Record::values follow this order.
// REQUIRES: `view` belongs to `spec` (its source and lookup tables exist).
SourceSpec ViewInputSchema(const ProjectSpec& spec, const FeatureViewSpec& view);

std::string_view AggKindName(AggKind k);
// Parses an aggregation name as written in freshet.yaml ("count", ..., "variance" or "var").
bool ParseAggKind(std::string_view name, AggKind* out);
// "count, sum, mean, ...": every aggregation name, for error messages.
std::string AggKindNames();
// False for count and rate, which count events; every other aggregation reads an `of` field.
bool AggTakesInput(AggKind k);
// True for sum, mean, min, max, variance, stddev, trend and approx_percentile: their `of` field
// must be int64 or double.
bool AggNeedsNumericInput(AggKind k);
// The type of an aggregation's values given its input field's type (`input`: nullopt for count
// and rate): count and distinct_count int64; sum int64 or double as its input; mean, variance,
// stddev, rate, trend and approx_percentile double; min, max, first and last their input's type
// (a timestamp as int64 epoch ms). nullopt for list values (last_n, top_k).
std::optional<FieldType> AggResultType(AggKind agg, std::optional<FieldType> input);
std::string_view WindowKindName(WindowKind k);
std::string_view SourceKindName(SourceKind k);
// Parses "http", "file", "kafka" or "table".
bool ParseSourceKind(std::string_view name, SourceKind* out);
std::string_view ExpectationPolicyName(ExpectationPolicy p);
// Parses "reject", "quarantine" or "warn".
bool ParseExpectationPolicy(std::string_view name, ExpectationPolicy* out);

// What this build implements, by name: the source kinds, sink (output) kinds and model runtimes
// the language knows are a superset. The spec module knows no implementation; the caller
// passes the names its registries hold (instance/built_kinds.h: BuiltKinds()).
struct BuiltKinds {
  std::vector<std::string> sources;   // e.g. {"file", "http"}
  std::vector<std::string> sinks;     // e.g. {"file", "webhook"}
  std::vector<std::string> runtimes;  // e.g. {"linear", "xgboost"}
};

// kInvalidArgument for the first source kind, output kind or model runtime of `spec` that is not
// in `built`, naming the file, line and field:
//   "freshet.yaml:12: sources.clicks.kind: 'kafka' is not built in this version (built: file,
//   http)"
Status CheckBuiltKinds(const ProjectSpec& spec, const BuiltKinds& built);

}  // namespace freshet
