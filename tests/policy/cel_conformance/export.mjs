// Exports the CEL specification's conformance cases that Sovereign's CEL subset is tested
// against (the npm package @bufbuild/cel-spec) as plain JSON for cel_conformance_test.cc.
//
// Usage: node export.mjs OUTPUT.json [CEL_SPEC_PACKAGE_DIR]
// Without CEL_SPEC_PACKAGE_DIR the package is resolved from tools/node_modules (next to this
// repository's tests/ folder), then from the usual node resolution.
//
// Output shape:
// { "package": "@bufbuild/cel-spec", "version": "X.Y.Z",
//   "cases": [ { "section": "basic", "group": "self_eval_zeroish", "name": "self_eval_int_zero",
//                "expr": "0", "disable_macros": false, "disable_check": false,
//                "check_only": false, "container": "", "has_type_env": false,
//                "bindings": { "x": VALUE, ... },
//                "expect": { "value": VALUE } | { "error": "message" } | { "any_error": true }
//                        | { "unknown": true } | { "typed_result": VALUE, "type": "..." }
//                        | { "none": true } } ] }
// VALUE is a tagged object: {"null":null} {"bool":b} {"int":"decimal"} {"uint":"decimal"}
// {"double":number|"NaN"|"Infinity"|"-Infinity"} {"string":s} {"bytes":"base64"}
// {"list":[VALUE...]} {"map":[[VALUE,VALUE]...]} {"type":"name"} {"timestamp":"RFC3339"}
// {"duration":"1.5s"} {"message":"type.url", "json":...} {"enum":{...}} or
// {"unsupported":"why"}.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SECTIONS = [
  "basic", "comparisons", "conversions", "fields", "fp_math", "integer_math", "lists", "logic",
  "macros", "parse", "string", "timestamps",
];

const [outPath, pkgArg] = process.argv.slice(2);
if (!outPath) {
  console.error("usage: node export.mjs OUTPUT.json [CEL_SPEC_PACKAGE_DIR]");
  process.exit(2);
}

function findPackageDir() {
  if (pkgArg) return resolve(pkgArg);
  const here = dirname(fileURLToPath(import.meta.url));
  const repoTools = resolve(here, "../../../tools/node_modules/@bufbuild/cel-spec");
  if (existsSync(repoTools)) return repoTools;
  console.error("cannot find @bufbuild/cel-spec; pass its directory as the second argument");
  process.exit(2);
}

const pkgDir = findPackageDir();
const pkgJson = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
const load = (rel) => import(pathToFileURL(join(pkgDir, rel)).href);
const { getConformanceSuite } = await load("dist/esm/testdata/tests.js");
const { getTestRegistry } = await load("dist/esm/testdata/registry.js");
const { SimpleTestSchema } = await load("dist/esm/gen/cel/expr/conformance/test/simple_pb.js");
// @bufbuild/protobuf is the package's peer dependency, installed beside it.
const protobufDir = resolve(pkgDir, "../protobuf");
const { toJson } = await import(pathToFileURL(join(protobufDir, "dist/esm/index.js")).href);
const registry = getTestRegistry();

function convertValue(v) {
  if (v === undefined || v === null) return { unsupported: "missing value" };
  if ("nullValue" in v) return { null: null };
  if ("boolValue" in v) return { bool: v.boolValue };
  if ("int64Value" in v) return { int: String(v.int64Value) };
  if ("uint64Value" in v) return { uint: String(v.uint64Value) };
  if ("doubleValue" in v) return { double: v.doubleValue };
  if ("stringValue" in v) return { string: v.stringValue };
  if ("bytesValue" in v) return { bytes: v.bytesValue };
  if ("listValue" in v) return { list: (v.listValue.values ?? []).map(convertValue) };
  if ("mapValue" in v) {
    return { map: (v.mapValue.entries ?? []).map((e) => [convertValue(e.key), convertValue(e.value)]) };
  }
  if ("typeValue" in v) return { type: v.typeValue };
  if ("enumValue" in v) return { enum: v.enumValue };
  if ("objectValue" in v) {
    const o = v.objectValue;
    const t = String(o["@type"] ?? "");
    if (t.endsWith("/google.protobuf.Timestamp")) return { timestamp: o.value };
    if (t.endsWith("/google.protobuf.Duration")) return { duration: o.value };
    return { message: t, json: o };
  }
  if (Object.keys(v).length === 0) return { unsupported: "empty value" };
  return { unsupported: `value kind ${Object.keys(v).join(",")}` };
}

function convertExpect(j) {
  if (j.value !== undefined) return { value: convertValue(j.value) };
  if (j.evalError !== undefined) {
    const errs = j.evalError.errors ?? [];
    return { error: errs.map((e) => e.message ?? "").join("; ") };
  }
  if (j.anyEvalErrors !== undefined) return { any_error: true };
  if (j.unknown !== undefined || j.anyUnknowns !== undefined) return { unknown: true };
  if (j.typedResult !== undefined) {
    return { typed_result: convertValue(j.typedResult.result), type: j.typedResult.deducedType };
  }
  // No matcher: the spec's default is `true`.
  return { value: { bool: true } };
}

const cases = [];
const suite = getConformanceSuite();
for (const section of suite.suites) {
  if (!SECTIONS.includes(section.name)) continue;
  const walk = (s, group) => {
    for (const t of s.tests) {
      const j = toJson(SimpleTestSchema, t.original, { registry });
      const bindings = {};
      for (const [k, ev] of Object.entries(j.bindings ?? {})) {
        bindings[k] = ev.value !== undefined ? convertValue(ev.value) : { unsupported: "non-value binding" };
      }
      cases.push({
        section: section.name,
        group,
        name: t.name,
        expr: j.expr ?? "",
        disable_macros: !!j.disableMacros,
        disable_check: !!j.disableCheck,
        check_only: !!j.checkOnly,
        container: j.container ?? "",
        has_type_env: (j.typeEnv ?? []).length > 0,
        bindings,
        expect: convertExpect(j),
      });
    }
    for (const sub of s.suites) walk(sub, sub.name);
  };
  walk(section, section.name);
}

writeFileSync(outPath, JSON.stringify({ package: pkgJson.name, version: pkgJson.version, cases }, null, 1));
console.log(`wrote ${cases.length} cases from ${pkgJson.name}@${pkgJson.version} to ${outPath}`);
