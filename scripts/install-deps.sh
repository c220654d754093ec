#!/usr/bin/env bash
# Installs the Debian 12 packages a purpose needs. Idempotent; run as root.
#   scripts/install-deps.sh [runtime|build|lab|test]...   (default: all four)
#   runtime  the shared libraries the exporter links (what a host running it needs)
#   build    runtime + compiler, CMake and the headers (scripts/build.sh)
#   lab      the real servers of the local lab (scripts/lab.sh, scripts/run.sh)
#   test     lab + the test tools: Prometheus, promtool, the browser, fuzzing, Helm
# Services Debian starts on install (nginx, exim4, dovecot, prometheus...)
# are kept from starting: the lab and the tests run their own on 127.0.0.1.
set -euo pipefail
# (as `ldd build/ocsp_staple_exporter` lists them; the Dockerfile's runtime
# stage installs the same)
runtime=(
  libssl3 libcurl4 libc-ares2 libtomlplusplus3 libspdlog1.10 libfmt9 libyaml-cpp0.7
  libexpat1 zlib1g libcrypt1 libtcmalloc-minimal4 ca-certificates
)
build=(
  # toolchain; clang with libFuzzer's runtime for scripts/fuzz.sh
  cmake g++ make pkg-config ninja-build clang libclang-rt-14-dev
  # the Debian package: cpack's DEB generator computes Depends with dpkg-shlibdeps
  dpkg-dev
  # libraries
  libssl-dev prometheus-cpp-dev libcivetweb-dev libtomlplusplus-dev
  libspdlog-dev libgtest-dev libcurl4-openssl-dev nlohmann-json3-dev
  zlib1g-dev libc-ares-dev libboost-dev libyaml-cpp-dev libcrypt-dev
  # XMPP STARTTLS: the server's stream is XML (expat, streaming)
  libexpat1-dev
  # tcmalloc, the exporter's malloc (gperftools)
  libgoogle-perftools-dev
)
lab=(
  # real servers and clients
  openssl nginx haproxy faketime curl ca-certificates procps iproute2 dnsmasq-base
  apache2-utils golang-go
  # mail servers, stapling (Exim) or not (Dovecot) over STARTTLS
  exim4-daemon-heavy dovecot-imapd dovecot-pop3d
  # the other STARTTLS protocols, real servers (none of them staples)
  postgresql vsftpd slapd prosody
  # HTTP servers that staple in their own ways
  lighttpd lighttpd-mod-openssl apache2 caddy
)
test=(
  # alert rules, dashboards and deployment checks
  prometheus prometheus-alertmanager yamllint systemd python3-yaml
  # clean Debian roots for the package and image checks (tests/package_checks.sh)
  mmdebstrap
  # the Helm chart's values.schema.json (tests/helm_values_check.py)
  python3-jsonschema
  # the Helm chart's renderer (scripts/helm-render: Go's text/template and
  # Sprig, as Helm; Debian has no Helm package)
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
  # the landing page in a real browser (tests/browser: playwright-core drives it)
  chromium fonts-dejavu-core
)
[ $# -gt 0 ] || set -- runtime build lab test
packages=()
for purpose in "$@"; do
  case $purpose in
    runtime) packages+=("${runtime[@]}") ;;
    build) packages+=("${runtime[@]}" "${build[@]}") ;;
    lab) packages+=("${lab[@]}")
      # Node.js for the lab's Node server, from Debian unless the machine has it.
      command -v node > /dev/null || packages+=(nodejs) ;;
    test) packages+=("${lab[@]}" "${test[@]}")
      # Node.js and npm for the lab and tests/browser, unless the machine has them.
      command -v npm > /dev/null || packages+=(nodejs npm) ;;
    *) echo "install-deps: unknown purpose $purpose (runtime, build, lab, test)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "install-deps: installing ${missing[*]}"
  # Keep the services these packages ship from starting (and from taking
  # ports) while installing; an existing policy-rc.d is left as it is.
  guard=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    guard=1
  fi
  trap '[ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
