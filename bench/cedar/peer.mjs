// peer.mjs - the Cedar peer of `stateline policy bench` (docs/performance.md).
//
// usage: node bench/cedar/peer.mjs [--rules N]... [--decisions N] [--latency N]
//                                  [--pool N] [--json] [--dump DIR]
//
// The same generated policies as `stateline policy bench` (gen_policy in
// src/cli/cmd_policy.c) written as Cedar policies, and the same 4,096 requests
// (gen_requests: splitmix64 from seed 42), decided with @cedar-policy/cedar-wasm in
// Node.js.  The model:
//
//   principal  Ori::"<ORI>"        attrs: type, parent ("" when none), tags (Set<String>),
//                                   state, member, categories  (the requester, as the
//                                   directory describes it)
//   action     Action::"<key>"     DQ DNQ KQ RQ RNQ RPQ
//   resource   Record::"<OLN>"     the state's record asked for
//   context    { OLN, PUR | RSN }  the message's fields
//
// The rules (stateline -> Cedar):
//   forbid|permit when requester.ori = X and key in (DQ, KQ, RQ) [redact photo]
//     -> forbid|permit (principal == Ori::"X", action in [Action::"DQ", ...], resource);
//   hold when requester.parent under "P" and RSN absent   (deadline 72h, then forbid)
//     -> @kind("hold") forbid (principal, action, resource)
//          when { (principal.parent == "P" || principal.parent like "P/*")
//                 && !(context has RSN) };
//   permit when requester.type = T and key = K and PUR in (C, F) and not in-state
//     [redact ssn]
//     -> permit (principal, action == Action::"K", resource)
//          when { principal.type == "T" && context has PUR
//                 && (context.PUR == "C" || context.PUR == "F") && principal.state != "WA" };
//   default permit -> permit (principal, action, resource);
//
// Cedar has two effects; our third, hold, is a forbid annotated @kind("hold"), and the
// outcome is read from the policies Cedar names as the reasons of its decision: deny with
// a reason of kind forbid -> forbid; deny with only hold reasons -> hold; allow -> permit,
// with the obligations (redactions) of the permit policies among the reasons.  That is
// stateline's order: any matching forbid wins, then hold, then permit.
//
// Cedar evaluates every policy of the set for each request (isAuthorized has no index).
// The policy set is parsed once (preparsePolicySet) and each decision is one
// statefulIsAuthorized call: JS -> WASM conversion of the request and the principal's
// entity, evaluation, WASM -> JS conversion of the answer.  That call overhead is part of
// what is measured, as a Node.js service would pay it.
//
// --rules 0 is the default permit alone: what one call costs whatever the policy (the
// JS <-> WASM conversions and the fixed work of an authorization).
//
// Measurement, as `stateline policy bench`: the first --pool requests of the pool once
// (warm-up, and the outcome counts: all 4,096 by default, 128 from 5,000 rules up, where
// each Cedar decision costs milliseconds), then --decisions decisions without a clock in the loop (decisions/s), then
// --latency decisions each timed alone with process.hrtime.bigint() (median, p99).
// Output: a line per policy size, or with --json one object:
//   {engine, cedar_version, node, sizes: [{rules, compile_ms, decisions, decisions_per_s,
//    median_ns, p99_ns, pool: {permit, hold, forbid}, validation}]}
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const cedar = require("@cedar-policy/cedar-wasm/nodejs");

const STATES = ["WA", "OR", "CA", "ID", "NV", "AZ", "TX", "NY", "IL", "MN"];
const TYPES = ["PD", "SO", "SA", "LE", "FE", "JA", "JC", "JG", "JJ", "JF", "CJ", "NJ"];
const KEYS = ["DQ", "DNQ", "KQ", "RQ", "RNQ", "RPQ"];
const NREQ = 4096;

const SCHEMA = `
entity Ori = {
  type: String, parent: String, tags: Set<String>, state: String, member: String,
  categories: String,
};
entity Record;
action DQ, DNQ, KQ, RQ, RNQ, RPQ appliesTo {
  principal: Ori, resource: Record,
  context: { OLN?: String, PUR?: String, RSN?: String },
};
`;

// ---- the policy (gen_policy) -------------------------------------------------------------

const pad7 = (n) => String(n).padStart(7, "0");

