#!/usr/bin/env bash
# Online features over HTTP: `freshet serve` with 100K entities loaded, read by wrk on loopback.
#
# Generates ~1M NDJSON events of the last hour over --entities users, loads them with
# `freshet ingest` into a throw-away data directory, starts `freshet serve` on a free loopback
# port (bench/online_project: one view of 55 features, services svc10 and svc50), waits for
# /readyz and runs wrk against POST /get-online-features (or --route /v1/features) in two shapes:
#   shape_1x10    1 random entity x 10 features per request (feature service svc10)
#   shape_100x50  100 random entities x 50 features per request (feature service svc50)
# In the same run, the ceiling: GET /healthz of the same server with the same wrk settings, and
# `redis-benchmark -t get` against a throw-away redis-server on another free loopback port.
# Prints a table and one JSON line last:
#   {"bench":"online_features","entities":N,"shape_1x10":{"rps":..,"p50_ms":..,"p99_ms":..,
#    "cpu_us_per_req":..,..},
#    "shape_100x50":{..},"healthz":{..},"redis_get_rps":..,..}
# Exit status 1 when a feature request got a non-2xx response.
#
# Usage: bench/online_features.sh [--duration 10s] [--connections 32] [--threads 2]
#                                 [--entities 100000] [--events N] [--route PATH]
#                                 [--server-threads N] [--freshet PATH] [--keep]
# Defaults: 10 s per shape, 32 connections, 2 wrk threads, 100,000 entities, 10 events each,
# the server's default HTTP threads (one per core). --keep keeps the temp dir (data, logs, Lua).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
duration=10s connections=32 threads=2 entities=100000 events="" route=/get-online-features
server_threads="" keep=0
freshet=${FRESHET:-$root/build/src/cli/freshet}
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --entities) entities=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --route) route=$2; shift 2 ;;
    --server-threads) server_threads=$2; shift 2 ;;
    --freshet) freshet=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "online_features: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
events=${events:-$((entities * 10))}
duration_s=${duration%s}
[[ "$duration_s" =~ ^[0-9]+$ ]] || { echo "online_features: --duration takes seconds (10 or 10s)" >&2; exit 2; }
case "$route" in
  /get-online-features|/v1/features) ;;
  *) echo "online_features: --route must be /get-online-features or /v1/features" >&2; exit 2 ;;
esac
[ -x "$freshet" ] || { echo "online_features: no freshet binary at $freshet (run scripts/build.sh)" >&2; exit 2; }
for tool in wrk redis-server redis-benchmark redis-cli curl; do
  command -v "$tool" >/dev/null || { echo "online_features: '$tool' not found (run scripts/setup.sh)" >&2; exit 2; }
done
project=$root/bench/online_project
bench=online_features
# shellcheck source=serve_lib.sh
source "$root/bench/serve_lib.sh"

