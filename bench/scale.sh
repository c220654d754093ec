#!/usr/bin/env bash
# The fleet-scale run: TARGETS [[tls]] targets (default 50,000) at
# INTERVAL seconds (default 60), timeout 5s, every tenth one on a socket
# that accepts and never answers, the others on the lab's stapling nginx
# (each with its own SNI name, so each is its own verification input).
# After SECONDS (default 2.5 intervals) it prints probes done, stale targets, healthy targets not reading
# good, scheduling lag percentiles, exporter CPU per probe against the bare
# handshake floor, RSS, and the time and size of one gzip /metrics scrape.
# With OSE_BENCH_CRL_ENTRIES=N (250000: a public CA's CRL), the healthy
# targets are the lab's CRL-only leaf (no OCSP URL, revocation = "crl") and
# the lab CA's CRL is replaced by one of N entries, so every probe looks its
# leaf up in that one shared CRL; the floor is then taken on the same port.
# Asserts nothing. Run as root on Debian 12:
#
#   bench/scale.sh [TARGETS] [INTERVAL] [SECONDS]
#   bench/scale.sh 100000 120          twice the fleet at the same probe rate
#   OSE_BENCH_CRL_ENTRIES=250000 bench/scale.sh 50000 60 150
#   OSE_BENCH_CRL_ENTRIES=250000 OSE_BENCH_REVOCATION=ocsp bench/scale.sh   the same, no lookup
#   OSE_BENCH_LOG_LEVEL=info OSE_BENCH_KEEP=1 bench/scale.sh ...   keep the logs
#   OSE_BENCH_PRELOAD=libmimalloc.so.2 bench/scale.sh ...   the exporter (only) with another malloc
#   OSE_BENCH_PERF=/tmp/scale.data bench/scale.sh ...   perf record (DWARF stacks) of the
#     exporter for 10 s from one interval + 10 s on, then its CPU by stage (bench/stages.awk)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-50000}
interval=${2:-60}
secs=${3:-$((interval * 5 / 2))}
timeout=5
. "$root/bench/lib.sh"
bench_tools
bench_lab scale 18740
port=$((base + 40))   # after the lab's 32 ports
hole_port=$((base + 41))
nginx=127.0.0.1:$((base + 1))
crl_entries=${OSE_BENCH_CRL_ENTRIES:-0}
sni_fmt='t%d.lab.test'
extra=''
floor_port=$((base + 1))
if [ "$crl_entries" -gt 0 ]; then
  # Written beside, then renamed over the CRL the lab's nginx serves.
  "$root/build/ose_crl_bench" --write "$work/lab/pki/crl/big.crl" "$crl_entries" \
    "$work/lab/pki/ca.pem" "$work/lab/pki/ca.key"
  mv "$work/lab/pki/crl/big.crl" "$work/lab/pki/crl/ca.crl"
  nginx=127.0.0.1:$((base + 3))
  floor_port=$((base + 3))
  sni_fmt='crlonly.lab.test'
  # OSE_BENCH_REVOCATION=ocsp: the same servers without the CRL lookup (the peer figure).
  extra="revocation = \"${OSE_BENCH_REVOCATION:-crl}\"\n"
fi

# The black hole: listens, never accepts; past its backlog, SYNs are dropped.
perl -MIO::Socket::INET -e '
  my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0],
                                Listen => 65535, ReuseAddr => 1) or die "listen: $!";
  sleep 1000000;' "$hole_port" &
pids+=($!)

awk -v n="$n" -v nginx="$nginx" -v hole="127.0.0.1:$hole_port" -v iv="$interval" \
  -v to="$timeout" -v sni="$sni_fmt" -v extra="$extra" 'BEGIN {
  printf "[global]\ninterval = \"%ds\"\ntimeout = \"%ds\"\nconcurrency = 4096\n", iv, to
  for (i = 0; i < n; i++) {
    if (i % 10 == 9) printf "\n[[tls]]\nname = \"t%d\"\naddress = \"%s\"\n", i, hole
    else printf "\n[[tls]]\nname = \"t%d\"\naddress = \"%s\"\nserver_name = \"" sni "\"\n" extra, i, nginx, i
  }
}' > "$work/scale.toml"