// Returns { policies: {id: text}, kind: Map(id -> "forbid"|"hold"|"permit"),
//           redact: Map(id -> class) }.
function genPolicy(n) {
  const policies = {};
  const kind = new Map();
  const redact = new Map();
  for (let i = 0; i < n; i++) {
    const id = `r${i}`;
    const k = i % 20;
    if (k < 16) {
      const eff = i % 3 === 0 ? "forbid" : "permit";
      const ori = `${STATES[i % 10]}${pad7(i)}`;
      policies[id] =
        (eff === "permit" ? `@redact("photo")\n` : "") +
        `${eff} (principal == Ori::"${ori}", ` +
        `action in [Action::"DQ", Action::"KQ", Action::"RQ"], resource);`;
      kind.set(id, eff);
      if (eff === "permit") redact.set(id, "photo");
    } else if (k < 19) {
      const p = `FED/AG${i}`;
      policies[id] =
        `@kind("hold") @deadline("72h") @on_timeout("forbid")\n` +
        `forbid (principal, action, resource) when {\n` +
        `  (principal.parent == "${p}" || principal.parent like "${p}/*") && !(context has RSN)\n};`;
      kind.set(id, "hold");
    } else {
      const t = TYPES[Math.floor(i / 20) % 12];
      const key = KEYS[Math.floor(i / 240) % 6];
      policies[id] =
        `@redact("ssn")\n` +
        `permit (principal, action == Action::"${key}", resource) when {\n` +
        `  principal.type == "${t}" && context has PUR &&\n` +
        `  (context.PUR == "C" || context.PUR == "F") && principal.state != "WA"\n};`;
      kind.set(id, "permit");
      redact.set(id, "ssn");
    }
  }
  policies["default"] = `permit (principal, action, resource);`;
  kind.set("default", "permit");
  return { policies, kind, redact };
}

// ---- the requests (gen_requests, seed 42) ---------------------------------------------

const M64 = (1n << 64n) - 1n;
function splitmix(state) {
  state.s = (state.s + 0x9e3779b97f4a7c15n) & M64;
  let z = state.s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}

function genRequests(nrules, seed) {
  const st = { s: BigInt(seed) };
  const rnd = () => splitmix(st);
  const out = [];
  for (let i = 0; i < NREQ; i++) {
    const rule = nrules ? Number(rnd() % BigInt(nrules)) : 0;
    const kind = Number(rnd() % 10n);
    let ori;
    if (kind < 5 && nrules) {
      ori = `${STATES[rule % 10]}${pad7(rule % 10000000)}`;
    } else {
      // snprintf(..., states[rnd() % 10], (int)(rnd() % 10000000)): gcc on x86-64
      // evaluates these arguments right to left, so the number is drawn first.
      const num = Number(rnd() % 10000000n);
      const state = STATES[Number(rnd() % 10n)];
      ori = `${state}${pad7(num)}`;
    }
    const type = TYPES[Number(rnd() % 12n)];
    const parent = kind >= 5 && kind < 8 ? `FED/AG${rule}/UNIT` : "";
    const tags = kind === 9 ? ["task-force", "immigration-enforcement"] : [];
    const key = KEYS[Number(rnd() % 6n)];
    const pfx = rnd() & 1n ? "PUR" : "RSN";
    const val = ["C", "F", "E", "N"][Number(rnd() % 4n)];
    rnd(); // the hour of the request: no generated rule reads the time
    const principal = { type: "Ori", id: ori };
    const resource = { type: "Record", id: "WDL12345678" };
    out.push({
      principal,
      action: { type: "Action", id: key },
      resource,
      context: { OLN: "WDL12345678", [pfx]: val },
      entities: [
        {
          uid: principal,
          attrs: {
            type, parent, tags, state: ori.slice(0, 2), member: ori.slice(0, 2),
            categories: "DZ",
          },
          parents: [],
        },
        { uid: resource, attrs: {}, parents: [] },
      ],
    });
  }
  return out;
}

// ---- deciding ------------------------------------------------------------------------------

const EFFECT = { permit: 0, hold: 1, forbid: 2 };

function decide(req, psetId, kind) {
  req.preparsedPolicySetId = psetId;
  const a = cedar.statefulIsAuthorized(req);
  if (a.type !== "success") throw new Error(`cedar: ${JSON.stringify(a.errors)}`);
  const r = a.response;
  if (r.diagnostics.errors.length) return EFFECT.forbid; // fail closed, as stateline does
  if (r.decision === "allow") return EFFECT.permit;
  for (const id of r.diagnostics.reason) if (kind.get(id) === "forbid") return EFFECT.forbid;
  return EFFECT.hold;
}

