#!/usr/bin/env bash
# Sets up the machine, builds, and runs every test (unit, cross-module, end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j2 --timeout 900
