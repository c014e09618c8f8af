// Benchmark driver, started by scripts/bench.sh with a running redis-server.
// For each concurrency and repeat it runs the official Node.js bullmq Worker
// and the native bullmq-worker, alternating which goes first, each against the
// same freshly flushed Redis holding the same N pre-added no-op jobs, and
// measures from the worker's spawn. Prints a table of medians per concurrency
// with the ratios to Node and the issue's targets, and writes them as JSON.
// Before the first and after the last run it also measures the client CPU floor of one
// blocking round trip to the same Redis (--floor-probe, bench/round_trip_floor.cpp).
//
// Given a redis+cluster://host:port[,host:port…] URL (scripts/bench.sh --cluster),
// the queue is hash-tagged ({bench}), the harness's own clients are ioredis
// Cluster clients, the Node Worker gets one too (node-worker.mjs), and every
// Redis figure (CPU, INFO, command counts, bytes) and the round-trip floor come
// from the master that owns the queue's slot (CLUSTER KEYSLOT, CLUSTER SLOTS).
//
// Exit status: 0 whatever the figures; 1 only if a run broke (a worker died,
// jobs failed, or not all jobs completed within the bound).
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import IORedis, { Cluster } from 'ioredis';
import {
  PREFIX, bullmqVersion, clusterNodes, environment, fmt, fmtRatio, installProcessHandlers, killTracked, logTail,
  median, newCluster, nowMs, parseInfo, probeAddressArgs, redisCpuS, redisSide, peakRssKiB, plainConnection, processCpu, safeName, sleep,
  spawnLogged, stopChild, track, workerCommand,
} from './lib.mjs';

let QUEUE = 'bench'; // '{bench}' against a cluster (main)

// ---------------------------------------------------------------- options
function parseArgs(argv) {
  const o = {
    redis: null, binary: null, jobs: 20000, repeats: 3, concurrency: [1, 10, 100],
    out: null, logs: null, warmup: true, nativeArgs: [], floorProbe: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--redis') o.redis = next();
    else if (a === '--binary') o.binary = next();
    else if (a === '--floor-probe') o.floorProbe = next();
    else if (a === '--jobs') o.jobs = Number(next());
    else if (a === '--repeats') o.repeats = Number(next());
    else if (a === '--concurrency') o.concurrency = next().trim().split(/[\s,]+/).map(Number);
    else if (a === '--out') o.out = next();
    else if (a === '--logs') o.logs = next();
    else if (a === '--no-warmup') o.warmup = false;
    else if (a === '--native-args') o.nativeArgs = next().trim().split(/\s+/).filter(Boolean);
    else throw new Error(`unknown option ${a}`);
  }
  if (!o.redis || !o.binary || !o.out || !o.logs) throw new Error('--redis, --binary, --out and --logs are required');
  if (!(o.jobs >= 1) || !Number.isInteger(o.jobs)) throw new Error('--jobs must be a positive integer');
  if (!(o.repeats >= 1) || !Number.isInteger(o.repeats)) throw new Error('--repeats must be a positive integer');
  if (!o.concurrency.length || o.concurrency.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new Error('--concurrency must list positive integers');
  }
  return o;
}

installProcessHandlers();

// ---------------------------------------------------------------- one run
async function addJobs(redisUrl, n) {
  let connection;
  if (clusterNodes(redisUrl)) {
    connection = newCluster(redisUrl); // passed in, so closed here, not by the Queue
  } else {
    connection = plainConnection(redisUrl);
  }
  const queue = new Queue(QUEUE, { connection, prefix: PREFIX });
  const chunk = 1000;
  for (let i = 0; i < n; i += chunk) {
    const size = Math.min(chunk, n - i);
    await queue.addBulk(Array.from({ length: size }, () => ({ name: 'echo', data: {} })));
  }
  await queue.close();
  if (connection instanceof Cluster) await connection.quit();
}

