#!/usr/bin/python3
"""The chart's values.yaml and every ci/*-values.yaml (each merged over
values.yaml, as Helm does) validate against values.schema.json, and values
of the wrong type are refused. Debian's python3-jsonschema (draft 7, as
Helm's validator).  tests/helm_values_check.py CHART_DIR"""
import copy
import glob
import json
import os
import sys

import jsonschema
import yaml


def merge(dst, src):
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = v
    return dst


chart = sys.argv[1]
schema = json.load(open(os.path.join(chart, "values.schema.json")))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)
defaults = yaml.safe_load(open(os.path.join(chart, "values.yaml")))
problems = []
cases = {"values.yaml": defaults}
for path in sorted(glob.glob(os.path.join(chart, "ci", "*-values.yaml"))):
    cases["ci/" + os.path.basename(path)] = merge(copy.deepcopy(defaults), yaml.safe_load(open(path)))
for name, values in cases.items():
    for e in validator.iter_errors(values):
        problems.append(f"{name}: {'.'.join(map(str, e.path))}: {e.message}")
# Wrong types and unknown keys are refused.
wrong = [({"replicas": "three"}, "replicas"), ({"sharding": {"shards": 0}}, "sharding.shards"),
         ({"web": {"port": "9830"}}, "web.port"), ({"serviceMonitor": {"interval": 30}}, "serviceMonitor.interval"),
         ({"imagePullSecrets": ["regcred"]}, "imagePullSecrets"), ({"replica": 2}, "(unknown key)"),
         ({"extraConfigFiles": {"config.toml": "x"}}, "extraConfigFiles")]
for patch, what in wrong:
    if validator.is_valid(merge(copy.deepcopy(defaults), patch)):
        problems.append(f"a wrong value was accepted: {what} = {patch}")
for p in problems:
    print(p)
print(f"{len(cases)} values files valid, {len(wrong)} wrong ones refused" if not problems else "")
sys.exit(1 if problems else 0)