floor=$("$root/build/handshake_floor" 127.0.0.1 "$floor_port" 5)
floor_ms=$(sed -E 's/.* ([0-9.]+) ms CPU each.*/\1/' <<< "$floor")

t_start=$(date +%s.%N)
LD_PRELOAD="${OSE_BENCH_PRELOAD:-}" "$root/build/ocsp_staple_exporter" --config.file="$work/scale.toml" \
  --web.listen-address="127.0.0.1:$port" --log.level="${OSE_BENCH_LOG_LEVEL:-warn}" \
  > "$work/exporter.log" 2>&1 &
pid=$!
pids+=($pid)
until curl -sf "http://127.0.0.1:$port/-/healthy" > /dev/null; do
  kill -0 "$pid" 2> /dev/null || { cat "$work/exporter.log" >&2; exit 1; }
  sleep 0.05
done
t_healthy=$(date +%s.%N)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
metric() { awk -v m="$1" '$1 == m {print $2}' "$2"; }

cpu0=$(cpu_ticks "$pid")
t_ready=""
end=$(($(date +%s) + secs))
while [ "$(date +%s)" -lt "$end" ]; do
  if [ -z "$t_ready" ] && curl -sf "http://127.0.0.1:$port/-/ready" > /dev/null; then
    t_ready=$(date +%s.%N)
    # Steady state starts here: every target has been verified once. The
    # scrape's own CPU is left out of the window.
    curl -s --compressed -o "$work/ready.txt" "http://127.0.0.1:$port/metrics"
    cpu_ready=$(cpu_ticks "$pid")
  fi
  # Profile 10 s once the first round is surely over (one interval + 10 s).
  if [ -n "${OSE_BENCH_PERF:-}" ] && [ -z "${perf_started:-}" ] &&
     [ "$(date +%s)" -ge $((end - secs + interval + 10)) ]; then
    perf_started=1
    perf record -q -F 999 --call-graph=dwarf,16384 -p "$pid" -o "$OSE_BENCH_PERF" -- sleep 10 \
      2> /dev/null &
  fi
  sleep 1