// `admin` sends the key commands (a Cluster client against a cluster); `redis.server`
// is a plain connection to the server holding the queue (the slot's master), read
// for INFO; against a cluster `redis.others` are the other masters.
async function runOnce(admin, redis, opts, kind, concurrency, n, label) {
  const { server } = redis;
  const keyCompleted = `${PREFIX}:${QUEUE}:completed`;
  const keyFailed = `${PREFIX}:${QUEUE}:failed`;
  if (redis.others) await Promise.all([server, ...redis.others].map((c) => c.flushall('SYNC')));
  else await admin.flushall('SYNC');
  await addJobs(opts.redis, n);
  const waiting = await admin.llen(`${PREFIX}:${QUEUE}:wait`);
  if (waiting !== n) throw new Error(`${label}: expected ${n} waiting jobs after addBulk, found ${waiting}`);
  await sleep(300); // let Redis settle after the bulk add
  await server.config('RESETSTAT');
  const info0 = parseInfo(await server.info('everything'));
  const othersCpu0 = redis.others ? await othersCpuS(redis.others) : null;
  let infoCalls = 0;
  let zcardCalls = 0;

  const command = workerCommand(kind, { queue: QUEUE, redis: opts.redis, binary: opts.binary, concurrency, nativeArgs: opts.nativeArgs });
  const logPath = path.join(opts.logs, `${safeName(label)}.log`);
  const worker = spawnLogged(command, logPath);
  const { child, spawnMs } = worker;

  const boundMs = Math.max(30000, (n / 250) * 1000);
  let first = null; // { count, cpu, atMs }
  let doneMs = null;
  let end = null;
  let failure = null;
  for (;;) {
    const [[, completed], [, failed]] = await admin.multi().zcard(keyCompleted).zcard(keyFailed).exec();
    zcardCalls += 2;
    const t = nowMs();
    if (failed > 0) {
      failure = `${failed} job(s) failed`;
      break;
    }
    if (completed > 0 && !first) first = { count: completed, cpu: processCpu(child.pid), atMs: t };
    if (completed >= n) {
      doneMs = t;
      end = { cpu: processCpu(child.pid) };
      break;
    }
    if (worker.exited) {
      const { exited } = worker;
      failure = `worker exited early (code ${exited.code}, signal ${exited.signal}) after ${completed}/${n} jobs`;
      break;
    }
    if (t - spawnMs > boundMs) {
      failure = `only ${completed}/${n} jobs completed within ${Math.round(boundMs / 1000)} s`;
      break;
    }
    await sleep(first ? 10 : 1);
  }
  const info1 = parseInfo(await server.info('everything'));
  infoCalls += 1;
  const othersCpu1 = redis.others ? await othersCpuS(redis.others) : null;
  const rssKiB = peakRssKiB(child.pid);
  await stopChild(child);
  if (failure) {
    throw new Error(`${label}: ${failure}\n--- worker log (${logPath}) ---\n${logTail(logPath)}`);
  }

  // Engine timestamps, from the jobs themselves (ms since the epoch).
  const [, firstFinishedText] = await admin.zrange(keyCompleted, 0, 0, 'WITHSCORES');
  const [, lastFinishedText] = await admin.zrange(keyCompleted, -1, -1, 'WITHSCORES');
  const earlyIds = new Set(await admin.zrange(keyCompleted, 0, concurrency + 10));
  for (let i = 1; i <= Math.min(concurrency + 10, n); i++) earlyIds.add(String(i));
  const pipe = admin.pipeline();
  for (const id of earlyIds) pipe.hmget(`${PREFIX}:${QUEUE}:${id}`, 'processedOn', 'returnvalue');
  let firstProcessed = Infinity;
  let sampleReturn = null;
  for (const [, [processedOn, returnvalue]] of await pipe.exec()) {
    if (processedOn) firstProcessed = Math.min(firstProcessed, Number(processedOn));
    if (returnvalue != null && sampleReturn == null) sampleReturn = returnvalue;
  }
  if (sampleReturn !== '{}') throw new Error(`${label}: unexpected return value ${sampleReturn}`);
  const firstFinished = Number(firstFinishedText);
  const lastFinished = Number(lastFinishedText);

  // Redis side.
  const { redisCpuUs, commandStats, perJob, redisBoundJobsPerSec } = redisSide(info0, info1, n, { zcardCalls, infoCalls });
  const commandsPerJob = {};
  for (const [name, e] of Object.entries(commandStats)) if (e.calls > 0) commandsPerJob[name] = +(e.calls / n).toFixed(4);

  const cpuTotalNs = end.cpu.ns;
  const steadyJobs = n - first.count;
  const result = {
    kind,
    concurrency,
    jobs: n,
    label,
    jobsPerSec: (n * 1000) / Math.max(lastFinished - firstProcessed, 1),
    jobsPerSecWall: (n * 1000) / (doneMs - spawnMs),
    firstJobMs: firstFinished - spawnMs,
    workerCpuUsPerJob: steadyJobs > 0 ? (cpuTotalNs - first.cpu.ns) / 1000 / steadyJobs : null,
    workerCpuUsPerJobTotal: cpuTotalNs / 1000 / n,
    workerCpuStartupMs: first.cpu.ns / 1e6,
    workerThreads: end.cpu.threads,
    peakRssMiB: rssKiB / 1024,
    redisCpuUsPerJob: redisCpuUs / n,
    redisBoundJobsPerSec,
    scriptCallsPerJob: perJob('evalsha') + perJob('eval'),
    // Redis's own time per script call (commandstats): the finishing script's work.
    scriptUsPerCall: commandStats.evalsha?.usec_per_call ?? null,
    bzpopminPerJob: perJob('bzpopmin'),
    redisNetInBytesPerJob: (Number(info1.total_net_input_bytes) - Number(info0.total_net_input_bytes)) / n,
    redisNetOutBytesPerJob: (Number(info1.total_net_output_bytes) - Number(info0.total_net_output_bytes)) / n,
    commandsPerJob,
    loadavg: os.loadavg(),
    raw: {
      spawnMs, firstProcessed, firstFinished, lastFinished, doneMs,
      firstSeenCount: first.count, firstSeenAfterMs: first.atMs - spawnMs,
      cpuAtFirst: first.cpu, cpuAtEnd: end.cpu, peakRssKiB: rssKiB, redisCpuUs,
    },
  };
  if (redis.others) {
    // Which master served the queue, and what the others spent meanwhile (cluster
    // bus and cron only, if every command went to the slot's master).
    result.redisNode = redis.serverAddress;
    result.otherMastersCpuUsPerJob = ((othersCpu1 - othersCpu0) * 1e6) / n;
  }
  return result;
}

