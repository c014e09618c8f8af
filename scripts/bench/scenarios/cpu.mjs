// CPU-heavy processors (scripts/bench.sh --scenario cpu): jobs that burn ~300 ms of CPU
// each, more running slots than CPUs (default 2× and 4× the CPUs), lock duration 1 s and a
// stalled check every 1 s (Node's defaults of 30 s and 30 s, scaled down). For the Node.js
// Worker (node-cpu-worker.mjs: a synchronous CPU loop in its processor) and bullmq-worker
// (the `burn-cpu` conformance processor, on its processing threads), one after the other on
// the same Redis and the same jobs, alternating which goes first: how many locks were lost,
// how many stalled jobs were recovered and how many jobs were processed twice.
//
// One run: FLUSHALL; pause the queue; add N `burn-cpu` jobs with data {ms}; start the worker
// and wait (bounded) until it is blocked in BZPOPMIN, idle; resume; poll until every job is
// completed or failed; stop the worker. The counts come from Redis, the same for both:
//   locks lost         lock keys (bull:cpu:ID:lock) that expired: Redis's keyspace events
//                      (notify-keyspace-events Ex, channel __keyevent@0__:expired). A worker
//                      deletes its job's lock when it finishes the job; a lock expires only
//                      when its worker did not renew it in time.
//   stalled recoveries `stalled` events in the queue's event stream (the stalled check
//                      moved a job without a lock back to wait). A job stalled once more than
//                      maxStalledCount (1, Node's default) is failed with "job stalled more
//                      than allowable limit" when next claimed; those are counted apart.
//   processed twice    jobs whose processor ran more than once: `active` events per job in
//                      the event stream (each claim), less the final claim of a job failed by
//                      the stall limit (failed on claim, its processor not run).
// Beside them, the workers' own account: Node's processor counts its starts and the worker's
// lockRenewalFailed / stalled / error events (node-cpu-worker.mjs); bullmq-worker runs with
// LOG_LEVEL=debug and its log is read for job.active (claims), job.lock_lost,
// job.outcome_rejected and job.stalled.
//
// Exit status: 0 whatever the figures; 1 if a run broke (a worker died, a job failed for
// another reason than the stall limit, the worker was not idle within 30 s, or not all jobs
// finished within the bound).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import {
  runScenario, writeResults, PREFIX, benchDir, redisCpuS as redisCpuSeconds, blockedIn, bullmqVersion, fmt, fmtRatio, judge, logTail, machineLines,
  median, nowMs, parseInfo, peakRssKiB, percentile, plainConnection, processCpu, safeName, sleep, spawnLogged,
  stopChild, targetLine, waitFor, scenarioOptions, startScenario,
} from '../lib.mjs';

const QUEUE = 'cpu';
const READY_TIMEOUT_MS = 30000;
const STALL_LIMIT_REASON = 'job stalled more than allowable limit';
const CPUS = os.cpus().length;

const opts = scenarioOptions(
  process.argv.slice(2),
  {
    '--jobs': 'int', '--repeats': 'int', '--concurrency': 'list', '--ms': 'int', '--lock-duration': 'int',
    '--stalled-interval': 'int', '--no-node': 'flag',
  },
  {
    jobs: 100, repeats: 1, concurrency: [2 * CPUS, 4 * CPUS], ms: 300, lockDuration: 1000, stalledInterval: 1000,
    noNode: false,
  },
);
const KINDS = opts.noNode ? ['native'] : ['node', 'native'];

function command(kind, concurrency) {
  if (kind === 'node') {
    return {
      cmd: process.execPath,
      args: [path.join(benchDir, 'node-cpu-worker.mjs'), QUEUE, opts.redis, String(concurrency), String(opts.lockDuration),
        String(opts.stalledInterval)],
      env: { ...process.env },
    };
  }
  return {
    cmd: opts.binary,
    args: ['run', '--queue', QUEUE, '--redis', opts.redis, '--processors', 'conformance', '--concurrency', String(concurrency),
      '--lock-duration', String(opts.lockDuration), '--stalled-interval', String(opts.stalledInterval), ...opts.nativeArgs],
    env: { ...process.env, LOG_LEVEL: 'debug', LOG_FORMAT: 'json' },
  };
}

