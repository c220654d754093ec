#!/usr/bin/env python3
"""Checks a rendered Helm chart (helm-render output) against the project.

  tests/helm_check.py RENDERED.yaml ALERTS.yml MODE CONFIG_OUT [WEB_OUT]

MODE: "single" (a Deployment), "sharded" (a StatefulSet and a headless
Service), "tls" (TLS and basic auth on the listener, and every extension
point of the values) or "no-operator" (a cluster without the Prometheus
Operator: no ServiceMonitor, no PrometheusRule). Writes the
ConfigMap's config.toml to CONFIG_OUT (and the web config to WEB_OUT) for
the exporter to check. Exits 1 with a message per problem.
"""
import sys

import yaml


def tuned(groups):
    """What ci/tls-values.yaml's prometheusRule values make of the rules."""
    out = []
    for group in groups:
        rules = []
        for rule in group["rules"]:
            rule = dict(rule)
            if "alert" in rule:
                if rule["alert"] in ("OCSPStapleExpiringSoon", "CRLExpiringSoon"):
                    assert ") / 2," in rule["expr"], rule["alert"]
                    rule["expr"] = rule["expr"].replace(") / 2,", ") * 0.25,")
                rule["alert"] = "PKI" + rule["alert"]
                rule["labels"] = {**rule.get("labels", {}), "team": "pki"}
                rule["annotations"] = {**rule.get("annotations", {}),
                                       "dashboard": "https://grafana.example.net/d/ocsp-stapling"}
            rules.append(rule)
        out.append({"name": group["name"], "rules": rules})
    out.append({"name": "local", "rules": [{"alert": "LocalExtra", "expr": "vector(1) == 0"}]})
    return out


