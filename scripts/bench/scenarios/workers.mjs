// Several workers on one Redis (scripts/bench.sh --scenario workers): 1, 2 and 4
// worker processes at concurrency 10 each on one queue of N pre-added no-op jobs;
// aggregate jobs/s against the Redis-bound limit, for bullmq-worker and (unless
// --no-node) for the Node.js Worker, alternating which goes first.
//
// One run: FLUSHALL; pause the queue; add the N jobs (`echo`, data {}); start the P
// workers (named KIND-1…KIND-P, so each job's processedBy says who ran it) and wait,
// bounded, until all P are blocked in BZPOPMIN, idle; CONFIG RESETSTAT; read Redis's
// and every worker's CPU; resume the queue; poll ZCARD completed until all N are done.
// Starting the workers on a paused queue lets them all be ready before the first job
// can be taken, so the figures are not those of one process that started first.
// jobs/s = N / (last finishedOn − first processedOn), as run.mjs computes it; Redis CPU
// per job = Δ(used_cpu_sys + used_cpu_user) from just before the resume to the last
// completion, ÷ N; Redis-bound limit = 1e6 ÷ that.
//
// Exit status: 0 whatever the figures; 1 if a run broke (a worker died, jobs failed,
// workers not ready within 30 s, or not all jobs completed within the bound).
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import {
  runScenario, writeResults, PREFIX, blockedIn, bullmqVersion, fmt, fmtRatio, judge, logTail, machineLines, median,
  nowMs, parseInfo, peakRssKiB, plainConnection, processCpu, redisSide, safeName, sleep,
  spawnLogged, stopChild, targetLine, waitFor, workerCommand, scenarioOptions, startScenario,
} from '../lib.mjs';

const QUEUE = 'bench';
const READY_TIMEOUT_MS = 30000;

const opts = scenarioOptions(
  process.argv.slice(2),
  {
    '--jobs': 'int', '--repeats': 'int', '--processes': 'list', '--concurrency': 'list', '--no-node': 'flag',
  },
  { jobs: 20000, repeats: 3, processes: [1, 2, 4], concurrency: [10], noNode: false },
);
const KINDS = opts.noNode ? ['native'] : ['node', 'native'];

async function addJobs(n) {
  const queue = new Queue(QUEUE, { connection: plainConnection(opts.redis), prefix: PREFIX });
  await queue.pause();
  for (let i = 0; i < n; i += 1000) {
    const size = Math.min(1000, n - i);
    await queue.addBulk(Array.from({ length: size }, () => ({ name: 'echo', data: {} })));
  }
  return queue;
}

