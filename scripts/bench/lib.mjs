// Helpers shared by the benchmark drivers (run.mjs, scenarios/*.mjs): Redis URL
// and INFO parsing, /proc readings of a worker process, starting and stopping
// workers, statistics and number formatting.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import IORedis, { Cluster } from 'ioredis';

export const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const PREFIX = 'bull';
export const CLK_TCK = Number(process.env.BENCH_CLK_TCK || 100);

// ---------------------------------------------------------------- Redis
// The seed nodes of a redis+cluster://[user:password@]host:port[,host:port…] URL,
// or null for any other URL. (WHATWG URL cannot parse a comma-separated host list.)
export function clusterNodes(redisUrl) {
  const m = /^rediss?\+cluster:\/\/(?:[^@/]*@)?([^/?#]+)/.exec(redisUrl);
  if (!m) return null;
  return m[1].split(',').filter(Boolean).map((hp) => {
    const i = hp.lastIndexOf(':');
    const host = (i > 0 ? hp.slice(0, i) : hp).replace(/^\[(.*)\]$/, '$1');
    return { host, port: i > 0 ? Number(hp.slice(i + 1)) : 6379 };
  });
}

// A new ioredis Cluster on the URL's seed nodes.
export function newCluster(redisUrl) {
  return new Cluster(clusterNodes(redisUrl), { redisOptions: { maxRetriesPerRequest: null } });
}

// Connection options for a bullmq Queue on a plain redis://host:port URL.
export function plainConnection(redisUrl) {
  const u = new URL(redisUrl);
  return { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null };
}

// The round-trip-floor probe's --host/--port for a plain redis://host:port URL
// (an IPv6 host without its brackets).
export function probeAddressArgs(redisUrl) {
  const u = new URL(redisUrl);
  return ['--host', u.hostname.replace(/^\[(.*)\]$/, '$1'), '--port', u.port || '6379'];
}

export function parseInfo(text) {
  const out = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export function parseCommandStats(info) {
  const stats = {};
  for (const [k, v] of Object.entries(info)) {
    if (!k.startsWith('cmdstat_')) continue;
    const e = {};
    for (const kv of v.split(',')) {
      const [kk, vv] = kv.split('=');
      e[kk] = Number(vv);
    }
    stats[k.slice(8)] = e;
  }
  return stats;
}

// used_cpu_sys + used_cpu_user of an INFO reply, in seconds.
export const redisCpuS = (info) => Number(info.used_cpu_sys) + Number(info.used_cpu_user);

// How many clients are blocked in `cmd` (CLIENT LIST: cmd=…, flag b). An idle worker,
// Node's or the native one, waits for its queue's marker in BZPOPMIN; a QueueEvents
// reader waits in XREAD.
export async function blockedIn(client, cmd = 'bzpopmin') {
  const list = await client.client('LIST');
  let n = 0;
  for (const line of list.split('\n')) {
    if (line.includes(` cmd=${cmd} `) && /(^| )flags=[A-Za-z]*b/.test(line)) n++;
  }
  return n;
}

// ---------------------------------------------------------------- time
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const nowMs = () => performance.timeOrigin + performance.now(); // epoch ms, sub-ms precision

// Poll `check` (async, truthy when done) every `everyMs` until it holds or `timeoutMs`
// passes; returns the last value (falsy on timeout).
export async function waitFor(check, timeoutMs, everyMs = 10) {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v || performance.now() > until) return v;
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------- statistics
// mulberry32: a small seeded PRNG, uniform in [0, 1).
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// Nearest-rank percentile (p in 0..100): the smallest value with at least p % of the
// values at or below it. p = 100 is the maximum.
export function percentile(values, p) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  return v[Math.min(v.length, Math.max(1, Math.ceil((p / 100) * v.length))) - 1];
}

export function fmt(v, digits) {
  if (v == null || !Number.isFinite(v)) return '-';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtRatio(r) {
  return r == null || !Number.isFinite(r) ? '-' : `${r.toFixed(r < 0.1 ? 3 : 2)}x`;
}

// One target line: [PASS]/[MISS] name, measured, target.
export function targetLine(t) {
  const show = (v) => (v == null || !Number.isFinite(v) ? '-' : t.unit === 'x' ? `${v.toFixed(3)}x` : `${fmt(v, t.digits ?? 1)} ${t.unit}`);
  return `  [${t.pass ? 'PASS' : 'MISS'}] ${t.name.padEnd(50)} measured ${show(t.value).padStart(10)}   target ${t.op} ${show(t.target)}`;
}

export function judge(t) {
  t.pass = t.value != null && Number.isFinite(t.value) && (t.op === '>=' ? t.value >= t.target : t.value <= t.target);
  return t;
}

// ---------------------------------------------------------------- /proc
// CPU time of every live thread of `pid` in ns (schedstat, precise), and
// utime+stime of the whole process in ns (/proc/pid/stat, clock ticks; it
// also counts threads that have exited).
export function processCpu(pid) {
  let sched = 0;
  let threads = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        sched += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
        threads++;
      } catch {
        // thread exited meanwhile
      }
    }
  } catch {
    sched = NaN;
  }
  let ticks = NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    ticks = Number(f[11]) + Number(f[12]); // fields 14 utime, 15 stime
  } catch {
    // gone
  }
  const statNs = (ticks * 1e9) / CLK_TCK;
  // schedstat misses exited threads; stat is tick-rounded. Take the larger.
  return { ns: Math.max(Number.isFinite(sched) ? sched : 0, Number.isFinite(statNs) ? statNs : 0), schedNs: sched, statNs, threads };
}

