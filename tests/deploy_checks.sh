#!/usr/bin/env bash
# Checks what ships under deploy/ and dashboards/ with the real tools:
# promtool (rules, rule unit tests, scrape configs), yamllint, systemd-analyze,
# the generated PrometheusRule, and the example config of the ConfigMap.
#   tests/deploy_checks.sh PATH/TO/ocsp_staple_exporter
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "${1:?usage: $0 EXPORTER_BINARY}")
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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
    echo "$out" | sed 's/^/    /'
  fi
}

check "promtool check rules" promtool check rules deploy/prometheus/alerts.yml
check "promtool test rules" promtool test rules tests/prometheus/alerts_test.yml
check "amtool check-config" amtool check-config deploy/alertmanager/alertmanager.yml
check "Alertmanager groups by alertname, job and target" bash -c \
  "amtool config routes test --config.file=deploy/alertmanager/alertmanager.yml \
     alertname=OCSPStapleMissing target=a | grep -qx oncall"
check "every alert has severity, summary, description and a runbook section" \
  python3 tests/alerts_check.py
check "promtool check config (static)" promtool check config --syntax-only deploy/prometheus/prometheus.yml
check "promtool check config (/probe)" promtool check config --syntax-only deploy/prometheus/probe.yml
check "yamllint" yamllint -s .
sed "s|/usr/local/bin/ocsp_staple_exporter|$bin|" deploy/systemd/ocsp_staple_exporter.service \
  > "$tmp/ocsp_staple_exporter.service"
check "systemd-analyze verify" systemd-analyze verify "$tmp/ocsp_staple_exporter.service"
# The nginx reload path unit and its service, verified together (the path
# unit names the service).
cp deploy/systemd/ocsp-staple-nginx-reload.path deploy/systemd/ocsp-staple-nginx-reload.service \
  "$tmp/"
check "systemd-analyze verify (nginx reload path unit)" systemd-analyze verify \
  "$tmp/ocsp-staple-nginx-reload.path" "$tmp/ocsp-staple-nginx-reload.service"
check "path unit watches the exporter's staples folder" grep -qx \
  'PathChanged=/var/lib/ocsp_staple_exporter/staples' deploy/systemd/ocsp-staple-nginx-reload.path
check "path unit starts the shipped reload service" grep -qx \
  'Unit=ocsp-staple-nginx-reload.service' deploy/systemd/ocsp-staple-nginx-reload.path
check "exporter unit creates the staples folder" grep -q \
  '^StateDirectory=.*ocsp_staple_exporter/staples' deploy/systemd/ocsp_staple_exporter.service
scripts/gen-prometheusrule.sh > "$tmp/prometheusrule.yaml"
check "PrometheusRule is generated from alerts.yml" diff -u deploy/kubernetes/prometheusrule.yaml \
  "$tmp/prometheusrule.yaml"
sed -n '/config.toml: |/,$p' deploy/kubernetes/configmap.yaml | tail -n +2 | sed 's/^    //' \
  > "$tmp/config.toml"
check "ConfigMap config passes --config.check" "$bin" --config.file="$tmp/config.toml" --config.check
shard_replicas=$(sed -n 's/^  replicas: \([0-9]*\)$/\1/p' deploy/kubernetes/sharded/statefulset.yaml)
check "sharded StatefulSet: --shard.count equals replicas ($shard_replicas)" grep -q \
  -- "- --shard.count=$shard_replicas\$" deploy/kubernetes/sharded/statefulset.yaml
check "sharded StatefulSet: the index is the pod ordinal" grep -q \
  "fieldPath: metadata.labels\['apps.kubernetes.io/pod-index'\]" \
  deploy/kubernetes/sharded/statefulset.yaml
# The Helm chart, rendered by scripts/helm-render (Go's text/template and
# Sprig, as Helm; Debian has no Helm), with its default values and each
# ci/*-values.yaml: yamllint, the checks of tests/helm_check.py, and the
# rendered config through --config.check.
chart=deploy/helm/ocsp-staple-exporter
check "the chart's alerts are deploy/prometheus/alerts.yml" cmp deploy/prometheus/alerts.yml \
  "$chart/files/alerts.yml"
if (cd scripts/helm-render && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$tmp/gocache" \
      go build -o "$tmp/helm-render" .) > "$tmp/go-build.log" 2>&1; then
  for mode in single sharded tls; do
    values=()
    [ "$mode" = sharded ] && values=(-f "$chart/ci/sharded-values.yaml")
    [ "$mode" = tls ] && values=(-f "$chart/ci/tls-values.yaml")
    check "helm chart renders ($mode)" bash -c \
      "'$tmp/helm-render' $chart ${values[*]} -name ose > '$tmp/chart-$mode.yaml'"
    # (toYaml writes the rules' long annotations on one line, as Helm does:
    # the rendered manifests are linted without the line-length rule, the
    # sources with it)
    check "helm chart passes yamllint ($mode)" yamllint -s \
      -d '{extends: default, rules: {document-start: disable, line-length: disable, truthy: {check-keys: false}}}' \
      "$tmp/chart-$mode.yaml"
    check "helm chart manifests ($mode)" python3 tests/helm_check.py "$tmp/chart-$mode.yaml" \
      deploy/prometheus/alerts.yml "$mode" "$tmp/chart-$mode.toml" "$tmp/chart-$mode-web.yml"
    check "helm chart config passes --config.check ($mode)" "$bin" \
      --config.file="$tmp/chart-$mode.toml" --config.check
  done
  printf 'config: ""\n' > "$tmp/no-config.yaml"
  check "helm chart refuses an empty config" bash -c \
    "out=\$('$tmp/helm-render' $chart -f '$tmp/no-config.yaml' 2>&1) && exit 1
     echo \"\$out\" | grep -q 'config (the exporter.s config.toml) is required'"
else
  check "scripts/helm-render builds" cat "$tmp/go-build.log" false
fi
check "dashboard targets Grafana 10 (schemaVersion 38)" grep -q '"schemaVersion": 38' \
  dashboards/ocsp_stapling.json

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
