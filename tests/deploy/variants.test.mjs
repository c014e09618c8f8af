// Checks the Redis topology variants of deploy/k8s without a Kubernetes
// cluster. deploy/k8s/variants/ holds kustomize Components: `sentinel` and
// `cluster` (each with its KEDA trigger) and `tls` (a CA and client
// certificate for the worker and for KEDA). A small kustomize below
// (resources, components, patches as strategic merge or JSON 6902, labels,
// images) renders the base with them, as an overlay outside deploy/k8s would,
// and the checks read the result:
// - each variant names only files that exist and uses every file of its
//   folder, except its secret.example.yaml, which it must not apply;
// - every patch finds its object (kind, name and, for JSON 6902, each path);
// - the KEDA triggers are of the topology's type and agree with REDIS_URL in
//   the variant's secret.example.yaml: the sentinels or nodes, the master's
//   name, the database, TLS, and the credentials KEDA's Secret holds;
// - they watch the worker's PREFIX:QUEUE:wait and :prioritized keys, and in
//   Cluster mode those keys carry a hash tag (one slot per queue);
// - the worker's environment is made of its flags' twins (the README's
//   configuration reference, and `run --help` when the binary is built);
// - with tls, the worker's REDIS_TLS_* files are on the mounted Secret, which
//   only the worker can read, and KEDA takes the CA and certificate from the
//   same Secret keys;
// - the README documents each variant, the one-Redis-core ceiling and how a
//   Cluster spreads hash-tagged queues.
// The last test breaks the files in turn and expects a check to notice. When
// kubectl or kustomize is installed, the real kustomize renders the same
// overlays and must agree with the small one.
//
//   cd tests/deploy && npm ci && node --test variants.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const k8sDir = path.join(root, 'deploy/k8s');
const variantsDir = path.join(k8sDir, 'variants');
const bin = process.env.BULLMQ_WORKER_BIN
  ? path.resolve(process.env.BULLMQ_WORKER_BIN)
  : path.join(root, 'build/bullmq-worker');

// The topology variants and what each must be. `tls` goes with any of them.
const TOPOLOGIES = { sentinel: 'sentinel', cluster: 'cluster' };
const TRIGGER_TYPE = { standalone: 'redis', sentinel: 'redis-sentinel', cluster: 'redis-cluster' };
// Environment variables the worker reads that are not a flag's twin.
const DOCUMENTED_ENV = new Set(['BULLMQ_WORKER_PLUGIN_DIR']);
// The twins of the Redis TLS and deadline flags issue 9 adds, used only while
// neither the README nor the binary lists any REDIS_TLS_ variable yet.
const ISSUE_9_ENV = ['REDIS_TLS_CA', 'REDIS_TLS_CERT', 'REDIS_TLS_KEY', 'REDIS_TLS_SERVER_NAME',
  'REDIS_TLS_INSECURE', 'REDIS_TIMEOUT', 'REDIS_KEEPALIVE'];

const clone = (x) => structuredClone(x);
const isMap = (x) => x != null && typeof x === 'object' && !Array.isArray(x);
const rel = (p) => path.relative(root, p) || '.';

// ---------------------------------------------------------------- files

// The repository's files, with in-memory edits on top (the last test breaks
// files this way without touching the disk). An edit of null deletes.
class Files {
  constructor(edits = new Map()) { this.edits = edits; }
  with(file, edit) {
    const edits = new Map(this.edits);
    const abs = path.resolve(root, file);
    edits.set(abs, typeof edit === 'function' ? edit(this.read(abs)) : edit);
    return new Files(edits);
  }
  exists(p) {
    if (this.edits.has(p)) return this.edits.get(p) !== null;
    if ([...this.edits.keys()].some((f) => this.edits.get(f) !== null && f.startsWith(`${p}${path.sep}`))) return true;
    return existsSync(p);
  }
  isDir(p) {
    if (this.edits.has(p)) return false;
    return existsSync(p) ? statSync(p).isDirectory() : [...this.edits.keys()].some((f) => f.startsWith(`${p}${path.sep}`));
  }
  read(p) {
    if (this.edits.has(p)) {
      if (this.edits.get(p) === null) throw new Error(`${rel(p)} does not exist`);
      return this.edits.get(p);
    }
    return readFileSync(p, 'utf8');
  }
  list(dir) {
    const names = new Set(existsSync(dir) ? readdirSync(dir) : []);
    for (const [f, text] of this.edits) {
      if (path.dirname(f) !== dir) continue;
      if (text === null) names.delete(path.basename(f)); else names.add(path.basename(f));
    }
    return [...names].sort();
  }
}

// YAML as Kubernetes reads it (1.1: 0440 is octal there).
function parseYaml(text, name) {
  const out = [];
  for (const d of parseAllDocuments(text, { version: '1.1' })) {
    if (d.errors.length) throw new Error(`${name}: ${d.errors.map((e) => e.message).join('; ')}`);
    const js = d.toJS();
    if (js != null) out.push(js);
  }
  return out;
}

function readYaml(files, p) {
  return parseYaml(files.read(p), rel(p));
}

function kustomizationFile(files, dir) {
  return ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((f) => path.join(dir, f)).find((f) => files.exists(f));
}

// ---------------------------------------------------------------- a small kustomize

const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'components', 'patches', 'labels', 'images']);
// Strategic merge keys of the built-in lists the patches here touch; other
// lists are replaced. Custom resources (KEDA's) merge as JSON merge patches:
// every list is replaced.
const MERGE_KEYS = {
  containers: 'name', initContainers: 'name', volumes: 'name', env: 'name',
  volumeMounts: 'mountPath', ports: 'containerPort', imagePullSecrets: 'name',
};
const BUILTIN_GROUPS = new Set(['', 'apps', 'batch', 'policy']);

function groupOf(apiVersion = '') {
  return apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
}

function selects(target, o) {
  if (target.kind && target.kind !== o.kind) return false;
  if (target.name && target.name !== o.metadata?.name) return false;
  if (target.group !== undefined && target.group !== groupOf(o.apiVersion)) return false;
  if (target.version && target.version !== (o.apiVersion ?? '').split('/').at(-1)) return false;
  return true;
}

function describeTarget(t) {
  return `${t.kind ?? '?'}/${t.name ?? '?'}`;
}

