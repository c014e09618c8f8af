// Checks that the container and Kubernetes files agree with the binary:
// Dockerfile, .dockerignore, docker-compose.yml and deploy/k8s/*.yaml parse,
// every flag and environment variable they give the worker exists in
// `bullmq-worker run --help`, the probes and scrape annotations use the
// --http-port value, the grace periods outlast --shutdown-timeout, the PDB and
// the KEDA ScaledObject point at the Deployment, and the runtime stage installs
// a package for every shared library the binary and its plugin link.
//
// Each check is a function returning a list of problems; the last test feeds
// broken variants of the real files to the same functions and expects each to
// report a problem, so no check passes vacuously.
//
//   cd tests/deploy && npm ci && BULLMQ_WORKER_BIN=../../build/bullmq-worker node --test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.BULLMQ_WORKER_BIN
  ? path.resolve(process.env.BULLMQ_WORKER_BIN)
  : path.join(root, 'build/bullmq-worker');
const plugin = path.join(path.dirname(bin), 'bullmq-worker-files.so');
const k8sDir = path.join(root, 'deploy/k8s');

// Environment variables the worker reads that are not a flag's twin
// (documented in the README).
const DOCUMENTED_ENV = new Set(['BULLMQ_WORKER_PLUGIN_DIR']);

// Soname -> Debian 12 runtime package. Libraries of debian:12-slim itself need
// no package. A soname missing from both fails the test: add it here and to
// the Dockerfile's runtime stage.
const SLIM_BASE = new Set([
  'libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'librt.so.1',
  'ld-linux-x86-64.so.2', 'ld-linux-aarch64.so.1', 'libstdc++.so.6', 'libgcc_s.so.1',
  'libz.so.1',
]);
const SONAME_PACKAGE = {
  'libssl.so.3': 'libssl3',
  'libcrypto.so.3': 'libssl3',
  'libcctz.so.2': 'libcctz2',
  'libpqxx-6.4.so': 'libpqxx-6.4',
  'libpq.so.5': 'libpq5',
  'libmagic.so.1': 'libmagic1',
  'libpoppler-cpp.so.0': 'libpoppler-cpp0v5',
  'libzip.so.4': 'libzip4',
  'libpugixml.so.1': 'libpugixml1v5',
};
// Not libraries, but needed at run time: time zones for cron schedulers, CA
// certificates for rediss:// and TLS to PostgreSQL.
const RUNTIME_DATA_PACKAGES = ['tzdata', 'ca-certificates'];

// ---------------------------------------------------------------- the binary

function parseHelp(text) {
  const flags = new Map(); // --flag -> { env, takesValue }
  for (const line of text.split('\n')) {
    const m = /^\s+(?:-\w,)?(--[a-z0-9][a-z0-9-]*)(.*)$/.exec(line);
    if (!m) continue;
    const env = /\(Env:([A-Za-z0-9_]+)\)/.exec(m[2]);
    // A value's type name follows the flag after one space (TEXT, INT:…, FILE,
    // MS:…); a description follows after two or more.
    const takesValue = /^ [A-Z][A-Z0-9_]*(?::|\s|$)/.test(m[2]);
    flags.set(m[1], { env: env ? env[1] : null, takesValue });
  }
  return flags;
}

function helpOf(subcommand) {
  const r = spawnSync(bin, [subcommand, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${bin} ${subcommand} --help failed: ${r.stderr}`);
  return parseHelp(r.stdout);
}

function neededLibraries(file) {
  // Direct dependencies (readelf NEEDED); ldd would also list their own
  // dependencies, which apt installs with the direct ones.
  const r = spawnSync('readelf', ['-d', file], { encoding: 'utf8' });
  if (r.status === 0) return [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  return lddLibraries(file).map((l) => l.name);
}

function lddLibraries(file) {
  const out = execFileSync('ldd', [file], { encoding: 'utf8' });
  return out.split('\n').map((l) => /^\s*(\S+)\s+=>\s+(.*?)\s*(\(0x[0-9a-f]+\))?$/.exec(l))
    .filter(Boolean).map((m) => ({ name: m[1], target: m[2] }));
}

// ---------------------------------------------------------------- parsing

function parseYamlFile(file) {
  return parseYaml(readFileSync(file, 'utf8'), file);
}

function parseYaml(text, name = 'yaml') {
  const docs = parseAllDocuments(text, { merge: true }); // compose uses << merge keys
  const out = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${name}: ${d.errors.map((e) => e.message).join('; ')}`);
    const js = d.toJS();
    if (js != null) out.push(js);
  }
  return out;
}

function loadK8s() {
  const files = readdirSync(k8sDir).filter((f) => /\.ya?ml$/.test(f)).sort();
  const byFile = {};
  for (const f of files) byFile[f] = parseYamlFile(path.join(k8sDir, f));
  return byFile;
}

function allObjects(byFile) {
  return Object.values(byFile).flat();
}

// Splits container args ["run", "--a=1", "--b", "2", "--flag"] against a
// parsed --help: returns { subcommand, values: Map, problems }.
function parseArgs(args, flags, expectedSubcommand) {
  const problems = [];
  const values = new Map();
  const list = (args ?? []).map(String);
  const subcommand = list[0];
  if (subcommand !== expectedSubcommand) problems.push(`args start with ${JSON.stringify(subcommand)}, not "${expectedSubcommand}"`);
  for (let i = 1; i < list.length; i++) {
    const a = list[i];
    if (!a.startsWith('--')) { problems.push(`unexpected positional argument ${JSON.stringify(a)}`); continue; }
    const eq = a.indexOf('=');
    const name = eq < 0 ? a : a.slice(0, eq);
    const spec = flags.get(name);
    if (!spec) { problems.push(`flag ${name} is not in \`bullmq-worker ${expectedSubcommand} --help\``); continue; }
    let value = eq < 0 ? undefined : a.slice(eq + 1);
    if (value === undefined && spec.takesValue) value = list[++i];
    if (spec.takesValue && value === undefined) problems.push(`flag ${name} has no value`);
    values.set(name, value ?? 'true');
  }
  return { subcommand, values, problems };
}

function envTwins(flags) {
  return new Map([...flags].filter(([, s]) => s.env).map(([f, s]) => [s.env, f]));
}

