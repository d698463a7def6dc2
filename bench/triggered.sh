#!/usr/bin/env bash
# Event-triggered predictions, side by side with the peer: meditation-app traffic into
# `freshet serve` (bench/triggered_project) at steady rates from concurrent clients; per event,
# the time from its ingest acknowledgement to the first prediction reflecting it arriving at a
# webhook receiver (push) and, for a sample, being readable by GET /v1/predictions (pull). Then,
# in the same run, the same traffic shape through ../shared/peers/redis_pipeline (run in place:
# Flask ingest, Redis Streams, Python feature and prediction workers).
#
# Loads 12 static attributes per user into the `users` table, trains a 100-tree depth-6 XGBoost
# model of the 20 inputs with Debian's python3-xgboost (/usr/bin/python3), registers it as
# `recommender`, serves with the deployment's webhook pointed at the load tool's receiver, and runs
# the load tool (bench/triggered_load.cc, built as build/bench/triggered_load; TRIGGERED_LOAD=PATH
# to use another) once per rate. A rate is held when at least 99.9% of acknowledged events got
# their prediction, push p99 < 1 s and at least 90% of the offered rate was acknowledged.
# Prints one table row per rate and side, and one JSON line last:
#   {"bench":"triggered","freshet":{"highest_rate_held":..,"rates":[..]},
#    "peer":{"highest_rate_held":..,"rates":[..]},"held_ratio":..}
#
# Usage: bench/triggered.sh [--seconds 10] [--rates "1000 5000 10000 20000 40000 60000"]
#                           [--peer-rates "2000 4000 6000 7000 8000"] [--users 10000]
#                           [--no-peer] [--freshet PATH] [--keep]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=10 users=10000 keep=0 run_peer=1
rates="1000 5000 10000 20000 40000 60000"
peer_rates="2000 4000 6000 7000 8000"
freshet=${FRESHET:-$root/build/src/cli/freshet}
loader=${TRIGGERED_LOAD:-$root/build/bench/triggered_load}
peer=$root/../shared/peers/redis_pipeline/run.sh
bench=triggered
# shellcheck source=serve_lib.sh
source "$root/bench/serve_lib.sh"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --peer-rates) peer_rates=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --no-peer) run_peer=0; shift ;;
    --freshet) freshet=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "triggered: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$freshet" ] || { echo "triggered: no freshet binary at $freshet (run scripts/build.sh)" >&2; exit 2; }
[ -x "$loader" ] || { echo "triggered: no load tool at $loader (run scripts/build.sh, or set TRIGGERED_LOAD)" >&2; exit 2; }
if [ "$run_peer" = 1 ]; then
  [ -f "$peer" ] || { echo "triggered: no peer at $peer (or pass --no-peer)" >&2; exit 2; }
  for tool in redis-server redis-cli gunicorn; do
    command -v "$tool" >/dev/null || { echo "triggered: '$tool' not found (run scripts/setup.sh)" >&2; exit 2; }
  done
fi

work=$(mktemp -d /tmp/freshet-triggered-XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [ "$keep" = 1 ]; then echo "triggered: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The project, its webhook pointed at the receiver the load tool starts on a free port.
receiver_port=$(free_port)
mkdir -p "$work/project"
sed "s|OUTPUT_URL|http://127.0.0.1:$receiver_port/hook|" "$root/bench/triggered_project/freshet.yaml" \
  >"$work/project/freshet.yaml"
project=$work/project data=$work/data

# 2. Static attributes of every user (the `users` table) and the model of the 20 inputs.
/usr/bin/python3 - "$work/users.ndjson" "$work/recommender.json" "$users" <<'PY'
import json, sys
import numpy as np
import xgboost as xgb
rows_path, model_path, users = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(7)
with open(rows_path, "w") as f:
    for u in range(users):
        row = {"user_id": f"u{u}", "updated_at": 0}
        row.update({f"f{i}": round(float(v), 4) for i, v in enumerate(rng.normal(0, 1, 12))})
        f.write(json.dumps(row) + "\n")
x = rng.normal(0, 1, (20000, 20)).astype(np.float32)
x[:, :8] = rng.poisson(3, (20000, 8))
y = ((x[:, 0] - x[:, 2] + 0.5 * x[:, 8] + rng.normal(0, 1, 20000)) > 0).astype(np.float32)
booster = xgb.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "nthread": 2},
                    xgb.DMatrix(x, label=y), num_boost_round=100)
