#!/usr/bin/env bash
# Thousands of models in one process: `freshet serve` with --models linear models, one per
# audience segment (ctr_s0 ... ctr_s{N-1}), scoring each user with their segment's model
# (bench/many_models_project: a `model_by` deployment over a table attribute) under a model cache
# bound of --cached models' worth of bytes (`serving.model_memory`).
#
# Generates NDJSON events of the last hour for --users users and loads them with `freshet
# ingest`, loads each user's segment (user i: segment i mod N) with `freshet load`, writes N
# linear models of 4 inputs, starts the server, then measures:
#   register: N registrations over HTTP (POST /v1/models/{m}/versions, one keep-alive client);
#   cold:     one predict per segment, in order: each loads its model (evicting beyond the bound);
#   wrk:      predicts for random users (so random segments) for --duration;
# and the server's resident memory (VmRSS from /proc) after each step, with the model cache's
# metrics. Prints a summary and one JSON line last. Exit status 1 on a non-2xx predict.
#
# Usage: bench/many_models.sh [--models 10000] [--cached 2500] [--users 20000]
#                             [--duration 10s] [--connections 16] [--freshet PATH] [--keep]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
models=10000 cached=2500 users=20000 duration=10s connections=16 threads=2 keep=0
freshet=${FRESHET:-$root/build/src/cli/freshet}
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models=$2; shift 2 ;;
    --cached) cached=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --freshet) freshet=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "many_models: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
duration_s=${duration%s}
[[ "$duration_s" =~ ^[0-9]+$ ]] || { echo "many_models: --duration takes seconds" >&2; exit 2; }
[ -x "$freshet" ] || { echo "many_models: no freshet binary at $freshet" >&2; exit 2; }
for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "many_models: '$tool' not found (run scripts/setup.sh)" >&2; exit 2; }
done
bench=many_models
# shellcheck source=serve_lib.sh
source "$root/bench/serve_lib.sh"

