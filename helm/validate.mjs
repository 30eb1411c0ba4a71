// Validates rendered Kubernetes manifests against the API schemas, offline (kubernetes-models).
// Usage: helm template ... | node helm/validate.mjs   (node_modules from .tools/, installed by bin/test)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

// The npm packages live in the repository's .tools/ (installed by bin/test), not beside this script.
const tools = process.env.TALLY_TOOLS || path.join(path.dirname(fileURLToPath(import.meta.url)), "..", ".tools");
const require = createRequire(path.join(tools, "package.json"));
const { parseAllDocuments } = await import(pathToFileURL(require.resolve("yaml")).href);
// Model modules are imported by file (their package "exports" differ between versions).
const load = async (name) => import(pathToFileURL(path.join(tools, "node_modules", name, "index.js")).href);

const text = readFileSync(0, "utf8");
const groups = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "batch/v1": "kubernetes-models/batch/v1",
  "policy/v1": "kubernetes-models/policy/v1",
  "autoscaling/v2": "kubernetes-models/autoscaling/v2",
  "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};
let count = 0;
let failed = 0;
for (const doc of parseAllDocuments(text)) {
  const obj = doc.toJS();
  if (!obj) continue;
  const where = `${obj.kind} ${obj.metadata?.name}`;
  const module = groups[obj.apiVersion];
  if (!module) {
    console.error(`${where}: no schema for apiVersion ${obj.apiVersion}`);
    failed++;
    continue;
  }
  const Kind = (await load(module))[obj.kind];
  if (!Kind) {
    console.error(`${where}: unknown kind in ${obj.apiVersion}`);
    failed++;
    continue;
  }
  try {
    new Kind(obj).validate();
    count++;
  } catch (e) {
    console.error(`${where}: ${e.message}`);
    failed++;
  }
}
console.log(`${count} manifests valid, ${failed} invalid`);
process.exit(failed === 0 && count > 0 ? 0 : 1);
