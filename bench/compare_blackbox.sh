#!/usr/bin/env bash
# Side by side, in one run: /probe of ocsp_staple_exporter and of Debian's
# prometheus-blackbox-exporter (tcp prober with TLS, no OCSP) against the
# lab's stapling nginx, under the same wrk load, with the bare handshake
# floor (bench/handshake_floor.cc) measured against the same nginx.
# Prints probes/s, exporter CPU per probe, the floor and the ratios.
# Asserts nothing. Run as root on Debian 12:
#
#   bench/compare_blackbox.sh [SECONDS] [CONNECTIONS]
#
# OSE_BIN=PATH measures another build of the exporter (e.g. the previous
# commit's, to show a change is no slower).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
conns=${2:-8}
. "$root/bench/lib.sh"
bench_tools wrk:wrk prometheus-blackbox-exporter:prometheus-blackbox-exporter
bench_lab bench 18640
ose_port=$((base + 40))   # after the lab's 32 ports
bb_port=$((base + 41))
target=127.0.0.1:$((base + 1))   # nginx, ssl_stapling on, good staple

cat > "$work/ose.toml" << TOML
[global]
timeout = "5s"
TOML
cat > "$work/blackbox.yml" << YAML
modules:
  tls:
    prober: tcp
    timeout: 5s
    tcp:
      tls: true
      tls_config:
        insecure_skip_verify: true
YAML
"${OSE_BIN:-$root/build/ocsp_staple_exporter}" --config.file="$work/ose.toml" \
  --web.listen-address="127.0.0.1:$ose_port" --log.level=warn > "$work/ose.log" 2>&1 &
pids+=($!)
ose_pid=$!
prometheus-blackbox-exporter --config.file="$work/blackbox.yml" \
  --web.listen-address="127.0.0.1:$bb_port" --log.level=warn > "$work/bb.log" 2>&1 &
pids+=($!)
bb_pid=$!
for port in $ose_port $bb_port; do
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/-/healthy" > /dev/null && break
    sleep 0.1
  done
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# One exporter under load: prints "requests cpu_seconds".
drive() {
  local pid=$1 url=$2
  local before after out
  before=$(cpu_ticks "$pid")
  out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "$url")
  after=$(cpu_ticks "$pid")
  local n
  n=$(awk '/requests in/ {print $1}' <<< "$out")
  echo "$n $(awk -v a="$after" -v b="$before" -v hz="$hz" 'BEGIN {print (a - b) / hz}')"
}

ose_url="http://127.0.0.1:$ose_port/probe?target=$target"
bb_url="http://127.0.0.1:$bb_port/probe?target=$target&module=tls"
# Both must answer a successful probe before we time them.
curl -s "$ose_url" | grep -q '^ocsp_response_status{status="good"} 1' || {
  echo "ocsp_staple_exporter's /probe does not read good:" >&2
  curl -s "$ose_url" >&2
  exit 1
}
curl -s "$bb_url" | grep -q '^probe_success 1' || { echo "blackbox probe failed" >&2; exit 1; }

floor=$("$root/build/handshake_floor" 127.0.0.1 $((base + 1)) "$secs")
read -r ose_n ose_cpu < <(drive "$ose_pid" "$ose_url")
read -r bb_n bb_cpu < <(drive "$bb_pid" "$bb_url")
floor_ms=$(sed -E 's/.* ([0-9.]+) ms CPU each.*/\1/' <<< "$floor")

awk -v on="$ose_n" -v oc="$ose_cpu" -v bn="$bb_n" -v bc="$bb_cpu" -v f="$floor_ms" \
  -v s="$secs" -v c="$conns" 'BEGIN {
  o = oc / on * 1000; b = bc / bn * 1000;
  printf "load: wrk -t1 -c%d -d%ds against each /probe; target nginx (stapling, TLS 1.3)\n", c, s
  printf "floor (bare OpenSSL handshake loop): %.3f ms CPU per handshake\n", f
  printf "ocsp_staple_exporter: %7.0f probes/s  %.3f ms CPU/probe  %.2fx floor\n", on / s, o, o / f
  printf "blackbox_exporter:    %7.0f probes/s  %.3f ms CPU/probe  %.2fx floor\n", bn / s, b, b / f
  printf "ocsp_staple_exporter / blackbox_exporter CPU per probe: %.2f\n", o / b
  printf "probes per CPU-second, ocsp_staple_exporter / blackbox_exporter: %.2f\n", b / o
}'