function strategicMerge(target, patch, keyed) {
  for (const [k, v] of Object.entries(patch)) {
    const cur = target[k];
    if (v === null) delete target[k];
    else if (keyed && MERGE_KEYS[k] && Array.isArray(v) && Array.isArray(cur)) {
      // As kustomize does: merged items stay in place, new ones go first.
      const key = MERGE_KEYS[k];
      const added = [];
      for (const item of v) {
        const same = cur.find((x) => x?.[key] === item?.[key]);
        if (same) strategicMerge(same, item, keyed); else added.push(clone(item));
      }
      target[k] = [...added, ...cur];
    } else if (isMap(v) && isMap(cur)) strategicMerge(cur, v, keyed);
    else target[k] = clone(v);
  }
}

function pointer(p) {
  if (typeof p !== 'string' || !p.startsWith('/')) throw new Error(`bad JSON pointer ${JSON.stringify(p)}`);
  return p.split('/').slice(1).map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

// One JSON 6902 operation on `doc` (add, remove, replace, test); throws when
// its path does not resolve.
function applyOperation(doc, op) {
  const parts = pointer(op.path);
  const last = parts.pop();
  let parent = doc;
  for (const part of parts) {
    if (parent == null || typeof parent !== 'object' || !(part in parent)) throw new Error(`${op.op} ${op.path}: no ${part}`);
    parent = parent[part];
  }
  if (parent == null || typeof parent !== 'object') throw new Error(`${op.op} ${op.path}: the parent is not an object or list`);
  if (Array.isArray(parent)) {
    const index = last === '-' && op.op === 'add' ? parent.length : Number(last);
    const limit = op.op === 'add' ? parent.length : parent.length - 1;
    if (!/^\d+$|^-$/.test(last) || !(index >= 0 && index <= limit)) throw new Error(`${op.op} ${op.path}: no item ${last}`);
    if (op.op === 'add') parent.splice(index, 0, clone(op.value));
    else if (op.op === 'remove') parent.splice(index, 1);
    else if (op.op === 'replace') parent[index] = clone(op.value);
    else if (op.op === 'test') { if (!isDeepStrictEqual(parent[index], op.value)) throw new Error(`test ${op.path}: ${JSON.stringify(parent[index])} is not ${JSON.stringify(op.value)}`); }
    else throw new Error(`operation ${op.op} is not supported here`);
    return;
  }
  if (op.op !== 'add' && !(last in parent)) throw new Error(`${op.op} ${op.path}: no ${last}`);
  if (op.op === 'add' || op.op === 'replace') parent[last] = clone(op.value);
  else if (op.op === 'remove') delete parent[last];
  else if (op.op === 'test') { if (!isDeepStrictEqual(parent[last], op.value)) throw new Error(`test ${op.path}: ${JSON.stringify(parent[last])} is not ${JSON.stringify(op.value)}`); }
  else throw new Error(`operation ${op.op} is not supported here`);
}

function applyPatches(objects, k, dir, where, files, problems) {
  for (const entry of k.patches ?? []) {
    let docs;
    let name;
    try {
      if (entry.path) {
        const p = path.resolve(dir, entry.path);
        name = rel(p);
        if (!files.exists(p)) { problems.push(`${where}: patch ${entry.path} does not exist`); continue; }
        if (!p.startsWith(`${dir}${path.sep}`)) { problems.push(`${where}: patch ${entry.path} is outside its folder (kustomize refuses it)`); continue; }
        docs = readYaml(files, p);
      } else {
        name = `${where} inline patch`;
        docs = parseYaml(entry.patch ?? '', name);
      }
    } catch (e) { problems.push(`${where}: ${e.message}`); continue; }
    if (Array.isArray(docs[0])) {
      if (!entry.target) { problems.push(`${name}: a JSON 6902 patch needs a target`); continue; }
      const hits = objects.filter((o) => selects(entry.target, o));
      if (!hits.length) { problems.push(`${name}: its target ${describeTarget(entry.target)} is not among the objects it patches`); continue; }
      for (const o of hits) {
        for (const op of docs[0]) {
          try { applyOperation(o, op); } catch (e) { problems.push(`${name} on ${describeTarget(entry.target)}: ${e.message}`); }
        }
      }
      continue;
    }
    for (const patch of docs) {
      const target = entry.target ?? { kind: patch.kind, name: patch.metadata?.name, group: groupOf(patch.apiVersion) };
      const hits = objects.filter((o) => selects(target, o));
      if (!hits.length) { problems.push(`${name}: its target ${describeTarget(target)} is not among the objects it patches`); continue; }
      for (const o of hits) strategicMerge(o, patch, BUILTIN_GROUPS.has(groupOf(o.apiVersion)));
    }
  }
}

function applyLabels(objects, labels) {
  for (const l of labels ?? []) {
    for (const o of objects) {
      o.metadata ??= {};
      o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
      if (l.includeTemplates && o.spec?.template?.metadata) {
        o.spec.template.metadata.labels = { ...o.spec.template.metadata.labels, ...l.pairs };
      }
    }
  }
}

function applyImages(objects, images) {
  const visit = (node) => {
    if (Array.isArray(node)) { node.forEach(visit); return; }
    if (!isMap(node)) return;
    for (const [k, v] of Object.entries(node)) {
      if ((k === 'containers' || k === 'initContainers') && Array.isArray(v)) {
        for (const c of v) {
          const image = String(c.image ?? '');
          const base = image.replace(/@.*$/, '').replace(/:[^:/]*$/, '');
          const rule = images.find((i) => i.name === base);
          if (rule) c.image = `${rule.newName ?? base}${rule.digest ? `@${rule.digest}` : `:${rule.newTag ?? (image.slice(base.length + 1) || 'latest')}`}`;
        }
      }
      visit(v);
    }
  };
  if (images?.length) visit(objects);
}

// Builds the kustomization `k` of folder `dir` (the test's own overlays pass
// an object; folders are read from their kustomization.yaml). Returns the
// objects; what kustomize would refuse goes to `problems`.
function build(files, dir, k, problems, chain = []) {
  const where = k ? `${rel(dir)} (overlay)` : rel(kustomizationFile(files, dir) ?? dir);
  if (!k) {
    const file = kustomizationFile(files, dir);
    if (!file) { problems.push(`${rel(dir)} has no kustomization.yaml`); return []; }
    k = readYaml(files, file)[0] ?? {};
  }
  for (const f of Object.keys(k)) if (!KNOWN_FIELDS.has(f)) problems.push(`${where}: field ${f} is not known to this test's kustomize`);
  if ((k.kind ?? 'Kustomization') !== 'Kustomization') problems.push(`${where}: a ${k.kind} cannot be built by itself, only listed under components`);
  const objects = [];
  for (const r of k.resources ?? []) {
    const p = path.resolve(dir, r);
    if (!files.exists(p)) { problems.push(`${where}: resource ${r} does not exist`); continue; }
    if (files.isDir(p)) {
      if ([dir, ...chain].some((d) => d === p || d.startsWith(`${p}${path.sep}`))) {
        problems.push(`${where}: resource ${r} contains this kustomization's folder; kustomize refuses it (cycle)`);
        continue;
      }
      const kf = kustomizationFile(files, p);
      const kind = kf ? readYaml(files, kf)[0]?.kind ?? 'Kustomization' : null;
      if (kind !== 'Kustomization') { problems.push(`${where}: resource ${r} is ${kind ? `a ${kind}` : 'a folder without kustomization.yaml'}`); continue; }
      objects.push(...build(files, p, undefined, problems, [dir, ...chain]));
    } else {
      if (!p.startsWith(`${dir}${path.sep}`)) { problems.push(`${where}: resource ${r} is outside its folder (kustomize refuses it)`); continue; }
      objects.push(...readYaml(files, p));
    }
  }
  for (const c of k.components ?? []) {
    const p = path.resolve(dir, c);
    const kf = files.isDir(p) ? kustomizationFile(files, p) : undefined;
    if (!kf) { problems.push(`${where}: component ${c} is not a folder with a kustomization.yaml`); continue; }
    const ck = readYaml(files, kf)[0] ?? {};
    if (ck.kind !== 'Component') { problems.push(`${rel(kf)}: listed as a component but of kind ${ck.kind}`); continue; }
    for (const f of Object.keys(ck)) if (!KNOWN_FIELDS.has(f)) problems.push(`${rel(kf)}: field ${f} is not known to this test's kustomize`);
    for (const r of ck.resources ?? []) {
      const rp = path.resolve(p, r);
      if (!files.exists(rp) || files.isDir(rp)) { problems.push(`${rel(kf)}: resource ${r} is not a file`); continue; }
      objects.push(...readYaml(files, rp));
    }
    applyPatches(objects, ck, p, rel(kf), files, problems);
    applyLabels(objects, ck.labels);
    applyImages(objects, ck.images);
  }
  applyPatches(objects, k, dir, where, files, problems);
  applyLabels(objects, k.labels);
  applyImages(objects, k.images);
  return objects;
}

// ---------------------------------------------------------------- scenarios

// The base plus some variants, as an overlay of one's own would list them.
// `tlsUrl`: the URL switched to its TLS scheme, as the tls component asks.
function render(files, components, { tlsUrl = false } = {}) {
  const problems = [];
  const overlay = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [k8sDir],
    components: components.map((c) => path.join(variantsDir, c)),
  };
  const objects = build(files, path.join(root, 'deploy'), overlay, problems);
  // The example Secrets: the base's, then each variant's on top.
  const secrets = new Map();
  for (const dir of [k8sDir, ...components.map((c) => path.join(variantsDir, c))]) {
    const f = path.join(dir, 'secret.example.yaml');
    if (!files.exists(f)) continue;
    for (const s of readYaml(files, f)) if (s.kind === 'Secret') secrets.set(s.metadata.name, { ...s.data, ...s.stringData });
  }
  if (tlsUrl) {
    for (const s of secrets.values()) if (typeof s.REDIS_URL === 'string') s.REDIS_URL = s.REDIS_URL.replace(/^redis(?=[+:])/, 'rediss');
  }
  const topology = components.map((c) => TOPOLOGIES[c]).find(Boolean) ?? 'standalone';
  return { objects, secrets, problems, topology, name: ['base', ...components].join(' + ') };
}

