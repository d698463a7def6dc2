#!/usr/bin/env bash
# End-to-end: `freshet backfill` and a real PostgreSQL (../shared/peers/postgres_pit) build the
# same point-in-time training set from the same small data set (20K events, 2K labels over 500
# users in 2 h, so windows hold several events), from CSV and from NDJSON events.
# Usage: tests/pit_postgres_test.sh FRESHET_BINARY
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
freshet=${1:?usage: pit_postgres_test.sh FRESHET_BINARY}
# The peers live beside the repository (../shared/peers), not in it. Where a checkout has none,
# the comparison cannot run: report it as skipped (CTest SKIP_RETURN_CODE 77), not passed.
peers=${FRESHET_PEERS:-$root/../shared/peers}
[ -f "$peers/gen_events.py" ] || [ ! -f /work/shared/peers/gen_events.py ] || peers=/work/shared/peers
if [ ! -f "$peers/gen_events.py" ]; then
  echo "pit_postgres_test: SKIPPED: no peers at $peers (set FRESHET_PEERS)" >&2
  exit 77
fi
export FRESHET_PEERS=$peers
data=$(mktemp -d /tmp/freshet-pit-test-XXXXXX)
trap 'rm -rf "$data"' EXIT
for format in csv ndjson; do
  result=$(bash "$root/bench/pit_vs_postgres.sh" --freshet "$freshet" --data "$data" --events 20000 \
    --labels 2000 --users 500 --hours 2 --runs 1 --format "$format" | tail -n 1)
  echo "$result"
  grep -q '"identical":true' <<<"$result" || { echo "FAIL: $format training sets differ" >&2; exit 1; }
  grep -q '"labels":2000,' <<<"$result" || { echo "FAIL: expected 2000 rows" >&2; exit 1; }
done
echo "pit_postgres_test: freshet and PostgreSQL agree on every value"
