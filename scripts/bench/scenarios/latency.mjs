// Idle latency (scripts/bench.sh --scenario latency): how long a job added to an
// idle queue waits before a worker makes it active, for the Node.js Worker and for
// bullmq-worker in the same run on the same Redis.
//
// Each worker consumes its own queue (lat-node, lat-native) and both stay running for
// the whole run. Jobs are added one at a time, alternately to the two queues (pairs in
// alternating order: node native, native node, ...), so load changes on the machine
// hit both sides alike. Before each add the harness waits (bounded) until both workers
// are blocked in BZPOPMIN on their queue's marker (CLIENT LIST), i.e. idle; after the
// job completes it waits a random 20–60 ms gap, so samples do not phase-lock with
// timers in either worker.
//
// The measure (the target's): Redis's own clock, read from MONITOR, from the LPUSH of
// the job onto the wait list (inside the add script) to the RPOPLPUSH that takes it from
// there to active (inside the worker's moveToActive script): the time the job sat in
// Redis, available, before the worker claimed it. MONITOR stamps every command with the
// server's time in µs as it runs, the commands of scripts included, so neither the
// harness's scheduling nor its network reads enter the figure: it is the worker's
// wake-up from BZPOPMIN, its reaction, the moveToActive request and Redis's work up to
// the pop. MONITOR costs Redis a little per command, the same for both workers.
// Two more figures, for context: end to end, the harness's clock (performance.now())
// from just before Queue.add() to the queue's 'active' event (QueueEvents) reaching
// the harness, which adds the producer's own work and round trip and the event
// delivery (the same for both, so it dilutes the ratio); and processedOn − timestamp
// from the job hash, whole milliseconds (producer's and worker's Date.now()).
//
// With --floor-probe PATH (build/round-trip-floor) a third side runs in the same rounds: the
// probe's --idle-claim mode on its own queue (lat-floor), a C client blocked in BZPOPMIN on the
// marker that, as soon as it returns, sends the RPOPLPUSH from wait to active on a second
// connection. That is an idle worker's path with no work of its own: the two wake-ups (Redis
// waking the client, the client waking Redis) that no worker's add -> active can go below. Its
// p99 in the same run says how much of the target the machine's wake-ups leave.
//
// Exit status: 0 whatever the figures; 1 if the run broke (a worker died, a job failed
// or did not become active / complete within 10 s, a worker was not idle within 10 s).
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Queue, QueueEvents } from 'bullmq';
import IORedis from 'ioredis';
import {
  runScenario, writeResults, PREFIX, blockedIn, bullmqVersion, fmt, fmtRatio, judge, logTail, machineLines, median,
  percentile, plainConnection, probeAddressArgs, sleep, spawnLogged, stopChild, targetLine, waitFor, workerCommand, scenarioOptions,
  startScenario,
} from '../lib.mjs';

const KINDS = ['node', 'native']; // the workers
const QUEUES = { node: 'lat-node', native: 'lat-native', floor: 'lat-floor' };
const WAIT_KEYS = Object.fromEntries(Object.entries(QUEUES).map(([k, q]) => [k, `${PREFIX}:${q}:wait`]));
const STEP_TIMEOUT_MS = 10000;

const opts = scenarioOptions(
  process.argv.slice(2),
  {
    '--samples': 'int', '--warmup-samples': 'number', '--concurrency': 'int', '--gap-min-ms': 'number', '--gap-max-ms': 'number',
    '--floor-probe': 'string',
  },
  { samples: 200, warmupSamples: 10, concurrency: 1, gapMinMs: 20, gapMaxMs: 60, floorProbe: null },
);
// Every side sampled in each round: the two workers, and the probe when given.
const SIDES = opts.floorProbe ? [...KINDS, 'floor'] : KINDS;
if (!(opts.gapMinMs >= 0 && opts.gapMaxMs >= opts.gapMinMs)) throw new Error('need 0 <= --gap-min-ms <= --gap-max-ms');