// Every combination the README offers.
const SCENARIOS = [
  { components: [] },
  { components: ['tls'], tlsUrl: true },
  { components: ['sentinel'] },
  { components: ['cluster'] },
  { components: ['sentinel', 'tls'], tlsUrl: true },
  { components: ['tls', 'sentinel'], tlsUrl: true },
  { components: ['cluster', 'tls'], tlsUrl: true },
  { components: ['tls', 'cluster'], tlsUrl: true },
];

const renderAll = (files) => SCENARIOS.map((s) => render(files, s.components, s));

// ---------------------------------------------------------------- reading the result

function find(objects, kind, name) {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
}

function workerContainer(objects) {
  const d = find(objects, 'Deployment')[0];
  return d?.spec?.template?.spec?.containers?.[0] ?? {};
}

// The worker's environment: ConfigMap data and the example Secrets' values
// of envFrom, then env entries (valueFrom ones as a placeholder).
function workerEnv(r) {
  const c = workerContainer(r.objects);
  const env = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, find(r.objects, 'ConfigMap', from.configMapRef.name)[0]?.data);
    if (from.secretRef) Object.assign(env, r.secrets.get(from.secretRef.name));
  }
  for (const e of c.env ?? []) env[e.name] = e.value ?? `<from ${JSON.stringify(e.valueFrom)}>`;
  return env;
}

function argValue(args, flag) {
  const list = (args ?? []).map(String);
  for (let i = 0; i < list.length; i++) {
    if (list[i] === flag) return list[i + 1];
    if (list[i].startsWith(`${flag}=`)) return list[i].slice(flag.length + 1);
  }
  return undefined;
}

// The worker's key prefix and queue names (without a `:N` concurrency).
function workerQueues(r) {
  const env = workerEnv(r);
  const args = workerContainer(r.objects).args;
  const prefix = argValue(args, '--prefix') ?? env.BULLMQ_PREFIX ?? 'bull';
  const queues = String(argValue(args, '--queue') ?? env.BULLMQ_QUEUE ?? '').split(/[\s,]+/).filter(Boolean)
    .map((q) => q.replace(/:\d+$/, ''));
  return { prefix: String(prefix), queues };
}

// The Redis hash tag of a key: the text between its first { and the next },
// if not empty; null when the whole key is hashed.
function hashTag(key) {
  const open = key.indexOf('{');
  if (open < 0) return null;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
}

function normalizeAddress(text, defaultPort) {
  const t = String(text).trim();
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(t) ?? /^([^:]+)(?::(\d+))?$/.exec(t);
  if (!m) return t;
  return `${m[1].toLowerCase()}:${m[2] ?? defaultPort}`;
}

