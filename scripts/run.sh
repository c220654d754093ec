#!/usr/bin/env bash
# Installs what is needed, builds, and runs the exporter.
#   scripts/run.sh                  start the local lab (scripts/lab.sh) and watch it
#   scripts/run.sh CONFIG [FLAGS]   run against your own config file
# Run as root on Debian 12. Ctrl-C stops the exporter and the lab.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/ocsp_staple_exporter
listen=${OSE_LISTEN:-127.0.0.1:9830}

if [ $# -gt 0 ]; then
  # Your config: what the build needs, no lab servers.
  "$root/scripts/install-deps.sh" build
  "$root/scripts/build.sh" plain
  config=$1
  shift
  exec "$bin" --config.file="$config" --web.listen-address="$listen" "$@"
fi
"$root/scripts/install-deps.sh" build lab
"$root/scripts/build.sh" plain

lab=$root/lab
# With every STARTTLS server (PostgreSQL, vsftpd, slapd, Prosody) too.
OSE_LAB_STARTTLS=${OSE_LAB_STARTTLS:-1} "$root/scripts/lab.sh" up "$lab" "${OSE_LAB_PORT_BASE:-18440}"
trap '"$root/scripts/lab.sh" down "$lab"' EXIT
cat <<MSG

  Lab running in $lab (PKI in $lab/pki, server logs in $lab/logs).
  Exporter metrics:  http://$listen/metrics
  Landing page:      http://$listen/
  Try:               curl -s http://$listen/metrics | grep ocsp_response_status
                     curl -s http://$listen/metrics | grep -E 'ocsp_(cert_)?crl_status'
                     $bin probe 127.0.0.1:$(( ${OSE_LAB_PORT_BASE:-18440} + 2 ))
  Ctrl-C stops the exporter and the lab.

MSG
"$bin" --config.file="$lab/exporter.toml" --web.listen-address="$listen"
