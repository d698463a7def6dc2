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

// An input a feature service reads besides its features (freshet.yaml): a view's feature,
// "view:feature", or a field of the predict request's `context` (or of the event that triggered
// the prediction), "context.NAME".
struct InputRef {
  FeatureRef feature;         // when context_field is empty
  std::string context_field;  // non-empty: the context field NAME
  bool from_context() const { return !context_field.empty(); }
  // "view:feature" or "context.NAME", as written in freshet.yaml.
  std::string ToString() const;
};

// A request-time feature (`request_features:` of a feature service): `fn` applied to the value
// of `of` (and `model`, for functions that use one) at request time, online, and at each label's
// time in the backfill. Contributes the function's width of numeric model inputs, named
// name_0, name_1, ..., after the service's features (serving/request_features.h).
struct RequestFeatureSpec {
  std::string name;
  std::string fn;     // a function name, e.g. "mean_sentence_vector" (see CheckBuiltKinds)
  std::string model;  // a model of `models:`; empty for functions that use none
  InputRef of;
  int line = 0;
  int fn_line = 0;
};

struct FeatureServiceSpec {
  std::string name;
  std::vector<FeatureRef> features;  // ordered: the model's input order
  int line = 0;
  // A text model's input (fastText): one text per entity row. A service with `text:` may list no
  // features.
  std::optional<InputRef> text;
  // Model inputs computed at request time, after `features` in the model's input order.
  std::vector<RequestFeatureSpec> request_features;
};

// One hyperparameter's search range (`tune.space.<param>`): a number in [low, high], drawn
// log-uniformly when `log` and rounded when `integer`, or (when `choices` is non-empty) one of
// the choices.
struct ParamRangeSpec {
  std::string param{};
  double low = 0;
  double high = 0;
  bool log = false;
  bool integer = false;
  std::vector<std::string> choices{};
  int line = 0;
};

// `freshet train --tune` (src/training): `trials` parameter sets drawn from `space`, each trained
// on the earlier training rows and scored on the latest `validation` fraction of them.
struct TuneSpec {
  int trials = 20;
  std::string method = "random";  // "random", or "tpe": after the random start-up trials, draw
                                  // from the density of the best trials (src/training/README.md)
  double validation = 0.2;        // in (0, 1)
  std::vector<ParamRangeSpec> space{};  // in file order; REQUIRES: non-empty
  int line = 0;
};

// `freshet train` (src/training): XGBoost trained on the backfilled training set, evaluated on a
// time-based holdout: the latest `holdout` fraction of the rows, or the rows from holdout_from_ms.
struct TrainSpec {
  std::string feature_service{};  // `features:`; Default: the service of the model's deployment,
                                  // or the project's only service
  std::string label{};            // the labels CSV column to predict; required
  std::string objective = "binary:logistic";    // an XGBoost objective: binary:* or reg:*
  int rounds = 100;                             // boosting rounds
  std::map<std::string, std::string> params{};  // other XGBoost parameters, as given
  double holdout = 0.2;                         // in (0, 1)
  std::optional<int64_t> holdout_from_ms{};     // when set, replaces `holdout`
  // "auc", "logloss" (binary objectives), "rmse", "recall@K". The first one ranks tuning trials.
  // Default: [auc, logloss] for binary objectives, [rmse] for regression.
  std::vector<std::string> metrics{};
  std::string group{};  // labels column grouping rows for recall@K; Default: one group
  int line = 0;
};

struct ModelSpec {
  std::string name;
  std::string runtime;  // "xgboost", "torchscript", "fasttext", "linear"
  int line = 0;
  int runtime_line = 0;
  std::optional<TrainSpec> train{};
  std::optional<TuneSpec> tune{};  // only with `train`
};

// Where a deployment's predictions are pushed: one entry of `outputs:`.
struct OutputSpec {
  std::string kind;           // "file", "webhook" or "kafka" (see CheckBuiltKinds)
  std::string path;           // kind: file — NDJSON file appended to (relative: to the project)
  std::string url;            // kind: webhook — http:// or https:// URL POSTed to
  std::string topic;          // kind: kafka
  std::string brokers;        // kind: kafka — bootstrap servers, "host:port,..."
  int64_t timeout_ms = 5000;  // kind: webhook — per request. Default: 5 s.
  // kind: webhook — name of the environment variable holding the HMAC-SHA256 secret that signs
  // each POST (X-Freshet-Signature); empty: unsigned.
  std::string secret_env;
  int line = 0;
  int kind_line = 0;
};

// Dynamic micro-batching of a deployment's concurrent predict calls (serving/micro_batcher.h).
// Off (max_batch 0) unless the deployment has a `batching:` block, whose defaults are 64 and 200.
struct BatchingSpec {
  int max_batch = 0;     // most rows per coalesced model call; 0: off
  int max_delay_us = 0;  // how long the first call of a batch waits for others to join
};