// The worker's Redis URL forms (see the README's "Redis topologies").
function parseRedisUrl(url) {
  const m = /^([a-z+]+):\/\/([^?]*)(?:\?(.*))?$/.exec(String(url ?? ''));
  if (!m) return { error: `REDIS_URL ${JSON.stringify(url)} is not a URL` };
  const [, scheme, rest, queryText] = m;
  const mode = { redis: 'standalone', rediss: 'standalone', 'redis+sentinel': 'sentinel', 'rediss+sentinel': 'sentinel',
    'redis+cluster': 'cluster', 'rediss+cluster': 'cluster' }[scheme];
  if (!mode) return { error: `REDIS_URL scheme ${scheme} is not one the worker knows` };
  const query = new Map((queryText ?? '').split('&').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    return i < 0 ? [kv, ''] : [kv.slice(0, i), decodeURIComponent(kv.slice(i + 1))];
  }));
  const slash = rest.indexOf('/');
  const hostPart = slash < 0 ? rest : rest.slice(0, slash);
  const pathPart = slash < 0 ? '' : rest.slice(slash + 1);
  const at = hostPart.lastIndexOf('@');
  const auth = at < 0 ? '' : hostPart.slice(0, at);
  const colon = auth.indexOf(':');
  const username = colon < 0 ? '' : decodeURIComponent(auth.slice(0, colon));
  const password = decodeURIComponent(colon < 0 ? auth : auth.slice(colon + 1));
  const defaultPort = mode === 'sentinel' ? 26379 : 6379;
  const addresses = hostPart.slice(at + 1).split(',').map((h) => normalizeAddress(h, defaultPort));
  const out = {
    scheme, mode, tls: scheme.startsWith('rediss'), username, password: query.get('password') ?? password, addresses,
    sentinelUsername: query.get('sentinel_username') ?? '', sentinelPassword: query.get('sentinel_password') ?? '',
    master: '', db: Number(query.get('db') ?? 0),
  };
  if (mode === 'sentinel') {
    const [master, db] = pathPart.split('/');
    out.master = decodeURIComponent(master ?? '');
    if (db) out.db = Number(db);
    if (!out.master) out.error = 'REDIS_URL names no Sentinel master (…/MASTER_NAME)';
  } else if (mode === 'cluster') {
    if (pathPart) out.error = 'REDIS_URL of a Cluster has a /db, but a Cluster has only database 0';
  } else if (pathPart) out.db = Number(pathPart);
  if (mode !== 'standalone' && addresses.length === 0) out.error = 'REDIS_URL lists no host';
  return out;
}

// What KEDA makes of a trigger: its metadata first, then the parameters of
// its TriggerAuthentication, whose values come from the example Secrets.
function kedaView(trigger, r) {
  const problems = [];
  const auth = {};
  const refs = {};
  const name = trigger.authenticationRef?.name;
  if (name) {
    const ta = find(r.objects, trigger.authenticationRef.kind ?? 'TriggerAuthentication', name)[0];
    if (!ta) problems.push(`trigger ${trigger.name}: TriggerAuthentication ${name} is not in the overlay`);
    for (const s of ta?.spec?.secretTargetRef ?? []) {
      refs[s.parameter] = s;
      const secret = r.secrets.get(s.name);
      if (!secret) problems.push(`TriggerAuthentication ${name} reads Secret ${s.name}, which no secret.example.yaml shows`);
      else if (!(s.key in secret)) problems.push(`TriggerAuthentication ${name} reads key ${s.key} of Secret ${s.name}, which its example does not have`);
      else auth[s.parameter] = String(secret[s.key]);
    }
  }
  const md = trigger.metadata ?? {};
  const pick = (...names) => {
    for (const n of names) if (md[n] !== undefined) return String(md[n]);
    for (const n of names) if (auth[n] !== undefined) return auth[n];
    return undefined;
  };
  const defaultPort = trigger.type === 'redis-sentinel' ? 26379 : 6379;
  let list = pick('addresses', 'address');
  if (list === undefined && (md.hosts ?? auth.hosts)) {
    const hosts = String(md.hosts ?? auth.hosts).split(',');
    const ports = String(md.ports ?? auth.ports ?? '').split(',');
    if (hosts.length !== ports.length) problems.push(`trigger ${trigger.name}: hosts and ports differ in number`);
    list = hosts.map((h, i) => `${h.trim()}:${(ports[i] ?? '').trim()}`).join(',');
  }
  const addresses = list === undefined ? [] : list.split(',').filter((a) => a.trim()).map((a) => normalizeAddress(a, defaultPort));
  if (md.enableTLS !== undefined && auth.tls !== undefined) {
    problems.push(`trigger ${trigger.name}: enableTLS on the trigger and tls in ${name}; KEDA refuses both together`);
  }
  if (auth.tls !== undefined && !['enable', 'disable'].includes(auth.tls)) problems.push(`TriggerAuthentication ${name}: tls is ${JSON.stringify(auth.tls)}, not enable or disable`);
  const tls = auth.tls !== undefined ? auth.tls === 'enable' : String(md.enableTLS ?? 'false') === 'true';
  return {
    addresses, tls, auth, refs, problems,
    master: pick('sentinelMaster') ?? '',
    db: md.databaseIndex === undefined ? 0 : Number(md.databaseIndex),
    hasDatabaseIndex: md.databaseIndex !== undefined,
  };
}

function redisTriggers(objects) {
  const so = find(objects, 'ScaledObject')[0];
  return (so?.spec?.triggers ?? []).filter((t) => /^redis/.test(t.type ?? ''));
}

// ---------------------------------------------------------------- checks

// A variant folder: a Component, every file it names exists, every file of
// the folder is named (but secret.example.yaml, which must not be applied),
// and a topology variant shows its Secrets.
function checkVariantFolder(files, name) {
  const problems = [];
  const dir = path.join(variantsDir, name);
  const kf = kustomizationFile(files, dir);
  if (!kf) return [`deploy/k8s/variants/${name} has no kustomization.yaml`];
  const k = readYaml(files, kf)[0] ?? {};
  if (k.kind !== 'Component') problems.push(`${rel(kf)} is a ${k.kind}, not a Component: kustomize refuses an overlay inside its base's folder`);
  const named = new Set();
  for (const p of [...(k.patches ?? []).map((x) => x.path).filter(Boolean), ...(k.resources ?? [])]) {
    const abs = path.resolve(dir, p);
    named.add(abs);
    if (!files.exists(abs)) problems.push(`${rel(kf)} names ${p}, which does not exist`);
  }
  for (const f of files.list(dir)) {
    const abs = path.join(dir, f);
    if (abs === kf || files.isDir(abs)) continue;
    if (f === 'secret.example.yaml') {
      if (named.has(abs)) problems.push(`${rel(kf)} applies secret.example.yaml (placeholders over the real Secrets)`);
    } else if (!named.has(abs)) problems.push(`${rel(abs)} is not named in ${path.basename(kf)}`);
  }
  if (TOPOLOGIES[name]) {
    const ex = path.join(dir, 'secret.example.yaml');
    if (!files.exists(ex)) problems.push(`deploy/k8s/variants/${name} has no secret.example.yaml`);
    else if (!readYaml(files, ex).some((s) => s.kind === 'Secret' && typeof s.stringData?.REDIS_URL === 'string')) {
      problems.push(`deploy/k8s/variants/${name}/secret.example.yaml shows no REDIS_URL`);
    }
  }
  return problems;
}

