// cedar_bench.mjs: the Cedar side of bench/policy_vs_cedar.cc. Reads the requests the C++
// benchmark wrote (requests.json), turns each into a Cedar authorization call (entities and
// context, built here before any timing), loads the Cedar policy set once with
// preparsePolicySet, then times statefulIsAuthorized per request with process.hrtime.
//
// Usage: node cedar_bench.mjs --requests FILE --policies FILE.cedar [--policies MORE.cedar]
//                             [--warmup N] [--limit N]
// Output, one line each, for the C++ side to read:
//   version <cedar version> node <node version>
//   policies <count>
//   total <ns for the timed loop> <timed calls>
//   r <index> <allow|deny|failure> <ns> <error count> <comma-separated determining policy ids>
//   e <index> <policy id>: <message>   (the first errors Cedar reported while evaluating)
// A missing package prints "unavailable <why>" and exits 3; a bad policy or request file prints
// "fatal <why>" and exits 1.
//
// How a request becomes Cedar (see the comment at the top of eu-gdpr.cedar):
//   principal User::"<tenant_id>" (Anonymous::"" without a tenant) with tenant_id, purposes,
//     jurisdiction and parents Role::"<role>";
//   resource Artifact::"<name>" with the EFFECTIVE classification (strictest of its own and its
//     lineage's, for models) and lineage_purposes (purposes common to every lineage dataset);
//   context: the request attributes.
import { readFileSync } from 'node:fs';

function parseArgs(argv) {
  const args = { requests: null, policies: [], warmup: 2000, limit: Infinity };
  for (let i = 2; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`missing value after ${key}`);
    if (key === '--requests') args.requests = value;
    else if (key === '--policies') args.policies.push(value);
    else if (key === '--warmup') args.warmup = Number(value);
    else if (key === '--limit') args.limit = Number(value);
    else throw new Error(`unknown argument ${key}`);
  }
  if (!args.requests || args.policies.length === 0) {
    throw new Error('usage: node cedar_bench.mjs --requests FILE --policies FILE.cedar ...');
  }
  return args;
}

async function loadCedar() {
  const where = process.env.SOV_CEDAR_WASM ??
      new URL('../../tools/node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm.js',
              import.meta.url).href;
  try {
    const module = await import(where);
    return module.default ?? module;
  } catch (e) {
    console.log(`unavailable cannot load @cedar-policy/cedar-wasm from ${where} ` +
                `(${String(e.message).split('\n')[0]}); run \`npm ci\` in tools/`);
    process.exit(3);
  }
}

// Classifications, loosest first; unknown names are strictest (as Policy::StricterThan says).
const kClassifications =
    ['public', 'anonymised', 'internal', 'pseudonymised', 'personal', 'special-category'];
function rank(classification) {
  const i = kClassifications.indexOf(classification);
  return i < 0 ? kClassifications.length : i;
}

function effectiveClassification(artifact) {
  let best = artifact.classification ?? '';
  if (artifact.kind !== 'model') return best;
  let bestRank = best === '' ? -1 : rank(best);
  for (const entry of artifact.lineage ?? []) {
    if (!entry.classification) continue;
    const r = rank(entry.classification);
    if (r > bestRank) {
      bestRank = r;
      best = entry.classification;
    }
  }
  return best;
}

// The purposes every dataset of the lineage was collected for (their intersection).
function lineagePurposes(artifact) {
  let common = null;
  for (const entry of artifact.lineage ?? []) {
    if (entry.kind !== 'dataset') continue;
    const purposes = entry.purposes ?? [];
    common = common === null ? [...purposes] : common.filter((p) => purposes.includes(p));
  }
  return { hasDatasetLineage: common !== null, purposes: common ?? [] };
}

