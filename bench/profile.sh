#!/usr/bin/env bash
# Where a /probe's CPU goes, beside the bare handshake floor, in one run:
# starts the lab's stapling nginx and the exporter, drives /probe with wrk
# (-t1 -c8) while `perf record --call-graph=dwarf` samples the exporter, then
# samples bench/handshake_floor against the same nginx. Prints, for each, CPU
# per probe (or handshake) and the share of each stage: every sample is put
# in the innermost stage its stack names (libssl's handshake, the event loop,
# HTTP parsing, verification, rendering, ...). Asserts nothing. Root, Debian 12:
#
#   bench/profile.sh [SECONDS]
#   OSE_BENCH_KEEP=1 bench/profile.sh    keep perf.data files (perf report -i ...)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-8}
. "$root/bench/lib.sh"
bench_tools wrk:wrk perf:linux-perf
bench_lab profile 18840
port=$((base + 40))
target=127.0.0.1:$((base + 1))
printf '[global]\ntimeout = "5s"\n' > "$work/ose.toml"
"$root/build/ocsp_staple_exporter" --config.file="$work/ose.toml" \
  --web.listen-address="127.0.0.1:$port" --log.level=warn > "$work/ose.log" 2>&1 &
pid=$!
pids+=($pid)
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/-/healthy" > /dev/null && break
  sleep 0.1
done
url="http://127.0.0.1:$port/probe?target=$target"
curl -s "$url" | grep -q '^ocsp_response_status{status="good"} 1' || {
  echo "/probe does not read good" >&2
  exit 1
}


hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# The exporter under load.
wrk -t1 -c8 -d"$((secs + 2))s" "$url" > "$work/wrk.txt" &
wrk_pid=$!
sleep 1
c0=$(cpu_ticks "$pid")
p0=$(curl -s "http://127.0.0.1:$port/metrics" |
  awk -F'[ {]' '$1 == "ocsp_staple_exporter_http_requests_total" && /handler="\/probe"/ {s += $NF} END {print s + 0}')
perf record -q -F 999 --call-graph=dwarf,16384 -p "$pid" -o "$work/ose.data" -- sleep "$secs" \
  2> /dev/null
c1=$(cpu_ticks "$pid")
p1=$(curl -s "http://127.0.0.1:$port/metrics" |
  awk -F'[ {]' '$1 == "ocsp_staple_exporter_http_requests_total" && /handler="\/probe"/ {s += $NF} END {print s + 0}')
wait "$wrk_pid" || true
probes=$((p1 - p0))
ose_ms=$(awk -v c="$((c1 - c0))" -v hz="$hz" -v p="$probes" 'BEGIN {printf "%.3f", (p > 0 ? c / hz / p * 1000 : 0)}')

# The floor, alone, against the same nginx.
perf record -q -F 999 --call-graph=dwarf,16384 -o "$work/floor.data" -- \
  "$root/build/handshake_floor" 127.0.0.1 $((base + 1)) "$secs" > "$work/floor.txt" 2> /dev/null
floor_ms=$(sed -E 's/.* ([0-9.]+) ms CPU each.*/\1/' "$work/floor.txt")

echo "/probe under wrk -t1 -c8 for ${secs} s (perf at 999 Hz, DWARF stacks): $probes probes,"
echo "  $ose_ms ms CPU each (perf's own unwinding included); floor $floor_ms ms per handshake"
echo
echo "exporter, share of its CPU by stage (ms: of $ose_ms per probe):"
perf script -i "$work/ose.data" 2> /dev/null | awk -v ms="$ose_ms" -f "$root/bench/stages.awk" | sort -rn
echo
echo "floor, share of its CPU by stage (ms: of $floor_ms per handshake):"
perf script -i "$work/floor.data" 2> /dev/null | awk -v ms="$floor_ms" -f "$root/bench/stages.awk" | sort -rn
echo
echo "exporter, top symbols (self):"
perf report -i "$work/ose.data" --no-children --sort dso,sym --stdio -g none 2> /dev/null |
  grep -v '^#' | grep -v '^$' | head -15