// Sum of used_cpu_sys + used_cpu_user over `clients`, in seconds.
async function othersCpuS(clients) {
  let sum = 0;
  for (const c of clients) {
    const i = parseInfo(await c.info('cpu'));
    sum += redisCpuS(i);
  }
  return sum;
}

// Against a cluster: the slot of the queue's keys (CLUSTER KEYSLOT), the master
// that owns it (CLUSTER SLOTS), a plain connection to it and to each other master.
async function locateQueue(admin) {
  const key = `${PREFIX}:${QUEUE}:wait`;
  const slot = Number(await admin.cluster('KEYSLOT', key));
  const ranges = await admin.cluster('SLOTS');
  const masters = new Map(); // "host:port" -> [[from, to], ...]
  let owner = null;
  for (const [from, to, [host, port]] of ranges) {
    const addr = `${host}:${port}`;
    if (!masters.has(addr)) masters.set(addr, []);
    masters.get(addr).push([from, to]);
    if (slot >= from && slot <= to) owner = addr;
  }
  if (!owner) throw new Error(`no master owns slot ${slot} of ${key} (CLUSTER SLOTS)`);
  const connect = (addr) => {
    const i = addr.lastIndexOf(':');
    return new IORedis({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)), maxRetriesPerRequest: null });
  };
  // Numbered in slot order: master 1 holds slot 0.
  const lowest = (addr) => Math.min(...masters.get(addr).map(([from]) => from));
  const addrs = [...masters.keys()].sort((a, b) => lowest(a) - lowest(b));
  return {
    slot,
    serverAddress: owner,
    ownerRanges: masters.get(owner),
    masterIndex: addrs.indexOf(owner) + 1,
    masterCount: addrs.length,
    server: connect(owner),
    others: addrs.filter((a) => a !== owner).map(connect),
    otherAddresses: addrs.filter((a) => a !== owner),
  };
}

// ---------------------------------------------------------------- round-trip floor
// Runs the round-trip-floor probe against the bench's Redis (or the Cluster node of the
// queue) with `extra` arguments and resolves its JSON; a failing probe is reported as
// `{ error }` (naming `what`), not a broken run.
function runProbe(opts, extra, what) {
  const target = opts.floorTarget
    ? ['--host', opts.floorTarget.host, '--port', String(opts.floorTarget.port)]
    : probeAddressArgs(opts.redis);
  return new Promise((resolve) => {
    track(execFile(opts.floorProbe, [...target, '--json', ...extra], { timeout: 120000 }, (err, stdout, stderr) => {
      try {
        if (err) throw new Error((stderr || err.message).trim());
        resolve(JSON.parse(stdout));
      } catch (e) {
        console.error(`bench: ${what} failed: ${e.message}`);
        resolve({ error: e.message });
      }
    }));
  });
}

// What one blocking request/reply round trip costs the client's CPU, measured by the C
// probe against the same Redis (PING only, so it changes nothing). At concurrency 1 every
// job costs at least one such round trip. With `serverUs` > 0 the probe also times round
// trips to a Redis that works that long on each request (an EVAL busy loop).
function measureFloor(opts, when, serverUs = 0) {
  if (!opts.floorProbe) return Promise.resolve(null);
  const extra = serverUs > 0 ? ['--server-us', String(Math.round(serverUs))] : [];
  return runProbe(opts, extra, `round-trip floor probe (${when} the runs)`);
}

// The floor under the Redis-bound fraction at concurrency c: the probe keeps c requests in
// flight, each an EVAL busy loop as long as the native runs' EVALSHA at that concurrency took
// per call, on as many connections as the worker sends its finishing scripts on, and answers
// every reply at once with the next request on its connection (no work of its own). Redis's
// CPU over the wall time is then the fraction of its limit that the bare path reaches here.
function measureInFlightFloor(opts, concurrency, serverUs, connections) {
  if (!opts.floorProbe || !(serverUs > 0)) return Promise.resolve(null);
  const extra = ['--in-flight', String(concurrency), '--connections', String(connections),
    '--server-us', String(Math.round(serverUs)), '--count', String(Math.max(opts.jobs, 2000)), '--warmup', '500'];
  return runProbe(opts, extra, `in-flight floor probe (c=${concurrency})`);
}