async function runOnce(admin, kind, processes, concurrency, n, label) {
  const keyCompleted = `${PREFIX}:${QUEUE}:completed`;
  const keyFailed = `${PREFIX}:${QUEUE}:failed`;
  await admin.flushall('SYNC');
  const queue = await addJobs(n);
  const [[, waiting], [, paused]] = await admin.multi().llen(`${PREFIX}:${QUEUE}:wait`).llen(`${PREFIX}:${QUEUE}:paused`).exec();
  if (waiting + paused !== n) throw new Error(`${label}: expected ${n} jobs waiting on the paused queue, found ${waiting + paused}`);

  const workers = [];
  for (let i = 1; i <= processes; i++) {
    const name = `${kind}-${i}`;
    const cmd = workerCommand(kind, { queue: QUEUE, redis: opts.redis, binary: opts.binary, concurrency, nativeArgs: opts.nativeArgs, name });
    workers.push({ name, ...spawnLogged(cmd, path.join(opts.logs, `${safeName(label)}-${i}.log`)) });
  }
  const spawnMs = nowMs();
  let failure = null;
  let zcardCalls = 0;
  let infoCalls = 0;
  const dead = () => workers.find((w) => w.exited);
  const ready = await waitFor(async () => dead() || (await blockedIn(admin)) >= processes, READY_TIMEOUT_MS);
  const readyMs = nowMs();
  if (dead()) failure = `worker ${dead().name} exited before the queue was resumed (code ${dead().exited.code}, signal ${dead().exited.signal})`;
  else if (!ready) failure = `the ${processes} worker(s) were not all blocked on the marker within ${READY_TIMEOUT_MS / 1000} s`;

  let info0;
  let info1;
  let cpu0;
  let cpu1;
  let resumeMs;
  let doneMs;
  if (!failure) {
    await admin.config('RESETSTAT');
    info0 = parseInfo(await admin.info('everything'));
    cpu0 = workers.map((w) => processCpu(w.child.pid));
    resumeMs = nowMs();
    await queue.resume();
    const boundMs = Math.max(30000, (n / 250) * 1000);
    for (;;) {
      const [[, completed], [, failed]] = await admin.multi().zcard(keyCompleted).zcard(keyFailed).exec();
      zcardCalls += 2;
      const t = nowMs();
      if (failed > 0) {
        failure = `${failed} job(s) failed`;
        break;
      }
      if (completed >= n) {
        doneMs = t;
        cpu1 = workers.map((w) => processCpu(w.child.pid));
        break;
      }
      if (dead()) {
        failure = `worker ${dead().name} exited early (code ${dead().exited.code}, signal ${dead().exited.signal}) after ${completed}/${n} jobs`;
        break;
      }
      if (t - resumeMs > boundMs) {
        failure = `only ${completed}/${n} jobs completed within ${Math.round(boundMs / 1000)} s`;
        break;
      }
      await sleep(10);
    }
    info1 = parseInfo(await admin.info('everything'));
    infoCalls += 1;
  }
  const rssKiB = workers.map((w) => peakRssKiB(w.child.pid));
  await Promise.all(workers.map((w) => stopChild(w.child)));
  await queue.close();
  if (failure) {
    const logs = workers.map((w) => `--- ${w.name} (${w.logPath}) ---\n${logTail(w.logPath, 8)}`).join('\n');
    throw new Error(`${label}: ${failure}\n${logs}`);
  }

  // Engine timestamps, from the jobs; and who processed each job.
  const [, lastFinishedText] = await admin.zrange(keyCompleted, -1, -1, 'WITHSCORES');
  const ids = await admin.zrange(keyCompleted, 0, -1);
  const pipe = admin.pipeline();
  for (const id of ids) pipe.hmget(`${PREFIX}:${QUEUE}:${id}`, 'processedOn', 'pb', 'returnvalue'); // pb: processedBy
  let firstProcessed = Infinity;
  const perWorker = Object.fromEntries(workers.map((w) => [w.name, 0]));
  let unattributed = 0;
  for (const [, [processedOn, processedBy, returnvalue]] of await pipe.exec()) {
    if (processedOn) firstProcessed = Math.min(firstProcessed, Number(processedOn));
    if (processedBy in perWorker) perWorker[processedBy]++;
    else unattributed++;
    if (returnvalue !== '{}') throw new Error(`${label}: unexpected return value ${returnvalue}`);
  }
  const lastFinished = Number(lastFinishedText);

  const { redisCpuUs, perJob, redisBoundJobsPerSec } = redisSide(info0, info1, n, { zcardCalls, infoCalls });
  const workerCpuNs = cpu1.reduce((sum, c, i) => sum + (c.ns - cpu0[i].ns), 0);
  const jobsPerSec = (n * 1000) / Math.max(lastFinished - firstProcessed, 1);
  const shares = Object.values(perWorker).map((c) => c / n);
  return {
    kind,
    processes,
    concurrency,
    jobs: n,
    label,
    jobsPerSec,
    jobsPerSecWall: (n * 1000) / (doneMs - resumeMs),
    redisCpuUsPerJob: redisCpuUs / n,
    redisBoundJobsPerSec,
    redisBoundFraction: redisBoundJobsPerSec ? jobsPerSec / redisBoundJobsPerSec : null,
    workerCpuUsPerJob: workerCpuNs / 1000 / n,
    peakRssMiBPerProcess: rssKiB.map((k) => k / 1024),
    peakRssMiBMax: Math.max(...rssKiB) / 1024,
    peakRssMiBSum: rssKiB.reduce((a, b) => a + b, 0) / 1024,
    jobsPerWorker: perWorker,
    jobsUnattributed: unattributed,
    shareMin: Math.min(...shares),
    shareMax: Math.max(...shares),
    readyAfterSpawnMs: readyMs - spawnMs,
    scriptCallsPerJob: perJob('evalsha') + perJob('eval'),
    bzpopminPerJob: perJob('bzpopmin'),
    loadavg: os.loadavg(),
    raw: { resumeMs, firstProcessed, lastFinished, doneMs, redisCpuUs, cpuAtResume: cpu0, cpuAtEnd: cpu1, peakRssKiB: rssKiB },
  };
}

