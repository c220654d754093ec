#!/usr/bin/env python3
"""Every alert of deploy/prometheus/alerts.yml has severity, summary,
description and a runbook_url whose anchor is a section of docs/runbook.md,
and every section of the runbook is an alert (issue 21 point 6)."""
import re
import sys

import yaml

BASE = "https://github.com/ocsp-staple-exporter/ocsp-staple-exporter/blob/main/docs/runbook.md#"

rules = yaml.safe_load(open("deploy/prometheus/alerts.yml"))
runbook = open("docs/runbook.md").read()
sections = {h.strip() for h in re.findall(r"^## (.+)$", runbook, re.M)}
problems = []
alerts = set()
for group in rules["groups"]:
    for rule in group["rules"]:
        name = rule.get("alert")
        if not name:
            continue
        alerts.add(name)
        labels = rule.get("labels", {})
        notes = rule.get("annotations", {})
        if labels.get("severity") not in ("critical", "warning", "info"):
            problems.append(f"{name}: severity {labels.get('severity')!r}")
        for key in ("summary", "description", "runbook_url"):
            if not notes.get(key):
                problems.append(f"{name}: no {key}")
        if notes.get("runbook_url") != BASE + name.lower():
            problems.append(f"{name}: runbook_url {notes.get('runbook_url')!r}, want {BASE + name.lower()}")
        if name not in sections:
            problems.append(f"{name}: no '## {name}' section in docs/runbook.md")
        if re.search(r"\bfor \d+ (minutes|hours)\b", notes.get("description", "")):
            problems.append(f"{name}: the description hard-codes a duration (wrong once for: is tuned)")
for extra in sorted(sections - alerts):
    problems.append(f"docs/runbook.md: section '{extra}' is no alert")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