// The connections the native worker sends finishing scripts on at `concurrency`: its
// --finish-connections if given, else its own rule (WorkerOptions::effective_finish_connections:
// 1 below concurrency 8, else one per 4 slots, at most 3).
function nativeFinishConnections(opts, concurrency) {
  const i = opts.nativeArgs.indexOf('--finish-connections');
  const given = i >= 0 ? Number(opts.nativeArgs[i + 1]) : 0;
  const automatic = concurrency < 8 ? 1 : Math.min(3, Math.ceil(concurrency / 4));
  return Math.min(given > 0 ? given : automatic, concurrency);
}

// The lower of the before/after measurements of one blocking round trip's `key` (wallUs,
// cpuUs), and which one it was. The two can differ a lot: when the scheduler happens to put
// the probe on Redis's CPU the hand-over is a plain context switch (~6 µs of client CPU
// here); across CPUs the sleeping side must be woken by an inter-processor interrupt
// (~22 µs here). The floor is the lower one: the strictest target.
function lowerProbe(floor, key) {
  let best = null;
  for (const when of ['before', 'after']) {
    const v = floor?.[when]?.blocking?.[key];
    if (typeof v === 'number' && Number.isFinite(v) && (!best || v < best.value)) best = { value: v, from: when };
  }
  return best;
}

// Issue 12's concurrency 1 targets, against the single-connection floor: at concurrency 1
// every job is one blocking round trip to Redis (the script call that finishes it and
// fetches the next) plus Redis's own time to run that script. The floor is measured as
// one: after the runs the probe times blocking round trips to this Redis while Redis
// works, on each request, as long as the finishing script took in the native c=1 runs
// (their median EVALSHA µs per call from commandstats; an EVAL busy loop calibrated to
// it). A PING round trip plus the script's time would understate it on machines where a
// longer idle spell makes both wake-ups dearer (a VM whose idle CPUs halt: the round trip
// to a busy Redis costs more than the sum, in wall time and in the client's CPU). So
//   floor µs/job   = the probe's wall time per blocking round trip to the busy Redis
//   floor jobs/s   = 1e6 ÷ floor µs/job;  target: native jobs/s ≥ 0.9 × floor jobs/s
//   CPU allowance  = the probe's client CPU per such round trip + 6 µs;
//                    target: native worker CPU µs/job (after the first job) ≤ CPU allowance
// The fraction of the floor is computed per native run, then the median. Without the busy
// measurement (an older probe, or no native c=1 run) the floor falls back to the lower
// PING round trip (before/after) + the run's Redis CPU µs/job, and the allowance to the
// lower PING client CPU + 6 µs; `basis` says which. Null fields when the probe did not run.
const FLOOR_FRACTION_TARGET = 0.9;
const FLOOR_CPU_SLACK_US = 6;
function singleConnectionFloor(floor, nativeRuns, native) {
  const busy = floor?.after?.serverWork;
  const pingWall = lowerProbe(floor, 'wallUs');
  const pingCpu = lowerProbe(floor, 'cpuUs');
  const floorOf = (run) => {
    if (busy) return busy.blocking.wallUs;
    return pingWall && run.redisCpuUsPerJob != null ? pingWall.value + run.redisCpuUsPerJob : null;
  };
  const perRun = nativeRuns.map((r) => {
    const us = floorOf(r);
    return us ? r.jobsPerSec / (1e6 / us) : null;
  });
  const floorUsPerJob = floorOf(native);
  const probeCpuUs = busy ? busy.blocking.cpuUs : pingCpu?.value ?? null;
  const cpuAllowanceUs = probeCpuUs != null ? probeCpuUs + FLOOR_CPU_SLACK_US : null;
  return {
    basis: busy ? 'busy-server probe' : pingWall ? 'PING probe + Redis CPU' : null,
    serverUs: busy?.serverUs ?? null,
    scriptUsPerCall: busy?.targetUs ?? null,
    busyWallUs: busy?.blocking.wallUs ?? null,
    busyCpuUs: busy?.blocking.cpuUs ?? null,
    probeWallUs: pingWall?.value ?? null,
    probeWallFrom: pingWall?.from ?? null,
    probeCpuUs: pingCpu?.value ?? null,
    probeCpuFrom: pingCpu?.from ?? null,
    redisCpuUsPerJob: native.redisCpuUsPerJob,
    floorUsPerJob,
    floorJobsPerSec: floorUsPerJob ? 1e6 / floorUsPerJob : null,
    jobsPerSec: native.jobsPerSec,
    fractionOfFloor: median(perRun),
    fractionTarget: FLOOR_FRACTION_TARGET,
    cpuAllowanceUs,
    cpuSlackUs: FLOOR_CPU_SLACK_US,
    workerCpuUsPerJob: native.workerCpuUsPerJob,
    cpuOfAllowance: cpuAllowanceUs && native.workerCpuUsPerJob != null ? native.workerCpuUsPerJob / cpuAllowanceUs : null,
  };
}

