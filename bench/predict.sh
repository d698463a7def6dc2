#!/usr/bin/env bash
# Predictions over HTTP: `freshet serve` scoring a deployment that reads 20 online features per
# user and runs a 100-tree depth-6 XGBoost model, against the Flask + scikit-learn + Redis peer
# (../shared/peers/flask_sklearn, run in place), both under wrk on loopback with the same settings.
#
# Generates NDJSON events of the last hour over --users users, loads them with `freshet ingest`,
# trains the model with Debian's python3-xgboost (/usr/bin/python3) on random rows of 20 inputs,
# registers it as `ranker` (version 1, champion), starts `freshet serve` (bench/predict_project)
# on a free loopback port and runs wrk against POST /v1/predict/{deployment} for a random user per
# request; then runs the peer's run.sh with the same duration and connections (its wrk uses -t2).
# Prints a table (req/s, p50, p99 of both and freshet/peer ratios) and one JSON line last:
#   {"bench":"predict","deployment":..,"freshet":{"rps":..,"p50_ms":..,"p99_ms":..,..},
#    "peer":{"rps":..,"p50_ms":..,"p99_ms":..},"rps_ratio":..,..}
# Exit status 1 when a predict request got a non-2xx response.
#
# Usage: bench/predict.sh [--duration 10s] [--connections 16] [--users 10000] [--events N]
#                         [--deployment score|score_batched] [--server-threads N]
#                         [--freshet PATH] [--keep]
# Defaults: 10 s per side, 16 connections (the peer's default), 2 wrk threads, 10,000 users
# (the peer's), 20 events each, deployment `score` (no micro-batching), `freshet serve`'s own
# number of HTTP threads (one per core; --server-threads sets --threads).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
duration=10s connections=16 threads=2 users=10000 events="" deployment=score keep=0
server_threads=
freshet=${FRESHET:-$root/build/src/cli/freshet}
peer=$root/../shared/peers/flask_sklearn/run.sh
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --deployment) deployment=$2; shift 2 ;;
    --server-threads) server_threads=$2; shift 2 ;;
    --freshet) freshet=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "predict: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
events=${events:-$((users * 20))}
duration_s=${duration%s}
[[ "$duration_s" =~ ^[0-9]+$ ]] || { echo "predict: --duration takes seconds (10 or 10s)" >&2; exit 2; }
[[ -z "$server_threads" || "$server_threads" =~ ^[1-9][0-9]*$ ]] || {
  echo "predict: --server-threads takes a positive integer" >&2; exit 2; }
[ -x "$freshet" ] || { echo "predict: no freshet binary at $freshet (run scripts/build.sh)" >&2; exit 2; }
[ -x "$peer" ] || [ -f "$peer" ] || { echo "predict: no peer at $peer" >&2; exit 2; }
for tool in wrk redis-server curl gunicorn; do
  command -v "$tool" >/dev/null || { echo "predict: '$tool' not found (run scripts/setup.sh)" >&2; exit 2; }
done
project=$root/bench/predict_project
bench=predict
# shellcheck source=serve_lib.sh
source "$root/bench/serve_lib.sh"