// The JSON lines of a worker's log (other lines are skipped).
function logEvents(logPath) {
  const out = [];
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a partial line
    }
  }
  return out;
}

// The worker's own account of its run, from its log.
function workerAccount(kind, logPath, stallFailedIds) {
  const lines = logEvents(logPath);
  const of = (name) => lines.filter((l) => l.event === name);
  const perJob = new Map();
  if (kind === 'node') {
    // A result refused for a missing lock comes as two 'error' events (completing, then
    // failing the job): count the runs that saw one.
    let refused = 0;
    const refusedThisRun = new Set();
    for (const l of lines) {
      if (l.event === 'processor.start') {
        perJob.set(l.jobId, (perJob.get(l.jobId) ?? 0) + 1);
        refusedThisRun.delete(l.jobId);
      } else if (l.event === 'error') {
        const m = /Missing lock for job ([^ .]+)/i.exec(String(l.message));
        if (m && !refusedThisRun.has(m[1])) {
          refusedThisRun.add(m[1]);
          refused++;
        }
      }
    }
    const errors = of('error').map((l) => String(l.message));
    return {
      processorStarts: [...perJob.values()].reduce((a, b) => a + b, 0),
      jobsStartedTwice: [...perJob.values()].filter((c) => c > 1).length,
      lockLosses: of('lockRenewalFailed').reduce((a, l) => a + (l.jobIds?.length ?? 0), 0),
      lockLossesMeaning: "job ids in 'lockRenewalFailed' events",
      resultsRefused: refused,
      resultsRefusedMeaning: "runs with an 'error' event 'Missing lock for job ID' (one per run)",
      stalledRecovered: of('stalled').length,
      errors: errors.length,
      errorSamples: [...new Set(errors)].slice(0, 5),
    };
  }
  // bullmq-worker: job.active is logged at each claim, before the processor runs; a job
  // failed by the stall limit is claimed once more and failed without running.
  for (const l of of('job.active')) perJob.set(l.job_id, (perJob.get(l.job_id) ?? 0) + 1);
  for (const id of stallFailedIds) if (perJob.has(id)) perJob.set(id, perJob.get(id) - 1);
  const errors = lines.filter((l) => l.level === 'error').map((l) => `${l.event}: ${l.msg}`);
  return {
    processorStarts: [...perJob.values()].reduce((a, b) => a + b, 0),
    jobsStartedTwice: [...perJob.values()].filter((c) => c > 1).length,
    lockLosses: of('job.lock_lost').length,
    lockLossesMeaning: 'job.lock_lost log events',
    resultsRefused: of('job.outcome_rejected').length,
    resultsRefusedMeaning: 'job.outcome_rejected log events',
    stalledRecovered: of('job.stalled').length,
    errors: errors.length,
    errorSamples: [...new Set(errors)].slice(0, 5),
  };
}

async function addJobs(n) {
  const queue = new Queue(QUEUE, {
    connection: plainConnection(opts.redis), prefix: PREFIX, streams: { events: { maxLen: Math.max(10000, n * 50) } },
  });
  await queue.pause();
  for (let i = 0; i < n; i += 1000) {
    const size = Math.min(1000, n - i);
    await queue.addBulk(Array.from({ length: size }, () => ({ name: 'burn-cpu', data: { ms: opts.ms } })));
  }
  return queue;
}