function printFloor(floor) {
  const lines = ['', `round-trip floor (one blocking PING round trip, C client; before / after the runs):`];
  for (const when of ['before', 'after']) {
    const f = floor[when];
    if (!f?.blocking) {
      lines.push(`  ${when.padEnd(7)}-  (${f?.error || 'not measured'})`);
      continue;
    }
    const b = f.blocking;
    lines.push(
      `  ${when.padEnd(7)}wall ${fmt(b.wallUs, 0)} µs, client CPU ${fmt(b.cpuUs, 1)} µs (user ${fmt(b.userUs, 1)}, ` +
        `sys ${fmt(b.sysUs, 1)}), ${fmt(b.voluntaryCtxSwitches, 2)} voluntary ctx switches ` +
        `(${fmt(b.involuntaryCtxSwitches, 2)} involuntary), mean of ${f.count}; ` +
        `pipelined ${f.batch} per write: client CPU ${fmt(f.pipelined.cpuUs, 2)} µs per command`,
    );
    const w = f.serverWork;
    if (w) {
      lines.push(
        `  ${''.padEnd(7)}to a busy Redis (EVAL busy loop, ${fmt(w.serverUs, 1)} µs of server time per request, calibrated ` +
          `to ${w.targetUs} µs): wall ${fmt(w.blocking.wallUs, 0)} µs, client CPU ${fmt(w.blocking.cpuUs, 1)} µs, ` +
          `${fmt(w.blocking.voluntaryCtxSwitches, 2)} voluntary ctx switches, mean of ${w.count}`,
      );
    }
  }
  console.log(lines.join('\n'));
}

// ---------------------------------------------------------------- report
const METRICS = [
  ['jobsPerSec', 'jobs/s (finishedOn-based)', 0],
  ['jobsPerSecWall', 'jobs/s (wall, from spawn)', 0],
  ['workerCpuUsPerJob', 'worker CPU µs/job (after 1st job)', 1],
  ['workerCpuUsPerJobTotal', 'worker CPU µs/job (total / N)', 1],
  ['workerCpuStartupMs', 'worker CPU ms until 1st job', 1],
  ['peakRssMiB', 'peak RSS MiB (VmHWM)', 1],
  ['firstJobMs', 'first job finished, ms from spawn', 1],
  ['redisCpuUsPerJob', 'Redis CPU µs/job', 1],
  ['redisBoundJobsPerSec', 'Redis-bound limit jobs/s', 0],
  ['redisBoundFraction', 'jobs/s ÷ Redis-bound limit', 2],
  ['scriptCallsPerJob', 'EVALSHA calls/job', 2],
  ['bzpopminPerJob', 'BZPOPMIN calls/job', 3],
  ['redisNetInBytesPerJob', 'bytes to Redis/job', 0],
  ['redisNetOutBytesPerJob', 'bytes from Redis/job', 0],
];

function summarize(runs, concurrency, floor) {
  const pick = (kind) => runs.filter((r) => r.kind === kind && r.concurrency === concurrency);
  const med = (kind) => {
    const rs = pick(kind);
    const m = { repeats: rs.length };
    const jps = rs.map((r) => r.jobsPerSec);
    m.jobsPerSecMin = Math.min(...jps);
    m.jobsPerSecMax = Math.max(...jps);
    for (const [key] of METRICS) {
      m[key] = median(rs.map((r) => (key === 'redisBoundFraction' ? r.jobsPerSec / r.redisBoundJobsPerSec : r[key])));
    }
    return m;
  };
  const node = med('node');
  const native = med('native');
  const ratio = (k) => (node[k] && native[k] != null ? native[k] / node[k] : null);
  const targets = [];
  let singleConnection = null;
  let inFlight = null;
  if (concurrency === 1) {
    // Issue 12 restates concurrency 1 against the single-connection floor (above).
    singleConnection = singleConnectionFloor(floor, pick('native'), native);
    targets.push({
      name: 'jobs/s ≥ 0.9 × single-connection floor', value: singleConnection.fractionOfFloor,
      target: FLOOR_FRACTION_TARGET, op: '>=', unit: 'x',
    });
    targets.push({
      name: `worker CPU/job ≤ probe CPU/round trip + ${FLOOR_CPU_SLACK_US} µs`, value: singleConnection.workerCpuUsPerJob,
      target: singleConnection.cpuAllowanceUs, op: '<=', unit: 'µs', ratio: singleConnection.cpuOfAllowance,
    });
  } else {
    targets.push({ name: 'jobs/s ≥ 0.95 × Redis-bound limit', value: native.redisBoundFraction, target: 0.95, op: '>=', unit: 'x' });
    targets.push({ name: 'worker CPU/job ≤ 1/6 of Node', value: ratio('workerCpuUsPerJob'), target: 1 / 6, op: '<=', unit: 'x' });
    const probe = floor?.inFlight?.[concurrency];
    if (probe && !probe.error) {
      inFlight = {
        ...probe,
        nativeFraction: native.redisBoundFraction,
        ofFloor: native.redisBoundFraction != null ? native.redisBoundFraction / probe.redisBusyFraction : null,
        nativeCpuUsPerJob: native.workerCpuUsPerJob,
        nodeCpuUsPerJob: node.workerCpuUsPerJob,
      };
    }
  }
  targets.push({ name: 'peak RSS ≤ 1/10 of Node', value: ratio('peakRssMiB'), target: 1 / 10, op: '<=', unit: 'x' });
  targets.push({ name: 'first job ≤ 20 ms from spawn', value: native.firstJobMs, target: 20, op: '<=', unit: 'ms' });
  for (const t of targets) {
    t.pass = t.value != null && t.target != null && (t.op === '>=' ? t.value >= t.target : t.value <= t.target);
  }
  const ratios = {};
  for (const [key] of METRICS) ratios[key] = ratio(key);
  return {
    concurrency, node, native, ratios, targets,
    ...(singleConnection ? { singleConnectionFloor: singleConnection } : {}),
    ...(inFlight ? { inFlightFloor: inFlight } : {}),
  };
}