function toCall(request, policySetId) {
  const p = request.principal;
  const a = request.artifact;
  const principal = p.tenant_id ? { type: 'User', id: p.tenant_id } : { type: 'Anonymous', id: '' };
  const resource = { type: 'Artifact', id: a.name || '-' };
  const lineage = lineagePurposes(a);
  return {
    principal,
    action: { type: 'Action', id: request.action },
    resource,
    context: { ...request.attributes },
    preparsedPolicySetId: policySetId,
    entities: [
      {
        uid: principal,
        attrs: { tenant_id: p.tenant_id, purposes: p.purposes, jurisdiction: p.jurisdiction },
        parents: p.roles.map((role) => ({ type: 'Role', id: role })),
      },
      {
        uid: resource,
        attrs: {
          kind: a.kind,
          owner_tenant: a.owner_tenant,
          classification: effectiveClassification(a),
          declared_classification: a.classification,
          purposes: a.purposes,
          lawful_basis: a.lawful_basis,
          stage: a.stage,
          storage_jurisdiction: a.storage_jurisdiction,
          has_dataset_lineage: lineage.hasDatasetLineage,
          lineage_purposes: lineage.purposes,
        },
        parents: [],
      },
    ],
  };
}

// Splits the policy text into policies and keys each by its @id annotation, so that a
// decision's determining policies carry the rule ids of Sovereign's engine.
function policySet(cedar, text) {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type !== 'success') {
    throw new Error('policySetTextToParts: ' + parts.errors.map((e) => e.message).join('; '));
  }
  const staticPolicies = {};
  parts.policies.forEach((policy, i) => {
    const id = /@id\("([^"]+)"\)/.exec(policy)?.[1] ?? `policy${i}`;
    if (id in staticPolicies) throw new Error(`duplicate policy id ${id}`);
    staticPolicies[id] = policy;
  });
  return { staticPolicies, count: parts.policies.length };
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv);
  } catch (e) {
    console.log(`fatal ${e.message}`);
    process.exit(1);
  }
  const cedar = await loadCedar();
  let calls;
  let count;
  try {
    const text = args.policies.map((f) => readFileSync(f, 'utf8')).join('\n');
    const set = policySet(cedar, text);
    count = set.count;
    const parsed = cedar.preparsePolicySet('eu-gdpr', { staticPolicies: set.staticPolicies });
    if (parsed.type !== 'success') {
      throw new Error('preparsePolicySet: ' + parsed.errors.map((e) => e.message).join('; '));
    }
    const requests = JSON.parse(readFileSync(args.requests, 'utf8'));
    calls = requests.slice(0, Math.min(requests.length, args.limit))
                    .map((r) => toCall(r, 'eu-gdpr'));
  } catch (e) {
    console.log(`fatal ${String(e.message).split('\n')[0]}`);
    process.exit(1);
  }
  const out = [`version ${cedar.getCedarVersion()} node ${process.version}`, `policies ${count}`];

  // Warm-up: lets V8 and the wasm tier-up settle before timing.
  for (let i = 0; i < args.warmup && calls.length > 0; ++i) {
    cedar.statefulIsAuthorized(calls[i % calls.length]);
  }

  const answers = new Array(calls.length);
  const ns = new Array(calls.length);
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls.length; ++i) {
    const t0 = process.hrtime.bigint();
    answers[i] = cedar.statefulIsAuthorized(calls[i]);
    ns[i] = process.hrtime.bigint() - t0;
  }
  const total = process.hrtime.bigint() - start;
  out.push(`total ${total} ${calls.length}`);

  let errorLines = 0;
  for (let i = 0; i < calls.length; ++i) {
    const answer = answers[i];
    if (answer.type !== 'success') {
      const why = answer.errors.map((e) => e.message).join('; ').replace(/\s+/g, ' ');
      out.push(`r ${i} failure ${ns[i]} 1 ${why}`);
      continue;
    }
    const { decision, diagnostics } = answer.response;
    for (const e of diagnostics.errors) {
      if (errorLines++ < 5) {
        out.push(`e ${i} ${e.policyId}: ${e.error.message.replace(/\s+/g, ' ')}`);
      }
    }
    out.push(`r ${i} ${decision} ${ns[i]} ${diagnostics.errors.length} ` +
             [...diagnostics.reason].sort().join(','));
  }
  process.stdout.write(out.join('\n') + '\n');
}

await main();