async function runOnce(admin, expiries, kind, concurrency, n, label) {
  const keys = {
    completed: `${PREFIX}:${QUEUE}:completed`, failed: `${PREFIX}:${QUEUE}:failed`, events: `${PREFIX}:${QUEUE}:events`,
  };
  await admin.flushall('SYNC');
  expiries.length = 0;
  const queue = await addJobs(n);
  const [[, waiting], [, paused]] = await admin.multi().llen(`${PREFIX}:${QUEUE}:wait`).llen(`${PREFIX}:${QUEUE}:paused`).exec();
  if (waiting + paused !== n) throw new Error(`${label}: expected ${n} jobs waiting on the paused queue, found ${waiting + paused}`);

  const logPath = path.join(opts.logs, `${safeName(label)}.log`);
  const worker = spawnLogged(command(kind, concurrency), logPath);
  const { child } = worker;
  let failure = null;
  const ready = await waitFor(async () => worker.exited || (await blockedIn(admin)) >= 1, READY_TIMEOUT_MS);
  if (worker.exited) failure = `the worker exited before the queue was resumed (code ${worker.exited.code}, signal ${worker.exited.signal})`;
  else if (!ready) failure = `the worker was not blocked on the marker within ${READY_TIMEOUT_MS / 1000} s`;

  let cpu0;
  let cpu1;
  let resumeMs;
  let doneMs;
  let rssKiB = NaN;
  let redisCpuS = NaN;
  if (!failure) {
    const info0 = parseInfo(await admin.info('cpu'));
    cpu0 = processCpu(child.pid);
    resumeMs = nowMs();
    await queue.resume();
    // Node runs one job at a time on its one thread; lost jobs run again.
    const boundMs = Math.max(60000, 4 * n * opts.ms + 30000);
    for (;;) {
      const [[, completed], [, failed]] = await admin.multi().zcard(keys.completed).zcard(keys.failed).exec();
      const t = nowMs();
      if (completed + failed >= n) {
        doneMs = t;
        cpu1 = processCpu(child.pid);
        break;
      }
      if (worker.exited) {
        failure = `the worker exited early (code ${worker.exited.code}, signal ${worker.exited.signal}) after ${completed + failed}/${n} jobs`;
        break;
      }
      if (t - resumeMs > boundMs) {
        failure = `only ${completed + failed}/${n} jobs finished within ${Math.round(boundMs / 1000)} s`;
        break;
      }
      await sleep(50);
    }
    rssKiB = peakRssKiB(child.pid);
    const info1 = parseInfo(await admin.info('cpu'));
    redisCpuS = redisCpuSeconds(info1) - redisCpuSeconds(info0);
  }
  // Lock keys still there and already expired are expired (with their event) when touched.
  for (const key of await admin.keys(`${PREFIX}:${QUEUE}:*:lock`)) await admin.pttl(key);
  await sleep(300); // let the last keyspace events arrive
  const lockExpiries = [...expiries];
  await stopChild(child);
  await queue.close();
  if (failure) throw new Error(`${label}: ${failure}\n--- worker log (${logPath}) ---\n${logTail(logPath)}`);

  // The event stream: claims, stalls and failures per job.
  const entries = await admin.xrange(keys.events, '-', '+');
  const byEvent = new Map(); // event -> Map(jobId -> count)
  const failedReasons = new Map();
  for (const [, fields] of entries) {
    const f = {};
    for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
    if (!byEvent.has(f.event)) byEvent.set(f.event, new Map());
    const m = byEvent.get(f.event);
    m.set(f.jobId, (m.get(f.jobId) ?? 0) + 1);
    if (f.event === 'failed') failedReasons.set(f.jobId, f.failedReason);
  }
  const count = (event) => [...(byEvent.get(event)?.values() ?? [])].reduce((a, b) => a + b, 0);
  if (count('added') !== n) throw new Error(`${label}: the event stream holds ${count('added')} 'added' events for ${n} jobs (trimmed?)`);
  const stallFailed = [...failedReasons].filter(([, r]) => r === STALL_LIMIT_REASON).map(([id]) => id);
  const otherFailures = [...failedReasons].filter(([, r]) => r !== STALL_LIMIT_REASON);
  if (otherFailures.length) {
    throw new Error(`${label}: ${otherFailures.length} job(s) failed for another reason than the stall limit, e.g. ` +
      `job ${otherFailures[0][0]}: ${otherFailures[0][1]}\n--- worker log (${logPath}) ---\n${logTail(logPath)}`);
  }
  const runsPerJob = new Map(byEvent.get('active') ?? []);
  for (const id of stallFailed) runsPerJob.set(id, (runsPerJob.get(id) ?? 0) - 1);
  const runs = [...runsPerJob.values()].reduce((a, b) => a + b, 0);

  // Per completed job: how long it held its slot (its last run), and what it returned.
  const ids = await admin.zrange(keys.completed, 0, -1);
  const pipe = admin.pipeline();
  for (const id of ids) pipe.hmget(`${PREFIX}:${QUEUE}:${id}`, 'processedOn', 'finishedOn', 'returnvalue');
  const runMs = [];
  const burned = [];
  for (const [, [processedOn, finishedOn, returnvalue]] of await pipe.exec()) {
    runMs.push(Number(finishedOn) - Number(processedOn));
    burned.push(JSON.parse(returnvalue)?.burnedMs);
  }
  if (burned.some((b) => !(b >= opts.ms))) throw new Error(`${label}: a completed job returned burnedMs below ${opts.ms}`);

  const lockJobs = new Set(lockExpiries.map((e) => e.jobId));
  const wallS = (doneMs - resumeMs) / 1000;
  const cpuS = (cpu1.ns - cpu0.ns) / 1e9;
  const account = workerAccount(kind, logPath, stallFailed);
  return {
    kind,
    concurrency,
    jobs: n,
    label,
    completed: ids.length,
    failedStallLimit: stallFailed.length,
    lockExpiries: lockExpiries.length,
    jobsWithLockExpired: lockJobs.size,
    stalledEvents: count('stalled'),
    stalledJobs: byEvent.get('stalled')?.size ?? 0,
    processorRuns: runs,
    extraRuns: runs - n,
    jobsProcessedTwice: [...runsPerJob.values()].filter((c) => c > 1).length,
    claims: count('active'),
    worker: account,
    jobsPerSec: ids.length / wallS,
    jobsFinishedPerSec: n / wallS,
    ceilingJobsPerSec: ((kind === 'node' ? 1 : Math.min(concurrency, CPUS)) * 1000) / opts.ms,
    wallS,
    workerCpuS: cpuS,
    workerCpuMsPerJob: (cpuS * 1000) / n,
    coresUsed: cpuS / wallS,
    redisCpuMsPerJob: (redisCpuS * 1000) / n,
    runMsP50: percentile(runMs, 50),
    runMsMax: percentile(runMs, 100),
    peakRssMiB: rssKiB / 1024,
    loadavg: os.loadavg(),
    raw: { resumeMs, doneMs, cpuAtResume: cpu0, cpuAtEnd: cpu1, lockExpiries, failedStallLimitIds: stallFailed },
  };
}

