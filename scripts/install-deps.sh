#!/usr/bin/env bash
# Installs every Debian 12 package the build, the lab and the tests need.
# Idempotent; run as root.
set -euo pipefail
packages=(
  # toolchain; clang with libFuzzer's runtime for scripts/fuzz.sh
  cmake g++ make pkg-config clang libclang-rt-14-dev
  # libraries
  libssl-dev prometheus-cpp-dev libcivetweb-dev libtomlplusplus-dev
  libspdlog-dev libgtest-dev libcurl4-openssl-dev nlohmann-json3-dev
  zlib1g-dev libc-ares-dev libboost-dev libyaml-cpp-dev libcrypt-dev
  # XMPP STARTTLS: the server's stream is XML (expat, streaming)
  libexpat1-dev
  # lab and integration tests: real servers and clients
  openssl nginx haproxy faketime curl ca-certificates procps iproute2 dnsmasq-base
  apache2-utils
  # mail servers of the lab, stapling (Exim) or not (Dovecot) over STARTTLS
  exim4-daemon-heavy dovecot-imapd dovecot-pop3d
  # the other STARTTLS protocols, real servers (none of them staples)
  postgresql vsftpd slapd prosody
  # HTTP servers of the lab that staple in their own ways
  lighttpd lighttpd-mod-openssl apache2 caddy
  # alert rules, dashboards and deployment checks
  prometheus prometheus-alertmanager yamllint systemd
  # the Helm chart's renderer (scripts/helm-render: Go's text/template and
  # Sprig, as Helm; Debian has no Helm package)
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev python3-yaml
  # the landing page in a real browser (tests/browser: playwright-core drives it)
  chromium fonts-dejavu-core
)
# Node.js and npm for tests/browser, from Debian unless the machine has them.
command -v npm > /dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  # Debian starts the services it installs (nginx, exim4, dovecot,
  # prometheus...); the lab and the tests run their own on 127.0.0.1, so keep
  # the system's from starting (and from taking ports) while installing.
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
