// Scenario 1: thousands of conformance jobs across 3 bullmq-worker processes
// while one worker is SIGKILLed every few seconds and restarted, Redis is
// killed once and started again on the same port and AOF data, and one
// worker is frozen with SIGSTOP past its lock duration, then thawed.
//
// Jobs are added at a steady pace by the official bullmq Queue (explicit job
// ids, so a resent addBulk after the Redis restart is a no-op) for most of the
// run, so that every disturbance lands while jobs are running. The outcome is
// read back with the Queue getters, the events stream and the worker logs.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { RedisServer } from '../lib/servers.mjs';
import { WorkerFleet } from '../lib/fleet.mjs';
import {
  classifyJobs, countsOf, duplicateOutcomes, evidenceOfFailures, failureReasons, jobChecks, killsAfterOutcome, outcomeLines, readEventStream, settleAndStop, jobFigures,
} from '../lib/outcome.mjs';
import { addBulkRetrying, rng, sleep, waitUntil } from '../lib/util.mjs';

const PROFILES = {
  short: {
    jobs: 2000, produceMs: 45000, killEveryMs: [2500, 4000], redisRestartAtMs: 15000, redisDownMs: 3000,
    freezesAtMs: [27000], tailMs: 8000, settleMs: 60000,
  },
  full: {
    jobs: 20000, produceMs: 300000, killEveryMs: [3000, 6000], redisRestartAtMs: 110000, redisDownMs: 5000,
    freezesAtMs: [60000, 200000], tailMs: 15000, settleMs: 120000,
  },
};

export const WORKERS = 3;
export const CONCURRENCY = 8;
export const LOCK_MS = 3000;
export const STALLED_MS = 3000;
export const STALL_LIMIT_REASON = 'job stalled more than allowable limit';

// The job mix: fast and slow processors, retries, failures, progress, logs,
// moves to delayed. `expect` is what the job must end as. (The sentinel
// scenario uses the same mix and the same judgement of results.)
export function jobSpec(i, r) {
  const x = r();
  const id = `c-${i}`;
  const base = { jobId: id, attempts: 3, backoff: { type: 'fixed', delay: 200 } };
  if (x < 0.30) return { name: 'echo', data: { i, text: `job ${i}` }, opts: base, expect: 'completed' };
  if (x < 0.60) return { name: 'sleep', data: { ms: r.int(2, 40) }, opts: base, expect: 'completed' };
  if (x < 0.65) return { name: 'sleep', data: { ms: r.int(300, 1500) }, opts: base, expect: 'completed' };
  // Longer than the lock: the lock must be renewed while it runs.
  if (x < 0.66) return { name: 'sleep', data: { ms: r.int(LOCK_MS + 500, LOCK_MS + 2500) }, opts: base, expect: 'completed' };
  if (x < 0.75) {
    return {
      name: 'flaky', data: { succeedOnAttempt: r.int(2, 3) },
      opts: { ...base, backoff: r() < 0.5 ? { type: 'fixed', delay: 150 } : { type: 'exponential', delay: 100 } },
      expect: 'completed',
    };
  }
  if (x < 0.80) {
    return { name: 'fail', data: { message: `planned failure ${i}` }, opts: { ...base, attempts: 2, backoff: { type: 'fixed', delay: 100 } }, expect: 'failed' };
  }
  if (x < 0.82) return { name: 'fail-unrecoverable', data: { message: `unrecoverable ${i}` }, opts: base, expect: 'failed' };
  if (x < 0.90) return { name: 'progress', data: { steps: [25, 50, 75, 100], intervalMs: 5 }, opts: base, expect: 'completed' };
  if (x < 0.95) return { name: 'log', data: { lines: [`line one of ${i}`, `line two of ${i}`] }, opts: base, expect: 'completed' };
  return { name: 'delay', data: { ms: 400 }, opts: base, expect: 'completed' };
}

