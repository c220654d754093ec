# Sourced by the check scripts (deploy_checks.sh, package_checks.sh):
# `check NAME COMMAND...` runs COMMAND, prints ok/FAILED with its output,
# and counts; `checks_done` prints the counts and fails when one failed.
passed=0
failed=0
check() {  # name command...
  local name=$1
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    failed=$((failed + 1))
    echo "FAILED: $name"
    echo "$out" | tail -40 | sed 's/^/    /'
  fi
}
checks_done() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
