#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test twice: a plain build,
# then AddressSanitizer + UndefinedBehaviorSanitizer; then the suites that
# drive the multi-threaded exporter (probe loops on every core) once more
# under ThreadSanitizer; then fuzzes every parser for a bounded time
# (scripts/fuzz.sh). Run as root on Debian 12.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Each phase says how long it took (CI's budget is 25 minutes).
phase() { echo "=== $1 (at ${SECONDS}s) ==="; }

tsan_targets=(ocsp_staple_exporter isolation_tests integration_tests web_tests fleet_tests)
# A build on one core, niced, beside suites that mostly wait on servers
# (in a process group of its own); side_wait waits for it and fails with its
# log's end when it failed; side_finish stops it and finishes the same build
# on every core (ninja keeps what was built).
side_pid=
side_log=
side_build() {  # LOG COMMAND...
  side_log=$1
  shift
  mkdir -p "$(dirname "$side_log")"
  OSE_BUILD_JOBS=1 setsid nice -n 15 "$@" > "$side_log" 2>&1 &
  side_pid=$!
}
side_wait() {
  wait "$side_pid" || { tail -40 "$side_log"; exit 1; }
}
side_finish() {  # COMMAND...: the side build's command
  kill -TERM -- "-$side_pid" 2> /dev/null || true
  wait "$side_pid" 2> /dev/null || true
  "$@"
}
trap '[ -z "$side_pid" ] || kill -TERM -- "-$side_pid" 2> /dev/null || true' EXIT
for kind in plain asan; do
  phase "$kind build"
  "$root/scripts/build.sh" "$kind"
  dir=$root/build; [ "$kind" = asan ] && dir=$root/build-asan
  phase "$kind tests"
  if [ "$kind" = plain ]; then
    # Two at a time (the suites use distinct ports).
    ctest --test-dir "$dir" --output-on-failure --timeout 600 -j 2
  else
    # Unit tests two at a time; the suites that time things one at a time
    # under ASan, whose slower binaries leave them less slack. Those mostly
    # wait on their servers: meanwhile the ThreadSanitizer build takes one
    # core, niced, so the suites keep the other.
    ctest --test-dir "$dir" --output-on-failure --timeout 600 -j 2 -L unit
    side_build "$root/build-asan/tsan-build.log" "$root/scripts/build.sh" tsan "${tsan_targets[@]}"
    ctest --test-dir "$dir" --output-on-failure --timeout 600 -j 1 -LE 'unit|package'
    phase "tsan build (the rest)"
    side_wait
  fi
done

# ThreadSanitizer: the exporter binary the integration suites start is
# instrumented and halts on the first data race (the test then fails). The
# fuzzing build runs beside it the same way.
phase "tsan integration tests"
"$root/scripts/build.sh" tsan "${tsan_targets[@]}"
side_build "$root/build-tsan/fuzz-build.log" "$root/scripts/fuzz.sh" 0
TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
  ctest --test-dir "$root/build-tsan" --output-on-failure --timeout 600 \
  -R '^(integration|isolation_integration|web_integration|fleet_integration)$'

# Coverage-guided fuzzing of every parser of hostile input, under ASan and
# UBSan (clang, libFuzzer), bounded: 12 s per target (scripts/fuzz.sh with
# more seconds for a deeper run).
phase "fuzz build (the rest, on every core)"
side_finish "$root/scripts/fuzz.sh" 0
phase fuzz
"$root/scripts/fuzz.sh" 12
phase done