work=$(mktemp -d /tmp/freshet-online-XXXXXX)
server_pid="" redis_pid=""
cleanup() {
  # Both servers are stopped by their own pid; the temp dir goes unless --keep.
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  if [ "$keep" = 1 ]; then echo "online_features: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t_start=$(date +%s.%N)
now() { date +%s.%N; }
since() { awk "BEGIN {printf \"%.1f\", $(now) - $1}"; }

# 1. Events: sorted timestamps over the last hour (the newest a few seconds old), so every
# window from 5 min to 1 h holds some; users drawn uniformly from u0..u{entities-1}. Files of
# 100,000 lines, the largest batch one ingest takes.
t0=$(now)
mkdir -p "$work/events"
/usr/bin/python3 - "$work/events" "$events" "$entities" <<'EOF'
import random, sys, time
out_dir, n, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
end_ms = int(time.time() * 1000) - 5_000
span = 3_600_000 - 10_000
kinds = ["start", "start", "exit", "complete", "search"]
cats = ["sleep", "focus", "move", "meditate", "stress"]
per_file = 100_000
for first in range(0, n, per_file):
    lines = []
    for i in range(first, min(n, first + per_file)):
        ts = end_ms - span + i * span // n
        ev = rng.choice(kinds)
        dur = 0.0 if ev in ("start", "search") else round(rng.uniform(5, 1800), 1)
        lines.append('{"user_id":"u%d","ts_ms":%d,"event":"%s","category":"%s","duration_s":%s}\n'
                     % (rng.randrange(users), ts, ev, rng.choice(cats), dur))
    with open(f"{out_dir}/events-{first // per_file:05d}.ndjson", "w") as f:
        f.write("".join(lines))
EOF
gen_s=$(since "$t0")

# 2. Load them into a fresh data directory through the event log, as an http source would.
t0=$(now)
"$freshet" ingest --project "$project" --data "$work/data" --source app_events \
  "$work"/events/events-*.ndjson --json >"$work/ingest.json"
ingest_s=$(since "$t0")
rm -rf "$work/events"

# 3. Serve on a free loopback port (port 0; the port is read from the server's first line) and
# wait for /readyz: the server replays the log into window state before it listens.
t0=$(now)
serve_args=(--project "$project" --data "$work/data")
[ -n "$server_threads" ] && serve_args+=(--threads "$server_threads")
start_serve "$freshet" "${serve_args[@]}"
ready_s=$(since "$t0")
base=http://127.0.0.1:$port

# 4. wrk Lua: each request draws its entities at random (each wrk thread seeded differently);
# done() writes the figures as one line (wrk's own --latency table stays in the log).
lua() {  # lua FILE SERVICE ENTITIES_PER_REQUEST (SERVICE empty: a GET without body)
  cat >"$1" <<EOF
local service, per, users = "$2", ${3:-0}, $entities
local next_seed = 1
function setup(thread) thread:set("seed", next_seed); next_seed = next_seed + 1 end
function init(args) math.randomseed(seed * 7919 + os.time()) end
if service ~= "" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local prefix = '{"feature_service":"' .. service .. '","entities":{"user_id":['
  local ids = {}
  function request()
    for i = 1, per do ids[i] = '"u' .. math.random(0, users - 1) .. '"' end
    return wrk.format(nil, nil, nil, prefix .. table.concat(ids, ",") .. "]}}")
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
EOF
}
lua "$work/healthz.lua" ""
lua "$work/1x10.lua" svc10 1
lua "$work/100x50.lua" svc50 100

# One request of each shape first: it must answer 200.
check() {  # check NAME SERVICE N
  local ids body code
  ids=$(seq 0 $(($3 - 1)) | sed 's/.*/"u&"/' | paste -sd, -)
  body="{\"feature_service\":\"$2\",\"entities\":{\"user_id\":[$ids]}}"
  code=$(curl -sS -m 10 -o "$work/$1.response.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "$body" "$base$route")
  if [ "$code" != 200 ]; then
    echo "online_features: $route ($1) answered $code: $(head -c 400 "$work/$1.response.json")" >&2
    exit 1
  fi
}
check 1x10 svc10 1
check 100x50 svc50 100
# The 100x50 answer holds 100 x 50 values, and the windows are populated (not all null).
/usr/bin/python3 - "$work/100x50.response.json" <<'EOF' || exit 1
import json, sys
doc = json.load(open(sys.argv[1]))
if "results" in doc:  # Feast: one column per entity key, then per feature
    cols = [c["values"] for c in doc["results"][1:]]
else:                 # /v1/features: one row per entity
    cols = list(zip(*[row["values"] for row in doc["rows"]]))
values = [v for c in cols for v in c]
filled = sum(v is not None for v in values)
if len(cols) != 50 or len(values) != 5000 or filled == 0:
    sys.exit(f"online_features: 100x50 answer has {len(cols)} features, {len(values)} values, {filled} not null")
EOF
sample=$(head -c 240 "$work/1x10.response.json")

# CPU seconds (user + system) the server has used so far, in clock ticks.
server_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
run_wrk() {  # run_wrk NAME URL LUA [DURATION]
  server_ticks >"$work/$1.ticks"
  timeout --foreground $((${4:-$duration_s} + 60)) wrk --latency --timeout 5s -t "$threads" -c "$connections" \
    -d "${4:-$duration_s}s" -s "$3" "$2" >"$work/$1.wrk.txt" 2>&1 || {
    cat "$work/$1.wrk.txt" >&2; echo "online_features: wrk failed ($1)" >&2; exit 1; }
  server_ticks >>"$work/$1.ticks"
  sed -n 's/^WRK //p' "$work/$1.wrk.txt" | tail -n 1 >"$work/$1.json"
  [ -s "$work/$1.json" ] || { cat "$work/$1.wrk.txt" >&2; echo "online_features: no figures from wrk ($1)" >&2; exit 1; }
}
# The figures of run NAME as JSON: {"rps":..,"p50_ms":..,"p99_ms":..,"max_ms":..,"non2xx":..,
# "socket_errors":..,"kb_per_req":..,"cpu_us_per_req":..}. cpu_us_per_req is the server's own
# CPU time (user + system) over the run divided by the requests answered: unlike req/s and
# latency it hardly moves with what else runs on the machine.
figures() {
  /usr/bin/python3 -c '
import json, sys
w = json.load(open(sys.argv[1]))
ticks = [int(line) for line in open(sys.argv[2])]
r = w["requests"] or 1
print(json.dumps({"rps": round(w["requests"] / (w["duration_us"] / 1e6)),
                  "p50_ms": round(w["p50_us"] / 1000, 3), "p99_ms": round(w["p99_us"] / 1000, 3),
                  "max_ms": round(w["max_us"] / 1000, 1), "non2xx": w["non2xx"],
                  "socket_errors": w["socket_errors"], "kb_per_req": round(w["bytes"] / r / 1024, 2),
                  "cpu_us_per_req": round((ticks[1] - ticks[0]) * 1e6 / int(sys.argv[3]) / r, 1)},
                 separators=(",", ":")))' "$work/$1.json" "$work/$1.ticks" "$(getconf CLK_TCK)"
}

# 5. Warm-up (not counted): the server loads an entity's state from RocksDB the first time a
# read touches it, so every entity is read once (svc10, 1,000 per request), then 2 s of wrk.
# Then the runs, one after the other: the two shapes, /healthz.
for ((first = 0; first < entities; first += 1000)); do
  ids=$(seq "$first" $((first + 999 < entities - 1 ? first + 999 : entities - 1)) | sed 's/.*/"u&"/' | paste -sd, -)
  curl -fsS -m 60 -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"feature_service\":\"svc10\",\"entities\":{\"user_id\":[$ids]}}" "$base$route" || {
    echo "online_features: warm-up read of u$first.. failed" >&2; exit 1; }
done
run_wrk warmup "$base$route" "$work/1x10.lua" 2
echo "online_features: shape 1x10 ($duration_s s, $connections connections, $threads threads)" >&2
run_wrk 1x10 "$base$route" "$work/1x10.lua"
echo "online_features: shape 100x50" >&2
run_wrk 100x50 "$base$route" "$work/100x50.lua"
echo "online_features: GET /healthz" >&2
run_wrk healthz "$base/healthz" "$work/healthz.lua"
shape1=$(figures 1x10) shape100=$(figures 100x50) healthz=$(figures healthz)
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status" 2>/dev/null || echo 0)
kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; echo "online_features: freshet serve died under load" >&2; exit 1; }
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
server_pid=""

# 6. The machine's ceiling for a tiny request/response on loopback: redis GET, same connections.
rport=$(free_port)
redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --dir "$work" \
  --logfile "$work/redis.log" &
redis_pid=$!
for _ in $(seq 1 100); do
  redis-cli -p "$rport" ping >/dev/null 2>&1 && break
  sleep 0.1
done
echo "online_features: redis-benchmark -t get" >&2
redis_csv=$(timeout --foreground $((duration_s * 6 + 60)) redis-benchmark -h 127.0.0.1 -p "$rport" -t get \
  -c "$connections" --threads "$threads" -n $((duration_s * 50000)) --csv 2>/dev/null | tail -n 1)
kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
redis_pid=""
# "GET","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
IFS=, read -r _ redis_rps _ _ redis_p50 _ redis_p99 _ <<<"${redis_csv//\"/}"

total_s=$(since "$t_start")
/usr/bin/python3 - "$shape1" "$shape100" "$healthz" "${redis_rps:-0}" "${redis_p50:-0}" "${redis_p99:-0}" <<'EOF' >&2
import json, sys
rows = [("1 entity x 10 features", json.loads(sys.argv[1])),
        ("100 entities x 50 features", json.loads(sys.argv[2])),
        ("GET /healthz", json.loads(sys.argv[3]))]
print(f"{'':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'non-2xx':>8} {'sock err':>8} {'KB/resp':>8} {'CPU us/req':>10}")
for name, r in rows:
    print(f"{name:28} {r['rps']:>9,} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} {r['max_ms']:>8.1f} "
          f"{r['non2xx']:>8} {r['socket_errors']:>8} {r['kb_per_req']:>8.2f} {r['cpu_us_per_req']:>10.1f}")
print(f"{'redis GET (redis-benchmark)':28} {float(sys.argv[4]):>9,.0f} {float(sys.argv[5]):>8.3f} {float(sys.argv[6]):>8.3f}")
one, health, redis = rows[0][1]["rps"], rows[2][1]["rps"], float(sys.argv[4])
if health and redis:
    print(f"1x10 req/s: {100 * one / health:.0f}% of /healthz, {100 * one / redis:.0f}% of redis GET")
EOF
echo "online_features: events $events over $entities users; generate ${gen_s} s, ingest ${ingest_s} s," \
  "replay to ready ${ready_s} s, server RSS $((rss_kb / 1024)) MiB, total ${total_s} s" >&2
echo "online_features: sample response ($route, svc10): $sample..." >&2
printf '{"bench":"online_features","entities":%d,"events":%d,"route":"%s","duration_s":%d,"connections":%d,"threads":%d,"shape_1x10":%s,"shape_100x50":%s,"healthz":%s,"redis_get_rps":%.0f,"redis_get_p50_ms":%s,"redis_get_p99_ms":%s,"ingest_s":%s,"ready_s":%s,"server_rss_mb":%d}\n' \
  "$entities" "$events" "$route" "$duration_s" "$connections" "$threads" "$shape1" "$shape100" \
  "$healthz" "${redis_rps:-0}" "${redis_p50:-0}" "${redis_p99:-0}" "$ingest_s" "$ready_s" \
  $((rss_kb / 1024))
non2xx=$(/usr/bin/python3 -c 'import json, sys; print(sum(json.loads(a)["non2xx"] for a in sys.argv[1:]))' "$shape1" "$shape100")
[ "$non2xx" = 0 ]
