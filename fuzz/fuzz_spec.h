// The small fixed project the fuzz targets parse records, states and requests against: one
// source with a field of every type and one view with every window kind and most
// aggregations, so decoders and parsers see every code path.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "spec/project_spec.h"
#include "spec/spec_loader.h"

namespace freshet::fuzz {

inline constexpr char kSpecYaml[] = R"yaml(project: fuzz
entities:
  user: {key: user_id}
sources:
  events:
    kind: http
    timestamp: ts
    fields: {user_id: string, ts: timestamp, event: string, category: string, amount: double,
             qty: int64, ok: bool, at: timestamp}
    allowed_lateness: 1m
feature_views:
  v:
    entity: user
    source: events
    ttl: 1d
    features:
      n_1m: {agg: count, window: 1m}
      exits_10m: {agg: count, window: 10m, where: "event = 'exit' and qty > 2"}
      sum_10m: {agg: sum, of: amount, window: 10m}
      qty_10m: {agg: sum, of: qty, window: 10m}
      var_10m: {agg: variance, of: amount, window: 10m}
      cats_10m: {agg: distinct_count, of: category, window: 10m}
      top_10m: {agg: top_k, of: category, k: 2, window: 10m}
      hop_sd: {agg: stddev, of: amount, window: 10m, hop: 2m}
      hop_last: {agg: last_n, of: category, n: 2, window: 10m, hop: 2m}
      day_max: {agg: max, of: qty, window: 1d, tumbling: true}
      day_hll: {agg: distinct_count, of: category, approx: true, window: 1d, tumbling: true}
      session_n: {agg: count, session_gap: 3m, where: "ok"}
      session_rate: {agg: rate, session_gap: 3m}
      first_ever: {agg: first, of: category}
      min_ever: {agg: min, of: amount}
      top_ever: {agg: top_k, of: qty, k: 3}
      trend_10m: {agg: trend, of: amount, window: 10m}
      hop_trend: {agg: trend, of: qty, window: 10m, hop: 2m}
      p90_10m: {agg: approx_percentile, of: amount, window: 10m, q: 0.9}
      day_p50: {agg: approx_percentile, of: qty, window: 1d, tumbling: true, q: 0.5}
      ratio: {expr: "exits_10m / nullif(n_1m, 0)"}
)yaml";

// The parsed project; aborts when it does not load (a broken target, not a finding).
inline const ProjectSpec& Spec() {
  static const ProjectSpec* spec = [] {
    auto parsed = ParseProject(kSpecYaml, "freshet.yaml");
    if (!parsed.ok()) {
      std::fprintf(stderr, "fuzz spec: %s\n", parsed.status().ToString().c_str());
      std::abort();
    }
    return new ProjectSpec(std::move(parsed).value());
  }();
  return *spec;
}

// Fails the run: a property the code promises does not hold.
#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

}  // namespace freshet::fuzz
