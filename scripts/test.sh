#!/usr/bin/env bash
# Sets up the machine, builds, and runs every test (unit, cross-module, end-to-end), then
# each fuzz target for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j2 --timeout 900
# Every fuzz target from its seed corpus for a bounded time (fuzz/README.md).
bash fuzz/run.sh "${FRESHET_FUZZ_SECONDS:-15}"