done
cpu1=$(cpu_ticks "$pid")
read -r scrape_s gz_bytes < <(curl -s --compressed -o "$work/metrics.txt" \
  -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$port/metrics")
now=$(date +%s)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
probes=$(metric ocsp_staple_exporter_scheduling_lag_seconds_count "$work/metrics.txt")

echo "targets: $n ($((n / 10)) black-holed), interval ${interval}s, timeout ${timeout}s, after ${secs}s"
if [ "$crl_entries" -gt 0 ]; then
  echo "CRL: $crl_entries entries, $(($(stat -c %s "$work/lab/pki/crl/ca.crl") / 1024)) KiB DER, shared by every healthy target"
fi
awk -v s="$t_start" -v h="$t_healthy" -v r="${t_ready:-0}" 'BEGIN {
  printf "start-up: serving after %.2f s; ready after %s\n", h - s, (r > 0 ? sprintf("%.1f s", r - s) : "(not yet)")
}'
awk -v now="$now" -v limit=$((interval + timeout + 10)) -v n="$n" '
  /^ocsp_probe_timestamp_seconds\{/ {
    seen++; if (now - $2 > limit) stale++
  }
  /^ocsp_response_status\{/ && $2 == 1 {
    match($0, /target="t[0-9]+"/); t = substr($0, RSTART + 9, RLENGTH - 10) + 0
    match($0, /status="[a-z]+"/); st = substr($0, RSTART + 8, RLENGTH - 9)
    if (t % 10 != 9) { healthy[st]++; if (st != "good") notgood++ }
  }
  /^ocsp_cert_crl_status\{/ && $2 == 1 {
    match($0, /status="[a-z]+"/); crl[substr($0, RSTART + 8, RLENGTH - 9)]++
  }
  /^ocsp_probe_failures_total\{/ && $2 > 0 {
    match($0, /reason="[a-z_]+"/); fails[substr($0, RSTART + 8, RLENGTH - 9)] += $2
  }
  END {
    printf "probed at least once: %d of %d; stale (last probe older than %d s): %d\n", seen, n, limit, stale + (n - seen)
    line = ""; for (s in healthy) line = line " " s "=" healthy[s]
    printf "healthy targets not reading good: %d (healthy by state:%s)\n", notgood, line
    line = ""; for (r in fails) line = line " " r "=" fails[r]
    printf "failed probes by reason:%s\n", line
    line = ""; for (c in crl) line = line " " c "=" crl[c]
    if (line != "") printf "leaves by CRL status:%s\n", line
  }' "$work/metrics.txt"
awk '
  /^ocsp_staple_exporter_scheduling_lag_seconds_bucket/ {
    match($0, /le="[^"]+"/); le[++k] = substr($0, RSTART + 4, RLENGTH - 5); c[k] = $2
  }
  /^ocsp_staple_exporter_scheduling_lag_seconds_count/ { total = $2 }
  END {
    split("0.5 0.9 0.99", qs, " ")
    line = "scheduling lag (upper bucket bound):"
    for (q = 1; q <= 3; q++) {
      for (i = 1; i <= k; i++) if (c[i] >= qs[q] * total) break
      line = line sprintf(" p%g <= %ss", qs[q] * 100, le[i])
    }
    print line
  }' "$work/metrics.txt"
awk -v c0="$cpu0" -v c1="$cpu1" -v hz="$hz" -v p="$probes" -v f="$floor_ms" -v secs="$secs" 'BEGIN {
  cpu = (c1 - c0) / hz
  printf "probes started: %d (%.0f/s); exporter CPU %.1f s = %.0f%% of one core\n", p, p / secs, cpu, cpu / secs * 100
  printf "CPU per probe, whole run (first verifications included): %.3f ms; floor %.3f ms per bare handshake; ratio %.2fx\n", cpu / p * 1000, f, cpu / p * 1000 / f
}'
if [ -n "$t_ready" ]; then
  p_ready=$(metric ocsp_staple_exporter_scheduling_lag_seconds_count "$work/ready.txt")
  awk -v c0="$cpu_ready" -v c1="$cpu1" -v hz="$hz" -v p0="$p_ready" -v p1="$probes" -v f="$floor_ms" 'BEGIN {
    cpu = (c1 - c0) / hz; p = p1 - p0
    if (p > 0) printf "CPU per probe, steady state (after ready, %d probes): %.3f ms; ratio %.2fx\n", p, cpu / p * 1000, cpu / p * 1000 / f
  }'
fi
awk '/^ocsp_staple_exporter_verification_cache_entries / {e = $2}
     /^ocsp_staple_exporter_verification_cache_capacity / {c = $2}
     /^ocsp_staple_exporter_verification_cache_lookups_total\{result="hit"\}/ {h = $2}
     /^ocsp_staple_exporter_verification_cache_lookups_total\{result="miss"\}/ {m = $2}
     END {if (c) printf "verification cache: %d entries (cap %d), %d hits, %d misses\n", e, c, h, m}' \
  "$work/metrics.txt"
echo "RSS: $((rss / 1024)) MiB now, $((hwm / 1024)) MiB peak"
awk -v t="$scrape_s" -v gz="$gz_bytes" -v raw="$(wc -c < "$work/metrics.txt")" 'BEGIN {
  printf "/metrics scrape (gzip): %.3f s, %.1f MB on the wire, %.1f MB of text\n", t, gz / 1e6, raw / 1e6
}'
if [ -n "${OSE_BENCH_PERF:-}" ] && [ -f "$OSE_BENCH_PERF" ]; then
  echo "exporter CPU by stage, 10 s of the steady state (perf: $OSE_BENCH_PERF):"
  perf script -i "$OSE_BENCH_PERF" 2> /dev/null | awk -v ms=0 -f "$root/bench/stages.awk" |
    sort -rn | cut -c1-8,20-
fi