// One job on `kind`'s queue: wait until both workers are idle, add, wait for 'active'
// and 'completed'. `waiters[kind]` is the promise hooks the QueueEvents listeners resolve.
async function sample(ctx, kind, seq) {
  const { admin, queues, waiters, workers, current } = ctx;
  for (const k of SIDES) {
    const w = workers[k];
    if (w.exited) throw new Error(`${k} exited (code ${w.exited.code}, signal ${w.exited.signal})\n--- ${w.logPath} ---\n${logTail(w.logPath)}`);
  }
  const idle = await waitFor(async () => (await blockedIn(admin)) >= SIDES.length, STEP_TIMEOUT_MS, 1);
  if (!idle) throw new Error(`${SIDES.join(', ')} were not all blocked on their markers within ${STEP_TIMEOUT_MS / 1000} s`);

  const rec = { kind, seq, pushUs: null, popUs: null };
  current[kind] = rec;
  if (kind === 'floor') return floorSample(queues.floor, rec, seq, current);
  let activeAt;
  let completedAt;
  const active = new Promise((resolve) => {
    waiters[kind] = {
      active: (jobId) => {
        activeAt = performance.now();
        rec.activeJobId = jobId;
        resolve();
      },
    };
  });
  const completed = new Promise((resolve, reject) => {
    waiters[kind].completed = (jobId) => {
      completedAt = performance.now();
      rec.completedJobId = jobId;
      resolve();
    };
    waiters[kind].failed = (jobId, reason) => reject(new Error(`${kind} job ${jobId} failed: ${reason}`));
  });
  const bound = (p, what) => {
    let t;
    return Promise.race([
      p,
      new Promise((_, reject) => {
        t = setTimeout(() => reject(new Error(`${kind} job ${rec.jobId ?? '?'} (sample ${seq}): not ${what} within ${STEP_TIMEOUT_MS / 1000} s`)), STEP_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(t));
  };

  const t0 = performance.now();
  const job = await queues[kind].add('echo', { seq });
  const addedAt = performance.now();
  rec.jobId = job.id;
  await bound(active, 'active');
  await bound(completed, 'completed');
  waiters[kind] = null;
  if (!(await waitFor(() => rec.popUs != null, STEP_TIMEOUT_MS, 1))) {
    throw new Error(`${kind} job ${job.id}: MONITOR did not show its LPUSH and RPOPLPUSH on ${WAIT_KEYS[kind]} within ${STEP_TIMEOUT_MS / 1000} s`);
  }
  current[kind] = null;
  if (rec.pushedId !== job.id) throw new Error(`${kind}: MONITOR showed LPUSH of job ${rec.pushedId}, expected ${job.id}`);
  rec.redisMs = (rec.popUs - rec.pushUs) / 1000; // in Redis: pushed to wait -> popped to active
  rec.toClaimMs = (rec.claimUs - rec.pushUs) / 1000; // -> the claim's command arrived
  rec.claimToPopMs = (rec.popUs - rec.claimUs) / 1000; // the claim script's work before the pop
  if (rec.activeJobId !== job.id || rec.completedJobId !== job.id) {
    throw new Error(`${kind}: events for job ${rec.activeJobId}/${rec.completedJobId}, expected ${job.id}`);
  }
  rec.endToEndMs = activeAt - t0; // Queue.add() called -> 'active' event seen
  rec.addMs = addedAt - t0; // Queue.add() round trip
  rec.activeAfterAddResolvedMs = activeAt - addedAt; // negative when the event came first
  rec.completedAfterActiveMs = completedAt - activeAt;
  return rec;
}

// The probe's sample: only Redis's clock counts (no events, no job run).
async function floorSample(queue, rec, seq, current) {
  const job = await queue.add('echo', { seq });
  rec.jobId = job.id;
  if (!(await waitFor(() => rec.popUs != null, STEP_TIMEOUT_MS, 1))) {
    throw new Error(`floor probe: MONITOR did not show job ${job.id}'s LPUSH and RPOPLPUSH on ${WAIT_KEYS.floor} within ${STEP_TIMEOUT_MS / 1000} s`);
  }
  current.floor = null;
  if (rec.pushedId !== job.id) throw new Error(`floor: MONITOR showed LPUSH of job ${rec.pushedId}, expected ${job.id}`);
  rec.redisMs = (rec.popUs - rec.pushUs) / 1000;
  rec.toClaimMs = rec.redisMs;
  rec.claimToPopMs = 0;
  return rec;
}

const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
const stats = (v) => ({
  p50Ms: percentile(v, 50), p90Ms: percentile(v, 90), p99Ms: percentile(v, 99), maxMs: percentile(v, 100),
  minMs: percentile(v, 0), meanMs: mean(v),
});

function summarizeKind(samples) {
  const inRedis = {
    samples: samples.length,
    ...stats(samples.map((s) => s.redisMs)),
    toClaim: stats(samples.map((s) => s.toClaimMs)),
    claimToPop: stats(samples.map((s) => s.claimToPopMs)),
  };
  if (samples[0]?.kind === 'floor') return inRedis;
  return {
    ...inRedis,
    endToEnd: stats(samples.map((s) => s.endToEndMs)),
    addRoundTripP50Ms: median(samples.map((s) => s.addMs)),
    processedOnMinusTimestamp: stats(samples.map((s) => s.processedMinusTimestampMs)),
  };
}

// MONITOR's "1700000000.123456" -> µs since the epoch (exact in a double).
const monitorUs = (time) => {
  const [sec, frac = ''] = String(time).split('.');
  return Number(sec) * 1e6 + Number(frac.padEnd(6, '0').slice(0, 6));
};

async function main() {
  const { admin, redisInfo, startedAt, loadavgAtStart } = await startScenario(opts);
  console.log(`bench latency: ${opts.samples} samples per worker (+${opts.warmupSamples} uncounted warm-up), concurrency ${opts.concurrency}, ` +
    `gaps ${opts.gapMinMs}–${opts.gapMaxMs} ms`);
  for (const line of machineLines(redisInfo.redis_version, opts.redis)) console.log(`bench latency: ${line}`);
  console.log(`bench latency: native ${[process.env.BENCH_BINARY_SOURCE || opts.binary, ...opts.nativeArgs].join(' ')}; Node bullmq ${bullmqVersion()}`);
  await admin.flushall('SYNC');

  // One producer connection for both queues; one QueueEvents (its own blocking XREAD) each.
  const producer = new IORedis(opts.redis, { maxRetriesPerRequest: null });
  const queues = {};
  const events = {};
  const waiters = { node: null, native: null };
  if (opts.floorProbe) {
    queues.floor = new Queue(QUEUES.floor, { connection: producer, prefix: PREFIX });
    await queues.floor.waitUntilReady();
  }
  for (const kind of KINDS) {
    queues[kind] = new Queue(QUEUES[kind], { connection: producer, prefix: PREFIX });
    events[kind] = new QueueEvents(QUEUES[kind], { connection: plainConnection(opts.redis), prefix: PREFIX });
    events[kind].on('active', ({ jobId }) => waiters[kind]?.active?.(jobId));
    events[kind].on('completed', ({ jobId }) => waiters[kind]?.completed?.(jobId));
    events[kind].on('failed', ({ jobId, failedReason }) => waiters[kind]?.failed?.(jobId, failedReason));
    await queues[kind].waitUntilReady();
    await events[kind].waitUntilReady();
  }
  const workers = {};
  let broken = null;
  const samples = [];
  // MONITOR: the LPUSH onto each wait list (add) and the first RPOPLPUSH from it after
  // that (moveToActive) of the job in flight, on Redis's clock.
  const current = { node: null, native: null, floor: null };
  const monitor = await admin.monitor();
  // Also the claim's own command (the first EVALSHA naming the wait list after the push:
  // moveToActive; the probe's RPOPLPUSH is its own claim): it splits the figure into the
  // wake-ups and the worker's reaction (push -> claim arrives) and the script's work up
  // to the pop (claim -> pop).
  monitor.on('monitor', (time, args) => {
    const cmd = String(args[0]).toLowerCase();
    if (cmd !== 'lpush' && cmd !== 'rpoplpush' && cmd !== 'evalsha') return;
    for (const kind of SIDES) {
      const rec = current[kind];
      if (!rec) continue;
      if (cmd === 'evalsha') {
        if (rec.pushUs != null && rec.claimUs == null && args.includes(WAIT_KEYS[kind])) rec.claimUs = monitorUs(time);
        continue;
      }
      if (args[1] !== WAIT_KEYS[kind]) continue;
      if (cmd === 'lpush' && rec.pushUs == null) {
        rec.pushUs = monitorUs(time);
        rec.pushedId = String(args[2]);
      } else if (cmd === 'rpoplpush' && rec.pushUs != null && rec.popUs == null) {
        rec.popUs = monitorUs(time);
        rec.claimUs ??= rec.popUs;
      }
    }
  });
  try {
    // QueueEvents reads from '$': wait until both readers are blocked in XREAD.
    if (!(await waitFor(async () => (await blockedIn(admin, 'xread')) >= KINDS.length, STEP_TIMEOUT_MS))) {
      throw new Error(`the QueueEvents readers were not blocked in XREAD within ${STEP_TIMEOUT_MS / 1000} s`);
    }
    for (const kind of KINDS) {
      const cmd = workerCommand(kind, { queue: QUEUES[kind], redis: opts.redis, binary: opts.binary, concurrency: opts.concurrency, nativeArgs: opts.nativeArgs });
      workers[kind] = spawnLogged(cmd, path.join(opts.logs, `latency-${kind}.log`));
    }
    if (opts.floorProbe) {
      const key = (k) => `${PREFIX}:${QUEUES.floor}:${k}`;
      workers.floor = spawnLogged({
        cmd: opts.floorProbe,
        args: [...probeAddressArgs(opts.redis), '--idle-claim', key('marker'), key('wait'), key('active')],
        env: { ...process.env },
      }, path.join(opts.logs, 'latency-floor.log'));
    }
    const ctx = { admin, queues, waiters, workers, current };
    const total = opts.warmupSamples + opts.samples;
    for (let i = 0; i < total; i++) {
      // Each round starts with the next side: node native [floor], native [floor] node, ...
      const order = SIDES.map((_, j) => SIDES[(i + j) % SIDES.length]);
      for (const kind of order) {
        const rec = await sample(ctx, kind, i);
        rec.warmup = i < opts.warmupSamples;
        rec.gapMs = opts.gapMinMs + Math.random() * (opts.gapMaxMs - opts.gapMinMs);
        samples.push(rec);
        await sleep(rec.gapMs); // spacing, not correctness: the next sample waits for idleness itself
      }
      if (i + 1 === opts.warmupSamples) console.log(`bench latency: warm-up done (${opts.warmupSamples} jobs each, not counted)`);
    }
    // The engine's own timestamps (whole ms): processedOn (worker's clock when it asked
    // for the job) − timestamp (producer's clock when it created it).
    const run = samples.filter((s) => s.kind !== 'floor'); // the probe runs no job
    const pipe = admin.pipeline();
    for (const s of run) pipe.hmget(`${PREFIX}:${QUEUES[s.kind]}:${s.jobId}`, 'timestamp', 'processedOn');
    const rows = await pipe.exec();
    rows.forEach(([, [ts, processedOn]], i) => {
      run[i].processedMinusTimestampMs = Number(processedOn) - Number(ts);
    });
  } catch (err) {
    broken = err;
    console.error(`bench latency: BROKEN: ${err.message}`);
  }
  await Promise.all(Object.values(workers).map((w) => stopChild(w.child)));  // the probe too
  monitor.disconnect();

  const summary = {};
  const counted = samples.filter((s) => !s.warmup);
  for (const kind of SIDES) {
    const mine = counted.filter((s) => s.kind === kind);
    if (mine.length) summary[kind] = summarizeKind(mine);
  }
  let targets = [];
  if (summary.node && summary.native) {
    const n = summary.node;
    const m = summary.native;
    const rows = [
      ['add → active in Redis p50, ms', n.p50Ms, m.p50Ms, 3],
      ['add → active in Redis p90, ms', n.p90Ms, m.p90Ms, 3],
      ['add → active in Redis p99, ms', n.p99Ms, m.p99Ms, 3],
      ['add → active in Redis max, ms', n.maxMs, m.maxMs, 3],
      ['add → active in Redis mean, ms', n.meanMs, m.meanMs, 3],
      ['add → active in Redis min, ms', n.minMs, m.minMs, 3],
      ['  of which add → claim arrives p50, ms', n.toClaim.p50Ms, m.toClaim.p50Ms, 3],
      ['  of which add → claim arrives p99, ms', n.toClaim.p99Ms, m.toClaim.p99Ms, 3],
      ['  of which claim → pop (script) p50, ms', n.claimToPop.p50Ms, m.claimToPop.p50Ms, 3],
      ['end to end (add() → event) p50, ms', n.endToEnd.p50Ms, m.endToEnd.p50Ms, 3],
      ['end to end (add() → event) p99, ms', n.endToEnd.p99Ms, m.endToEnd.p99Ms, 3],
      ['Queue.add() round trip p50, ms', n.addRoundTripP50Ms, m.addRoundTripP50Ms, 3],
      ['processedOn − timestamp p50, ms (1 ms steps)', n.processedOnMinusTimestamp.p50Ms, m.processedOnMinusTimestamp.p50Ms, 0],
      ['processedOn − timestamp p99, ms (1 ms steps)', n.processedOnMinusTimestamp.p99Ms, m.processedOnMinusTimestamp.p99Ms, 0],
    ];
    const w0 = 46;
    const w = 11;
    const lines = ['', `== idle latency: ${m.samples} jobs per worker, one at a time, concurrency ${opts.concurrency}`];
    lines.push(`${'metric'.padEnd(w0)}${'node'.padStart(w)}${'native'.padStart(w)}${'native/node'.padStart(w + 1)}`);
    for (const [label, a, b, digits] of rows) {
      lines.push(`${label.padEnd(w0)}${fmt(a, digits).padStart(w)}${fmt(b, digits).padStart(w)}${fmtRatio(a ? b / a : null).padStart(w + 1)}`);
    }
    targets = [judge({ name: "add → active p99 (in Redis) ≤ 1/2 of Node's", value: m.p99Ms / n.p99Ms, target: 0.5, op: '<=', unit: 'x' })];
    lines.push('targets (native):');
    for (const t of targets) lines.push(targetLine(t));
    const f = summary.floor;
    if (f) {
      lines.push(
        `floor (probe: BZPOPMIN, then RPOPLPUSH on a second connection, no work; ${f.samples} samples): ` +
          `p50 ${fmt(f.p50Ms, 3)} ms, p90 ${fmt(f.p90Ms, 3)}, p99 ${fmt(f.p99Ms, 3)}, max ${fmt(f.maxMs, 3)}`,
        `  the floor's p99 is ${fmtRatio(f.p99Ms / n.p99Ms)} of Node's (what the target leaves the worker: ` +
          `${fmt(0.5 * n.p99Ms - f.p99Ms, 3)} ms); native p99 ${fmtRatio(m.p99Ms / f.p99Ms)} of the floor's, ` +
          `p50 ${fmtRatio(m.p50Ms / f.p50Ms)} of the floor's`,
      );
    }
    lines.push(
      'notes: add → active in Redis = MONITOR timestamps (Redis clock, µs) from the LPUSH onto the wait list in the add ' +
        "script to the worker's RPOPLPUSH from it in moveToActive; end to end = harness clock from just before Queue.add() " +
        "to the queue's 'active' event (QueueEvents) reaching the harness, which adds the producer's and the event's " +
        `delivery, the same for both. p99 of ${m.samples} samples is its ${Math.ceil(0.99 * m.samples)}th smallest value; ` +
        'on a shared machine it moves from run to run.',
    );
    console.log(lines.join('\n'));
  }

  const resultsPath = writeResults(opts.out, 'latency', {
    redisVersion: redisInfo.redis_version,
    loadavgAtStart: loadavgAtStart,
    binary: opts.binary,
    startedAt,
    config: {
      samples: opts.samples, warmupSamples: opts.warmupSamples, concurrency: opts.concurrency, gapMinMs: opts.gapMinMs,
      gapMaxMs: opts.gapMaxMs, queues: QUEUES, binary: opts.binary, nativeArgs: opts.nativeArgs, floorProbe: opts.floorProbe,
      measure: 'MONITOR (Redis clock, µs): LPUSH of the job onto the wait list -> RPOPLPUSH of it to active',
      endToEnd: "performance.now() from just before Queue.add() to the 'active' event reaching the harness (QueueEvents)",
    },
    summary,
    targets,
    samples,
    broken: broken ? String(broken.message) : null,
  });
  console.log(`bench latency: results written to ${resultsPath}; worker logs in ${opts.logs}`);
  for (const kind of KINDS) await events[kind].close();
  for (const queue of Object.values(queues)) await queue.close();
  await producer.quit();
  await admin.quit();
  process.exit(broken ? 1 : 0);
}

runScenario('latency', main);
