#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs each for SECONDS
# from its committed seed corpus. Fails when any target finds a crash, a leak, undefined
# behaviour or a broken check; the input is left in build-fuzz/artifacts/<target>/.
# Usage: fuzz/run.sh [SECONDS]   (default 20). Idempotent: reruns reuse the build and the
# corpus each target grew (build-fuzz/corpus/<target>/); fuzz/corpus/ is only read.
set -euo pipefail

seconds="${1:-20}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
targets=(record_parser_fuzzer spec_loader_fuzzer expr_fuzzer time_fuzzer state_decoder_fuzzer
         http_fuzzer model_artifact_fuzzer)

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DFRESHET_FUZZ=ON -DFRESHET_BUILD_BENCH=OFF \
  -DFRESHET_JEMALLOC=OFF "${launcher[@]}" >/dev/null
ninja -C "$build" fuzzers

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  dict=()
  if [ -f "$root/fuzz/dict/$t.dict" ]; then dict=(-dict="$root/fuzz/dict/$t.dict"); fi
  echo "== $t: ${seconds}s"
  if "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts" "${dict[@]}" \
      "$corpus" "$root/fuzz/corpus/$t" >"$build/$t.log" 2>&1; then
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$build/$t.log" | tr '\n' ' '
    echo
  else
    echo "FAILED: $t (log: $build/$t.log)"
    tail -40 "$build/$t.log"
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a finding"