// Counts are summed over the repeats; rates and times are medians.
const COUNTS = ['lockExpiries', 'stalledEvents', 'failedStallLimit', 'jobsProcessedTwice', 'extraRuns', 'completed'];
const RATES = ['jobsPerSec', 'jobsFinishedPerSec', 'ceilingJobsPerSec', 'workerCpuMsPerJob', 'coresUsed', 'redisCpuMsPerJob', 'runMsP50', 'runMsMax', 'peakRssMiB'];
const OWN = ['processorStarts', 'jobsStartedTwice', 'lockLosses', 'resultsRefused', 'stalledRecovered', 'errors'];

function summarize(runs, kind, concurrency) {
  const rs = runs.filter((r) => r.kind === kind && r.concurrency === concurrency);
  if (!rs.length) return null;
  const s = { kind, concurrency, repeats: rs.length, jobs: rs.reduce((a, r) => a + r.jobs, 0), worker: {} };
  for (const k of COUNTS) s[k] = rs.reduce((a, r) => a + r[k], 0);
  for (const k of RATES) s[k] = median(rs.map((r) => r[k]));
  for (const k of OWN) s.worker[k] = rs.reduce((a, r) => a + r.worker[k], 0);
  s.worker.lockLossesMeaning = rs[0].worker.lockLossesMeaning;
  s.worker.resultsRefusedMeaning = rs[0].worker.resultsRefusedMeaning;
  s.worker.errorSamples = [...new Set(rs.flatMap((r) => r.worker.errorSamples))].slice(0, 5);
  return s;
}