// The value a setting takes: the flag wins over its environment twin.
function effective(flag, argValues, env, flags) {
  if (argValues.has(flag)) return argValues.get(flag);
  const twin = flags.get(flag)?.env;
  return twin ? env[twin] : undefined;
}

function msFromDuration(s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(s ?? '').trim());
  if (!m) return NaN;
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60000 }[m[2] ?? 's']);
}

// ---------------------------------------------------------------- k8s checks

function find(objects, kind, name) {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
}

function matches(selector, labels) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v) && Object.keys(selector ?? {}).length > 0;
}

// The worker container's environment as Kubernetes builds it: env entries
// plus the keys of the ConfigMaps and Secrets of envFrom (Secrets from
// secret.example.yaml).
function containerEnv(container, objects, problems) {
  const env = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = find(objects, 'ConfigMap', from.configMapRef.name)[0];
      if (!cm) { problems.push(`envFrom ConfigMap ${from.configMapRef.name} is not in deploy/k8s`); continue; }
      Object.assign(env, cm.data);
    }
    if (from.secretRef) {
      const s = find(objects, 'Secret', from.secretRef.name)[0];
      if (!s) { problems.push(`envFrom Secret ${from.secretRef.name} has no example in deploy/k8s`); continue; }
      for (const k of Object.keys({ ...s.stringData, ...s.data })) env[k] = `<secret ${k}>`;
    }
  }
  for (const e of container.env ?? []) env[e.name] = e.value ?? `<from ${JSON.stringify(e.valueFrom)}>`;
  return env;
}

function checkEnvNames(env, twins, where) {
  return Object.keys(env).filter((k) => !twins.has(k) && !DOCUMENTED_ENV.has(k))
    .map((k) => `${where}: environment variable ${k} is not an environment twin in \`run --help\``);
}

function portNumber(container, port) {
  if (typeof port === 'number') return port;
  return (container.ports ?? []).find((p) => p.name === port)?.containerPort;
}

function checkDeployment(objects, runFlags) {
  const problems = [];
  const twins = envTwins(runFlags);
  const deployments = find(objects, 'Deployment');
  if (deployments.length !== 1) return [`expected one Deployment, found ${deployments.length}`];
  const d = deployments[0];
  const pod = d.spec?.template?.spec ?? {};
  const labels = d.spec?.template?.metadata?.labels ?? {};
  if (!matches(d.spec?.selector?.matchLabels, labels)) problems.push('Deployment selector does not match its pod labels');
  const container = (pod.containers ?? [])[0];
  if (!container) return [...problems, 'Deployment has no container'];

  const args = parseArgs(container.args, runFlags, 'run');
  problems.push(...args.problems.map((p) => `Deployment args: ${p}`));
  if (container.command) problems.push('Deployment overrides the image ENTRYPOINT (command); use args');
  const env = containerEnv(container, objects, problems);
  problems.push(...checkEnvNames(env, twins, 'Deployment'));

  // Probes and metrics on the --http-port value.
  const httpPort = Number(effective('--http-port', args.values, env, runFlags));
  if (!runFlags.has('--http-port')) problems.push('`run --help` has no --http-port flag');
  if (!(httpPort > 0)) problems.push(`--http-port is not set to a port (got ${httpPort})`);
  const named = (container.ports ?? []).find((p) => p.name === 'http');
  if (named?.containerPort !== httpPort) problems.push(`container port "http" is ${named?.containerPort}, --http-port is ${httpPort}`);
  const probes = { livenessProbe: '/livez', readinessProbe: '/readyz' };
  for (const [probe, wanted] of Object.entries(probes)) {
    const p = container[probe]?.httpGet;
    if (!p) { problems.push(`${probe} is not an httpGet probe`); continue; }
    if (p.path !== wanted) problems.push(`${probe} path is ${p.path}, not ${wanted}`);
    if (portNumber(container, p.port) !== httpPort) problems.push(`${probe} port ${p.port} is not --http-port ${httpPort}`);
  }
  if (container.startupProbe?.httpGet) {
    const p = container.startupProbe.httpGet;
    if (p.path !== '/livez' || portNumber(container, p.port) !== httpPort) problems.push('startupProbe is not /livez on --http-port');
  }
  const ann = d.spec?.template?.metadata?.annotations ?? {};
  if (ann['prometheus.io/scrape'] !== 'true') problems.push('no prometheus.io/scrape: "true" annotation');
  if (Number(ann['prometheus.io/port']) !== httpPort) problems.push(`prometheus.io/port ${ann['prometheus.io/port']} is not --http-port ${httpPort}`);
  if ((ann['prometheus.io/path'] ?? '/metrics') !== '/metrics') problems.push('prometheus.io/path is not /metrics');

  // Shutdown: the grace period outlasts --shutdown-timeout.
  const shutdown = Number(effective('--shutdown-timeout', args.values, env, runFlags));
  const grace = pod.terminationGracePeriodSeconds;
  if (!(shutdown > 0)) problems.push('--shutdown-timeout is not set: a long job would be SIGKILLed instead of handed back');
  if (!(grace * 1000 > shutdown)) problems.push(`terminationGracePeriodSeconds ${grace} s is not longer than --shutdown-timeout ${shutdown} ms`);

  // Resources, security, volumes.
  for (const kind of ['requests', 'limits']) {
    for (const r of ['cpu', 'memory']) {
      if (container.resources?.[kind]?.[r] == null) problems.push(`resources.${kind}.${r} is not set`);
    }
  }
  const runAsUser = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
  const nonRoot = container.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
  if (nonRoot !== true || !(runAsUser > 0)) problems.push('the pod does not run as a non-root user');
  if (container.securityContext?.readOnlyRootFilesystem !== true) problems.push('root filesystem is not read-only');
  if (container.securityContext?.allowPrivilegeEscalation !== false) problems.push('allowPrivilegeEscalation is not false');
  const mounts = container.volumeMounts ?? [];
  const volume = (name) => (pod.volumes ?? []).find((v) => v.name === name);
  const tmp = mounts.find((m) => m.mountPath === '/tmp');
  if (!tmp || !volume(tmp.name)?.emptyDir) problems.push('/tmp is not an emptyDir volume');
  const storage = env.STORAGE_BASE_PATH ?? args.values.get('--storage-base-path');
  const processors = effective('--processors', args.values, env, runFlags) ?? 'files';
  if (processors === 'files') {
    if (!storage) problems.push('processors files without STORAGE_BASE_PATH');
    const m = mounts.find((x) => storage && (storage === x.mountPath || storage.startsWith(`${x.mountPath}/`)));
    if (!m) problems.push(`STORAGE_BASE_PATH ${storage} is not on a mounted volume`);
    else if (!volume(m.name)) problems.push(`volume ${m.name} is not defined`);
    else if (volume(m.name).persistentVolumeClaim && !find(objects, 'PersistentVolumeClaim', volume(m.name).persistentVolumeClaim.claimName).length) {
      problems.push(`PersistentVolumeClaim ${volume(m.name).persistentVolumeClaim.claimName} is not in deploy/k8s`);
    }
    if (!env.DATABASE_URL && !args.values.has('--database-url')) problems.push('processors files without DATABASE_URL');
  }
  const queue = effective('--queue', args.values, env, runFlags);
  if (!queue) problems.push('no queue (--queue / BULLMQ_QUEUE)');
  if (!env.REDIS_URL && !args.values.has('--redis') && !env.REDIS_HOST) problems.push('no Redis (REDIS_URL)');
  for (const secret of ['REDIS_URL', 'DATABASE_URL', 'REDIS_PASSWORD']) {
    const cmKeys = find(objects, 'ConfigMap').flatMap((c) => Object.keys(c.data ?? {}));
    if (cmKeys.includes(secret)) problems.push(`${secret} is in a ConfigMap, not a Secret`);
  }
  return problems;
}