booster.save_model(model_path)
PY
"$freshet" load --project "$project" --data "$data" users "$work/users.ndjson" >"$work/load.txt"
"$freshet" models register --project "$project" --data "$data" recommender "$work/recommender.json" \
  >"$work/register.txt"

# 3. Serve on a free loopback port and wait for /readyz.
start_serve "$freshet" --project "$project" --data "$data"

# 4. freshet at each rate (a short warm-up first, not reported).
load() {  # load RATE SECONDS
  "$loader" --url "http://127.0.0.1:$port" \
    --receiver-port "$receiver_port" --rate "$1" --seconds "$2" --users "$users"
}
load 200 2 >/dev/null
freshet_lines=()
for r in $rates; do
  echo "triggered: freshet at $r events/s for $seconds s" >&2
  freshet_lines+=("$(load "$r" "$seconds")")
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; echo "triggered: freshet serve died" >&2; exit 1; }
done
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
server_pid=""

# 5. The peer at its rates, in place, on free ports.
peer_lines=()
if [ "$run_peer" = 1 ]; then
  echo "triggered: peer redis_pipeline at $peer_rates events/s, $seconds s each" >&2
  mapfile -t peer_lines < <(PEER_REDIS_PORT=$(free_port) PEER_HTTP_PORT=$(free_port) PEER_USERS=$users \
    bash "$peer" "$seconds" $peer_rates 2>"$work/peer.log" | grep '"rate"') || {
    cat "$work/peer.log" >&2; echo "triggered: the peer failed" >&2; exit 1; }
fi

/usr/bin/python3 - "$seconds" <<PY
import json, sys
fl = [json.loads(l) for l in """$(printf '%s\n' "${freshet_lines[@]}")""".splitlines() if l.strip()]
pl = [json.loads(l) for l in """$(printf '%s\n' "${peer_lines[@]}")""".splitlines() if l.strip()]
fmt = lambda v: "-" if v is None else f"{v:.2f}"
print(f"{'':22} {'rate/s':>8} {'offered/s':>10} {'delivered':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>9} {'pull p99':>9} {'ack p99':>8} held",
      file=sys.stderr)
for r in fl:
    p = r["push"]
    print(f"{'freshet':22} {r['rate']:>8,.0f} {r['offered_per_s']:>10,.0f} {p['delivered']:>10,} "
          f"{fmt(p['p50_ms']):>8} {fmt(p['p99_ms']):>8} {fmt(p['max_ms']):>9} {fmt(r['pull']['p99_ms']):>9} "
          f"{fmt(r['ack']['p99_ms']):>8} {r['held']}",
          file=sys.stderr)
for r in pl:
    print(f"{'peer redis_pipeline':22} {r['rate']:>8,.0f} {r['offered_per_s']:>10,.0f} {r['delivered']:>10,} "
          f"{fmt(r['p50_ms']):>8} {fmt(r['p99_ms']):>8} {fmt(r['max_ms']):>9} {'-':>9} {'-':>8} {r['held']}",
          file=sys.stderr)
best = lambda rows: max([r["rate"] for r in rows if r["held"]], default=0)
fb, pb = best(fl), best(pl)
ratio = round(fb / pb, 1) if pb else None
print(f"highest rate held: freshet {fb:,.0f}/s, peer {pb:,.0f}/s" + (f" -> {ratio}x" if ratio else ""),
      file=sys.stderr)
print(json.dumps({"bench": "triggered", "seconds_per_rate": int(sys.argv[1]),
                  "freshet": {"highest_rate_held": fb, "rates": fl},
                  "peer": {"highest_rate_held": pb, "rates": pl}, "held_ratio": ratio},
                 separators=(",", ":")))
PY