const METRICS = [
  ['jobsPerSec', 'jobs/s', 0],
  ['redisCpuUsPerJob', 'Redis µs/job', 1],
  ['redisBoundJobsPerSec', 'limit jobs/s', 0],
  ['redisBoundFraction', '÷ limit', 2],
  ['workerCpuUsPerJob', 'CPU µs/job', 1],
  ['peakRssMiBMax', 'RSS MiB/proc', 1],
];

function summarize(runs, kind, processes, concurrency) {
  const rs = runs.filter((r) => r.kind === kind && r.processes === processes && r.concurrency === concurrency);
  if (!rs.length) return null;
  const m = { kind, processes, concurrency, repeats: rs.length };
  for (const [key] of METRICS) m[key] = median(rs.map((r) => r[key]));
  m.scriptCallsPerJob = median(rs.map((r) => r.scriptCallsPerJob));
  m.shareMin = Math.min(...rs.map((r) => r.shareMin));
  m.shareMax = Math.max(...rs.map((r) => r.shareMax));
  m.jobsPerSecMin = Math.min(...rs.map((r) => r.jobsPerSec));
  m.jobsPerSecMax = Math.max(...rs.map((r) => r.jobsPerSec));
  return m;
}

function printTable(summaries, concurrency) {
  const lines = ['', `== several workers on one Redis: ${opts.jobs} jobs, concurrency ${concurrency} per process, ` +
    `medians of ${opts.repeats} run(s)`];
  const w = 13;
  lines.push(`${'procs'.padEnd(6)}${'worker'.padEnd(8)}${METRICS.map(([, label]) => label.padStart(w)).join('')}` +
    `${'jobs/s range'.padStart(18)}${'jobs per process'.padStart(20)}`);
  for (const s of summaries) {
    lines.push(`${String(s.processes).padEnd(6)}${s.kind.padEnd(8)}` +
      `${METRICS.map(([key, , digits]) => fmt(s[key], digits).padStart(w)).join('')}` +
      `${`${fmt(s.jobsPerSecMin, 0)}–${fmt(s.jobsPerSecMax, 0)}`.padStart(18)}` +
      `${(s.processes === 1 ? '100 %' : `${fmt(s.shareMin * 100, 0)}–${fmt(s.shareMax * 100, 0)} %`).padStart(20)}`);
  }
  const byP = (kind, p) => summaries.find((s) => s.kind === kind && s.processes === p);
  const one = byP('native', opts.processes[0]);
  lines.push('native against Node and against its own first row:');
  for (const p of opts.processes) {
    const m = byP('native', p);
    const n = byP('node', p);
    if (!m) continue;
    lines.push(`  ${String(p).padStart(2)} process(es): jobs/s ${fmtRatio(n ? m.jobsPerSec / n.jobsPerSec : null)} Node's, ` +
      `worker CPU/job ${fmtRatio(n ? m.workerCpuUsPerJob / n.workerCpuUsPerJob : null)} Node's, ` +
      `jobs/s ${fmtRatio(one ? m.jobsPerSec / one.jobsPerSec : null)} of ${opts.processes[0]} process(es)`);
  }
  const targets = [];
  for (const p of opts.processes) {
    const m = byP('native', p);
    if (m) targets.push(judge({ name: `${p} process(es): jobs/s ≥ 0.95 × Redis-bound limit`, value: m.redisBoundFraction, target: 0.95, op: '>=', unit: 'x' }));
  }
  lines.push("targets (native; the issue's concurrency ≥ 10 target, applied to the aggregate):");
  for (const t of targets) lines.push(targetLine(t));
  console.log(lines.join('\n'));
  return targets;
}

