// The full example freshet.yaml shared by the spec module's tests. Line numbers matter: the
// tests check the `line` of parsed objects against it.
#pragma once

namespace freshet {

inline constexpr char kGoodSpec[] = R"yaml(project: meditation
entities:
  user: {key: user_id}
  pair: {keys: [user_id, category]}
sources:
  app_events:
    kind: http
    timestamp: ts_ms
    fields: {user_id: string, event: string, category: string, duration_s: double, n: int}
    allowed_lateness: 10m
  replay:
    kind: file
    timestamp: at
    fields: {user_id: string, at: timestamp}
    path: events.csv
    format: csv
  clicks:
    kind: kafka
    timestamp: ts
    fields: {user_id: string}
    topic: clicks
    brokers: localhost:9092
    group: freshet
feature_views:
  user_activity:
    entity: user
    source: app_events
    ttl: 7d
    features:
      events_10m:      {agg: count, window: 10m}
      sleep_exits_10m: {agg: count, window: 10m, where: "event = 'exit' and category = 'sleep'"}
      listen_s_1h:     {agg: sum, of: duration_s, window: 1h}
      mean_len_1d:     {agg: mean, of: duration_s, window: 1d, hop: 1h}
      day_count:       {agg: count, window: 1d, tumbling: true}
      categories_1h:   {agg: distinct_count, of: category, window: 1h, approx: true}
      session_starts:  {agg: count, where: "event = 'start'", session_gap: 30m}
      sleep_bounce:    {expr: "sleep_exits_10m / nullif(events_10m, 0)"}
      last_category:   {agg: last, of: category}
      recent:          {agg: last_n, of: category, n: 5}
      top_cats:        {agg: top_k, of: category, k: 3, window: 1h}
      spread:          {agg: var, of: n, window: 1h}
      per_sec:         {agg: rate, window: 1m}
feature_services:
  recommender: [user_activity:events_10m, user_activity:sleep_exits_10m]
  ranker:
    features:
      - user_activity:listen_s_1h
models:
  next_content: {runtime: xgboost}
deployments:
  recommend: {model: next_content, features: recommender}
  rank: {model: next_content, features: ranker, alias: challenger}
)yaml";

}  // namespace freshet