// A deployment's trigger (`on: {source: S, where: "...", debounce: 200ms}`): each record of the
// event source S that matches `where` (applied to the engine) enqueues a prediction for its
// entity (src/triggers). Records of one entity within `debounce_ms` of the first pending one
// coalesce into one prediction made after the delay.
struct TriggerSpec {
  std::string source;       // an event source (not kind table) holding the deployment's keys
  std::string where;        // filter over the source's fields (stream/expr.h); empty: every record
  int64_t debounce_ms = 0;  // Default: 0 (no coalescing delay)
  int line = 0;             // of `on:`
  int where_line = 0;       // of `where:` (`line` when absent)
};

// One version reference of a deployment's `traffic:` split or `shadow:` (serving/traffic_router.h):
// `{version: 3, weight: 10}` or `{alias: challenger, weight: 10}`.
struct TrafficTargetSpec {
  std::string ref;    // ModelRegistry::Resolve reference: a version number ("3") or an alias
  double weight = 0;  // > 0 in `traffic:`; the shares are weight / sum of weights. 0 for a shadow
  int line = 0;
};

// `shadow: {version: N | alias: A, tolerance: 0.05}`: scored on the served rows, never returned.
struct ShadowSpec {
  TrafficTargetSpec target;
  double tolerance = 0.05;  // a row disagrees when |shadow - served| > tolerance (any output)
};

// `model_by: {attribute: users:segment, model: "ctr_{segment}", fallback: ctr_default}`: the
// model of each entity row is picked by the value of an attribute (serving/model_by_router.h).
struct ModelBySpec {
  // A feature of a view ("view:feature", usually a table view's attribute) or "context.NAME".
  InputRef attribute;
  // The model name: `prefix` + the attribute's value + `suffix`; written as one template with the
  // placeholder `{NAME}`, NAME being the attribute's feature or context field name.
  std::string prefix;
  std::string suffix;
  // A registered model for rows whose model is not registered or whose attribute has no value;
  // empty: such a row fails the request.
  std::string fallback;
  int line = 0;

  // The model name for attribute value `value`.
  std::string ModelFor(std::string_view value) const;
  // Whether registered model `model` is one this template names (or the fallback).
  bool Names(std::string_view model) const;
  // The template as written, e.g. "ctr_{segment}".
  std::string Template() const;
};

struct DeploymentSpec {
  std::string name;
  std::string model;  // registered model name; empty with `model_by`
  std::string alias;  // Default: "champion"; or "latest" or a version number
  std::string feature_service;
  std::vector<OutputSpec> outputs;  // pushed predictions; empty: pull only
  int line = 0;
  BatchingSpec batching;
  std::optional<TriggerSpec> on;  // empty: predictions only on request
  // Weighted versions, sticky per entity; empty: every row goes to `alias` (a `traffic:` block
  // and an explicit `alias:` are exclusive). Refs are distinct.
  std::vector<TrafficTargetSpec> traffic{};
  std::optional<ShadowSpec> shadow{};  // its ref differs from every served one
  // The model per entity row (exclusive with `model`, `traffic` and `shadow`); the deployment's
  // `alias` names the version of each model.
  std::optional<ModelBySpec> model_by{};

  // Every reference the deployment scores with: `alias` (no traffic) or the traffic refs, then
  // the shadow's.
  std::vector<std::string> Refs() const;
};

// `serving: {model_memory: 2GiB}`: settings of the process serving the project.
struct ServingSpec {
  // Bytes of loaded model versions (by artifact size) kept in memory, least recently used evicted
  // beyond it (models/model_cache.h); 0: no bound. Default: 0.
  int64_t model_memory_bytes = 0;
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
  ServingSpec serving{};
};

// The entity key fields a deployment's predictions are made for: the key fields of the entities
// of its feature service's views, in order of first appearance, without duplicates.
// REQUIRES: `deployment` belongs to `spec`.
std::vector<std::string> DeploymentKeyFields(const ProjectSpec& spec,
                                             const DeploymentSpec& deployment);

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
  std::vector<std::string> sources;      // e.g. {"file", "http"}
  std::vector<std::string> sinks;        // e.g. {"file", "webhook"}
  std::vector<std::string> runtimes;     // e.g. {"linear", "xgboost"}
  std::vector<std::string> request_fns;  // e.g. {"mean_sentence_vector"}
};

// kInvalidArgument for the first source kind, output kind, model runtime or request feature
// function of `spec` that is not in `built`, naming the file, line and field:
//   "freshet.yaml:12: sources.clicks.kind: 'kafka' is not built in this version (built: file,
//   http)"
Status CheckBuiltKinds(const ProjectSpec& spec, const BuiltKinds& built);

}  // namespace freshet