async function main() {
  const { admin, redisInfo, startedAt, loadavgAtStart } = await startScenario(opts);
  console.log(`bench workers: ${opts.jobs} jobs × ${opts.repeats} repeat(s); ${opts.processes.join(' ')} process(es) ` +
    `at concurrency ${opts.concurrency.join(' ')} each; ${KINDS.join(' and ')}`);
  for (const line of machineLines(redisInfo.redis_version, opts.redis)) console.log(`bench workers: ${line}`);
  console.log(`bench workers: native ${[process.env.BENCH_BINARY_SOURCE || opts.binary, ...opts.nativeArgs].join(' ')}; Node bullmq ${bullmqVersion()}`);

  const runs = [];
  let broken = null;
  try {
    let slot = 0;
    for (const c of opts.concurrency) {
      for (let r = 0; r < opts.repeats; r++) {
        for (const p of opts.processes) {
          const order = slot++ % 2 === 0 ? KINDS : [...KINDS].reverse();
          for (const kind of order) {
            const res = await runOnce(admin, kind, p, c, opts.jobs, `workers-p${p}-c${c}-r${r + 1}-${kind}`);
            res.repeat = r + 1;
            runs.push(res);
            console.log(`  p=${p} c=${c} ${kind.padEnd(6)} ${fmt(res.jobsPerSec, 0).padStart(7)} jobs/s  redis ${fmt(res.redisCpuUsPerJob, 1).padStart(5)} µs/job ` +
              `(limit ${fmt(res.redisBoundJobsPerSec, 0)}, ${fmt(res.redisBoundFraction, 2)} of it)  cpu ${fmt(res.workerCpuUsPerJob, 1)} µs/job  ` +
              `rss ${res.peakRssMiBPerProcess.map((x) => fmt(x, 1)).join('/')} MiB  jobs ${Object.values(res.jobsPerWorker).join('/')}`);
          }
        }
      }
    }
  } catch (err) {
    broken = err;
    console.error(`bench workers: BROKEN: ${err.message}`);
  }

  const summaries = [];
  const targets = [];
  for (const c of opts.concurrency) {
    const rows = [];
    for (const p of opts.processes) for (const kind of KINDS) {
      const s = summarize(runs, kind, p, c);
      if (s) rows.push(s);
    }
    if (!rows.length) continue;
    summaries.push(...rows);
    targets.push(...printTable(rows, c).map((t) => ({ ...t, concurrency: c })));
  }
  console.log(
    '\nnotes: jobs/s = N / (last finishedOn − first processedOn) over all processes; Redis CPU = Δ(used_cpu_sys+used_cpu_user) ' +
      'from the resume of the paused queue to the last completion ÷ N; limit = 1e6 ÷ Redis CPU µs/job of the same run; ' +
      'worker CPU = all processes, resume to end, ÷ N; RSS = the largest VmHWM of the processes; jobs per process from ' +
      `processedBy. On a ${os.cpus().length}-CPU machine the worker processes and Redis share the CPUs.`,
  );

  const resultsPath = writeResults(opts.out, 'workers', {
    redisVersion: redisInfo.redis_version,
    loadavgAtStart: loadavgAtStart,
    binary: opts.binary,
    startedAt,
    config: { jobs: opts.jobs, repeats: opts.repeats, processes: opts.processes, concurrency: opts.concurrency, kinds: KINDS, binary: opts.binary, nativeArgs: opts.nativeArgs },
    summaries,
    targets,
    runs,
    broken: broken ? String(broken.message) : null,
  });
  console.log(`bench workers: results written to ${resultsPath}; worker logs in ${opts.logs}`);
  await admin.quit();
  process.exit(broken ? 1 : 0);
}

runScenario('workers', main);