// From /proc/PID/stat, in ns (clock ticks): the process's own utime+stime and the
// cutime+cstime of its children that it has reaped (a worker's extraction children, a
// postmaster's exited backends); NaN when the process is gone.
export function statCpuNs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    const ns = (ticks) => (ticks * 1e9) / CLK_TCK;
    return { selfNs: ns(Number(f[11]) + Number(f[12])), childrenNs: ns(Number(f[13]) + Number(f[14])), ppid: Number(f[1]) };
  } catch {
    return { selfNs: NaN, childrenNs: NaN, ppid: NaN };
  }
}

// CPU in ns of the live children of `pid` (one level), from /proc/*/stat.
export function liveChildrenCpuNs(pid) {
  let ns = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === pid) continue;
    const c = statCpuNs(Number(entry));
    if (c.ppid === pid && Number.isFinite(c.selfNs)) ns += c.selfNs;
  }
  return ns;
}

// CPU in ns of `pid`, of its reaped children and of its live children (one level: a
// PostgreSQL postmaster and its backends and helpers).
export function familyCpuNs(pid) {
  const root = statCpuNs(pid);
  return root.selfNs + root.childrenNs + liveChildrenCpuNs(pid);
}

// A field of /proc/PID/status in KiB (VmHWM, VmRSS, ...), NaN if unreadable.
export function statusKiB(pid, field) {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

export const peakRssKiB = (pid) => statusKiB(pid, 'VmHWM');

// Open file descriptors of `pid` (entries of /proc/PID/fd), NaN if unreadable.
export function openFds(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------- child processes
// Every child a driver starts is tracked, so that SIGINT/SIGTERM (bench.sh stopping
// the driver) kills them by pid before the driver exits.
const tracked = new Set();

export function track(child) {
  tracked.add(child);
  child.once('exit', () => tracked.delete(child));
  return child;
}

export function killTracked() {
  for (const child of tracked) {
    if (child.exitCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

// Output piped into e.g. `head` must not kill the run before the JSON is written;
// SIGINT/SIGTERM kill the tracked children and exit 130.
export function installProcessHandlers() {
  process.stdout.on('error', (err) => {
    if (err.code !== 'EPIPE') throw err;
  });
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      killTracked();
      process.exit(130);
    });
  }
}

export function waitExit(child, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (!(await waitExit(child, 10000))) {
    child.kill('SIGKILL');
    await waitExit(child, 5000);
  }
}

// The command line of one worker on `queue`: Node's Worker (node-worker.mjs, a no-op
// processor returning the data) or bullmq-worker with its conformance processors
// (`echo` returns the data), LOG_LEVEL=warn. `name`, if given, is the worker's name
// (stored on the jobs it processes as processedBy).
export function workerCommand(kind, { queue, redis, binary, concurrency, nativeArgs = [], name = null }) {
  if (kind === 'node') {
    return {
      cmd: process.execPath,
      args: [path.join(benchDir, 'node-worker.mjs'), queue, redis, String(concurrency), ...(name ? [name] : [])],
      env: { ...process.env },
    };
  }
  return {
    cmd: binary,
    args: ['run', '--queue', queue, '--redis', redis, '--processors', 'conformance', '--concurrency', String(concurrency),
      ...(name ? ['--name', name] : []), ...nativeArgs],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  };
}

// Spawn `cmd` with stdout and stderr to `logPath`, tracked; `spawnMs` is the time just
// before spawn() (epoch ms), `exited` is set when it ends.
export function spawnLogged({ cmd, args, env }, logPath) {
  const logFd = openSync(logPath, 'w');
  const spawnMs = nowMs();
  const child = track(spawn(cmd, args, { env, stdio: ['ignore', logFd, logFd] }));
  closeSync(logFd);
  const handle = { child, logPath, spawnMs, exited: null };
  child.once('exit', (code, signal) => {
    handle.exited = { code, signal };
  });
  return handle;
}

export function logTail(logPath, lines = 15) {
  try {
    return readFileSync(logPath, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export const safeName = (label) => label.replace(/[^\w.-]+/g, '_');

// ---------------------------------------------------------------- options and output
export const bullmqVersion = () => JSON.parse(readFileSync(path.join(benchDir, 'node_modules/bullmq/package.json'), 'utf8')).version;

// The environment block of every results file.
export function environment(redisVersion, loadavgAtStart, binary = null) {
  return {
    node: process.version,
    bullmq: bullmqVersion(),
    redis: redisVersion,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    kernel: os.release(),
    loadavgAtStart,
    gitRevision: process.env.BENCH_GIT_REVISION || null,
    binarySource: process.env.BENCH_BINARY_SOURCE || binary,
    binarySha256: process.env.BENCH_BINARY_SHA256 || null,
  };
}

// The first line a scenario prints about the machine, with the noise warning.
export function machineLines(redisVersion, redisUrl) {
  const load = os.loadavg();
  const lines = [
    `redis ${redisVersion} at ${redisUrl}; node ${process.version}; ${os.cpus().length} CPUs; ` +
      `load average ${load.map((x) => x.toFixed(2)).join(' ')}`,
  ];
  if (load[0] > 0.5) {
    lines.push(`note: load average ${load[0].toFixed(2)} before starting (other work, or an earlier run, shared the CPUs lately): expect noisier figures`);
  }
  return lines;
}

// A small option parser: `spec` maps --name to 'string' | 'int' | 'number' | 'flag'
// | 'list' (space- or comma-separated positive integers) | 'args' (split on spaces).
// --some-flag -> someFlag: the key an option is stored under.
const flagKey = (flag) => flag.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());

export function parseOptions(argv, spec, defaults) {
  const o = { ...defaults };
  const key = flagKey;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const kind = spec[a];
    if (!kind) throw new Error(`unknown option ${a}`);
    if (kind === 'flag') {
      o[key(a)] = true;
      continue;
    }
    if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
    const v = argv[++i];
    if (kind === 'string') o[key(a)] = v;
    else if (kind === 'args') o[key(a)] = v.trim().split(/\s+/).filter(Boolean);
    else if (kind === 'list') {
      const list = v.trim().split(/[\s,]+/).map(Number);
      if (!list.length || list.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`${a} must list positive integers, got '${v}'`);
      o[key(a)] = list;
    } else {
      const n = Number(v);
      if (!Number.isFinite(n) || (kind === 'int' && (!Number.isInteger(n) || n < 1))) {
        throw new Error(`${a} must be a ${kind === 'int' ? 'positive integer' : 'number'}, got '${v}'`);
      }
      o[key(a)] = n;
    }
  }
  return o;
}

// A scenario's options: its own `spec` and `defaults` plus the ones every scenario
// takes from bench.sh (--redis, --binary, --out, --logs, --native-args), and a
// check that those given by bench.sh and `alsoRequired` (flags) are present.
export function scenarioOptions(argv, spec, defaults, alsoRequired = []) {
  const common = { '--redis': 'string', '--binary': 'string', '--out': 'string', '--logs': 'string', '--native-args': 'args' };
  const o = parseOptions(argv, { ...common, ...spec }, { nativeArgs: [], ...defaults });
  const required = ['--redis', '--binary', ...alsoRequired, '--out', '--logs'];
  if (required.some((flag) => !o[flagKey(flag)])) throw new Error(`${required.join(', ')} are required`);
  installProcessHandlers();
  return o;
}

// The start of a scenario's main(): output folders, an admin connection, Redis's
// server INFO, and when and under what load the scenario started.
export async function startScenario(opts) {
  mkdirSync(opts.out, { recursive: true });
  mkdirSync(opts.logs, { recursive: true });
  const admin = new IORedis(opts.redis, { maxRetriesPerRequest: null });
  const redisInfo = parseInfo(await admin.info('server'));
  return { admin, redisInfo, startedAt: new Date().toISOString(), loadavgAtStart: os.loadavg() };
}

// Redis's side of a measured run of `n` jobs, from INFO read before (`info0`, with
// commandstats reset then) and after (`info1`): its CPU, and the command counts with
// the harness's own polling taken out (`zcardCalls` ZCARDs sent in MULTI/EXEC pairs,
// `infoCalls` INFOs).
export function redisSide(info0, info1, n, { zcardCalls = 0, infoCalls = 0 } = {}) {
  const redisCpuUs = (redisCpuS(info1) - redisCpuS(info0)) * 1e6;
  const commandStats = parseCommandStats(info1);
  const cs = commandStats;
  if (cs.zcard) cs.zcard.calls -= zcardCalls;
  if (cs.info) cs.info.calls -= infoCalls;
  if (cs.multi) cs.multi.calls -= zcardCalls / 2;
  if (cs.exec) cs.exec.calls -= zcardCalls / 2;
  return {
    redisCpuUs,
    commandStats,
    perJob: (name) => (cs[name] ? cs[name].calls / n : 0),
    redisBoundJobsPerSec: redisCpuUs > 0 ? 1e6 / (redisCpuUs / n) : null,
  };
}

// Writes a scenario's results to OUT/bench-<scenario>.json, with the scenario's
// name, when it started and ended, and the machine it ran on; returns the path.
export function writeResults(out, scenario, { startedAt, redisVersion, loadavgAtStart, binary = null, ...rest }) {
  const resultsPath = path.join(out, `bench-${scenario}.json`);
  const results = {
    scenario,
    startedAt,
    finishedAt: new Date().toISOString(),
    environment: environment(redisVersion, loadavgAtStart, binary),
    ...rest,
  };
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  return resultsPath;
}

// Runs a scenario's main(); an exception ends the run with status 1 after
// stopping every worker it started.
export function runScenario(scenario, main) {
  main().catch((err) => {
    console.error(`bench ${scenario}: ${err.stack || err}`);
    killTracked();
    process.exit(1);
  });
}