// KEDA's triggers reach the Redis REDIS_URL names, the way it names it.
function checkTriggers(r) {
  const problems = [];
  const url = parseRedisUrl(workerEnv(r).REDIS_URL);
  if (url.error) return [`${r.name}: ${url.error}`];
  if (url.mode !== r.topology) problems.push(`${r.name}: REDIS_URL is ${url.scheme}://, not a ${r.topology} URL`);
  const triggers = redisTriggers(r.objects);
  if (!triggers.length) problems.push(`${r.name}: the ScaledObject has no Redis trigger`);
  const want = TRIGGER_TYPE[url.mode];
  for (const t of triggers) {
    const where = `${r.name}: trigger ${t.name}`;
    if (t.type !== want) problems.push(`${where} is ${t.type}, but REDIS_URL ${url.scheme}:// needs ${want}`);
    const k = kedaView(t, r);
    problems.push(...k.problems.map((p) => `${r.name}: ${p}`));
    const ours = [...url.addresses].sort();
    const theirs = [...k.addresses].sort();
    if (!isDeepStrictEqual(ours, theirs)) problems.push(`${where} reaches ${theirs.join(',') || 'no address'}, REDIS_URL ${ours.join(',')}`);
    if (url.mode === 'sentinel' && k.master !== url.master) problems.push(`${where} asks for master ${JSON.stringify(k.master)}, REDIS_URL for ${JSON.stringify(url.master)}`);
    if (url.mode !== 'sentinel' && k.master) problems.push(`${where} names a sentinel master, but REDIS_URL is not a Sentinel URL`);
    if (url.mode === 'cluster' && k.db !== 0) problems.push(`${where} reads database ${k.db}; a Cluster has only 0`);
    else if (k.db !== url.db) problems.push(`${where} reads database ${k.db}, REDIS_URL ${url.db}`);
    if (k.tls !== url.tls) problems.push(`${where} ${k.tls ? 'uses' : 'does not use'} TLS, REDIS_URL ${url.tls ? 'does' : 'does not'} (${url.scheme}://)`);
    for (const [field, param] of [['password', 'password'], ['username', 'username'],
      ['sentinelPassword', 'sentinelPassword'], ['sentinelUsername', 'sentinelUsername']]) {
      const theirsValue = k.auth[param] ?? (t.metadata?.[param] !== undefined ? String(t.metadata[param]) : '');
      if ((url[field] ?? '') !== theirsValue) {
        problems.push(`${where}: KEDA's ${param} ${url[field] ? (theirsValue ? 'differs from' : 'is missing, unlike') : 'is set, unlike'} REDIS_URL's`);
      }
    }
    if (!(Number(t.metadata?.listLength) > 0)) problems.push(`${where} has no positive listLength`);
  }
  return problems;
}

// The triggers watch the worker's own keys; in Cluster mode every key of a
// queue carries the same hash tag, and so the KEDA key.
function checkKeys(r) {
  const problems = [];
  const { prefix, queues } = workerQueues(r);
  if (!queues.length) return [`${r.name}: no queue (BULLMQ_QUEUE)`];
  const watched = redisTriggers(r.objects).map((t) => String(t.metadata?.listName ?? ''));
  const keysOf = (q) => ({ wait: `${prefix}:${q}:wait`, prioritized: `${prefix}:${q}:prioritized` });
  for (const q of queues) {
    for (const key of Object.values(keysOf(q))) {
      if (!watched.includes(key)) problems.push(`${r.name}: no trigger watches ${key} (watched: ${watched.join(', ')})`);
    }
    if (r.topology === 'cluster') {
      const tags = ['wait', 'active', 'meta', 'events', 'prioritized', 'marker', '1'].map((s) => hashTag(`${prefix}:${q}:${s}`));
      if (tags[0] === null) {
        problems.push(`${r.name}: the keys of queue ${q} (prefix ${prefix}) carry no hash tag; a Cluster refuses its scripts (use prefix {${prefix}} or queue {${q}})`);
      } else if (tags.some((t) => t !== tags[0])) problems.push(`${r.name}: the keys of queue ${q} do not all carry the tag {${tags[0]}}`);
    }
  }
  const all = queues.flatMap((q) => Object.values(keysOf(q)));
  for (const w of watched) {
    if (!all.includes(w)) problems.push(`${r.name}: a trigger watches ${w}, which is not a key of the worker's queues (${all.join(', ')})`);
    if (r.topology === 'cluster' && !hashTag(w)) problems.push(`${r.name}: the trigger key ${w} has no hash tag`);
  }
  return problems;
}

// The worker's environment is made of its flags' twins; REDIS_URL is secret.
function checkEnvironment(r, known) {
  const problems = [];
  const c = workerContainer(r.objects);
  const names = new Set((c.env ?? []).map((e) => e.name));
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = find(r.objects, 'ConfigMap', from.configMapRef.name)[0];
      if (!cm) problems.push(`${r.name}: envFrom ConfigMap ${from.configMapRef.name} is not in the overlay`);
      for (const k of Object.keys(cm?.data ?? {})) names.add(k);
    }
  }
  for (const n of names) if (!known.has(n) && !DOCUMENTED_ENV.has(n)) problems.push(`${r.name}: ${n} is not the environment twin of a flag`);
  for (const cm of find(r.objects, 'ConfigMap')) {
    for (const s of ['REDIS_URL', 'REDIS_PASSWORD', 'DATABASE_URL']) if (s in (cm.data ?? {})) problems.push(`${r.name}: ${s} is in ConfigMap ${cm.metadata.name}, not in a Secret`);
  }
  return problems;
}

