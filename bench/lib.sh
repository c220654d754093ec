# Shared by the benchmark scripts; sourced once `root` (the checkout) is set.

# bench_tools [COMMAND:PACKAGE...]: what the lab needs, the Debian package of
# each missing command, and the plain build.
bench_tools() {
  export DEBIAN_FRONTEND=noninteractive
  "$root/scripts/install-deps.sh"
  local need=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" > /dev/null || need+=("${pair#*:}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update
    apt-get install -y --no-install-recommends "${need[@]}"
  fi
  "$root/scripts/build.sh" plain > /dev/null
}

# bench_lab NAME DEFAULT_BASE: a work directory ($work, /tmp/ose-NAME.*) and
# the lab on ports $base.. ($OSE_BENCH_PORT_BASE or DEFAULT_BASE; 32 ports,
# so $base + 40 on are free). At exit every PID in $pids is killed, the lab
# stopped and $work removed (kept with OSE_BENCH_KEEP=1).
bench_lab() {
  work=$(mktemp -d "/tmp/ose-$1.XXXXXX")
  base=${OSE_BENCH_PORT_BASE:-$2}
  pids=()
  trap bench_cleanup EXIT
  "$root/scripts/lab.sh" up "$work/lab" "$base" > /dev/null
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  "$root/scripts/lab.sh" down "$work/lab" > /dev/null 2>&1 || true
  if [ -n "${OSE_BENCH_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
