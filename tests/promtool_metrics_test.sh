#!/usr/bin/env bash
# /metrics of a real `freshet serve`, after some traffic, passes `promtool check metrics`
# (names with base units, counters ending in _total, HELP and TYPE for every family).
# Usage: promtool_metrics_test.sh FRESHET_BINARY. Exits 77 (skipped) without promtool.
set -euo pipefail

freshet=$1
if ! command -v promtool >/dev/null; then
  echo "SKIP: promtool is not installed (scripts/setup.sh installs the prometheus package)"
  exit 77
fi

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/project"
cat >"$work/project/freshet.yaml" <<'YAML'
project: metrics
entities:
  user: {key: user_id}
sources:
  clicks:
    kind: http
    timestamp: ts_ms
    fields: {user_id: string, page: string}
    allowed_lateness: 1m
    expectations:
      page: {in: [a, late], policy: warn}
      user_id: {matches: "^u[0-9]+$", policy: quarantine}
feature_views:
  activity:
    entity: user
    source: clicks
    features:
      clicks_1h: {agg: count, window: 1h}
feature_services:
  s: [activity:clicks_1h]
models:
  m: {runtime: linear}
deployments:
  d:
    model: m
    features: s
    traffic: [{alias: champion, weight: 1}]
    shadow: {version: 1}
YAML
echo '{"weights": [2], "bias": 1}' >"$work/m.json"

"$freshet" serve --project "$work/project" --data "$work/data" --listen 127.0.0.1:0 \
  2>"$work/log" &
server=$!
url=""
for _ in $(seq 1 200); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/log" | head -1 || true)
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/log"; echo "FAIL: freshet serve exited"; exit 1; }
  sleep 0.05
done
[ -n "$url" ] || { cat "$work/log"; echo "FAIL: no listen address logged"; exit 1; }

post() { curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "$2" "$url$1"; }
# Traffic that fills every family: accepted, rejected, late and unmatched requests.
[ "$(post /v1/events/clicks '{"user_id":"u1","ts_ms":1767225600000,"page":"a"}')" = 200 ]
[ "$(post /v1/events/clicks '{"user_id":"u1","ts_ms":1767225000000,"page":"late"}')" = 200 ]
[ "$(post /v1/events/clicks '{"user_id":')" = 400 ]
# Expectation violations: a warning and a quarantined record.
[ "$(post /v1/events/clicks '{"user_id":"x","ts_ms":1767225600000,"page":"b"}')" = 200 ]
[ "$(post /v1/features '{"features":["activity:clicks_1h"],"entities":{"user_id":["u1"]}}')" = 200 ]
[ "$(post /nope '{}')" = 404 ]
# A model served and shadowed: the per-version families.
[ "$(post /v1/models/m/versions "{\"artifact_path\":\"$work/m.json\"}")" = 201 ]
[ "$(post /v1/predict/d '{"entities":{"user_id":["u1","u2"]}}')" = 200 ]
shadow='freshet_model_rows_total{deployment="d",model="m",version="1",role="shadow"} 2'
for _ in $(seq 1 200); do
  curl -s "$url/metrics" >"$work/metrics"
  grep -qx "$shadow" "$work/metrics" && break
  sleep 0.05
done
if ! problems=$(promtool check metrics <"$work/metrics" 2>&1); then
  echo "FAIL: promtool check metrics:"
  echo "$problems"
  exit 1
fi
if [ -n "$problems" ]; then
  echo "FAIL: promtool check metrics reported:"
  echo "$problems"
  exit 1
fi
# The newest event's time less the allowed lateness (1m), in seconds.
awk '$1 == "freshet_engine_watermark_seconds{source=\"clicks\"}" && $2 == 1767225540 {found=1}
     END {exit !found}' "$work/metrics" || {
  echo "FAIL: no watermark of 1767225540 s"; cat "$work/metrics"; exit 1; }
# The engine's running totals are counters: one event applied, one late.
# The quarantined record is not applied; its violations are counted by expectation and policy.
for series in "freshet_engine_events_applied_total 1" "freshet_engine_late_events_total 1" \
  'freshet_expectation_violations_total{source="clicks",field="page",expectation="in",policy="warn"} 1' \
  'freshet_quarantined_records_total{source="clicks"} 1' \
  'freshet_model_rows_total{deployment="d",model="m",version="1",role="served"} 2' "$shadow" \
  'freshet_shadow_disagreements_total{deployment="d"} 0'; do
  grep -qx "$series" "$work/metrics" || { echo "FAIL: no '$series'"; cat "$work/metrics"; exit 1; }
done
echo "PASS: $(grep -c '^# TYPE' "$work/metrics") metric families pass promtool check metrics"