work=$(mktemp -d /tmp/freshet-predict-XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [ "$keep" = 1 ]; then echo "predict: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Events of the last hour (the newest a few seconds old), users u0..u{users-1} at random.
/usr/bin/python3 - "$work/events.ndjson" "$events" "$users" <<'EOF'
import random, sys, time
path, n, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
end_ms = int(time.time() * 1000) - 5_000
span = 3_600_000 - 10_000
kinds = ["start", "start", "exit", "complete", "search"]
cats = ["sleep", "focus", "move", "meditate", "stress"]
with open(path, "w") as f:
    for i in range(n):
        ev = rng.choice(kinds)
        dur = 0.0 if ev in ("start", "search") else round(rng.uniform(5, 1800), 1)
        f.write('{"user_id":"u%d","ts_ms":%d,"event":"%s","category":"%s","duration_s":%s}\n'
                % (rng.randrange(users), end_ms - span + i * span // n, ev, rng.choice(cats), dur))
EOF
split -l 100000 -d -a 4 --additional-suffix=.ndjson "$work/events.ndjson" "$work/events-"
rm "$work/events.ndjson"
"$freshet" ingest --project "$project" --data "$work/data" --source app_events \
  "$work"/events-*.ndjson --json >"$work/ingest.json"
rm -f "$work"/events-*.ndjson

# 2. The model: 100 trees of depth 6 over 20 inputs, binary:logistic, saved as XGBoost JSON.
/usr/bin/python3 - "$work/ranker.json" <<'EOF'
import sys
import numpy as np
import xgboost as xgb
rng = np.random.default_rng(7)
x = rng.gamma(2.0, 20.0, size=(20000, 20)).astype(np.float32)
y = (x[:, 0] + 0.5 * x[:, 6] - x[:, 12] + rng.normal(0, 10, 20000) > 40).astype(np.float32)
booster = xgb.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "nthread": 2},
                    xgb.DMatrix(x, label=y), num_boost_round=100)
booster.save_model(sys.argv[1])
EOF
"$freshet" models register --project "$project" --data "$work/data" ranker "$work/ranker.json" \
  >"$work/register.txt"

# 3. Serve on a free loopback port and wait for /readyz.
start_serve "$freshet" --project "$project" --data "$work/data" \
  ${server_threads:+--threads "$server_threads"}
url=http://127.0.0.1:$port/v1/predict/$deployment
code=$(curl -sS -m 10 -o "$work/sample.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"entities":{"user_id":["u1"]}}' "$url")
[ "$code" = 200 ] || { echo "predict: $url answered $code: $(head -c 400 "$work/sample.json")" >&2; exit 1; }

# 4. wrk: one random user per request (each thread seeded differently).
write_predict_lua "$work/predict.lua" "$users"
run_wrk() {  # run_wrk NAME SECONDS
  timeout --foreground $(($2 + 60)) wrk --latency --timeout 5s -t "$threads" -c "$connections" \
    -d "$2s" -s "$work/predict.lua" "$url" >"$work/$1.wrk.txt" 2>&1 || {
    cat "$work/$1.wrk.txt" >&2; echo "predict: wrk failed ($1)" >&2; exit 1; }
  sed -n 's/^WRK //p' "$work/$1.wrk.txt" | tail -n 1
}
run_wrk warmup 2 >/dev/null
echo "predict: freshet $url ($duration_s s, $connections connections, $threads threads)" >&2
freshet_json=$(run_wrk freshet "$duration_s")
[ -n "$freshet_json" ] || { cat "$work/freshet.wrk.txt" >&2; exit 1; }
kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; echo "predict: freshet serve died under load" >&2; exit 1; }
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
server_pid=""

# 5. The peer, run in place with the same duration and connections, on free ports.
echo "predict: peer flask_sklearn ($duration_s s, $connections connections, 2 threads)" >&2
peer_json=$(PEER_REDIS_PORT=$(free_port) PEER_HTTP_PORT=$(free_port) \
  bash "$peer" "$work/peer-data" "$duration_s" "$connections" 2>"$work/peer.log" | tail -n 1) || {
  cat "$work/peer.log" >&2; echo "predict: the peer failed" >&2; exit 1; }

/usr/bin/python3 - "$freshet_json" "$peer_json" "$deployment" "$duration_s" "$connections" \
  "${server_threads:-default}" <<'EOF'
import json, sys
f, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{'':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}", file=sys.stderr)
label = f"freshet /v1/predict/{sys.argv[3]}" + ("" if sys.argv[6] == "default" else f" ({sys.argv[6]} thr)")
print(f"{label:34} {f['rps']:>9,.0f} {f['p50_ms']:>8.3f} "
      f"{f['p99_ms']:>8.3f} {f['non2xx']:>8}", file=sys.stderr)
print(f"{'peer flask_sklearn':34} {p['rps']:>9,.0f} {p['p50_ms']:>8.3f} {p['p99_ms']:>8.3f} "
      f"{p['errors']:>8}", file=sys.stderr)
ratio = f["rps"] / p["rps"] if p["rps"] else 0
p99_ratio = p["p99_ms"] / f["p99_ms"] if f["p99_ms"] else 0
print(f"{'freshet / peer':34} {ratio:>8.1f}x {'':>8} {p99_ratio:>7.1f}x lower", file=sys.stderr)
print(json.dumps({"bench": "predict", "deployment": sys.argv[3], "duration_s": int(sys.argv[4]),
                  "connections": int(sys.argv[5]), "threads": 2, "server_threads": sys.argv[6],
                  "freshet": f,
                  "peer": {k: p[k] for k in ("rps", "p50_ms", "p99_ms", "errors")},
                  "rps_ratio": round(ratio, 1), "p99_ratio": round(p99_ratio, 1)},
                 separators=(",", ":")))
sys.exit(1 if f["non2xx"] else 0)
EOF