def main():
    rendered, alerts_path, mode, config_out = sys.argv[1:5]
    web_out = sys.argv[5] if len(sys.argv) > 5 else None
    problems = []
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    by_kind = {}
    for d in docs:
        for key in ("apiVersion", "kind", "metadata"):
            if key not in d:
                problems.append(f"a manifest has no {key}: {str(d)[:80]}")
        by_kind.setdefault(d.get("kind"), []).append(d)

    want = {"ConfigMap", "Service", "ServiceAccount",
            "StatefulSet" if mode == "sharded" else "Deployment"}
    if mode != "no-operator":
        want |= {"ServiceMonitor", "PrometheusRule"}
    if mode == "sharded":
        want.add("PodDisruptionBudget")
    if mode == "tls":
        want.add("Secret")
    if set(by_kind) != want:
        problems.append(f"kinds {sorted(by_kind)}, want {sorted(want)}")
    if mode == "no-operator":
        # Without the Operator's CRDs the rest stands on its own.
        mode = "single"
        by_kind.setdefault("PrometheusRule", [{"spec": {"groups": yaml.safe_load(open(alerts_path))["groups"]}}])
        by_kind.setdefault("ServiceMonitor", [])

    # The PrometheusRule carries exactly the shipped rules, tuned by the
    # values of ci/tls-values.yaml in "tls" mode (the same tuning applied
    # here), untouched otherwise.
    alerts = yaml.safe_load(open(alerts_path))
    if mode == "tls":
        alerts["groups"] = tuned(alerts["groups"])
    rule = (by_kind.get("PrometheusRule") or [{}])[0]
    if rule.get("spec", {}).get("groups") != alerts["groups"]:
        problems.append("PrometheusRule spec.groups differ from deploy/prometheus/alerts.yml "
                        "(as the values tune it)")

    workload = (by_kind.get("StatefulSet") or by_kind.get("Deployment") or [{}])[0]
    pod = workload.get("spec", {}).get("template", {}).get("spec", {})
    container = (pod.get("containers") or [{}])[0]
    args = container.get("args", [])
    selector = workload.get("spec", {}).get("selector", {}).get("matchLabels", {})
    labels = workload.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    if not selector or any(labels.get(k) != v for k, v in selector.items()):
        problems.append("the workload's selector does not match its pod labels")
    service = (by_kind.get("Service") or [{}])[0]
    if service.get("spec", {}).get("selector") != selector:
        problems.append("the Service selects other pods than the workload runs")
    monitor = (by_kind.get("ServiceMonitor") or [None])[0]
    if monitor is not None and monitor.get("spec", {}).get("selector", {}).get("matchLabels") != selector:
        problems.append("the ServiceMonitor selects other services")
    monitor = monitor or {"spec": {"endpoints": [{"scheme": "http"}]}}

    # No Kubernetes API token in the pods: the exporter calls none.
    account = (by_kind.get("ServiceAccount") or [{}])[0]
    if account.get("automountServiceAccountToken") is not False:
        problems.append("the ServiceAccount mounts a token")
    if pod.get("serviceAccountName") != account.get("metadata", {}).get("name"):
        problems.append("the pods do not run as the chart's ServiceAccount")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("the pods mount a ServiceAccount token")
    budget = (by_kind.get("PodDisruptionBudget") or [None])[0]
    if budget is not None:
        if budget["spec"].get("selector", {}).get("matchLabels") != selector:
            problems.append("the PodDisruptionBudget selects other pods")
        if budget["spec"].get("maxUnavailable") != 1:
            problems.append("the PodDisruptionBudget allows more than one pod down")

    if mode == "sharded":
        replicas = workload["spec"]["replicas"]
        if f"--shard.count={replicas}" not in args:
            problems.append(f"--shard.count is not the replicas ({replicas}): {args}")
        if "--shard.index=$(SHARD_INDEX)" not in args:
            problems.append("--shard.index does not come from SHARD_INDEX")
        env = {e["name"]: e for e in container.get("env", [])}
        path = env.get("SHARD_INDEX", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        if path != "metadata.labels['apps.kubernetes.io/pod-index']":
            problems.append(f"SHARD_INDEX is not the pod ordinal: {path}")
        if service.get("spec", {}).get("clusterIP") != "None":
            problems.append("the sharded Service is not headless")
        if workload["spec"].get("serviceName") != service["metadata"]["name"]:
            problems.append("the StatefulSet's serviceName is not its Service")
    elif any(a.startswith("--shard.") for a in args):
        problems.append(f"an unsharded release passes shard flags: {args}")

    scheme = "HTTPS" if mode == "tls" else "HTTP"
    probes = ("livenessProbe",) if mode == "tls" else ("readinessProbe", "livenessProbe")
    for probe in probes:
        got = container.get(probe, {}).get("httpGet", {}).get("scheme")
        if got != scheme:
            problems.append(f"{probe} scheme {got}, want {scheme}")
    endpoint = (monitor.get("spec", {}).get("endpoints") or [{}])[0]
    if endpoint.get("scheme") != scheme.lower():
        problems.append(f"ServiceMonitor scheme {endpoint.get('scheme')}, want {scheme.lower()}")
    if mode == "tls":
        if "--web.config.file=/etc/ocsp_staple_exporter/web/web-config.yml" not in args:
            problems.append("the web config is not passed")
        mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
        for path in ("/etc/ocsp_staple_exporter/web", "/etc/ocsp_staple_exporter/tls"):
            if path not in mounts:
                problems.append(f"{path} is not mounted")
        if not endpoint.get("basicAuth") or not endpoint.get("tlsConfig"):
            problems.append("the ServiceMonitor has no basicAuth or tlsConfig")
        # The readiness probe logs in with a credential from a Secret: the
        # exporter's `ready` command reads it from its environment.
        command = container.get("readinessProbe", {}).get("exec", {}).get("command", [])
        if command[:2] != ["/usr/local/bin/ocsp_staple_exporter", "ready"] or \
                f"--url=https://127.0.0.1:9830/-/ready" not in command:
            problems.append(f"the readiness probe does not run `ready` over HTTPS: {command}")
        env = {e["name"]: e for e in container.get("env", [])}
        ref = env.get("OSE_PROBE_AUTHORIZATION", {}).get("valueFrom", {}).get("secretKeyRef", {})
        secret = by_kind["Secret"][0]
        if ref.get("name") != secret["metadata"]["name"] or \
                ref.get("key") not in secret.get("stringData", {}):
            problems.append(f"the readiness credential is not taken from the web Secret: {ref}")
        if "Basic " in yaml.safe_dump(workload):
            problems.append("a credential is written in the pod spec")
        if web_out:
            secret = by_kind["Secret"][0]
            open(web_out, "w").write(secret["stringData"]["web-config.yml"])

    if mode == "tls":
        # ci/tls-values.yaml also sets the extension points of the chart.
        if pod.get("imagePullSecrets") != [{"name": "regcred"}]:
            problems.append(f"imagePullSecrets: {pod.get('imagePullSecrets')}")
        annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
        if annotations.get("example.net/team") != "pki":
            problems.append("podAnnotations are not on the pods")
        env = {e["name"]: e for e in container.get("env", [])}
        if env.get("HTTPS_PROXY", {}).get("value") != "http://proxy.example.net:3128":
            problems.append("extraEnv is not in the container")
        if not any(v.get("name") == "corp-certs" for v in pod.get("volumes", [])) or not any(
                m.get("mountPath") == "/etc/ocsp_staple_exporter/corp" for m in container.get("volumeMounts", [])):
            problems.append("extraVolumes / extraVolumeMounts are not in the pod")
        dashboards = [c for c in by_kind.get("ConfigMap", [])
                      if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
        shipped = open("dashboards/ocsp_stapling.json").read()
        if len(dashboards) != 1 or dashboards[0]["data"].get("ocsp_stapling.json", "").strip() != shipped.strip():
            problems.append("the dashboard ConfigMap is missing or differs from dashboards/ocsp_stapling.json")

    configs = [c for c in by_kind.get("ConfigMap", []) if "config.toml" in c.get("data", {})]
    config = configs[0]["data"]["config.toml"] if configs else ""
    if mode == "tls" and "corp-root.pem" not in (configs[0]["data"] if configs else {}):
        problems.append("extraConfigFiles are not beside config.toml")
    open(config_out, "w").write(config)

    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
