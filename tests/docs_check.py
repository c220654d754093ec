#!/usr/bin/env python3
"""Every metric family the exporter can export is in docs/metrics.md, and
every alert of deploy/prometheus/alerts.yml is in docs/alerts.md (issue 25:
docs a newcomer can navigate). Families are read from the collector's
sources (every "ocsp_..." / "process_..." name it emits), alerts from the
rules; a name is documented when it appears in backquotes."""
import re
import sys

import yaml

sources = ["src/metrics/collector.cc", "src/metrics/request_stats.cc"]
families = set()
for path in sources:
    text = open(path).read()
    families |= set(re.findall(r'"((?:ocsp|process)_[a-z0-9_]+)"', text))
# Histogram and summary series are documented by their family name.
families = {f for f in families if not re.search(r"_(bucket|sum|count)$", f)}

metrics_doc = open("docs/metrics.md").read()
documented = set(re.findall(r"`((?:ocsp|process)_[a-z0-9_]+)", metrics_doc))
problems = [f"docs/metrics.md: {f} is exported but not documented" for f in sorted(families - documented)]

rules = yaml.safe_load(open("deploy/prometheus/alerts.yml"))
alerts_doc = open("docs/alerts.md").read()
for group in rules["groups"]:
    for rule in group["rules"]:
        name = rule.get("alert")
        if name and f"`{name}`" not in alerts_doc:
            problems.append(f"docs/alerts.md: alert {name} is not documented")

for p in problems:
    print(p)
print(f"{len(families)} metric families, {len(problems)} problems")
sys.exit(1 if problems else 0)