function printTable(concurrency, node, native) {
  const w0 = 58;
  const w = 11;
  const jobs = (native ?? node).jobs;
  const lines = ['', `== CPU-heavy: ${jobs} jobs × ${opts.ms} ms of CPU, concurrency ${concurrency} on ${CPUS} CPUs, ` +
    `lock ${opts.lockDuration} ms, stalled check every ${opts.stalledInterval} ms` +
    `${(native ?? node).repeats > 1 ? ` (${(native ?? node).repeats} runs: counts summed, the rest medians)` : ''}`];
  lines.push(`${'figure'.padEnd(w0)}${'node'.padStart(w)}${'native'.padStart(w)}`);
  const row = (label, get, digits = 0) => lines.push(`${label.padEnd(w0)}${fmt(node ? get(node) : null, digits).padStart(w)}` +
    `${fmt(native ? get(native) : null, digits).padStart(w)}`);
  lines.push('from Redis (the same for both):');
  row('  locks lost (lock keys that expired)', (s) => s.lockExpiries);
  row('  stalled recoveries (stalled events)', (s) => s.stalledEvents);
  row('  jobs failed: stalled more than allowable limit', (s) => s.failedStallLimit);
  row('  jobs processed twice (processor ran ≥ 2 times)', (s) => s.jobsProcessedTwice);
  row('  extra processor runs (runs − jobs)', (s) => s.extraRuns);
  row('  jobs completed', (s) => s.completed);
  lines.push("the worker's own account:");
  row('  processor starts', (s) => s.worker.processorStarts);
  row('  jobs it started twice', (s) => s.worker.jobsStartedTwice);
  row('  lock losses it noticed (a lock renewal refused)', (s) => s.worker.lockLosses);
  row('  results refused (the lock gone at finish)', (s) => s.worker.resultsRefused);
  row('  stalled jobs its own check recovered', (s) => s.worker.stalledRecovered);
  row('  errors', (s) => s.worker.errors);
  lines.push('time and CPU:');
  row('  jobs completed/s (wall, resume → last finish)', (s) => s.jobsPerSec, 2);
  row('  CPU-bound ceiling jobs/s (threads ≤ CPUs × 1000 / ms)', (s) => s.ceilingJobsPerSec, 2);
  row('  worker CPU ms/job', (s) => s.workerCpuMsPerJob, 1);
  row('  worker CPU cores used', (s) => s.coresUsed, 2);
  row('  Redis CPU ms/job', (s) => s.redisCpuMsPerJob, 2);
  row('  job run p50, ms (finishedOn − processedOn)', (s) => s.runMsP50, 0);
  row('  job run max, ms', (s) => s.runMsMax, 0);
  row('  peak RSS MiB', (s) => s.peakRssMiB, 1);
  if (node && native) {
    lines.push(`native/node: jobs completed/s ${fmtRatio(native.jobsPerSec / node.jobsPerSec)}, worker CPU per job ` +
      `${fmtRatio(native.workerCpuMsPerJob / node.workerCpuMsPerJob)}`);
  }
  for (const s of [node, native]) {
    if (s?.worker.errorSamples.length) lines.push(`${s.kind} errors, e.g.: ${s.worker.errorSamples.map((e) => JSON.stringify(e)).join('; ')}`);
  }
  const targets = [];
  if (native) {
    targets.push(judge({ name: 'locks lost = 0', value: native.lockExpiries, target: 0, op: '<=', unit: 'locks', digits: 0 }));
    targets.push(judge({ name: 'stalled recoveries = 0', value: native.stalledEvents, target: 0, op: '<=', unit: 'jobs', digits: 0 }));
    targets.push(judge({ name: 'jobs processed twice = 0', value: native.jobsProcessedTwice, target: 0, op: '<=', unit: 'jobs', digits: 0 }));
    lines.push("targets (native; Node's figures are printed, whatever they are):");
    for (const t of targets) lines.push(targetLine(t));
  }
  console.log(lines.join('\n'));
  return targets;
}