function benchOne(nrules, decisions, latencyN, poolN, dumpDir) {
  const { policies, kind } = genPolicy(nrules);
  const psetId = `generated-${nrules}`;
  const v = cedar.validate({
    validationSettings: { mode: "strict" },
    schema: SCHEMA,
    policies: { staticPolicies: policies },
  });
  const validation =
    v.type === "success" && v.validationErrors.length === 0
      ? "ok"
      : JSON.stringify(v.type === "success" ? v.validationErrors.slice(0, 3) : v.errors);
  const c0 = process.hrtime.bigint();
  const pr = cedar.preparsePolicySet(psetId, { staticPolicies: policies });
  const c1 = process.hrtime.bigint();
  if (pr.type !== "success") throw new Error(`cedar parse: ${JSON.stringify(pr.errors)}`);
  if (dumpDir) {
    mkdirSync(dumpDir, { recursive: true });
    const text = Object.entries(policies).map(([id, t]) => `@id("${id}")\n${t}`).join("\n\n");
    writeFileSync(`${dumpDir}/generated-${nrules}.cedar`, text + "\n");
    writeFileSync(`${dumpDir}/schema.cedarschema`, SCHEMA.trimStart());
  }
  const reqs = genRequests(nrules, 42);
  const pool = [0, 0, 0];
  for (let i = 0; i < poolN; i++) pool[decide(reqs[i], psetId, kind)]++;
  const counts = [0, 0, 0];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < decisions; i++) counts[decide(reqs[i % NREQ], psetId, kind)]++;
  const t1 = process.hrtime.bigint();
  const lat = new Float64Array(latencyN);
  for (let i = 0; i < latencyN; i++) {
    const a = process.hrtime.bigint();
    counts[decide(reqs[i % NREQ], psetId, kind)]++;
    lat[i] = Number(process.hrtime.bigint() - a);
  }
  lat.sort();
  return {
    rules: nrules,
    compile_ms: Math.round(Number(c1 - c0) / 1e4) / 100,
    decisions,
    decisions_per_s: Math.round(decisions / (Number(t1 - t0) / 1e9)),
    median_ns: lat[Math.floor(latencyN / 2)],
    p99_ns: lat[Math.floor(latencyN * 0.99)],
    pool: { requests: poolN, permit: pool[0], hold: pool[1], forbid: pool[2] },
    validation,
  };
}

function main(argv) {
  const rules = [];
  let decisions = 0;
  let latencyN = 0;
  let json = false;
  let dump = null;
  let poolN = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (min = 1) => {
      const x = Number(argv[++i]);
      if (!Number.isInteger(x) || x < min) throw new Error(`${a}: an integer >= ${min}, please`);
      return x;
    };
    if (a === "--rules") rules.push(val(0));
    else if (a === "--decisions") decisions = val();
    else if (a === "--latency") latencyN = val();
    else if (a === "--pool") poolN = Math.min(val(), NREQ);
    else if (a === "--json") json = true;
    else if (a === "--dump") dump = argv[++i];
    else {
      process.stderr.write(
        "usage: node bench/cedar/peer.mjs [--rules N]... [--decisions N] [--latency N] " +
          "[--pool N] [--json] [--dump DIR]\n");
      process.exit(1);
    }
  }
  if (!rules.length) rules.push(100, 10000);
  const pkg = JSON.parse(
    readFileSync(new URL("./node_modules/@cedar-policy/cedar-wasm/package.json", import.meta.url)));
  const sizes = [];
  for (const n of rules) {
    // Default effort: about as many decisions as stateline's pool-based loops allow in
    // seconds: Cedar at 10,000 rules is slower, so fewer.
    const d = decisions || (n >= 5000 ? 200 : 20000);
    const l = latencyN || (n >= 5000 ? 100 : 5000);
    const r = benchOne(n, d, l, poolN || (n >= 5000 ? 128 : NREQ), dump);
    sizes.push(r);
    if (!json)
      console.log(
        `cedar-wasm ${pkg.version} ${String(n).padStart(8)} rules  ` +
          `${String(r.decisions_per_s).padStart(10)} decisions/s  median ${String(r.median_ns).padStart(8)} ns  ` +
          `p99 ${String(r.p99_ns).padStart(8)} ns  (pool: permit ${r.pool.permit}, hold ${r.pool.hold}, ` +
          `forbid ${r.pool.forbid}; parse ${r.compile_ms} ms; schema validation ${r.validation})`);
  }
  if (json)
    console.log(JSON.stringify({
      engine: "cedar-wasm", cedar_version: cedar.getCedarVersion(), package_version: pkg.version,
      node: process.version, sizes,
    }, null, 2));
}

main(process.argv.slice(2));