// What a finished job must look like (returns a description of the mismatch, or null).
export function wrongResult(spec, job, state) {
  if (state !== spec.expect) return `ended ${state}, expected ${spec.expect} (${job.failedReason ?? ''})`;
  const rv = job.returnvalue;
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  switch (spec.name) {
    case 'echo': return same(rv, spec.data) ? null : `echo returned ${JSON.stringify(rv)}`;
    case 'sleep': return rv?.slept === spec.data.ms ? null : `sleep returned ${JSON.stringify(rv)}`;
    case 'flaky':
      if (rv?.attempt !== spec.data.succeedOnAttempt) return `flaky returned ${JSON.stringify(rv)}`;
      return job.attemptsMade === spec.data.succeedOnAttempt ? null : `flaky attemptsMade ${job.attemptsMade}`;
    case 'progress': return rv?.steps === 4 && job.progress === 100 ? null : `progress ${JSON.stringify(rv)} / ${job.progress}`;
    case 'log': return rv?.logged === 2 ? null : `log returned ${JSON.stringify(rv)}`;
    case 'delay': return rv?.resumed === true ? null : `delay returned ${JSON.stringify(rv)}`;
    case 'fail':
      if (job.failedReason !== spec.data.message) return `failedReason ${job.failedReason}`;
      return job.attemptsMade === 2 ? null : `fail attemptsMade ${job.attemptsMade}`;
    case 'fail-unrecoverable':
      if (job.failedReason !== spec.data.message) return `failedReason ${job.failedReason}`;
      return job.attemptsMade === 1 ? null : `fail-unrecoverable attemptsMade ${job.attemptsMade}`;
    default: return null;
  }
}

// The check's detail: how many results are wrong, and the first few of them
// with why, so that a failing CI log says which job (the report is not kept).
export function wrongDetail(wrong) {
  const first = wrong.slice(0, 5).map((w) => `${w.id} (${w.name}): ${w.why}`);
  return `${wrong.length} wrong${first.length ? `: ${first.join('; ')}` : ''}`;
}

// Every finished job against its spec: the wrong results, and apart from
// them the jobs that failed by BullMQ's stall limit (its rule, not a defect).
export function judgeResults(specs, added, cls) {
  const wrong = [];
  const stallLimitFailures = [];
  for (const id of added) {
    const f = cls.byId.get(id);
    if (!f) continue;
    const spec = specs.get(id);
    if (f.state === 'failed' && spec.expect === 'completed' && f.job.failedReason === STALL_LIMIT_REASON) {
      stallLimitFailures.push({ id, name: spec.name, data: spec.data });
      continue;
    }
    const why = wrongResult(spec, f.job, f.state);
    if (why) wrong.push({ id, name: spec.name, why });
  }
  return { wrong, stallLimitFailures };
}