async function main() {
  const { admin, redisInfo, startedAt, loadavgAtStart } = await startScenario(opts);
  console.log(`bench cpu: ${opts.jobs} jobs × ${opts.repeats} repeat(s) of ${opts.ms} ms of CPU each, concurrency ` +
    `${opts.concurrency.join(' ')} on ${CPUS} CPUs, lock duration ${opts.lockDuration} ms, stalled interval ` +
    `${opts.stalledInterval} ms; ${KINDS.join(' and ')}, one at a time`);
  for (const line of machineLines(redisInfo.redis_version, opts.redis)) console.log(`bench cpu: ${line}`);
  console.log(`bench cpu: native ${[process.env.BENCH_BINARY_SOURCE || opts.binary, ...opts.nativeArgs].join(' ')} ` +
    `(burn-cpu); Node bullmq ${bullmqVersion()} (node-cpu-worker.mjs)`);

  // Expired lock keys, from Redis's keyspace events (restored when done).
  const [, keyspaceBefore] = await admin.config('GET', 'notify-keyspace-events');
  await admin.config('SET', 'notify-keyspace-events', 'Ex');
  const db = Number(new URL(opts.redis).pathname.slice(1) || 0);
  const subscriber = new IORedis(opts.redis, { maxRetriesPerRequest: null });
  const expiries = [];
  const lockKey = new RegExp(`^${PREFIX}:${QUEUE}:([^:]+):lock$`);
  subscriber.on('message', (_channel, key) => {
    const m = lockKey.exec(key);
    if (m) expiries.push({ jobId: m[1], atMs: nowMs() });
  });
  await subscriber.subscribe(`__keyevent@${db}__:expired`);

  const runs = [];
  let broken = null;
  try {
    let slot = 0;
    for (const c of opts.concurrency) {
      for (let r = 0; r < opts.repeats; r++) {
        const order = slot++ % 2 === 0 ? KINDS : [...KINDS].reverse();
        for (const kind of order) {
          const res = await runOnce(admin, expiries, kind, c, opts.jobs, `cpu-c${c}-r${r + 1}-${kind}`);
          res.repeat = r + 1;
          runs.push(res);
          console.log(`  c=${String(c).padEnd(3)} ${kind.padEnd(6)} ${fmt(res.jobsPerSec, 2).padStart(6)} completed/s  ` +
            `locks lost ${res.lockExpiries}, stalled ${res.stalledEvents}, failed by stall limit ${res.failedStallLimit}, ` +
            `processed twice ${res.jobsProcessedTwice}  (own account: lock losses ${res.worker.lockLosses}, ` +
            `starts ${res.worker.processorStarts})  cpu ${fmt(res.workerCpuMsPerJob, 1)} ms/job, ${fmt(res.coresUsed, 2)} cores`);
        }
      }
    }
  } catch (err) {
    broken = err;
    console.error(`bench cpu: BROKEN: ${err.message}`);
  }
  await subscriber.quit();
  await admin.config('SET', 'notify-keyspace-events', keyspaceBefore ?? '');

  const summaries = [];
  const targets = [];
  for (const c of opts.concurrency) {
    const node = summarize(runs, 'node', c);
    const native = summarize(runs, 'native', c);
    if (!node && !native) continue;
    summaries.push(...[node, native].filter(Boolean));
    targets.push(...printTable(c, node, native).map((t) => ({ ...t, concurrency: c })));
  }
  console.log(
    '\nnotes: locks lost = expired lock keys (keyspace events); stalled recoveries = stalled events in the queue\'s ' +
      'event stream (a job failed by the stall limit, maxStalledCount 1 as Node\'s default, was stalled twice and is ' +
      'counted there); processed twice = ' +
      'jobs with more than one processor run (active events per job, less the claim that fails a job at the stall ' +
      'limit without running it). The worker\'s own account: Node from its processor and Worker events, bullmq-worker ' +
      `from its log (LOG_LEVEL=debug). Worker CPU = all its threads, resume to the last finish. On a ${CPUS}-CPU machine ` +
      'shared with other work the times move from run to run; the counts depend on scheduling too.',
  );

  const resultsPath = writeResults(opts.out, 'cpu', {
    redisVersion: redisInfo.redis_version,
    loadavgAtStart: loadavgAtStart,
    binary: opts.binary,
    startedAt,
    config: {
      jobs: opts.jobs, repeats: opts.repeats, concurrency: opts.concurrency, ms: opts.ms, lockDuration: opts.lockDuration,
      stalledInterval: opts.stalledInterval, maxStalledCount: 1, kinds: KINDS, binary: opts.binary, nativeArgs: opts.nativeArgs,
    },
    summaries,
    targets,
    runs,
    broken: broken ? String(broken.message) : null,
  });
  console.log(`bench cpu: results written to ${resultsPath}; worker logs in ${opts.logs}`);
  await admin.quit();
  process.exit(broken ? 1 : 0);
}

runScenario('cpu', main);