work=$(mktemp -d /tmp/freshet-many-models-XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [ "$keep" = 1 ]; then echo "many_models: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Models, events and segments. Model files are of 65-70 bytes; the bound is --cached times
#    the first one's size.
/usr/bin/python3 - "$work" "$models" "$users" <<'EOF'
import os, random, sys, time
work, models, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
os.makedirs(f"{work}/models")
for i in range(models):
    w = [rng.uniform(-1, 1) for _ in range(4)]
    with open(f"{work}/models/m{i}.json", "w") as f:
        f.write('{"weights":[%s],"bias":%.6f}' % (",".join("%.6f" % x for x in w), rng.uniform(-1, 1)))
end_ms = int(time.time() * 1000) - 5_000
n = users * 5
span = 3_600_000 - 10_000
kinds = ["start", "start", "exit", "complete"]
with open(f"{work}/events.ndjson", "w") as f:
    for i in range(n):
        ev = rng.choice(kinds)
        dur = 0.0 if ev == "start" else round(rng.uniform(5, 1800), 1)
        f.write('{"user_id":"u%d","ts_ms":%d,"event":"%s","duration_s":%s}\n'
                % (rng.randrange(users), end_ms - span + i * span // n, ev, dur))
with open(f"{work}/users.csv", "w") as f:
    f.write("user_id,segment,updated_at\n")
    for u in range(users):
        f.write("u%d,s%d,%d\n" % (u, u % models, end_ms - 3_600_000))
EOF
model_bytes=$(stat -c %s "$work/models/m0.json")
mkdir -p "$work/project"
sed "s/MODEL_MEMORY/$((cached * model_bytes))/" "$root/bench/many_models_project/freshet.yaml" \
  >"$work/project/freshet.yaml"
"$freshet" ingest --project "$work/project" --data "$work/data" --source app_events \
  "$work/events.ndjson" --json >"$work/ingest.json"
"$freshet" load users "$work/users.csv" --project "$work/project" --data "$work/data" \
  --json >"$work/load.json"

rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$server_pid/status"; }
metric() { curl -fsS "http://127.0.0.1:$port/metrics" | sed -n "s/^$1 //p"; }

# 2. Serve, then register every model over HTTP.
start_serve "$freshet" --project "$work/project" --data "$work/data"
rss_start=$(rss_kb)
register_s=$(/usr/bin/python3 - "$port" "$work/models" "$models" <<'EOF'
import http.client, json, sys, time
port, dir, models = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
start = time.monotonic()
for i in range(models):
    body = json.dumps({"artifact_path": f"{dir}/m{i}.json", "runtime": "linear"})
    conn.request("POST", f"/v1/models/ctr_s{i}/versions", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    text = r.read()
    if r.status != 201:
        sys.exit(f"register ctr_s{i}: {r.status} {text[:300]!r}")
print("%.3f" % (time.monotonic() - start))
EOF
)
rss_registered=$(rss_kb)

# 3. Cold pass: one predict per segment (user i has segment i), each loading its model.
cold=$(/usr/bin/python3 - "$port" "$models" <<'EOF'
import http.client, json, sys, time
port, models = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
lat = []
start = time.monotonic()
for i in range(models):
    t = time.monotonic()
    conn.request("POST", "/v1/predict/ctr", json.dumps({"entities": {"user_id": [f"u{i}"]}}),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    body = json.loads(r.read())
    lat.append(time.monotonic() - t)
    if r.status != 200 or body.get("models") != [f"ctr_s{i}"]:
        sys.exit(f"predict u{i}: {r.status} {body}")
total = time.monotonic() - start
lat.sort()
print(json.dumps({"total_s": round(total, 3), "p50_ms": round(lat[len(lat) // 2] * 1000, 3),
                  "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 3)}))
EOF
)
rss_cold=$(rss_kb)
loads_before=$(metric freshet_model_cache_loads_total)

# 4. wrk: one random user (so a random segment) per request.
write_predict_lua "$work/predict.lua" "$users"
url=http://127.0.0.1:$port/v1/predict/ctr
timeout --foreground $((duration_s + 60)) wrk --latency --timeout 5s -t "$threads" \
  -c "$connections" -d "${duration_s}s" -s "$work/predict.lua" "$url" >"$work/wrk.txt" 2>&1 || {
  cat "$work/wrk.txt" >&2; echo "many_models: wrk failed" >&2; exit 1; }
wrk_json=$(sed -n 's/^WRK //p' "$work/wrk.txt" | tail -n 1)
rss_wrk=$(rss_kb)
loads_after=$(metric freshet_model_cache_loads_total)
cache_models=$(metric freshet_model_cache_models)
cache_bytes=$(metric freshet_model_cache_bytes)
evictions=$(metric freshet_model_cache_evictions_total)

/usr/bin/python3 - <<EOF
import json, sys
w, cold = json.loads('$wrk_json'), json.loads('$cold')
models, cached, reg = $models, $cached, $register_s
loads = $loads_after - $loads_before
mb = lambda kb: round(kb / 1024, 1)
out = {"bench": "many_models", "models": models, "cached": cached, "model_bytes": $model_bytes,
       "memory_limit_bytes": cached * $model_bytes, "users": $users,
       "register_s": reg, "register_per_model_ms": round(reg / models * 1000, 3),
       "cold_pass": cold, "wrk": w, "wrk_loads": int(loads),
       "wrk_hit_ratio": round(1 - loads / w["requests"], 3) if w["requests"] else 0,
       "cache_models": int(float("$cache_models")), "cache_bytes": int(float("$cache_bytes")),
       "evictions": int(float("$evictions")),
       "rss_mb": {"start": mb($rss_start), "registered": mb($rss_registered),
                  "after_cold_pass": mb($rss_cold), "after_wrk": mb($rss_wrk)},
       "duration_s": $duration_s, "connections": $connections, "threads": $threads}
print(f"registered {models} models in {reg:.1f} s ({out['register_per_model_ms']} ms each)",
      file=sys.stderr)
print(f"cold pass (one predict per segment, each a load): {cold['total_s']} s, "
      f"p50 {cold['p50_ms']} ms, p99 {cold['p99_ms']} ms", file=sys.stderr)
print(f"wrk random segments: {w['rps']:,.0f} req/s, p50 {w['p50_ms']} ms, p99 {w['p99_ms']} ms, "
      f"{loads:.0f} loads ({out['wrk_hit_ratio']:.1%} hits), non-2xx {w['non2xx']}", file=sys.stderr)
print(f"cache: {out['cache_models']} models, {out['cache_bytes']} bytes "
      f"(bound {out['memory_limit_bytes']}), {out['evictions']} evictions; RSS MB {out['rss_mb']}",
      file=sys.stderr)
print(json.dumps(out, separators=(",", ":")))
sys.exit(1 if w["non2xx"] else 0)
EOF
