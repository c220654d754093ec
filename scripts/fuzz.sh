#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (clang), under AddressSanitizer and
# UndefinedBehaviorSanitizer.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (SECONDS 0: build only)
# Builds build-fuzz/ with clang, writes fresh seed corpora, then runs every
# target (or the ones named: ocsp_response crl certificate config store
# http parsers starttls) for SECONDS each (default 25), starting from the seeds, the
# corpus grown by earlier runs and the committed regression inputs under
# tests/fuzz/regressions/. Fails on any crash, leak, timeout or sanitizer
# report; the input that caused it is kept in build-fuzz/artifacts/TARGET/
# (copy it into tests/fuzz/regressions/TARGET/ with the fix).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-25}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(ocsp_response crl certificate config store http parsers starttls)
dir=$root/build-fuzz
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
if [ ! -f "$dir/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$dir" "${generator[@]}" -DOSE_FUZZ=ON \
    -DOSE_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$dir" --parallel "${OSE_BUILD_JOBS:-$(nproc)}" --target ose_fuzz_seeds \
  $(printf 'fuzz_%s ' "${targets[@]}")
[ "$seconds" != 0 ] || exit 0

seeds=$dir/seeds
rm -rf "$seeds"
"$dir/tests/fuzz/ose_fuzz_seeds" "$seeds" "$root/tests/testdata/config"
export OSE_FUZZ_PKI=$seeds/pki
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# One target per core at a time (libFuzzer runs one process each); their
# reports are printed in order once each is done.
run_one() {  # TARGET: fuzz it; its report in $dir/fuzz_TARGET.report, exit status as the fuzzer's
  local t=$1 corpus=$dir/corpus/$1
  mkdir -p "$corpus" "$dir/artifacts/$t"
  # Seeds made with this run's PKI replace older ones of the same name.
  cp -f "$seeds/$t"/* "$corpus"/ 2>/dev/null || true
  {
    echo "=== fuzz_$t: ${seconds}s ==="
    if "$dir/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$dir/artifacts/$t/" \
        "$corpus" "$root/tests/fuzz/regressions/$t" > "$dir/fuzz_$t.log" 2>&1; then
      grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|cov: " "$dir/fuzz_$t.log" |
        tail -3 | sed "s/^/  /"
    else
      echo "  FAILED: see $dir/fuzz_$t.log and $dir/artifacts/$t/"
      tail -40 "$dir/fuzz_$t.log" | sed "s/^/  /"
      return 1
    fi
  } > "$dir/fuzz_$t.report"
}
failed=()
jobs_at_once=$(nproc)
for ((i = 0; i < ${#targets[@]}; i += jobs_at_once)); do
  batch=("${targets[@]:i:jobs_at_once}")
  pids=()
  for t in "${batch[@]}"; do
    run_one "$t" &
    pids+=($!)
  done
  for k in "${!batch[@]}"; do
    wait "${pids[$k]}" || failed+=("${batch[$k]}")
    cat "$dir/fuzz_${batch[$k]}.report"
  done
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failures in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no finding"