// With REDIS_TLS_* files: on a read-only Secret volume only the worker can
// read, under the same keys KEDA is given, and the URL asks for TLS.
function checkTls(r) {
  const problems = [];
  const d = find(r.objects, 'Deployment')[0];
  const pod = d?.spec?.template?.spec ?? {};
  const c = workerContainer(r.objects);
  const env = Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
  const files = { REDIS_TLS_CA: 'ca', REDIS_TLS_CERT: 'cert', REDIS_TLS_KEY: 'key' };
  const given = Object.keys(files).filter((n) => env[n]);
  if (!given.length) return [`${r.name}: the worker gets no REDIS_TLS_CA`];
  const url = parseRedisUrl(workerEnv(r).REDIS_URL);
  if (!url.tls) problems.push(`${r.name}: REDIS_TLS_* files are given, but REDIS_URL ${url.scheme}:// does not ask for TLS`);
  if (Boolean(env.REDIS_TLS_CERT) !== Boolean(env.REDIS_TLS_KEY)) problems.push(`${r.name}: REDIS_TLS_CERT and REDIS_TLS_KEY go together`);
  const views = redisTriggers(r.objects).map((t) => kedaView(t, r));
  for (const n of given) {
    const file = env[n];
    const mount = (c.volumeMounts ?? []).find((m) => file.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
    if (!mount) { problems.push(`${r.name}: ${n}=${file} is on no mounted volume`); continue; }
    const volume = (pod.volumes ?? []).find((v) => v.name === mount.name);
    if (!volume?.secret) { problems.push(`${r.name}: ${n}=${file} is on volume ${mount.name}, which is not a Secret`); continue; }
    if (mount.readOnly !== true) problems.push(`${r.name}: the TLS volume is not mounted read-only`);
    const inside = file.slice(mount.mountPath.replace(/\/$/, '').length + 1);
    const items = volume.secret.items;
    const item = items ? items.find((i) => i.path === inside) : { key: inside };
    if (!item) { problems.push(`${r.name}: ${n}=${file}, but Secret volume ${mount.name} has no item ${inside}`); continue; }
    const secretName = volume.secret.secretName;
    const example = r.secrets.get(secretName);
    if (!example) problems.push(`${r.name}: no secret.example.yaml shows Secret ${secretName}`);
    else if (!(item.key in example)) problems.push(`${r.name}: Secret ${secretName}'s example has no key ${item.key} (for ${n})`);
    const mode = item.mode ?? volume.secret.defaultMode ?? 0o644;
    const readable = pod.securityContext?.fsGroup !== undefined ? mode & 0o040 : mode & 0o004;
    if (!readable) problems.push(`${r.name}: ${file} (mode ${mode.toString(8)}) is not readable by the worker's user`);
    if (mode & 0o007) problems.push(`${r.name}: ${file} (mode ${mode.toString(8)}) is readable by everyone`);
    for (const v of views) {
      const ref = v.refs[files[n]];
      if (!ref) problems.push(`${r.name}: KEDA gets no ${files[n]} parameter, the worker ${n}`);
      else if (ref.name !== secretName || ref.key !== item.key) {
        problems.push(`${r.name}: KEDA's ${files[n]} is ${ref.name}/${ref.key}, the worker's ${n} ${secretName}/${item.key}`);
      }
    }
  }
  return problems;
}

function section(text, heading) {
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) return '';
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

// The README documents each variant (Deployment) and the ceiling of one
// Redis core with the Cluster's way around it (Operations, Scaling).
function checkReadme(readme, variantNames) {
  const problems = [];
  const deployment = section(readme, 'Deployment');
  if (!deployment) return ['the README has no "## Deployment" section'];
  for (const v of variantNames) {
    if (!deployment.includes(`deploy/k8s/variants/${v}`)) problems.push(`the README's Deployment section does not mention deploy/k8s/variants/${v}`);
  }
  if (!/components:/.test(deployment)) problems.push("the README's Deployment section does not show how to list the variants (components:)");
  if (!deployment.includes('](#redis-topologies)')) problems.push("the README's Deployment section does not link to #redis-topologies for the URL forms");
  if (!deployment.includes('{bull}:file-processing:wait')) problems.push("the README's Deployment section does not show the Cluster variant's hash-tagged KEDA key");
  const operations = section(readme, 'Operations');
  const at = operations.indexOf('**Scaling.**');
  const scaling = operations.slice(at, operations.indexOf('\n- **', at + 1)).replace(/\s+/g, ' ');
  if (at < 0) problems.push('the README has no Scaling bullet in Operations');
  for (const [needle, why] of [['Redis-bound limit', 'the ceiling of one Redis core'], ['scripts/bench.sh', 'where the Redis-bound limit is measured'],
    ['hash tag', 'how a Cluster spreads queues'], ['one node', 'that one queue stays on one node']]) {
    if (!scaling.includes(needle)) problems.push(`the README's Scaling bullet does not say "${needle}" (${why})`);
  }
  return problems;
}

// ---------------------------------------------------------------- context

// Environment twins: the README's configuration reference (generated from
// `run --help`) and, when the binary is built, `run --help` itself.
function knownEnvironment(readme) {
  const known = new Set([...readme.matchAll(/^\| `--[a-z0-9-]+` \| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
  let source = 'the README configuration reference';
  if (existsSync(bin)) {
    const r = spawnSync(bin, ['run', '--help'], { encoding: 'utf8' });
    if (r.status === 0) {
      for (const m of r.stdout.matchAll(/\(Env:([A-Za-z0-9_]+)\)/g)) known.add(m[1]);
      source += ' and `run --help`';
    }
  }
  let note = null;
  if (![...known].some((n) => n.startsWith('REDIS_TLS_'))) {
    for (const n of ISSUE_9_ENV) known.add(n);
    note = `no REDIS_TLS_* variable in ${source} yet: taking issue 9's names (${ISSUE_9_ENV.join(', ')})`;
  }
  return { known, note };
}

function variantNames(files) {
  return files.list(variantsDir).filter((f) => files.isDir(path.join(variantsDir, f)));
}

const ctx = {};
function context() {
  if (ctx.files) return ctx;
  ctx.files = new Files();
  ctx.readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  Object.assign(ctx, knownEnvironment(ctx.readme));
  return ctx;
}

// ---------------------------------------------------------------- the tests

test('deploy/k8s/variants holds the sentinel, cluster and tls Components, each using all its files', () => {
  const { files } = context();
  const names = variantNames(files);
  for (const v of ['sentinel', 'cluster', 'tls']) assert.ok(names.includes(v), `deploy/k8s/variants/${v} exists`);
  assert.deepEqual(names.flatMap((v) => checkVariantFolder(files, v)), []);
});

test('the base renders with each variant, and with tls in either order; every patch finds its object', () => {
  const { files } = context();
  for (const r of renderAll(files)) {
    assert.deepEqual(r.problems, [], r.name);
    assert.ok(find(r.objects, 'Deployment').length === 1 && find(r.objects, 'ScaledObject').length === 1, `${r.name}: one Deployment, one ScaledObject`);
  }
});

test("KEDA's triggers reach the Redis of REDIS_URL: type, sentinels or nodes, master, database, TLS, credentials", () => {
  const { files } = context();
  for (const r of renderAll(files)) assert.deepEqual(checkTriggers(r), [], r.name);
});

test("the triggers watch the queue's wait and prioritized keys, hash-tagged like the worker's in Cluster mode", () => {
  const { files } = context();
  const rendered = renderAll(files);
  for (const r of rendered) assert.deepEqual(checkKeys(r), [], r.name);
  const cluster = rendered.find((r) => r.topology === 'cluster');
  const { prefix, queues } = workerQueues(cluster);
  assert.ok(hashTag(`${prefix}:${queues[0]}:wait`), `the cluster variant tags the queue's keys (${prefix}:${queues[0]}:wait)`);
});

test("the worker's environment in each variant is made of its flags' twins", (t) => {
  const { files, known, note } = context();
  if (note) t.diagnostic(note);
  for (const r of renderAll(files)) assert.deepEqual(checkEnvironment(r, known), [], r.name);
});

test('tls: the worker reads its CA and certificate from a read-only Secret, KEDA from the same keys', () => {
  const { files } = context();
  for (const r of renderAll(files).filter((x) => x.name.includes('tls'))) assert.deepEqual(checkTls(r), [], r.name);
});

test('the README documents each variant, the one-Redis-core ceiling and hash-tagged queues on a Cluster', () => {
  const { files, readme } = context();
  assert.deepEqual(checkReadme(readme, variantNames(files)), []);
});

// The real kustomize, when there is one: the same objects as the small one.
function realKustomize() {
  for (const [cmd, args, probe] of [['kustomize', ['build'], ['version']], ['kubectl', ['kustomize'], ['version', '--client']]]) {
    if (spawnSync(cmd, probe, { encoding: 'utf8' }).status === 0) return { cmd, args };
  }
  return null;
}

function canonical(objects) {
  const sortKeyed = (node) => {
    if (Array.isArray(node)) return node.map(sortKeyed);
    if (!isMap(node)) return node;
    return Object.fromEntries(Object.keys(node).sort().map((k) => [k, sortKeyed(node[k])]));
  };
  return objects.map(sortKeyed).sort((a, b) => `${a.kind}/${a.metadata?.name}`.localeCompare(`${b.kind}/${b.metadata?.name}`));
}

test('kubectl kustomize (or kustomize build) renders each overlay as the small kustomize does', (t) => {
  const tool = realKustomize();
  if (!tool) return t.skip('neither kustomize nor kubectl is installed');
  const { files } = context();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bullmq-worker-variants-'));
  try {
    for (const [i, s] of SCENARIOS.entries()) {
      const dir = path.join(tmp, `overlay-${i}`);
      mkdirSync(dir);
      const relTo = (p) => path.relative(dir, p);
      const k = ['apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization', 'resources:', `  - ${relTo(k8sDir)}`];
      if (s.components.length) k.push('components:', ...s.components.map((c) => `  - ${relTo(path.join(variantsDir, c))}`));
      writeFileSync(path.join(dir, 'kustomization.yaml'), `${k.join('\n')}\n`);
      const out = spawnSync(tool.cmd, [...tool.args, dir], { encoding: 'utf8' });
      const name = ['base', ...s.components].join(' + ');
      assert.equal(out.status, 0, `${tool.cmd} ${tool.args.join(' ')} for ${name}: ${out.stderr}`);
      const ours = render(files, s.components, s);
      assert.deepEqual(canonical(parseYaml(out.stdout, name)), canonical(ours.objects), name);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

// Each check must be able to fail: broken copies of the real files.
test('each check reports a broken variant', () => {
  const { files, readme, known } = context();
  const v = (name, file) => `deploy/k8s/variants/${name}/${file}`;
  const replace = (from, to) => (text) => {
    if (!text.includes(from)) throw new Error(`the test's edit finds no ${JSON.stringify(from)}`);
    return text.replaceAll(from, to);
  };
  const rendered = (f, components, opts = {}) => render(f, components, opts);
  const sentinel = (f) => rendered(f, ['sentinel']);
  const cluster = (f) => rendered(f, ['cluster']);
  const tls = (f, topo = 'sentinel') => rendered(f, [topo, 'tls'], { tlsUrl: true });
  const cases = {
    // folders and patches
    'a patch file missing': () => checkVariantFolder(files.with(v('sentinel', 'patch-configmap.yaml'), null), 'sentinel'),
    'a file the variant does not use': () => checkVariantFolder(files.with(v('cluster', 'extra.yaml'), 'a: 1\n'), 'cluster'),
    'the example Secret applied': () => checkVariantFolder(files.with(v('cluster', 'kustomization.yaml'),
      replace('patches:\n', 'patches:\n  - path: secret.example.yaml\n')), 'cluster'),
    'a variant as an overlay of its own base folder': () => {
      const f = files.with(v('sentinel', 'kustomization.yaml'), replace(
        'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n',
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../..\n'));
      const problems = [];
      build(f, path.join(variantsDir, 'sentinel'), undefined, problems);
      return [...problems, ...checkVariantFolder(f, 'sentinel').filter((p) => /Component/.test(p))];
    },
    'a patch target renamed': () => sentinel(files.with(v('sentinel', 'kustomization.yaml'), replace('name: bullmq-worker-redis', 'name: bullmq-worker-auth'))).problems,
    'a JSON patch path that is not there': () => cluster(files.with(v('cluster', 'patch-trigger-authentication.yaml'), replace('value: address', 'value: addresses'))).problems,
    'a ConfigMap patch on another name': () => cluster(files.with(v('cluster', 'patch-configmap.yaml'), replace('name: bullmq-worker-config', 'name: worker-config'))).problems,
    // triggers against REDIS_URL
    'sentinel trigger of type redis': () => checkTriggers(sentinel(files.with(v('sentinel', 'patch-scaledobject.yaml'), replace('type: redis-sentinel', 'type: redis')))),
    'sentinel master renamed in the triggers': () => checkTriggers(sentinel(files.with(v('sentinel', 'patch-scaledobject.yaml'), replace('sentinelMaster: mymaster', 'sentinelMaster: redis-master')))),
    'sentinel master renamed in REDIS_URL': () => checkTriggers(sentinel(files.with(v('sentinel', 'secret.example.yaml'), replace(':26379/mymaster?', ':26379/other?')))),
    'a sentinel missing from the triggers': () => checkTriggers(sentinel(files.with(v('sentinel', 'patch-scaledobject.yaml'), replace(',redis-node-2.redis-headless:26379', '')))),
    'sentinels on the Redis port': () => checkTriggers(sentinel(files.with(v('sentinel', 'patch-scaledobject.yaml'), replace(':26379', ':6379')))),
    'sentinel database differs': () => checkTriggers(sentinel(files.with(v('sentinel', 'secret.example.yaml'), replace('?sentinel_password=', '?db=2&sentinel_password=')))),
    'sentinel password not given to KEDA': () => checkTriggers(sentinel(files.with(v('sentinel', 'patch-trigger-authentication.yaml'), (t) => t.slice(0, t.indexOf('- op: add'))))),
    "KEDA's sentinel password differs": () => checkTriggers(sentinel(files.with(v('sentinel', 'secret.example.yaml'), replace('sentinelPassword: change-me-too', 'sentinelPassword: other')))),
    'a username in REDIS_URL only': () => checkTriggers(cluster(files.with(v('cluster', 'secret.example.yaml'), replace('redis+cluster://:change-me@', 'redis+cluster://app:change-me@')))),
    'cluster trigger of type redis-sentinel': () => checkTriggers(cluster(files.with(v('cluster', 'patch-scaledobject.yaml'), replace('type: redis-cluster', 'type: redis-sentinel')))),
    'cluster trigger reading database 1': () => checkTriggers(cluster(files.with(v('cluster', 'patch-scaledobject.yaml'), replace('activationListLength: "0"', 'activationListLength: "0"\n        databaseIndex: "1"')))),
    'cluster nodes differ': () => checkTriggers(cluster(files.with(v('cluster', 'secret.example.yaml'), replace('redis-cluster-2.', 'redis-cluster-5.')))),
    'a Sentinel URL in the cluster variant': () => checkTriggers(cluster(files.with(v('cluster', 'secret.example.yaml'), replace('REDIS_URL: redis+cluster://', 'REDIS_URL: redis+sentinel://')))),
    'TLS URL, KEDA without TLS': () => checkTriggers(rendered(files, ['sentinel'], { tlsUrl: true })),
    'tls component, plain URL': () => checkTriggers(rendered(files, ['cluster', 'tls'])),
    'enableTLS on a trigger and tls in the TriggerAuthentication': () => checkTriggers(tls(files.with(v('sentinel', 'patch-scaledobject.yaml'), replace('databaseIndex: "0"', 'databaseIndex: "0"\n        enableTLS: "true"')))),
    'KEDA secret key missing': () => checkTriggers(cluster(files.with(v('cluster', 'secret.example.yaml'), replace('  password: change-me\n', '  pass: change-me\n')))),
    // keys
    'cluster key without its hash tag': () => checkKeys(cluster(files.with(v('cluster', 'patch-scaledobject.yaml'), replace('"{bull}:file-processing:wait"', 'bull:file-processing:wait')))),
    'cluster prefix without a hash tag': () => checkKeys(cluster(files.with(v('cluster', 'patch-configmap.yaml'), replace('BULLMQ_PREFIX: "{bull}"', 'BULLMQ_PREFIX: bull'))
      .with(v('cluster', 'patch-scaledobject.yaml'), replace('"{bull}:', '"bull:')))),
    'cluster queue tagged, keys watched under the prefix tag': () => checkKeys(cluster(files.with(v('cluster', 'patch-configmap.yaml'),
      replace('BULLMQ_PREFIX: "{bull}"', 'BULLMQ_PREFIX: bull\n  BULLMQ_QUEUE: "{file-processing}"')))),
    'sentinel prioritized key missing': () => checkKeys(sentinel(files.with(v('sentinel', 'patch-scaledobject.yaml'), replace('bull:file-processing:prioritized', 'bull:file-processing:wait')))),
    // environment
    'an unknown setting in a variant ConfigMap': () => checkEnvironment(cluster(files.with(v('cluster', 'patch-configmap.yaml'), replace('REDIS_TIMEOUT:', 'REDIS_TIMEOUT_MS:'))), known),
    'REDIS_URL in a ConfigMap': () => checkEnvironment(sentinel(files.with(v('sentinel', 'patch-configmap.yaml'), replace('data:\n', 'data:\n  REDIS_URL: redis://x\n'))), known),
    'an unknown TLS variable': () => checkEnvironment(tls(files.with(v('tls', 'patch-deployment.yaml'), replace('name: REDIS_TLS_CA', 'name: REDIS_CA'))), known),
    // TLS files
    'CA path off the mount': () => checkTls(tls(files.with(v('tls', 'patch-deployment.yaml'), replace('value: /etc/bullmq-worker/redis-tls/ca.crt', 'value: /etc/ssl/ca.crt')))),
    'CA item missing from the volume': () => checkTls(tls(files.with(v('tls', 'patch-deployment.yaml'), replace('              - key: ca.crt\n                path: ca.crt\n', '')))),
    'KEDA reads another CA key': () => checkTls(tls(files.with(v('tls', 'patch-trigger-authentication.yaml'), replace('key: ca.crt', 'key: ca.pem')), 'cluster')),
    'client key readable by everyone': () => checkTls(tls(files.with(v('tls', 'patch-deployment.yaml'), replace('defaultMode: 288', 'defaultMode: 0444')))),
    'TLS volume writable': () => checkTls(tls(files.with(v('tls', 'patch-deployment.yaml'), replace('readOnly: true', 'readOnly: false')))),
    'TLS files with a plain URL': () => checkTls(rendered(files, ['sentinel', 'tls'])),
    // README
    'README without the cluster variant': () => checkReadme(readme.replaceAll('deploy/k8s/variants/cluster', 'deploy/k8s/cluster'), variantNames(files)),
    'README without a topology link': () => checkReadme(readme.replaceAll('](#redis-topologies)', '](#deployment)'), variantNames(files)),
    'README without the hash-tagged key': () => checkReadme(readme.replaceAll('{bull}:file-processing:wait', 'bull:file-processing:wait'), variantNames(files)),
    'README scaling without the Redis-bound limit': () => {
      const ops = section(readme, 'Operations');
      return checkReadme(readme.replace(ops, ops.replaceAll('Redis-bound limit', 'limit')), variantNames(files));
    },
    'README without a new variant': () => checkReadme(readme, [...variantNames(files), 'replication']),
  };
  const reports = Object.entries(cases).map(([name, run]) => [name, run()]);
  if (process.env.VARIANTS_TEST_SHOW) for (const [name, problems] of reports) console.log(`${name}:\n  ${problems.join('\n  ')}`);
  const silent = reports.filter(([, problems]) => problems.length === 0).map(([name]) => name);
  assert.deepEqual(silent, [], 'broken variants that no check reported');
});
