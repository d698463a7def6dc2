#!/usr/bin/env bash
# Sets up the machine, builds, and runs the meditation demo on the embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec ./build/src/cli/freshet demo --project examples/meditation "$@"