function printSummary(s, jobs) {
  const w0 = 36;
  const w = 12;
  const lines = [];
  lines.push('');
  lines.push(`== concurrency ${s.concurrency}: ${jobs} jobs, medians of ${s.node.repeats} Node / ${s.native.repeats} native runs`);
  lines.push(`${'metric'.padEnd(w0)}${'node'.padStart(w)}${'native'.padStart(w)}${'native/node'.padStart(w)}`);
  for (const [key, label, digits] of METRICS) {
    const r = s.ratios[key];
    lines.push(
      `${label.padEnd(w0)}${fmt(s.node[key], digits).padStart(w)}${fmt(s.native[key], digits).padStart(w)}` +
        `${(r == null || !Number.isFinite(r) ? '-' : `${r.toFixed(r < 0.1 ? 3 : 2)}x`).padStart(w)}`,
    );
  }
  lines.push(
    `${'jobs/s spread over repeats'.padEnd(w0)}${`${fmt(s.node.jobsPerSecMin, 0)}–${fmt(s.node.jobsPerSecMax, 0)}`.padStart(w + 4)}` +
      `${`${fmt(s.native.jobsPerSecMin, 0)}–${fmt(s.native.jobsPerSecMax, 0)}`.padStart(w + 4)}`,
  );
  lines.push('targets (native):');
  const show = (v, unit) => (v == null || !Number.isFinite(v) ? '-' : unit === 'x' ? `${v.toFixed(3)}x` : `${v.toFixed(1)} ${unit}`);
  for (const t of s.targets) {
    const ratioText = t.ratio == null ? '' : ` (${fmtRatio(t.ratio)} of it)`;
    lines.push(
      `  [${t.pass ? 'PASS' : 'MISS'}] ${t.name.padEnd(46)} measured ${show(t.value, t.unit).padStart(10)}   ` +
        `target ${t.op} ${show(t.target, t.unit)}${ratioText}`,
    );
  }
  const f = s.singleConnectionFloor;
  if (f) {
    if (f.probeWallUs == null) {
      lines.push('single-connection floor: not measured (the round-trip floor probe did not run or failed)');
    } else {
      const basis =
        f.basis === 'busy-server probe'
          ? `a blocking round trip to Redis busy ${fmt(f.serverUs, 1)} µs per request (the native c=1 runs' EVALSHA ` +
            `${fmt(f.scriptUsPerCall, 1)} µs per call) takes ${fmt(f.busyWallUs, 1)} µs wall`
          : `probe round trip ${fmt(f.probeWallUs, 1)} µs wall (${f.probeWallFrom} the runs, the lower) + Redis CPU ` +
            `${fmt(f.redisCpuUsPerJob, 1)} µs/job = ${fmt(f.floorUsPerJob, 1)} µs/job`;
      const cpuBasis =
        f.basis === 'busy-server probe'
          ? `probe client CPU ${fmt(f.busyCpuUs, 1)} µs per round trip to the busy Redis`
          : `probe client CPU ${fmt(f.probeCpuUs, 1)} µs per blocking PING round trip (${f.probeCpuFrom} the runs, the lower)`;
      lines.push(
        `single-connection floor (native): ${basis} → ${fmt(f.floorJobsPerSec, 0)} jobs/s; native ${fmt(f.jobsPerSec, 0)} ` +
          `jobs/s, ${fmt(f.fractionOfFloor, 2)} of the floor (median over runs of each run's fraction)`,
        `CPU allowance: ${cpuBasis} + ${f.cpuSlackUs} µs = ${fmt(f.cpuAllowanceUs, 1)} µs; native ` +
          `${fmt(f.workerCpuUsPerJob, 1)} µs/job, ${fmtRatio(f.cpuOfAllowance)} of it`,
        `  (for comparison, a PING round trip: ${fmt(f.probeWallUs, 1)} µs wall, ${fmt(f.probeCpuUs, 1)} µs client CPU; ` +
          `Redis CPU per job in the native c=1 runs ${fmt(f.redisCpuUsPerJob, 1)} µs)`,
      );
    }
  }
  const g = s.inFlightFloor;
  if (g) {
    lines.push(
      `in-flight floor (native, c=${s.concurrency}): a C client with no work of its own keeping ${g.inFlight} requests in flight ` +
        `on ${g.connections} connection(s) (the worker's finishing connections), each ${fmt(g.serverUs, 1)} µs of Redis work ` +
        `(the native runs' EVALSHA ${fmt(g.scriptUsPerCall, 1)} µs per call), answering every reply at once: Redis busy ` +
        `${fmt(g.redisBusyFraction, 3)} of the time (${fmt(g.requestsPerS, 0)} requests/s, ${fmt(g.redisCpuUsPerRequest, 1)} µs ` +
        `of its CPU and ${fmt(g.clientCpuUsPerRequest, 1)} µs of the client's per request)`,
      `  native ${fmt(g.nativeFraction, 3)} of its Redis-bound limit = ${fmtRatio(g.ofFloor)} of the floor's; worker CPU ` +
        `${fmt(g.nativeCpuUsPerJob, 1)} µs/job = the bare client's ${fmt(g.clientCpuUsPerRequest, 1)} + ` +
        `${fmt(g.nativeCpuUsPerJob - g.clientCpuUsPerRequest, 1)} µs (1/6 of Node's: ${fmt(g.nodeCpuUsPerJob / 6, 1)} µs)`,
    );
  }
  console.log(lines.join('\n'));
}

