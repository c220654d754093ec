#!/usr/bin/env bash
# The shape of /metrics for the lab: every series the exporter exports, sorted,
# with measured values (times, sizes, counters), timestamps and the build's
# revision masked; states (status, success, present, mode) kept. Two trees that
# export the same series print the same text, so a restructuring can prove it
# changed nothing a dashboard or an alert sees:
#
#   scripts/metrics-shape.sh > before.txt      (on the old tree)
#   scripts/metrics-shape.sh > after.txt       (on the new tree)
#   diff before.txt after.txt
#
# With --page, the landing page follows the metrics, its times, revision and
# the lab's folder masked, its lines sorted (rows of one group are ordered by
# their margin to nextUpdate, which races between live responses fetched in
# the same second; the order itself is unit-tested).
#
# Starts the lab (scripts/lab.sh) on its own ports, runs build/ocsp_staple_exporter
# (or $OSE_BIN) with the lab's config until every target has been probed and
# the stapling engine has published, scrapes, and stops everything. Run as root.
set -euo pipefail
page=0
[ "${1:-}" = --page ] && page=1
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${OSE_BIN:-$root/build/ocsp_staple_exporter}
base=${OSE_SHAPE_PORT_BASE:-18740}
port=$((base + 40))   # after the lab's 32 ports
work=$(mktemp -d /tmp/ose-shape.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
  "$root/scripts/lab.sh" down "$work/lab" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$root/scripts/lab.sh" up "$work/lab" "$base" > "$work/lab.log" 2>&1 ||
  { cat "$work/lab.log" >&2; exit 1; }
"$bin" --config.file="$work/lab/exporter.toml" --web.listen-address="127.0.0.1:$port" \
  --log.level=warn > "$work/exporter.log" 2>&1 &
pid=$!

# Every configured target has a probe_success series, and two scrapes 3 s
# apart show the same set of series (first probes, CRL fetches and the
# engine's first publication are over).
series() {
  curl -sf "http://127.0.0.1:$port/metrics" | grep -v '^#' | sed -E 's/ [^ ]+( [0-9]+)?$//' | sort
}
targets=$(grep -c '^\[\[\(tls\|responder\|file\|crl\)\]\]' "$work/lab/exporter.toml")
prev=
for _ in $(seq 1 60); do
  sleep 3
  now=$(series || true)
  probed=$(grep -c '^ocsp_probe_success{' <<< "$now" || true)
  if [ "$probed" -ge "$targets" ] && [ "$now" = "$prev" ]; then break; fi
  prev=$now
done
[ "$probed" -ge "$targets" ] || { echo "only $probed of $targets targets probed" >&2; exit 1; }

# Values that measure time, sizes or counts of events are masked; the values
# of states (status, success, present, mode...) are kept: they must not change.
curl -sf "http://127.0.0.1:$port/metrics" |
  sed -E -e '/^#/b' -e 's/(revision|version|goversion|cxx|openssl_version|sha256_fingerprint)="[^"]*"/\1="*"/g' |
  awk '/^#/ { print; next }
       { i = match($0, / [^ ]+$/); series = substr($0, 1, i - 1); value = substr($0, i + 1)
         name = series; sub(/\{.*/, "", name)
         if (name ~ /(_total|_bucket|_sum|_count|_seconds|_bytes|_number)$/) value = "*"
         print series, value }' | sort
if [ $page = 1 ]; then
  echo "--- landing page"
  curl -sf "http://127.0.0.1:$port/" |
    sed -E -e 's#<time[^>]*>[^<]*</time>#<time/>#g' -e 's/Version [^ ]+ \([^)]*\)/Version */' \
      -e "s#$work#WORK#g" -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/TIME/g' \
      -e 's/(TIME|[0-9]+ (s|min|h|d)( [0-9]+ (min|h))?) (ago|overdue)/AGO/g' | sort
fi
