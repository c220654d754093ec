#!/usr/bin/env bash
# Configures and builds into a build folder.
#   scripts/build.sh [plain|asan|tsan] [TARGET...]  -> build/, build-asan/ or build-tsan/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-plain}
case "$kind" in
  plain) dir=$root/build; flags=() ;;
  # (the sanitizer builds run tests; the benchmarks are the plain build's)
  asan) dir=$root/build-asan; flags=(-DOSE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DOSE_BUILD_BENCH=OFF) ;;
  tsan) dir=$root/build-tsan; flags=(-DOSE_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  *) echo "usage: $0 [plain|asan|tsan] [TARGET...]" >&2; exit 2 ;;
esac
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$dir" "${generator[@]}" "${flags[@]}"
fi
shift || true
targets=()
for t in "$@"; do targets+=(--target "$t"); done
# OSE_BUILD_JOBS: fewer compile jobs (scripts/test.sh builds beside running suites).
cmake --build "$dir" --parallel "${OSE_BUILD_JOBS:-$(nproc)}" "${targets[@]}"