function runLine(r) {
  return (
    `  c=${String(r.concurrency).padEnd(3)} ${r.kind.padEnd(6)} ${fmt(r.jobsPerSec, 0).padStart(7)} jobs/s` +
    ` (wall ${fmt(r.jobsPerSecWall, 0).padStart(6)})  cpu ${fmt(r.workerCpuUsPerJob, 1).padStart(6)} µs/job` +
    `  rss ${fmt(r.peakRssMiB, 1).padStart(6)} MiB  first ${fmt(r.firstJobMs, 1).padStart(6)} ms` +
    `  redis ${fmt(r.redisCpuUsPerJob, 1).padStart(5)} µs/job (limit ${fmt(r.redisBoundJobsPerSec, 0)})` +
    `  evalsha/job ${r.scriptCallsPerJob.toFixed(2)}`
  );
}

// ---------------------------------------------------------------- main
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  mkdirSync(opts.out, { recursive: true });
  mkdirSync(opts.logs, { recursive: true });
  const clustered = clusterNodes(opts.redis) != null;
  let admin;
  let redis;
  let located = null;
  if (clustered) {
    QUEUE = '{bench}'; // all the queue's keys in one slot
    admin = newCluster(opts.redis);
    // Bounded: an ioredis Cluster that cannot get a usable slot map retries forever.
    let timer;
    located = await Promise.race([
      locateQueue(admin),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`could not read the slot map of ${opts.redis} within 30 s`)), 30000);
      }),
    ]).finally(() => clearTimeout(timer));
    redis = { server: located.server, others: located.others, serverAddress: located.serverAddress };
    const i = located.serverAddress.lastIndexOf(':');
    opts.floorTarget = { host: located.serverAddress.slice(0, i), port: Number(located.serverAddress.slice(i + 1)) };
  } else {
    admin = new IORedis(opts.redis, { maxRetriesPerRequest: null });
    redis = { server: admin };
  }
  const redisInfo = parseInfo(await redis.server.info('server'));
  const startedAt = new Date().toISOString();
  console.log(
    `bench: ${opts.jobs} jobs × ${opts.repeats} repeat(s), concurrency ${opts.concurrency.join(' ')}; ` +
      `redis ${redisInfo.redis_version} at ${opts.redis}; node ${process.version}; ${os.cpus().length} CPUs; ` +
      `load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
  );
  if (os.loadavg()[0] > 0.5) {
    console.log(`bench: note: load average ${os.loadavg()[0].toFixed(2)} before starting (other work, or an earlier run, shared the CPUs lately): expect noisier figures`);
  }
  console.log(`bench: native ${[process.env.BENCH_BINARY_SOURCE || opts.binary, ...opts.nativeArgs].join(' ')}; Node bullmq ${bullmqVersion()}`);
  if (located) {
    console.log(
      `bench: cluster: queue ${QUEUE} (prefix ${PREFIX}, key slot ${located.slot}) is served by ${located.serverAddress}, ` +
        `master ${located.masterIndex} of ${located.masterCount} (slots ${located.ownerRanges.map(([a, b]) => `${a}-${b}`).join(',')}); ` +
        `Redis CPU, INFO, command counts and the round-trip floor are read from that node`,
    );
  }

  const roundTripFloor = opts.floorProbe ? { before: await measureFloor(opts, 'before') } : null;
  const runs = [];
  let broken = null;
  try {
    if (opts.warmup) {
      const n = Math.min(opts.jobs, 2000);
      for (const kind of ['node', 'native']) await runOnce(admin, redis, opts, kind, 10, n, `warmup-${kind}`);
      console.log(`bench: warm-up done (${n} jobs each, not counted)`);
    }
    let slot = 0;
    for (const c of opts.concurrency) {
      for (let r = 0; r < opts.repeats; r++, slot++) {
        // Alternate who goes first so neither side always gets the warmer Redis.
        const order = slot % 2 === 0 ? ['node', 'native'] : ['native', 'node'];
        for (const kind of order) {
          const res = await runOnce(admin, redis, opts, kind, c, opts.jobs, `c${c}-r${r + 1}-${kind}`);
          res.repeat = r + 1;
          runs.push(res);
          console.log(runLine(res));
        }
      }
    }
  } catch (err) {
    broken = err;
    console.error(`bench: BROKEN: ${err.message}`);
  }

  if (roundTripFloor) {
    // The after-probe also times the round trip to a Redis as busy per request as the
    // finishing script kept it in the native c=1 runs (the single-connection floor).
    const scriptUs = median(runs.filter((r) => r.concurrency === 1 && r.kind === 'native' && r.scriptUsPerCall).map((r) => r.scriptUsPerCall));
    roundTripFloor.after = await measureFloor(opts, 'after', scriptUs ?? 0);
    printFloor(roundTripFloor);
    roundTripFloor.inFlight = {};
    for (const c of opts.concurrency.filter((c) => c > 1)) {
      const us = median(runs.filter((r) => r.concurrency === c && r.kind === 'native' && r.scriptUsPerCall).map((r) => r.scriptUsPerCall));
      const probe = await measureInFlightFloor(opts, c, us, nativeFinishConnections(opts, c));
      if (probe) roundTripFloor.inFlight[c] = { ...probe, scriptUsPerCall: us };
    }
  }

  const summaries = [];
  for (const c of opts.concurrency) {
    if (!runs.some((r) => r.concurrency === c && r.kind === 'node') || !runs.some((r) => r.concurrency === c && r.kind === 'native')) continue;
    const s = summarize(runs, c, roundTripFloor);
    summaries.push(s);
    printSummary(s, opts.jobs);
  }
  console.log(
    '\nnotes: jobs/s = N / (last finishedOn − first processedOn); worker CPU = utime+stime of all the worker\'s threads ' +
      '(schedstat), per job after the first finished job; Redis CPU = Δ(used_cpu_sys+used_cpu_user) from spawn to the ' +
      'last completion ÷ N; Redis-bound limit = 1e6 ÷ Redis CPU µs/job of the same worker; first job = first finishedOn − spawn time.' +
      (roundTripFloor
        ? ' Round-trip floor = wall time and getrusage CPU of a C client per blocking round trip to the same Redis (PING; ' +
          'after the runs also an EVAL busy loop as long as the native c=1 runs\' EVALSHA µs per call); ' +
          'single-connection floor (c=1) = 1e6 ÷ the busy round trip\'s wall µs, CPU allowance = its client CPU µs + ' +
          `${FLOOR_CPU_SLACK_US} µs; in-flight floor (c > 1) = Redis's CPU ÷ wall time while the probe keeps c busy loops ` +
          'of the native runs\' EVALSHA µs in flight on the worker\'s finishing connections (scripts/bench/README.md).'
        : ''),
  );
  if (located) {
    const others = runs.map((r) => r.otherMastersCpuUsPerJob);
    console.log(
      `cluster: every Redis figure above is the one of ${located.serverAddress}, the master of slot ${located.slot} ` +
        `(queue ${QUEUE})` +
        (located.others.length
          ? `; the ${located.others.length} other master(s) used ${fmt(median(others), 2)} µs CPU/job together ` +
            `(median over the runs; cluster bus and cron only, unless a worker sent commands there)`
          : ''),
    );
  }

  const resultsPath = path.join(opts.out, 'bench-results.json');
  writeFileSync(
    resultsPath,
    `${JSON.stringify(
      {
        startedAt,
        finishedAt: new Date().toISOString(),
        config: { jobs: opts.jobs, repeats: opts.repeats, concurrency: opts.concurrency, warmup: opts.warmup, binary: opts.binary, nativeArgs: opts.nativeArgs, floorProbe: opts.floorProbe },
        ...(located
          ? {
              cluster: {
                url: opts.redis, queue: QUEUE, prefix: PREFIX, slot: located.slot, node: located.serverAddress,
                nodeSlots: located.ownerRanges, masterIndex: located.masterIndex, masters: located.masterCount,
                otherMasters: located.otherAddresses,
              },
            }
          : {}),
        environment: environment(redisInfo.redis_version, os.loadavg(), opts.binary),
        summaries,
        roundTripFloor,
        runs,
        broken: broken ? String(broken.message) : null,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`bench: results written to ${resultsPath}; worker logs in ${opts.logs}`);
  await admin.quit();
  if (located) await Promise.all([located.server, ...located.others].map((c) => c.quit()));
  process.exit(broken ? 1 : 0);
}

main().catch((err) => {
  console.error(`bench: ${err.stack || err}`);
  killTracked();
  process.exit(1);
});
