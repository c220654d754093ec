// Validates Kubernetes manifests against the API's schemas, as the API
// server would (kubernetes-models: the Kubernetes OpenAPI schemas and the
// Prometheus Operator's CRDs, compiled into validators).
//   node tests/k8s/validate.mjs FILE.yaml...    (multi-document YAML)
// Prints one line per manifest; exits 1 when one is invalid or of a kind
// it has no schema for.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const modules = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "policy/v1": "kubernetes-models/policy/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

let failed = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  for (const parsed of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (parsed.errors.length > 0) {
      console.log(`${file}: not YAML: ${parsed.errors[0].message}`);
      failed++;
      continue;
    }
    const doc = parsed.toJSON();
    if (!doc) continue;
    const what = `${file}: ${doc.apiVersion} ${doc.kind} ${doc.metadata?.name ?? "(no name)"}`;
    const path = modules[doc.apiVersion];
    const model = path ? (await import(path))[doc.kind] : undefined;
    if (!model) {
      console.log(`${what}: no schema for this kind`);
      failed++;
      continue;
    }
    try {
      new model(doc).validate();
      console.log(`${what}: valid`);
      checked++;
    } catch (e) {
      console.log(`${what}: ${e.message}`);
      failed++;
    }
  }
}
console.log(`${checked} valid, ${failed} invalid`);
process.exit(failed > 0 || checked === 0 ? 1 : 0);