export async function runConformance({ mode, binary, outDir, seed, log, cleanup }) {
  const p = PROFILES[mode];
  const started = Date.now();
  const t = () => Date.now() - started;
  const say = (msg) => log(`[conformance ${(t() / 1000).toFixed(1)}s] ${msg}`);
  const dir = path.join(outDir, 'conformance');
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const r = rng(seed);
  const queueName = `chaos-conformance-${seed}`;

  const redis = await RedisServer.start(dir);
  say(`redis-server pid ${redis.pid} on port ${redis.port} (appendonly yes, appendfsync always)`);
  const queue = new Queue(queueName, {
    connection: { ...redis.connection, maxRetriesPerRequest: null },
    streams: { events: { maxLen: 2000000 } },
  });
  queue.on('error', () => {}); // reconnects by itself across the Redis restart
  cleanup.push(() => queue.close());
  const admin = redis.client();
  cleanup.push(async () => admin.disconnect());
  await queue.waitUntilReady();
  // The meta hash carries opts.maxLenEvents: wait until it is written.
  await waitUntil(async () => Number(await admin.hget(`bull:${queueName}:meta`, 'opts.maxLenEvents')) === 2000000,
    { timeout: 10000, what: 'queue meta' });

  const fleet = new WorkerFleet({
    binary,
    logDir: path.join(dir, 'logs'),
    log: say,
    argsFor: (slot) => ['run', '--processors', 'conformance', '--queue', queueName, '--redis', redis.url,
      '--concurrency', String(CONCURRENCY), '--lock-duration', String(LOCK_MS),
      '--stalled-interval', String(STALLED_MS), '--name', `chaos-${slot}`, '--shutdown-timeout', '5000'],
  });
  for (let s = 0; s < WORKERS; s += 1) fleet.start(s);
  say(`3 workers started: pids ${[0, 1, 2].map((s) => fleet.pid(s)).join(', ')}`);

  // --- production: a steady stream of addBulk calls.
  const specs = new Map();
  const added = [];
  let produceError;
  const production = (async () => {
    const tickMs = 250;
    const ticks = Math.max(1, Math.floor(p.produceMs / tickMs));
    let next = 0;
    for (let k = 0; k < ticks && next < p.jobs; k += 1) {
      const due = started + k * tickMs;
      if (Date.now() < due) await sleep(due - Date.now());
      const count = Math.min(p.jobs - next, Math.ceil((p.jobs * (k + 1)) / ticks) - next);
      const batch = [];
      for (let n = 0; n < count; n += 1, next += 1) {
        const spec = jobSpec(next, r);
        specs.set(spec.opts.jobId, spec);
        batch.push({ name: spec.name, data: spec.data, opts: spec.opts });
      }
      try {
        await addBulkRetrying(queue, batch);
      } catch (err) {
        produceError = err;
        throw err;
      }
      for (const b of batch) added.push(b.opts.jobId);
    }
  })();

  // --- chaos: kills every few seconds, one Redis restart, freezes.
  const chaos = { kills: [], redisRestarts: [], freezes: [] };
  let chaosOn = true;
  // However the scenario ends (even by an exception), its loops stop and its
  // fleet restarts nothing any more.
  cleanup.push(async () => {
    chaosOn = false;
    fleet.closing = true;
  });
  const frozenSlots = new Set();
  let killing; // the slot the kill loop is killing right now
  const killLoop = (async () => {
    await sleep(r.int(...p.killEveryMs));
    while (chaosOn) {
      const candidates = [0, 1, 2].filter((s) => !frozenSlots.has(s) && fleet.running(s));
      if (candidates.length) {
        const slot = r.pick(candidates);
        const pid = fleet.pid(slot);
        const killAt = Date.now();
        killing = slot;
        await fleet.kill(slot);
        killing = undefined;
        chaos.kills.push({ at: killAt - started, atMs: killAt, slot, pid });
        await sleep(r.int(200, 1000));
        if (!fleet.running(slot) && chaosOn) fleet.restart(slot);
      }
      await sleep(r.int(...p.killEveryMs));
    }
  })();
  const redisRestart = (async () => {
    await sleep(Math.max(0, started + p.redisRestartAtMs - Date.now()));
    const pid = redis.pid;
    await redis.kill();
    say(`redis-server pid ${pid} killed (SIGKILL); down for ${p.redisDownMs} ms`);
    const downAt = t();
    await sleep(p.redisDownMs);
    await redis.start();
    chaos.redisRestarts.push({ at: downAt, downMs: t() - downAt, oldPid: pid, newPid: redis.pid });
    say(`redis-server restarted: pid ${redis.pid}, same port and AOF`);
  })();
  // Which running jobs each worker slot holds the lock of, read from Redis.
  async function locksBySlot() {
    const bySlot = new Map();
    const ids = await admin.lrange(`bull:${queueName}:active`, 0, -1);
    const tokens = ids.length ? await admin.mget(ids.map((id) => `bull:${queueName}:${id}:lock`)) : [];
    const slotOf = new Map([0, 1, 2].map((s) => [fleet.workerId(s), s]));
    ids.forEach((id, k) => {
      const slot = slotOf.get(String(tokens[k] ?? '').split(':')[0]);
      if (slot === undefined) return;
      if (!bySlot.has(slot)) bySlot.set(slot, []);
      bySlot.get(slot).push(id);
    });
    return bySlot;
  }
  const freezes = (async () => {
    for (const [k, at] of p.freezesAtMs.entries()) {
      await sleep(Math.max(0, started + at - Date.now()));
      // Bait: a few 2.5 s jobs, so that the worker about to be frozen is in
      // the middle of several jobs (they count as added jobs like any other).
      const bait = Array.from({ length: CONCURRENCY }, (_, n) => ({
        name: 'sleep', data: { ms: 2500 }, opts: { jobId: `freeze-${k}-${n}`, attempts: 3, backoff: { type: 'fixed', delay: 200 } },
        expect: 'completed',
      }));
      await queue.addBulk(bait.map(({ name, data, opts }) => ({ name, data, opts })));
      for (const b of bait) {
        specs.set(b.opts.jobId, b);
        added.push(b.opts.jobId);
      }
      // Freeze the worker that holds the most locks (a frozen idle worker
      // would test nothing): at least 3 if that comes within 3 s.
      const baitAt = Date.now();
      for (let tries = 0; tries < 100; tries += 1) {
        const held = await locksBySlot().catch(() => new Map());
        const [slot, ids] = [...held.entries()].filter(([s]) => s !== killing && fleet.running(s))
          .sort((a, b) => b[1].length - a[1].length)[0] ?? [];
        if (slot === undefined || (ids.length < 3 && Date.now() - baitAt < 3000)) {
          await sleep(100);
          continue;
        }
        frozenSlots.add(slot);
        const pid = fleet.pid(slot);
        fleet.freeze(slot);
        // Stopped: what it holds now is what the others must take over.
        const jobs = (await locksBySlot().catch(() => new Map())).get(slot) ?? [];
        if (!jobs.length) {
          fleet.thaw(slot);
          frozenSlots.delete(slot);
          await sleep(100);
          continue;
        }
        // Past the lock and two stalled checks: the others must take its jobs over.
        const frozenMs = LOCK_MS + 2 * STALLED_MS + 1500;
        say(`worker ${slot} (pid ${pid}) frozen (SIGSTOP) for ${frozenMs} ms, holding the locks of ${jobs.length} jobs`);
        await sleep(frozenMs);
        fleet.thaw(slot);
        frozenSlots.delete(slot);
        chaos.freezes.push({ at: t() - frozenMs, slot, pid, frozenMs, jobs, log: fleet.slots[slot]?.child?.file });
        say(`worker ${slot} thawed (SIGCONT)`);
        break;
      }
    }
  })();

  await production;
  say(`all ${added.length} jobs added`);
  await Promise.all([redisRestart, freezes]);
  await sleep(p.tailMs);
  chaosOn = false;
  await killLoop;
  for (let s = 0; s < WORKERS; s += 1) if (!fleet.running(s)) fleet.restart(s);
  say(`chaos over: ${chaos.kills.length} kills, ${chaos.redisRestarts.length} Redis restart, ${chaos.freezes.length} freeze(s); settling`);

  // --- settle: wait (bounded) until nothing is waiting, active or delayed; stop the workers.
  const { settleMs, uncleanStops } = await settleAndStop(queue, fleet, { timeout: p.settleMs, interval: 500, say });
  const processingDoneMs = t();

  // --- read back.
  const counts = await countsOf(queue);
  const cls = await classifyJobs(queue, added);
  const events = await readEventStream(admin, queueName);
  const dup = duplicateOutcomes(events, added);
  const lines = outcomeLines(fleet.logFiles, queueName, events, added);
  const { wrong, stallLimitFailures } = judgeResults(specs, added, cls);
  // The frozen workers' jobs: each must have been taken over (a stalled
  // event) while its worker was stopped; the thawed worker must have noticed.
  const frozenJobs = chaos.freezes.flatMap((f) => f.jobs.map((id) => ({ id, log: f.log })));
  const frozenNotTakenOver = frozenJobs.filter(({ id }) => !((events.perJob.get(id)?.stalled ?? 0) > 0)).map((x) => x.id);
  const frozenNoticed = frozenJobs.filter(({ id, log }) => lines.lines_raw.some((l) => l.file === log
    && l.line.job_id === id && ['job.lock_lost', 'job.lock_lost_finishing', 'job.outcome_rejected'].includes(l.line.event))).length;
  const recoveredOnce = added.filter((id) => (events.perJob.get(id)?.stalled ?? 0) > 0);
  const lockLost = (lines.byEvent['job.lock_lost'] ?? 0) + (lines.byEvent['job.lock_lost_finishing'] ?? 0);
  const wallMs = t();

  const figures = {
    ...jobFigures({ added, cls, dup, specs, stallLimitFailures, wrong, lines }),
    jobs_recovered_after_stall: recoveredOnce.length,
    stalled_events: events.totals.stalled ?? 0,
    lock_lost_lines: lockLost,
    frozen_jobs: frozenJobs.length,
    frozen_jobs_taken_over: frozenJobs.length - frozenNotTakenOver.length,
    frozen_jobs_noticed: frozenNoticed,
    worker_kills: chaos.kills.length,
    worker_processes: fleet.logFiles.length,
    redis_restarts: chaos.redisRestarts.length,
    freezes: chaos.freezes.length,
    unexpected_worker_exits: fleet.unexpectedExits.length,
    unclean_sigterm_stops: uncleanStops.length,
    events_read: events.read,
    events_trimmed: events.trimmed,
    settle_ms: settleMs,
    processing_ms: processingDoneMs,
    wall_ms: wallMs,
  };
  const checks = [
    ...jobChecks('conformance', { cls, dup }),
    ['conformance: every result as its processor defines', wrong.length === 0, wrongDetail(wrong)],
    ['conformance: every recorded outcome has its log line', lines.missing.length === 0, `${lines.missing.length} missing`],
    ['conformance: the chaos happened (kills, a Redis restart, freezes holding jobs)',
      chaos.kills.length >= 3 && chaos.redisRestarts.length === 1 && chaos.freezes.length === p.freezesAtMs.length && frozenJobs.length > 0,
      `${chaos.kills.length} kills, ${chaos.redisRestarts.length} Redis restarts, ${chaos.freezes.length} freezes holding ${frozenJobs.length} jobs`],
    ['conformance: the frozen worker\'s jobs were taken over by the others', frozenJobs.length > 0 && frozenNotTakenOver.length === 0,
      `${frozenNotTakenOver.length} of ${frozenJobs.length} not taken over: ${frozenNotTakenOver.slice(0, 10).join(' ')}`],
    ['conformance: the events stream is complete (not trimmed)', events.trimmed === 0, `trimmed ${events.trimmed}`],
    ['conformance: no worker exited on its own', fleet.unexpectedExits.length === 0, `${fleet.unexpectedExits.length}`],
    ['conformance: every worker stops cleanly on SIGTERM', uncleanStops.length === 0, JSON.stringify(uncleanStops)],
  ];
  const details = {
    queue: queueName,
    chaos,
    counts_at_end: counts,
    failure_reasons: failureReasons(cls.failed),
    lost: cls.lost.slice(0, 200),
    stuck: cls.stuck.slice(0, 200),
    completed_twice: dup.completedTwice.slice(0, 200),
    finished_twice: dup.finishedTwice.slice(0, 200),
    wrong_results: wrong.slice(0, 200),
    stall_limit_failures: stallLimitFailures.slice(0, 200),
    outcome_lines_missing: killsAfterOutcome(lines.missing.slice(0, 500), events, chaos.kills),
    events_by_type: events.totals,
    log_events_by_type: lines.byEvent,
    unexpected_worker_exits: fleet.unexpectedExits,
    produce_error: produceError?.message,
    log_dir: path.join(dir, 'logs'),
    evidence: evidenceOfFailures({ dup, cls, lines, events }),
  };
  await queue.close();
  admin.disconnect();
  await redis.stop();
  return { name: 'conformance', figures, checks, details };
}