function checkPdb(objects) {
  const problems = [];
  const d = find(objects, 'Deployment')[0];
  const pdbs = find(objects, 'PodDisruptionBudget');
  if (pdbs.length !== 1) return [`expected one PodDisruptionBudget, found ${pdbs.length}`];
  const sel = pdbs[0].spec?.selector?.matchLabels;
  if (!matches(sel, d?.spec?.template?.metadata?.labels)) problems.push('the PDB selector does not match the Deployment pod labels');
  for (const j of find(objects, 'Job')) {
    if (matches(sel, j.spec?.template?.metadata?.labels)) problems.push(`the PDB selector also matches Job ${j.metadata.name}'s pods`);
  }
  const { minAvailable, maxUnavailable } = pdbs[0].spec ?? {};
  if ((minAvailable == null) === (maxUnavailable == null)) problems.push('the PDB needs exactly one of minAvailable, maxUnavailable');
  return problems;
}

function checkScaledObject(objects, runFlags) {
  const problems = [];
  const d = find(objects, 'Deployment')[0];
  const sos = find(objects, 'ScaledObject');
  if (sos.length !== 1) return [`expected one ScaledObject, found ${sos.length}`];
  const so = sos[0];
  if (!/^keda\.sh\//.test(so.apiVersion ?? '')) problems.push(`ScaledObject apiVersion ${so.apiVersion} is not keda.sh`);
  const ref = so.spec?.scaleTargetRef ?? {};
  if (ref.name !== d?.metadata?.name) problems.push(`ScaledObject targets ${ref.name}, the Deployment is ${d?.metadata?.name}`);
  if ((ref.kind ?? 'Deployment') !== 'Deployment') problems.push(`ScaledObject targets a ${ref.kind}`);
  const container = d?.spec?.template?.spec?.containers?.[0] ?? {};
  const args = parseArgs(container.args, runFlags, 'run');
  const env = containerEnv(container, objects, []);
  const prefix = effective('--prefix', args.values, env, runFlags) ?? 'bull';
  const queue = effective('--queue', args.values, env, runFlags);
  const triggers = so.spec?.triggers ?? [];
  const redisKeys = triggers.filter((t) => t.type === 'redis').map((t) => t.metadata?.listName);
  if (!redisKeys.includes(`${prefix}:${queue}:wait`)) problems.push(`no redis trigger on ${prefix}:${queue}:wait (have ${redisKeys.join(', ')})`);
  const prioritized = redisKeys.includes(`${prefix}:${queue}:prioritized`) ||
    triggers.some((t) => t.type === 'prometheus' && /bullmq_queue_jobs/.test(t.metadata?.query ?? '') && /prioritized/.test(t.metadata?.query ?? ''));
  if (!prioritized) problems.push(`no trigger covers the prioritized jobs of ${prefix}:${queue}`);
  for (const t of triggers) {
    if (t.type === 'redis' && !(Number(t.metadata?.listLength) > 0)) problems.push(`redis trigger ${t.name} has no positive listLength`);
    const auth = t.authenticationRef?.name;
    if (auth && !find(objects, 'TriggerAuthentication', auth).length) problems.push(`TriggerAuthentication ${auth} is not in deploy/k8s`);
    if (t.type === 'redis' && !auth && !t.metadata?.address && !t.metadata?.addressFromEnv && !t.metadata?.host) problems.push(`redis trigger ${t.name} has no address`);
  }
  if (!(so.spec?.maxReplicaCount >= (so.spec?.minReplicaCount ?? 0))) problems.push('maxReplicaCount is below minReplicaCount');
  return problems;
}

function checkMigrateJob(objects, migrateFlags) {
  const problems = [];
  const jobs = find(objects, 'Job');
  if (jobs.length !== 1) return [`expected one Job, found ${jobs.length}`];
  const pod = jobs[0].spec?.template?.spec ?? {};
  const c = pod.containers?.[0] ?? {};
  const args = parseArgs(c.args, migrateFlags, 'migrate');
  problems.push(...args.problems.map((p) => `migrate Job args: ${p}`));
  const env = containerEnv(c, objects, problems);
  if (!env.DATABASE_URL && !args.values.has('--database-url')) problems.push('the migrate Job has no DATABASE_URL');
  problems.push(...checkEnvNames(env, envTwins(migrateFlags), 'migrate Job'));
  if (!['OnFailure', 'Never'].includes(pod.restartPolicy)) problems.push(`migrate Job restartPolicy ${pod.restartPolicy}`);
  const d = find(objects, 'Deployment')[0];
  if (c.image !== d?.spec?.template?.spec?.containers?.[0]?.image) problems.push('the migrate Job runs another image than the Deployment');
  return problems;
}

function checkKustomization(byFile) {
  const problems = [];
  const k = byFile['kustomization.yaml']?.[0];
  if (!k) return ['no kustomization.yaml'];
  const listed = new Set(k.resources ?? []);
  for (const f of listed) if (!byFile[f]) problems.push(`kustomization lists missing ${f}`);
  for (const f of Object.keys(byFile)) {
    if (f === 'kustomization.yaml' || f === 'secret.example.yaml') continue;
    if (!listed.has(f)) problems.push(`kustomization does not list ${f}`);
  }
  if (listed.has('secret.example.yaml')) problems.push('kustomization applies the example Secret (placeholders)');
  for (const [f, docs] of Object.entries(byFile)) {
    if (f === 'kustomization.yaml') continue;
    for (const o of docs) if (!o.apiVersion || !o.kind || !o.metadata?.name) problems.push(`${f}: an object without apiVersion, kind or metadata.name`);
  }
  return problems;
}

// ---------------------------------------------------------------- compose

function commandList(cmd) {
  if (Array.isArray(cmd)) return cmd.map(String);
  return cmd == null ? [] : String(cmd).trim().split(/\s+/);
}

function scriptFlags(script) {
  const r = spawnSync(process.execPath, [path.join(root, script), '--help'], { encoding: 'utf8' });
  return new Set([...`${r.stdout}${r.stderr}`.matchAll(/(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]));
}

function checkCompose(compose, runFlags, migrateFlags) {
  const problems = [];
  const s = compose.services ?? {};
  for (const name of ['redis', 'postgres', 'migrate', 'worker', 'producer', 'bull-board']) {
    if (!s[name]) problems.push(`compose has no ${name} service`);
  }
  for (const name of ['redis', 'postgres']) if (s[name] && !s[name].healthcheck?.test) problems.push(`compose ${name} has no healthcheck`);
  const w = s.worker ?? {};
  if (!w.build) problems.push('compose worker is not built from this repository (build:)');
  const args = parseArgs(commandList(w.command), runFlags, 'run');
  problems.push(...args.problems.map((p) => `compose worker command: ${p}`));
  const env = w.environment ?? {};
  if (Array.isArray(env)) problems.push('compose worker environment must be a map');
  problems.push(...checkEnvNames(env, envTwins(runFlags), 'compose worker'));
  const httpPort = Number(effective('--http-port', args.values, env, runFlags));
  if (!(httpPort > 0)) problems.push('compose worker has no --http-port');
  const published = (w.ports ?? []).map((p) => String(p).split(':').at(-1).split('/')[0]);
  if (!published.includes(String(httpPort))) problems.push(`compose worker does not publish --http-port ${httpPort}`);
  const shutdown = Number(effective('--shutdown-timeout', args.values, env, runFlags));
  const grace = msFromDuration(w.stop_grace_period ?? '10s');
  if (!(grace > shutdown)) problems.push(`compose worker stop_grace_period ${w.stop_grace_period} is not longer than --shutdown-timeout ${shutdown}`);
  if (w.depends_on?.migrate?.condition !== 'service_completed_successfully') problems.push('compose worker does not wait for migrate to complete');
  if (!['service_healthy'].includes(w.depends_on?.redis?.condition)) problems.push('compose worker does not wait for a healthy redis');
  const m = s.migrate ?? {};
  const margs = parseArgs(commandList(m.command), migrateFlags, 'migrate');
  problems.push(...margs.problems.map((p) => `compose migrate command: ${p}`));
  if (!(m.environment?.DATABASE_URL || margs.values.has('--database-url'))) problems.push('compose migrate has no DATABASE_URL');
  if (m.depends_on?.postgres?.condition !== 'service_healthy') problems.push('compose migrate does not wait for a healthy postgres');
  if (m.image !== w.image && !m.build) problems.push('compose migrate does not run the worker image');
  // The Node services run the repository's scripts with flags those scripts know.
  for (const [svc, script] of [['producer', 'scripts/producer.mjs'], ['bull-board', 'scripts/bull-board.mjs']]) {
    const cmd = commandList(s[svc]?.command).join(' ');
    if (!cmd.includes(script)) { problems.push(`compose ${svc} does not run ${script}`); continue; }
    if (!existsSync(path.join(root, script))) { problems.push(`${script} does not exist`); continue; }
    const known = scriptFlags(script);
    const used = cmd.slice(cmd.indexOf(script)).match(/--[a-z][a-z0-9-]*/g) ?? [];
    for (const f of used) if (!known.has(f)) problems.push(`compose ${svc}: ${f} is not in \`node ${script} --help\``);
  }
  if (!/0\.0\.0\.0/.test(commandList(s['bull-board']?.command).join(' '))) problems.push('compose bull-board does not listen on 0.0.0.0');
  const nodeDeps = Object.values(s).some((x) => /npm ci --prefix scripts\/node/.test(commandList(x.command).join(' ')));
  if (!nodeDeps) problems.push('no compose service runs `npm ci --prefix scripts/node`');
  return problems;
}

// ---------------------------------------------------------------- Dockerfile

function readBuildScript() {
  return readFileSync(path.join(root, 'scripts/build-release.sh'), 'utf8');
}

function parseDockerfile(text) {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).filter((l) => l.trim() && !/^\s*#/.test(l));
  const stages = [];
  for (const l of lines) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(l);
    if (!m) continue;
    const ins = { op: m[1].toUpperCase(), arg: m[2].trim() };
    if (ins.op === 'FROM') {
      const f = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(ins.arg);
      stages.push({ image: f[1], name: f[2], ins: [] });
    } else if (stages.length) stages.at(-1).ins.push(ins);
  }
  return stages;
}

function execForm(arg) {
  try { const v = JSON.parse(arg); return Array.isArray(v) ? v : null; } catch { return null; }
}

function aptPackages(stage) {
  const pkgs = new Set();
  for (const i of stage.ins.filter((x) => x.op === 'RUN')) {
    for (const m of i.arg.matchAll(/apt-get\s+install\s+([^&;|]*)/g)) {
      for (const w of m[1].split(/\s+/)) if (w && !w.startsWith('-')) pkgs.add(w);
    }
  }
  return pkgs;
}

// The build stage runs the same commands as CI's release suite: it installs
// the build dependencies with `scripts/install-deps.sh --build-only` and builds
// with `scripts/build-release.sh [DIR]` (no cmake of its own, no -Werror
// forced). Returns the absolute folder the artefacts are built in (the stage's
// WORKDIR joined with DIR, or the script's default), or null.
function buildStageArtefacts(build, buildScript, problems) {
  const runs = build.ins.filter((i) => i.op === 'RUN').map((i) => i.arg);
  const command = (re) => runs.map((r) => re.exec(r)).find(Boolean);
  if (!command(/(?:^|[\s;&|(])(?:\.\/)?scripts\/install-deps\.sh\s+--build-only(?=$|[\s;&|)])/)) {
    problems.push('build stage does not run scripts/install-deps.sh --build-only');
  }
  const release = command(/(?:^|[\s;&|(])(?:\.\/)?scripts\/build-release\.sh((?:\s+[^\s;&|)]+)*)/);
  if (!release) problems.push('build stage does not run scripts/build-release.sh');
  if (runs.some((r) => /(^|[\s;&|(])cmake\s/.test(r))) problems.push('build stage runs cmake itself instead of scripts/build-release.sh');
  if (runs.some((r) => /BULLMQ_WORKER_WERROR=(ON|1|TRUE|YES)/i.test(r))) problems.push('build stage forces -Werror (BULLMQ_WORKER_WERROR=ON) on a release build');
  // What the script does: a Release build without tests, stripped, checked.
  for (const needle of ['-DCMAKE_BUILD_TYPE=Release', '-DBULLMQ_WORKER_TESTS=OFF', 'strip ', '--version']) {
    if (!buildScript.includes(needle)) problems.push(`scripts/build-release.sh does not run ${needle}`);
  }
  for (const file of ['bullmq-worker', 'bullmq-worker-files.so']) {
    if (!new RegExp(`strip\\b.*"\\$dir/${file.replace('.', '\\.')}"`).test(buildScript)) problems.push(`scripts/build-release.sh does not strip ${file}`);
  }
  const defaultDir = /^dir=(\S+)$/m.exec(buildScript)?.[1];
  if (!defaultDir) problems.push('scripts/build-release.sh has no default build folder (dir=...)');
  if (!release || !defaultDir) return null;
  const args = release[1].trim().split(/\s+/).filter(Boolean);
  const dir = args[0] && !args[0].startsWith('-') ? args[0] : defaultDir;
  const workdir = build.ins.filter((i) => i.op === 'WORKDIR').at(-1)?.arg ?? '/';
  return path.posix.join(workdir, dir);
}

function checkDockerfile(text, dockerignore, runFlags, libraries, httpPortOfDeployment, buildScript = readBuildScript()) {
  const problems = [];
  const stages = parseDockerfile(text);
  if (stages.length < 2) return [`Dockerfile has ${stages.length} stage(s), not a multi-stage build`];
  const [build, runtime] = [stages[0], stages.at(-1)];
  if (build.image !== 'debian:12') problems.push(`build stage is ${build.image}, not debian:12`);
  if (runtime.image !== 'debian:12-slim') problems.push(`runtime stage is ${runtime.image}, not debian:12-slim`);
  const artefacts = buildStageArtefacts(build, buildScript, problems);
  for (const c of build.ins.filter((i) => i.op === 'COPY')) {
    const parts = c.arg.split(/\s+/).filter((p) => !p.startsWith('--'));
    for (const src of parts.slice(0, -1)) if (src !== '.' && !existsSync(path.join(root, src))) problems.push(`COPY source ${src} does not exist`);
  }
  // Runtime libraries: every directly linked soname has its package.
  const pkgs = aptPackages(runtime);
  for (const lib of libraries) {
    if (SLIM_BASE.has(lib)) continue;
    const pkg = SONAME_PACKAGE[lib];
    if (!pkg) problems.push(`${lib} is linked but the test's soname map has no package for it`);
    else if (!pkgs.has(pkg)) problems.push(`runtime stage does not install ${pkg} (for ${lib})`);
  }
  for (const p of RUNTIME_DATA_PACKAGES) if (!pkgs.has(p)) problems.push(`runtime stage does not install ${p}`);
  if (!/--no-install-recommends/.test(runtime.ins.map((i) => i.arg).join('\n'))) problems.push('runtime apt-get install without --no-install-recommends');
  for (const p of ['build-essential', 'cmake', 'nodejs', 'npm', 'g++']) if (pkgs.has(p)) problems.push(`runtime stage installs build tool ${p}`);
  // Files, user, entrypoint, signals, healthcheck, labels.
  const copies = runtime.ins.filter((i) => i.op === 'COPY').map((i) => i.arg);
  const binCopy = copies.find((c) => /--from=\S+/.test(c) && /\/bullmq-worker\s+\/usr\/local\/bin\/bullmq-worker$/.test(c));
  if (!binCopy) problems.push('runtime stage does not copy the binary to /usr/local/bin/bullmq-worker');
  // The binary looks for the plugin in ../lib/bullmq-worker/ next to itself.
  const pluginDir = path.posix.join('/usr/local/bin', '../lib/bullmq-worker');
  const pluginCopy = copies.find((c) => /--from=\S+/.test(c) && new RegExp(`bullmq-worker-files\\.so\\s+${pluginDir}/(bullmq-worker-files\\.so)?$`).test(c));
  if (!pluginCopy) problems.push(`runtime stage does not copy bullmq-worker-files.so to ${pluginDir}/`);
  // ... from the build stage's folder that scripts/build-release.sh builds.
  for (const [copy, file] of [[binCopy, 'bullmq-worker'], [pluginCopy, 'bullmq-worker-files.so']]) {
    if (!copy || !artefacts) continue;
    const [from, source] = copy.split(/\s+/);
    if (!new RegExp(`^--from=(${build.name ?? '0'}|0)$`).test(from)) problems.push(`runtime stage copies ${file} ${from}, not from the build stage`);
    const wanted = path.posix.join(artefacts, file);
    if (path.posix.normalize(source) !== wanted) problems.push(`runtime stage copies ${source}, but scripts/build-release.sh builds ${wanted}`);
  }
  const last = (op) => runtime.ins.filter((i) => i.op === op).at(-1)?.arg;
  const user = last('USER');
  if (!user || /^(0|root)(:|$)/.test(user)) problems.push(`runtime USER is ${user ?? 'unset (root)'}`);
  else if (!/^\d+(:\d+)?$/.test(user)) problems.push('runtime USER should be numeric so runAsNonRoot can verify it');
  const entry = execForm(last('ENTRYPOINT') ?? '');
  if (!entry || entry[0] !== 'bullmq-worker') problems.push('ENTRYPOINT is not the exec form ["bullmq-worker"]');
  const cmd = execForm(last('CMD') ?? '');
  if (!cmd || cmd[0] !== 'run') problems.push('CMD is not the exec form ["run"]');
  if (last('STOPSIGNAL') !== 'SIGTERM') problems.push('STOPSIGNAL is not SIGTERM');
  const env = {};
  for (const e of runtime.ins.filter((i) => i.op === 'ENV')) {
    for (const m of e.arg.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) env[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  problems.push(...checkEnvNames(env, envTwins(runFlags), 'Dockerfile ENV'));
  const httpPort = Number(env.BULLMQ_HTTP_PORT);
  if (!(httpPort > 0)) problems.push('Dockerfile does not turn the HTTP listener on (ENV BULLMQ_HTTP_PORT)');
  if (httpPort !== httpPortOfDeployment) problems.push(`Dockerfile BULLMQ_HTTP_PORT ${httpPort} differs from the Deployment's --http-port ${httpPortOfDeployment}`);
  if (!(last('EXPOSE') ?? '').split(/\s+/).includes(String(httpPort))) problems.push(`Dockerfile does not EXPOSE ${httpPort}`);
  const hc = last('HEALTHCHECK') ?? '';
  if (!/\bCMD\b/.test(hc) || !hc.includes('/livez')) problems.push('HEALTHCHECK does not check /livez');
  if (!hc.includes('BULLMQ_HTTP_PORT') && !hc.includes(String(httpPort))) problems.push('HEALTHCHECK does not use the HTTP port');
  const hcTool = /curl|wget/.exec(hc)?.[0];
  if (hcTool && !pkgs.has(hcTool)) problems.push(`HEALTHCHECK uses ${hcTool}, which the runtime stage does not install`);
  const labels = runtime.ins.filter((i) => i.op === 'LABEL').map((i) => i.arg).join(' ');
  for (const l of ['org.opencontainers.image.title', 'org.opencontainers.image.version', 'org.opencontainers.image.revision']) {
    if (!labels.includes(l)) problems.push(`no ${l} label`);
  }
  const ignored = dockerignore.split(/\r?\n/).map((l) => l.trim());
  for (const p of ['build*', '.state', '.git']) if (!ignored.includes(p)) problems.push(`.dockerignore lacks ${p}`);
  if (!ignored.some((l) => /node_modules/.test(l))) problems.push('.dockerignore lacks node_modules');
  for (const keep of ['src', 'lua', 'scripts', 'CMakeLists.txt']) {
    if (ignored.includes(keep) || ignored.includes(`${keep}/`)) problems.push(`.dockerignore excludes ${keep}, which the build needs`);
  }
  return problems;
}

// ---------------------------------------------------------------- the tests

const ctx = {};
function context() {
  if (ctx.runFlags) return ctx;
  ctx.runFlags = helpOf('run');
  ctx.migrateFlags = helpOf('migrate');
  ctx.byFile = loadK8s();
  ctx.objects = allObjects(ctx.byFile);
  ctx.compose = parseYamlFile(path.join(root, 'docker-compose.yml'))[0];
  ctx.dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  ctx.dockerignore = readFileSync(path.join(root, '.dockerignore'), 'utf8');
  ctx.buildScript = readBuildScript();
  ctx.libraries = [...new Set([bin, plugin].flatMap(neededLibraries))];
  const d = find(ctx.objects, 'Deployment')[0];
  const c = d?.spec?.template?.spec?.containers?.[0] ?? {};
  const args = parseArgs(c.args, ctx.runFlags, 'run');
  ctx.httpPort = Number(effective('--http-port', args.values, containerEnv(c, ctx.objects, []), ctx.runFlags));
  return ctx;
}

function clone(x) { return structuredClone(x); }

test('the binary lists its flags with environment twins', () => {
  const { runFlags, migrateFlags } = context();
  for (const f of ['--queue', '--redis', '--shutdown-timeout', '--database-url', '--storage-base-path']) {
    assert.ok(runFlags.get(f)?.env, `run --help lists ${f} with its environment twin`);
  }
  assert.equal(migrateFlags.get('--database-url')?.env, 'DATABASE_URL');
});

test('the HTTP listener flags exist (--http-port, --http-host)', () => {
  const { runFlags } = context();
  assert.equal(runFlags.get('--http-port')?.env, 'BULLMQ_HTTP_PORT', '`run --help` lists --http-port (Env:BULLMQ_HTTP_PORT)');
  assert.equal(runFlags.get('--http-host')?.env, 'BULLMQ_HTTP_HOST', '`run --help` lists --http-host (Env:BULLMQ_HTTP_HOST)');
});

test('every manifest parses, and the kustomization lists them', () => {
  const { byFile } = context();
  for (const f of ['deployment.yaml', 'scaledobject.yaml', 'pdb.yaml', 'migrate-job.yaml', 'configmap.yaml', 'secret.example.yaml', 'kustomization.yaml']) {
    assert.ok(byFile[f]?.length, `deploy/k8s/${f} exists and is not empty`);
  }
  assert.deepEqual(checkKustomization(byFile), []);
});

test('the Deployment agrees with the binary: flags, environment, probes, metrics port, shutdown', () => {
  const { objects, runFlags } = context();
  assert.deepEqual(checkDeployment(objects, runFlags), []);
});

test('the PodDisruptionBudget selects the Deployment pods (and only them)', () => {
  const { objects } = context();
  assert.deepEqual(checkPdb(objects), []);
});

test('the KEDA ScaledObject scales the Deployment on the waiting and prioritized jobs', () => {
  const { objects, runFlags } = context();
  assert.deepEqual(checkScaledObject(objects, runFlags), []);
});

test('the migrate Job runs `bullmq-worker migrate` with the database URL', () => {
  const { objects, migrateFlags } = context();
  assert.deepEqual(checkMigrateJob(objects, migrateFlags), []);
});

test('docker-compose.yml: services, flags, environment, health and ordering', () => {
  const { compose, runFlags, migrateFlags } = context();
  assert.deepEqual(checkCompose(compose, runFlags, migrateFlags), []);
});

test('the binary and its plugin resolve every shared library on the build host', () => {
  for (const f of [bin, plugin]) {
    const missing = lddLibraries(f).filter((l) => /not found/.test(l.target));
    assert.deepEqual(missing, [], `${f}: ldd reports missing libraries`);
  }
});

test('the Dockerfile: stages, runtime packages for every linked library, user, entrypoint, healthcheck', () => {
  const { dockerfile, dockerignore, runFlags, libraries, httpPort } = context();
  assert.ok(libraries.length > 3, `found the linked libraries of ${bin} and its plugin`);
  assert.deepEqual(checkDockerfile(dockerfile, dockerignore, runFlags, libraries, httpPort), []);
});

test('install-deps.sh --build-only: what the build needs, no browser, test servers or formatter', () => {
  const list = (...args) => {
    const r = spawnSync('bash', [path.join(root, 'scripts/install-deps.sh'), ...args, '--list'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return new Set(r.stdout.split('\n').filter(Boolean));
  };
  const buildOnly = list('--build-only');
  const all = list();
  for (const p of ['build-essential', 'cmake', 'pkg-config', 'nodejs', 'npm', 'libboost-dev', 'libssl-dev',
    'libpqxx-dev', 'libpoppler-cpp-dev']) assert.ok(buildOnly.has(p), `--build-only installs ${p}`);
  for (const p of ['chromium', 'redis-server', 'postgresql', 'clang-format', 'doctest-dev']) {
    assert.ok(!buildOnly.has(p), `--build-only does not install ${p}`);
    assert.ok(all.has(p), `the default installs ${p}`);
  }
  for (const p of buildOnly) assert.ok(all.has(p), `the default installs ${p} too`);
});

test('the runtime packages exist in Debian 12 (apt-cache)', (t) => {
  const { dockerfile } = context();
  if (spawnSync('apt-cache', ['--version']).status !== 0) return t.skip('no apt-cache here');
  const pkgs = [...aptPackages(parseDockerfile(dockerfile).at(-1))];
  const r = spawnSync('apt-cache', ['policy', ...pkgs], { encoding: 'utf8' });
  const missing = pkgs.filter((p) => {
    const block = r.stdout.split(/\n(?=\S)/).find((b) => b.startsWith(`${p}:`));
    return !block || /Candidate: \(none\)/.test(block);
  });
  if (missing.length && !r.stdout.includes('Candidate:')) return t.skip('apt lists not downloaded');
  assert.deepEqual(missing, [], 'packages unknown to apt');
});

// Each check must be able to fail: broken variants of the real files.
test('each check reports a broken variant', () => {
  const c = context();
  const { runFlags, migrateFlags } = c;
  const k8s = (mutate) => {
    const objects = clone(c.objects);
    mutate(objects, (kind) => find(objects, kind)[0]);
    return objects;
  };
  const container = (o) => o.spec.template.spec.containers[0];
  const cases = {
    'unknown flag': () => checkDeployment(k8s((_, f) => container(f('Deployment')).args.push('--no-such-flag=1')), runFlags),
    'unknown env': () => checkDeployment(k8s((_, f) => container(f('Deployment')).env.push({ name: 'NO_SUCH_SETTING', value: 'x' })), runFlags),
    'unknown env in ConfigMap': () => checkDeployment(k8s((_, f) => { f('ConfigMap').data.QUEUE_NAME = 'x'; }), runFlags),
    'probe path': () => checkDeployment(k8s((_, f) => { container(f('Deployment')).readinessProbe.httpGet.path = '/healthz'; }), runFlags),
    'probe port': () => checkDeployment(k8s((_, f) => { container(f('Deployment')).livenessProbe.httpGet.port = 8080; }), runFlags),
    'containerPort': () => checkDeployment(k8s((_, f) => { container(f('Deployment')).ports[0].containerPort = 9000; }), runFlags),
    'http port off': () => checkDeployment(k8s((_, f) => {
      const ct = container(f('Deployment'));
      ct.args = ct.args.map((a) => (a.startsWith('--http-port') ? '--http-port=0' : a));
    }), runFlags),
    'scrape port': () => checkDeployment(k8s((_, f) => { f('Deployment').spec.template.metadata.annotations['prometheus.io/port'] = '8080'; }), runFlags),
    'grace too short': () => checkDeployment(k8s((_, f) => { f('Deployment').spec.template.spec.terminationGracePeriodSeconds = 25; }), runFlags),
    'no shutdown timeout': () => checkDeployment(k8s((_, f) => {
      const ct = container(f('Deployment'));
      ct.args = ct.args.filter((a) => !a.startsWith('--shutdown-timeout'));
    }), runFlags),
    'root': () => checkDeployment(k8s((_, f) => { f('Deployment').spec.template.spec.securityContext.runAsNonRoot = false; }), runFlags),
    'writable root fs': () => checkDeployment(k8s((_, f) => { container(f('Deployment')).securityContext.readOnlyRootFilesystem = false; }), runFlags),
    'no /tmp': () => checkDeployment(k8s((_, f) => { container(f('Deployment')).volumeMounts = container(f('Deployment')).volumeMounts.filter((m) => m.mountPath !== '/tmp'); }), runFlags),
    'no limits': () => checkDeployment(k8s((_, f) => { delete container(f('Deployment')).resources.limits; }), runFlags),
    'missing Secret': () => checkDeployment(k8s((o) => { o.splice(o.findIndex((x) => x.kind === 'Secret'), 1); }), runFlags),
    'PDB selector': () => checkPdb(k8s((_, f) => { f('PodDisruptionBudget').spec.selector.matchLabels['app.kubernetes.io/name'] = 'other'; })),
    'PDB selects the Job': () => checkPdb(k8s((_, f) => { f('PodDisruptionBudget').spec.selector.matchLabels = { 'app.kubernetes.io/name': 'bullmq-worker' }; })),
    'ScaledObject target': () => checkScaledObject(k8s((_, f) => { f('ScaledObject').spec.scaleTargetRef.name = 'other'; }), runFlags),
    'ScaledObject key': () => checkScaledObject(k8s((_, f) => { f('ScaledObject').spec.triggers[0].metadata.listName = 'bull:other:wait'; }), runFlags),
    'queue renamed': () => checkScaledObject(k8s((_, f) => { f('ConfigMap').data.BULLMQ_QUEUE = 'renamed'; }), runFlags),
    'no prioritized trigger': () => checkScaledObject(k8s((_, f) => { f('ScaledObject').spec.triggers = f('ScaledObject').spec.triggers.filter((t) => !/prioritized/.test(JSON.stringify(t))); }), runFlags),
    'migrate args': () => checkMigrateJob(k8s((_, f) => { container(f('Job')).args = ['run']; }), migrateFlags),
    'migrate without DB': () => checkMigrateJob(k8s((_, f) => { container(f('Job')).env = []; }), migrateFlags),
    'kustomization': () => {
      const byFile = clone(c.byFile);
      byFile['kustomization.yaml'][0].resources = byFile['kustomization.yaml'][0].resources.filter((r) => r !== 'pdb.yaml');
      return checkKustomization(byFile);
    },
    'compose flag': () => { const x = clone(c.compose); x.services.worker.command.push('--nope'); return checkCompose(x, runFlags, migrateFlags); },
    'compose env': () => { const x = clone(c.compose); x.services.worker.environment.QUEUE = 'q'; return checkCompose(x, runFlags, migrateFlags); },
    'compose grace': () => { const x = clone(c.compose); x.services.worker.stop_grace_period = '10s'; return checkCompose(x, runFlags, migrateFlags); },
    'compose healthcheck': () => { const x = clone(c.compose); delete x.services.postgres.healthcheck; return checkCompose(x, runFlags, migrateFlags); },
    'compose port': () => { const x = clone(c.compose); x.services.worker.ports = ['127.0.0.1:9000:9000']; return checkCompose(x, runFlags, migrateFlags); },
    'compose producer flag': () => { const x = clone(c.compose); x.services.producer.command = ['node', 'scripts/producer.mjs', '--no-such-option']; return checkCompose(x, runFlags, migrateFlags); },
    'compose migrate': () => { const x = clone(c.compose); x.services.migrate.command = ['run']; return checkCompose(x, runFlags, migrateFlags); },
    'Dockerfile missing package': () => checkDockerfile(c.dockerfile.replaceAll(/\blibpugixml1v5\b/g, ''), c.dockerignore, runFlags, c.libraries, c.httpPort),
    'Dockerfile unknown soname': () => checkDockerfile(c.dockerfile, c.dockerignore, runFlags, [...c.libraries, 'libnew.so.1'], c.httpPort),
    'Dockerfile root': () => checkDockerfile(c.dockerfile.replace(/^USER .*$/m, 'USER root'), c.dockerignore, runFlags, c.libraries, c.httpPort),
    'Dockerfile shell entrypoint': () => checkDockerfile(c.dockerfile.replace(/^ENTRYPOINT .*$/m, 'ENTRYPOINT bullmq-worker'), c.dockerignore, runFlags, c.libraries, c.httpPort),
    'Dockerfile stopsignal': () => checkDockerfile(c.dockerfile.replace(/^STOPSIGNAL .*$/m, 'STOPSIGNAL SIGKILL'), c.dockerignore, runFlags, c.libraries, c.httpPort),
    'Dockerfile plugin dir': () => checkDockerfile(c.dockerfile.replaceAll('/usr/local/lib/bullmq-worker/', '/opt/plugins/'), c.dockerignore, runFlags, c.libraries, c.httpPort),
    'Dockerfile healthcheck': () => checkDockerfile(c.dockerfile.replaceAll('/livez', '/'), c.dockerignore, runFlags, c.libraries, c.httpPort),
    'Dockerfile port': () => checkDockerfile(c.dockerfile, c.dockerignore, runFlags, c.libraries, 8080),
    'Dockerfile single stage': () => checkDockerfile(c.dockerfile.replace(/^FROM debian:12 AS build$/m, ''), c.dockerignore, runFlags, c.libraries, c.httpPort),
    'Dockerfile no install-deps': () => checkDockerfile(c.dockerfile.replaceAll('scripts/install-deps.sh', 'scripts/other.sh'), c.dockerignore, runFlags, c.libraries, c.httpPort),
    'Dockerfile full install-deps': () => checkDockerfile(c.dockerfile.replaceAll('install-deps.sh --build-only', 'install-deps.sh'), c.dockerignore, runFlags, c.libraries, c.httpPort),
    'Dockerfile without build-release.sh': () => checkDockerfile(c.dockerfile.replace(/^RUN scripts\/build-release\.sh.*$/m,
      'RUN cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release && cmake --build build-release'), c.dockerignore, runFlags, c.libraries, c.httpPort),
    'Dockerfile copies another folder': () => checkDockerfile(c.dockerfile.replaceAll(/(COPY --from=\S+ )\S+\/(bullmq-worker(-files\.so)? )/g, '$1/src/build/$2'), c.dockerignore, runFlags, c.libraries, c.httpPort),
    'Dockerfile builds another folder': () => checkDockerfile(c.dockerfile.replace(/^RUN scripts\/build-release\.sh.*$/m, 'RUN scripts/build-release.sh out'), c.dockerignore, runFlags, c.libraries, c.httpPort),
    'Dockerfile forces -Werror': () => checkDockerfile(c.dockerfile.replace(/^(RUN scripts\/build-release\.sh.*)$/m, '$1 -DBULLMQ_WORKER_WERROR=ON'), c.dockerignore, runFlags, c.libraries, c.httpPort),
    'build-release.sh not Release': () => checkDockerfile(c.dockerfile, c.dockerignore, runFlags, c.libraries, c.httpPort, c.buildScript.replaceAll('-DCMAKE_BUILD_TYPE=Release', '-DCMAKE_BUILD_TYPE=Debug')),
    'build-release.sh strips only the binary': () => checkDockerfile(c.dockerfile, c.dockerignore, runFlags, c.libraries, c.httpPort, c.buildScript.replace(/ "\$dir\/bullmq-worker-files\.so"/, '')),
    '.dockerignore': () => checkDockerfile(c.dockerfile, c.dockerignore.replace(/^\.git$/m, ''), runFlags, c.libraries, c.httpPort),
  };
  const silent = Object.entries(cases).filter(([, run]) => run().length === 0).map(([name]) => name);
  assert.deepEqual(silent, [], 'broken variants that no check reported');
});
