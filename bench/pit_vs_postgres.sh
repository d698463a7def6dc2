#!/usr/bin/env bash
# Point-in-time training set, freshet vs PostgreSQL, side by side on the same data.
#
# Generates the peers' synthetic data (../shared/peers/gen_events.py), builds the training set of
# ../shared/peers/postgres_pit/pit.sql with `freshet backfill` (bench/pit_project defines the same
# four features) and with a throw-away PostgreSQL (../shared/peers/postgres_pit/run.sh), compares
# the two CSVs value by value, and prints one JSON line last:
#   {"bench":"pit","events":N,"labels":M,"freshet_s":..,"postgres_query_s":..,"ratio":..,"identical":true}
# freshet_s is the wall time of the whole `freshet backfill` process (reading and parsing the
# events file included); postgres_query_s is the peer's query time (its CSV load not included).
# Both are medians over --runs runs.
#
# Usage: bench/pit_vs_postgres.sh [--events N] [--labels M] [--users U] [--hours H] [--runs R]
#                                 [--format csv|ndjson] [--data DIR] [--freshet PATH]
# Defaults: 1,000,000 events, 100,000 labels, 100,000 users over 24 h, 3 runs, csv events.
# Exit status 1 when the two training sets differ.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
peers=${FRESHET_PEERS:-$root/../shared/peers}
events=1000000 labels=100000 users=100000 hours=24 runs=3 format=csv data=""
freshet=${FRESHET:-$root/build/src/cli/freshet}
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events=$2; shift 2 ;;
    --labels) labels=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --hours) hours=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --format) format=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --freshet) freshet=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "pit_vs_postgres: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$freshet" ] || { echo "pit_vs_postgres: no freshet binary at $freshet (run scripts/build.sh)" >&2; exit 2; }
[ -f "$peers/gen_events.py" ] || { echo "pit_vs_postgres: no peers at $peers (set FRESHET_PEERS)" >&2; exit 2; }

work=$(mktemp -d /tmp/freshet-pit-XXXXXX)
trap 'rm -rf "$work"' EXIT
data=${data:-$work/data}
if [ ! -f "$data/events.csv" ]; then
  /usr/bin/python3 "$peers/gen_events.py" "$data" --events "$events" --labels "$labels" \
    --users "$users" --hours "$hours" >/dev/null
fi
case "$format" in
  csv) events_file=$data/events.csv ;;
  ndjson) events_file=$data/events.ndjson ;;
  *) echo "pit_vs_postgres: --format must be csv or ndjson" >&2; exit 2 ;;
esac

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

freshet_times=() pg_times=()
for ((i = 1; i <= runs; i++)); do
  sync  # the previous PostgreSQL run's writes are flushed before freshet is timed
  t0=$(date +%s.%N)
  "$freshet" backfill --project "$root/bench/pit_project" --labels "$data/labels.csv" \
    --events "$events_file" --feature-service pit --out "$work/freshet.csv" --json >"$work/freshet.json"
  t1=$(date +%s.%N)
  freshet_times+=("$(awk "BEGIN {print $t1 - $t0}")")
  pg_json=$(bash "$peers/postgres_pit/run.sh" "$data" "$work/postgres.csv" | tail -n 1)
  pg_times+=("$(sed 's/.*"query_s":\([0-9.]*\).*/\1/' <<<"$pg_json")")
  echo "run $i: freshet ${freshet_times[-1]} s, postgres query ${pg_times[-1]} s" >&2
done
freshet_s=$(printf '%s\n' "${freshet_times[@]}" | median)
pg_s=$(printf '%s\n' "${pg_times[@]}" | median)

# Same rows (each side sorted by ts_ms, user_id, label), same values: numbers within 1e-6
# (relative beyond 1), text exactly; PostgreSQL's empty last_category and freshet's null are
# both an empty field. One exception: when a user's latest events before t share one ts,
# pit.sql's ORDER BY ts DESC LIMIT 1 picks any of them, while freshet (as its online engine)
# takes the last to arrive; such rows pass when freshet's value is that one.
identical=$(/usr/bin/python3 - "$work/freshet.csv" "$work/postgres.csv" "$data/events.csv" <<'EOF'
import csv, sys

def rows(path):
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        return r.fieldnames, sorted(r, key=lambda x: (int(x["ts_ms"]), x["user_id"], x["label"]))

def same(a, b):
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y))

def tie_winners(path, wanted):
    """(user, t) -> (categories of the user's latest events before t, the last one to arrive)."""
    latest = {}
    with open(path, newline="") as f:
        for e in csv.DictReader(f):
            for t in wanted.get(e["user_id"], ()):
                ts = int(e["ts_ms"])
                if ts >= t:
                    continue
                best = latest.get((e["user_id"], t))
                if best is None or ts > best[0]:
                    latest[(e["user_id"], t)] = (ts, [e["category"]])
                elif ts == best[0]:
                    best[1].append(e["category"])
    return {k: (set(cats), cats[-1]) for k, (ts, cats) in latest.items()}

(fc, fr), (pc, pr) = rows(sys.argv[1]), rows(sys.argv[2])
problems, ties = [], []
if fc != pc:
    problems.append(f"columns differ: freshet {fc} postgres {pc}")
elif len(fr) != len(pr):
    problems.append(f"row counts differ: freshet {len(fr)} postgres {len(pr)}")
else:
    for a, b in zip(fr, pr):
        for col in fc:
            if same(a[col], b[col]):
                continue
            if col == "last_category" and a["user_id"] == b["user_id"] and a["ts_ms"] == b["ts_ms"]:
                ties.append((a["user_id"], int(a["ts_ms"]), a[col], b[col]))
            else:
                problems.append(f"user {a['user_id']} ts {a['ts_ms']} {col}: freshet '{a[col]}' postgres '{b[col]}'")
if ties:
    wanted = {}
    for user, t, _, _ in ties:
        wanted.setdefault(user, []).append(t)
    winners = tie_winners(sys.argv[3], wanted)
    for user, t, ours, theirs in ties:
        cats, last = winners.get((user, t), (set(), None))
        if not (ours == last and theirs in cats):
            problems.append(f"user {user} ts {t} last_category: freshet '{ours}' postgres '{theirs}'")
    print(f"pit_vs_postgres: {len(ties)} last_category rows differ only by an event-time tie", file=sys.stderr)
for p in problems[:10]:
    print("pit_vs_postgres: " + p, file=sys.stderr)
print("false" if problems else "true")
EOF
)
rows=$(($(wc -l <"$work/freshet.csv") - 1))
events=$(($(wc -l <"$data/events.csv") - 1))
ratio=$(awk "BEGIN {printf \"%.1f\", $pg_s / $freshet_s}")
printf '{"bench":"pit","events":%d,"labels":%d,"format":"%s","runs":%d,"freshet_s":%.3f,"postgres_query_s":%.2f,"ratio":%s,"identical":%s}\n' \
  "$events" "$rows" "$format" "$runs" "$freshet_s" "$pg_s" "$ratio" "$identical"
[ "$identical" = true ]
