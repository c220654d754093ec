#!/usr/bin/env bash
# The install paths a newcomer takes, proven without a container engine
# (issue 25), on clean Debian 12 roots made with mmdebstrap:
#  1. the .deb (cpack -G DEB in BUILD_DIR), installed with apt resolving the
#     Depends dpkg-shlibdeps computed: --version, --config.check of the
#     shipped config, systemd-analyze verify of the installed units;
#  2. the container image's runtime stage: a root from the Dockerfile's own
#     RUNTIME_PACKAGES, the binary copied in as the Dockerfile does: no
#     library missing, --version, --config.check of the config it copies.
#   tests/package_checks.sh BUILD_DIR     (the plain build, already built)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:?usage: $0 BUILD_DIR}")
cd "$root"
tmp=$(mktemp -d /tmp/ose-package.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$root/tests/check_lib.sh"
mirrors=("deb http://deb.debian.org/debian bookworm main"
         "deb http://deb.debian.org/debian-security bookworm-security main")
root_with() {  # DIR LOG PACKAGES...: a minimal Debian 12 root with them
  local dir=$1 log=$2
  shift 2
  local list
  list=$(IFS=,; echo "$*")
  timeout 600 mmdebstrap --variant=apt --mode=root --include="$list" bookworm "$dir" \
    "${mirrors[@]}" > "$log" 2>&1
}

# 1. The package.
check "cpack builds the .deb" cpack --config "$build/CPackConfig.cmake" -B "$tmp/pkg"
deb=$(ls "$tmp"/pkg/ocsp-staple-exporter_*_amd64.deb 2> /dev/null | head -1)
check "the .deb depends on the libraries dpkg-shlibdeps found" bash -c \
  "dpkg-deb -f '$deb' Depends | grep -q 'libssl3' && dpkg-deb -f '$deb' Depends | grep -q 'libtomlplusplus3'"
check "the .deb marks its /etc files as conffiles" bash -c \
  "dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./conffiles | grep -qx /etc/ocsp_staple_exporter/config.toml"

# 2. Its runtime list, as the Dockerfile and install-deps.sh name it.
image_packages=$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' deploy/docker/Dockerfile)
read -r -a image_list <<< "$image_packages"
check "the Dockerfile names its runtime packages" test "${#image_list[@]}" -gt 0
deps_list=$(sed -n '/^runtime=(/,/^)/p' scripts/install-deps.sh | grep -v '^runtime=(\|^)\|^#' | tr -s ' \n' '\n' | grep . | sort | tr '\n' ' ')
check "install-deps.sh runtime is the Dockerfile's list" test \
  "$deps_list" = "$(printf '%s\n' "${image_list[@]}" | sort | tr '\n' ' ')"

# Both roots at once (each mostly waits on the mirror).
# The .deb goes in by apt inside the new root, resolving its Depends from
# the mirror (copied in first: dpkg there cannot see the host's files).
# (systemd and procps as on any host that runs the unit, for its verify)
(timeout 600 mmdebstrap --variant=apt --mode=root --include=systemd,procps \
   --customize-hook="copy-in $deb /tmp" \
   --customize-hook="chroot \"\$1\" env DEBIAN_FRONTEND=noninteractive apt-get install -y /tmp/$(basename "$deb")" \
   bookworm "$tmp/debroot" "${mirrors[@]}" > "$tmp/debroot.log" 2>&1) &
deb_pid=$!
root_with "$tmp/imageroot" "$tmp/imageroot.log" "${image_list[@]}" &
image_pid=$!
wait "$deb_pid"; deb_rc=$?
wait "$image_pid"; image_rc=$?

check "mmdebstrap installs the .deb into a clean root" test "$deb_rc" = 0
[ "$deb_rc" = 0 ] || tail -20 "$tmp/debroot.log"
check "installed binary runs (--version)" chroot "$tmp/debroot" /usr/bin/ocsp_staple_exporter --version
check "shipped config passes --config.check" chroot "$tmp/debroot" /usr/bin/ocsp_staple_exporter \
  --config.file=/etc/ocsp_staple_exporter/config.toml --config.check
# (the nginx reload units name nginx: deploy_checks verifies them on a host with it)
check "the installed unit passes systemd-analyze verify" systemd-analyze verify \
  --root="$tmp/debroot" ocsp_staple_exporter.service
check "the unit runs the packaged binary" grep -q '^ExecStart=/usr/bin/ocsp_staple_exporter' \
  "$tmp/debroot/usr/lib/systemd/system/ocsp_staple_exporter.service"

check "mmdebstrap builds the image's runtime root" test "$image_rc" = 0
[ "$image_rc" = 0 ] || tail -20 "$tmp/imageroot.log"
install -D -m 0755 "$build/ocsp_staple_exporter" "$tmp/imageroot/usr/local/bin/ocsp_staple_exporter"
install -D -m 0644 examples/minimal.toml "$tmp/imageroot/etc/ocsp_staple_exporter/config.toml"
check "no library is missing in the image root" bash -c \
  "! chroot '$tmp/imageroot' ldd /usr/local/bin/ocsp_staple_exporter | grep 'not found'"
check "the image's binary runs (--version), as the image's user" chroot --userspec=65534:65534 \
  "$tmp/imageroot" /usr/local/bin/ocsp_staple_exporter --version
check "the image's config passes --config.check" chroot --userspec=65534:65534 "$tmp/imageroot" \
  /usr/local/bin/ocsp_staple_exporter --config.file=/etc/ocsp_staple_exporter/config.toml \
  --config.check
check "the Dockerfile passes the revision to build_info" grep -q \
  -- '-DOSE_GIT_REVISION="${OSE_REVISION}"' deploy/docker/Dockerfile

checks_done
