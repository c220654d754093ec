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
. "$root/tests/check_lib.sh"

check "promtool check rules" promtool check rules deploy/prometheus/alerts.yml
check "promtool test rules" promtool test rules tests/prometheus/alerts_test.yml
check "amtool check-config" amtool check-config deploy/alertmanager/alertmanager.yml
check "Alertmanager groups by alertname, job and target" bash -c \
  "amtool config routes test --config.file=deploy/alertmanager/alertmanager.yml \
     alertname=OCSPStapleMissing target=a | grep -qx oncall"
check "every alert has severity, summary, description and a runbook section" \
  python3 tests/alerts_check.py
check "every metric family and alert is in docs/" python3 tests/docs_check.py
check "promtool check config (static)" promtool check config --syntax-only deploy/prometheus/prometheus.yml
check "promtool check config (/probe)" promtool check config --syntax-only deploy/prometheus/probe.yml
check "yamllint" yamllint -s .
sed "s|/usr/local/bin/ocsp_staple_exporter|$bin|" deploy/systemd/ocsp_staple_exporter.service \
  > "$tmp/ocsp_staple_exporter.service"
check "systemd-analyze verify" systemd-analyze verify "$tmp/ocsp_staple_exporter.service"
# With the shipped TLS drop-in (systemd reads NAME.service.d/ beside the unit).
mkdir -p "$tmp/ocsp_staple_exporter.service.d"
cp deploy/systemd/ocsp_staple_exporter.service.d/tls.conf "$tmp/ocsp_staple_exporter.service.d/"
# (found through SYSTEMD_UNIT_PATH; any complaint about it fails the check)
dropin_out=$(SYSTEMD_UNIT_PATH="$tmp:" systemd-analyze verify "$tmp/ocsp_staple_exporter.service" 2>&1)
check "systemd-analyze verify (TLS drop-in)" test -z "$dropin_out"
[ -z "$dropin_out" ] || echo "$dropin_out"
check "unit listens on localhost without the drop-in" grep -qx \
  'Environment=OSE_LISTEN=--web.listen-address=127.0.0.1:9830' deploy/systemd/ocsp_staple_exporter.service
check "unit reads /etc/default" grep -qx \
  'EnvironmentFile=-/etc/default/ocsp_staple_exporter' deploy/systemd/ocsp_staple_exporter.service
check "unit documentation exists in the repository" grep -q \
  '^Documentation=https://github.com/ocsp-staple-exporter/ocsp-staple-exporter/blob/main/docs/deployment.md$' \
  deploy/systemd/ocsp_staple_exporter.service
check "the documentation the unit names is here" test -f docs/deployment.md
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
# examples/: each passes --config.check, beside certificates made now (the
# names they use; a CA, its CRL issuer, a Must-Staple leaf naming an OCSP URL).
ex=$tmp/examples
mkdir -p "$ex/tls"
cp examples/*.toml examples/*.json "$ex/"
(
  cd "$ex/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -subj "/CN=Example CA" -days 2 -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out corp-ca.pem 2> /dev/null
  cp corp-ca.pem corp-root.pem
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout www.key \
    -subj "/CN=www.example.net" -out www.csr 2> /dev/null
  printf '%s\n' "authorityInfoAccess=OCSP;URI:http://ocsp.example.net" \
    "tlsfeature=status_request" "subjectAltName=DNS:www.example.net" > www.ext
  openssl x509 -req -in www.csr -CA corp-ca.pem -CAkey ca.key -set_serial 7 -days 2 \
    -extfile www.ext -out www.pem 2> /dev/null
  cat www.pem corp-ca.pem > www-fullchain.pem
)
for f in "$ex"/*.toml; do
  check "examples/$(basename "$f") passes --config.check" "$bin" --config.file="$f" --config.check
done
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
# The Kubernetes API schemas (and the Prometheus Operator's CRDs), through
# kubernetes-models from npm (tests/k8s/validate.mjs; pinned by its lock).
validator=
if (cd tests/k8s && npm ci --no-audit --no-fund) > "$tmp/npm-k8s.log" 2>&1; then
  validator=1
  check "plain manifests match the Kubernetes API schemas" node tests/k8s/validate.mjs \
    deploy/kubernetes/*.yaml deploy/kubernetes/sharded/*.yaml
else
  check "the manifest validator installs (npm ci in tests/k8s)" cat "$tmp/npm-k8s.log" false
fi
chart=deploy/helm/ocsp-staple-exporter
check "no credential is written in the plain manifests' pod specs" bash -c \
  "! grep -n 'Basic ' deploy/kubernetes/deployment.yaml deploy/kubernetes/sharded/statefulset.yaml"
check "the plain readiness probes run \`ready\` with the Secret's credential" bash -c \
  "grep -q 'key: readiness-authorization' deploy/kubernetes/deployment.yaml &&
   grep -q 'key: readiness-authorization' deploy/kubernetes/sharded/statefulset.yaml"
# The plain manifests run the release's image, never a moving tag.
version=$(sed -n 's/^project(ocsp_staple_exporter VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
check "the plain manifests pin the image to the release ($version)" bash -c \
  "grep -h 'image:' deploy/kubernetes/deployment.yaml deploy/kubernetes/sharded/statefulset.yaml |
     grep -v ':$version ' && exit 1 || true"
check "the chart's appVersion is the release ($version)" grep -qx "appVersion: \"$version\"" \
  deploy/helm/ocsp-staple-exporter/Chart.yaml
check "the chart's alerts are deploy/prometheus/alerts.yml" cmp deploy/prometheus/alerts.yml \
  "$chart/files/alerts.yml"
check "the chart's dashboard is dashboards/ocsp_stapling.json" cmp dashboards/ocsp_stapling.json \
  "$chart/files/ocsp_stapling.json"
check "values.yaml and ci/*-values.yaml match values.schema.json; wrong types are refused" \
  /usr/bin/python3 tests/helm_values_check.py "$chart"
if (cd scripts/helm-render && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$tmp/gocache" \
      go build -o "$tmp/helm-render" .) > "$tmp/go-build.log" 2>&1; then
  for mode in single sharded tls no-operator; do
    # A cluster with the Prometheus Operator's CRDs, but for no-operator.
    values=(-api-versions monitoring.coreos.com/v1)
    [ "$mode" = no-operator ] && values=()
    [ "$mode" = sharded ] && values+=(-f "$chart/ci/sharded-values.yaml")
    [ "$mode" = tls ] && values+=(-f "$chart/ci/tls-values.yaml")
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
    [ -n "$validator" ] && check "helm chart manifests match the Kubernetes API schemas ($mode)" \
      node tests/k8s/validate.mjs "$tmp/chart-$mode.yaml"
  done
  check "helm chart refuses a cluster older than its kubeVersion" bash -c \
    "out=\$('$tmp/helm-render' $chart -kube-version v1.27.3 2>&1) && exit 1
     echo \"\$out\" | grep -q 'incompatible with Kubernetes v1.27.3'"
  printf 'config: ""\n' > "$tmp/no-config.yaml"
  check "helm chart refuses an empty config" bash -c \
    "out=\$('$tmp/helm-render' $chart -f '$tmp/no-config.yaml' 2>&1) && exit 1
     echo \"\$out\" | grep -q 'config (the exporter.s config.toml) is required'"
else
  check "scripts/helm-render builds" cat "$tmp/go-build.log" false
fi
check "dashboard targets Grafana 10 (schemaVersion 38)" grep -q '"schemaVersion": 38' \
  dashboards/ocsp_stapling.json

checks_done
