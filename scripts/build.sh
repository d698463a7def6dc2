#!/usr/bin/env bash
# Configures and builds freshet into build/ (Release with debug info; FRESHET_DEBUG_INFO=0 drops
# the debug info for a faster build, as CI does). Uses ccache when it is installed. Extra args
# go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
flags=()
if command -v ccache >/dev/null; then flags+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
debug=-g
if [ "${FRESHET_DEBUG_INFO:-1}" = 0 ]; then debug=""; fi
flags+=("-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 $debug -DNDEBUG")
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${flags[@]}" "$@" >/dev/null
ninja -C build
