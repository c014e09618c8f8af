// Scenario 3: Sentinel failover. The conformance job mix (the same specs and
// the same judgement of results as scenario 1) across 3 bullmq-worker
// processes that reach Redis through a Sentinel group (1 master, 1 replica,
// 3 sentinels: lib/sentinel.mjs), while at seeded random times:
//   - a coordinated failover (`SENTINEL FAILOVER` through a random sentinel);
//   - the master is SIGKILLed, the sentinels fail over on their own
//     (down-after 1 s), and the killed node is started again, empty, as a
//     replica of the new master;
//   - a sentinel is SIGKILLed and started again a few seconds later;
//   - a worker is SIGKILLed and restarted every few seconds.
// The producer is the official Queue over ioredis' sentinel options with
// failoverDetector. What it writes to a demoted master (which stays writable
// until the sentinels reconfigure it) is thrown away by Redis: after the
// chaos every job id it added is looked up on the current master, and the
// ones missing whose addBulk overlapped a failover are added again (counted;
// a job missing outside any failover is lost). At the end every job is read
// back with the official client on the current master, as in scenario 1.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { SentinelGroup } from '../lib/sentinel.mjs';
import { WorkerFleet } from '../lib/fleet.mjs';
import {
  classifyJobs, countsOf, duplicateOutcomes, evidenceFor, evidenceOfFailures, failureReasons, jobChecks, killsAfterOutcome,
  outcomeLines, readEventStream, settleAndStop, jobFigures,
} from '../lib/outcome.mjs';
import { addBulkRetrying, rng, sleep, waitUntil } from '../lib/util.mjs';
import { CONCURRENCY, LOCK_MS, STALLED_MS, WORKERS, jobSpec, judgeResults, wrongDetail } from './conformance.mjs';

const PROFILES = {
  short: {
    jobsPerSecond: 40, produceMs: 26000, firstEventMs: [2500, 4500], gapMs: [1000, 3000],
    events: ['failover', 'kill-master', 'either'], sentinelKillEveryMs: [4000, 9000], sentinelDownMs: [1500, 4000],
    sentinelKillsMax: 2, killEveryMs: [2500, 4000], tailMs: 4000, settleMs: 60000,
  },
  full: {
    jobsPerSecond: 50, produceMs: 170000, firstEventMs: [4000, 8000], gapMs: [3000, 9000],
    events: [...Array(6).fill('failover'), ...Array(5).fill('kill-master'), 'either', 'either', 'either'],
    sentinelKillEveryMs: [10000, 20000], sentinelDownMs: [2000, 6000], sentinelKillsMax: 100,
    killEveryMs: [3000, 6000], tailMs: 10000, settleMs: 120000,
  },
};

// A job kind that succeeds at its first attempt must end with attemptsMade 1:
// a failover may make a job run twice (a stall), never spend an attempt.
// (flaky, fail and fail-unrecoverable are held to their exact counts by the
// conformance judgement.)
const FIRST_TRY = new Set(['echo', 'sleep', 'progress', 'log', 'delay']);
// A worker alive across a switch must have both connections on the new
// master within this long after the promotion.
const FOLLOW_MS = 10000;
// Every failover: a job completed on the new master within this long after
// the promotion (issue 9's bound).
const FIRST_COMPLETION_MS = 5000;

function shuffle(list, r) {
  const a = [...list];
  for (let i = a.length - 1; i > 0; i -= 1) {
    const j = r.int(0, i);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function median(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

// The switches the sentinels announced, in order (one per failover, however
// many sentinels repeated it), each with the promotion that preceded it.
function switchesFrom(group) {
  const out = [];
  const events = [...group.events].sort((a, b) => a.at - b.at);
  for (const e of events) {
    if (e.channel !== '+switch-master' || !e.message.startsWith(`${group.masterName} `)) continue;
    const [, oh, op, nh, np] = e.message.split(' ');
    const key = `${oh}:${op}>${nh}:${np}`;
    if (out.at(-1)?.key === key) continue;
    const newMaster = `${nh}:${np}`;
    const before = (channel) => events.filter((x) => x.channel === channel && x.at <= e.at && x.at >= e.at - 15000
      && x.message.startsWith(`slave ${newMaster} `)).at(-1)?.at;
    out.push({
      key, oldMaster: `${oh}:${op}`, newMaster, switchAt: e.at,
      promotedAt: before('+promoted-slave') ?? e.at,
      slaveofNoOneAt: before('+failover-state-wait-promotion'),
      tryAt: events.filter((x) => x.channel === '+try-failover' && x.at <= e.at && x.at >= e.at - 15000).at(-1)?.at,
    });
  }
  return out;
}

export async function runSentinel({ mode, binary, outDir, seed, log, cleanup }) {
  const p = PROFILES[mode];
  const started = Date.now();
  const t = () => Date.now() - started;
  const rel = (at) => (at === undefined || at === null ? null : Math.round(at - started));
  const say = (msg) => log(`[sentinel ${(t() / 1000).toFixed(1)}s] ${msg}`);
  const dir = path.join(outDir, 'sentinel');
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const rJobs = rng(seed);
  const rKills = rng(seed ^ 0x5151);
  const rEvents = rng(seed ^ 0xa11a);
  const rSentinels = rng(seed ^ 0x7e57);
  const queueName = `chaos-sentinel-${seed}`;

  // ioredis' failoverDetector connects to every sentinel with clients that
  // have no 'error' listener: each refused reconnect to a SIGKILLed sentinel
  // prints "[ioredis] Unhandled error event" on stderr. Counted, not printed.
  let ioredisNoise = 0;
  const consoleError = console.error;
  console.error = (...args) => {
    if (typeof args[0] === 'string' && args[0].startsWith('[ioredis] Unhandled error event')) {
      ioredisNoise += 1;
      return;
    }
    consoleError(...args);
  };
  cleanup.push(async () => {
    console.error = consoleError;
  });

  const group = await SentinelGroup.start(dir);
  cleanup.push(() => group.stop());
  const firstMaster = await group.masterAddress();
  say(`sentinel group: master ${firstMaster} (pid ${group.nodeAt(firstMaster).pid}), replica ${group.dataNodes.find((n) => n.address !== firstMaster).address}, `
    + `sentinels ${group.sentinelNodes.map((s) => `${s.address} (pid ${s.pid})`).join(', ')}`);
  const queue = new Queue(queueName, {
    connection: group.connectionOptions(),
    streams: { events: { maxLen: 2000000 } },
  });
  queue.on('error', () => {}); // follows the master through the sentinels
  cleanup.push(() => queue.close());
  await queue.waitUntilReady();
  // The meta hash carries opts.maxLenEvents: wait until it is written.
  const watch = new IORedis(group.connectionOptions());
  watch.on('error', () => {});
  cleanup.push(async () => watch.disconnect());
  await waitUntil(async () => Number(await watch.hget(`bull:${queueName}:meta`, 'opts.maxLenEvents')) === 2000000,
    { timeout: 10000, what: 'queue meta' });

  // Worker processes: every incarnation with its pid, log, start and end.
  const procs = [];
  const fleet = new WorkerFleet({
    binary,
    logDir: path.join(dir, 'logs'),
    log: say,
    // debug: the job.active line of every claim (jobs started twice).
    env: { LOG_LEVEL: 'debug' },
    argsFor: (slot) => ['run', '--processors', 'conformance', '--queue', queueName, '--redis', group.url,
      '--concurrency', String(CONCURRENCY), '--lock-duration', String(LOCK_MS),
      '--stalled-interval', String(STALLED_MS), '--name', `chaos-${slot}`, '--shutdown-timeout', '5000'],
  });
  const track = (slot, entry) => {
    const proc = { slot, pid: entry.child.pid, file: entry.file, startedAt: entry.startedAt, endedAt: undefined };
    procs.push(proc);
    entry.exited.then(() => {
      proc.endedAt = Date.now();
    });
  };
  for (let s = 0; s < WORKERS; s += 1) track(s, fleet.start(s));
  say(`${WORKERS} workers started (${group.url}): pids ${[0, 1, 2].map((s) => fleet.pid(s)).join(', ')}`);

  // --- chaos state.
  const chaos = { kills: [], events: [], sentinelKills: [] };
  let chaosOn = true;
  let eventsDone = false;
  let busy = false; // a failover event is under way (no sentinel is killed then)
  cleanup.push(async () => {
    chaosOn = false;
    fleet.closing = true;
  });

  // --- production: addBulk every 250 ms for produceMs, and on until the
  // failover events are over (so each of them meets running jobs).
  const specs = new Map();
  const added = [];
  const batches = []; // {ids, sentAt, doneAt}
  let produceError;
  const production = (async () => {
    const tickMs = 250;
    const ticks = Math.max(1, Math.floor(p.produceMs / tickMs));
    const perTick = (p.jobsPerSecond * tickMs) / 1000;
    let next = 0;
    for (let k = 0; k < ticks || (!eventsDone && chaosOn); k += 1) {
      const due = started + k * tickMs;
      if (Date.now() < due) await sleep(due - Date.now());
      const count = Math.floor(perTick * (k + 1)) - next;
      const batch = [];
      for (let n = 0; n < count; n += 1, next += 1) {
        const spec = jobSpec(next, rJobs);
        specs.set(spec.opts.jobId, spec);
        batch.push({ name: spec.name, data: spec.data, opts: spec.opts });
      }
      if (!batch.length) continue;
      const sentAt = Date.now();
      try {
        await addBulkRetrying(queue, batch);
      } catch (err) {
        produceError = err;
        throw err;
      }
      batches.push({ ids: batch.map((b) => b.opts.jobId), sentAt, doneAt: Date.now() });
      for (const b of batch) added.push(b.opts.jobId);
    }
  })();

  // --- worker SIGKILLs every few seconds.
  const killLoop = (async () => {
    await sleep(rKills.int(...p.killEveryMs));
    while (chaosOn) {
      const candidates = [0, 1, 2].filter((s) => fleet.running(s));
      if (candidates.length) {
        const slot = rKills.pick(candidates);
        const pid = fleet.pid(slot);
        const killAt = Date.now();
        await fleet.kill(slot);
        chaos.kills.push({ at: killAt - started, atMs: killAt, slot, pid });
        await sleep(rKills.int(200, 1000));
        if (!fleet.running(slot) && chaosOn) track(slot, await fleet.restart(slot));
      }
      await sleep(rKills.int(...p.killEveryMs));
    }
  })();

  // How many jobs the master holds active / waiting right now (bounded).
  async function queueNow() {
    try {
      const master = await group.masterAddress();
      const port = Number(master.split(':').pop());
      const c = new IORedis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 1000 });
      c.on('error', () => {});
      try {
        await c.connect();
        const [active, wait] = await Promise.all([c.llen(`bull:${queueName}:active`), c.llen(`bull:${queueName}:wait`)]);
        return { active, wait };
      } finally {
        c.disconnect();
      }
    } catch {
      return { active: null, wait: null };
    }
  }

  // --- failovers: coordinated or by SIGKILL of the master, one at a time,
  // the group healthy again (old master a synced replica) before the next.
  const plan = shuffle(p.events, rEvents).map((kind) => (kind === 'either' ? rEvents.pick(['failover', 'kill-master']) : kind));
  const failoverLoop = (async () => {
    try {
      await sleep(rEvents.int(...p.firstEventMs));
      for (const kind of plan) {
        if (!chaosOn) break;
        busy = true;
        await group.waitHealthy({ timeout: 30000 });
        const before = await queueNow();
        if (kind === 'failover') {
          const via = rEvents.pick(group.runningSentinels());
          const rec = await group.failover(via);
          say(`SENTINEL FAILOVER via ${via.name}: ${rec.oldMaster} -> ${rec.newMaster}, promoted +${rec.promotedAt - rec.requestedAt} ms, `
            + `+switch-master +${rec.switchAt - rec.requestedAt} ms (${before.active} active, ${before.wait} waiting)`);
          await group.waitHealthy({ timeout: 30000 });
          chaos.events.push({ ...rec, startAt: rec.requestedAt, healedAt: Date.now(), activeAtStart: before.active, waitingAtStart: before.wait });
        } else {
          const { record: rec, node } = await group.killMaster();
          say(`master ${rec.oldMaster} (pid ${rec.killedPid}) SIGKILLed: the sentinels promoted ${rec.newMaster} +${rec.promotedAt - rec.killedAt} ms `
            + `(odown +${rec.odownAt ? rec.odownAt - rec.killedAt : '?'} ms, +switch-master +${rec.switchAt - rec.killedAt} ms; ${before.active} active, ${before.wait} waiting)`);
          await group.startData(node, rec.newMaster);
          rec.restartedAt = Date.now();
          rec.restartedPid = node.pid;
          await group.waitHealthy({ timeout: 30000 });
          say(`${rec.oldMaster} restarted as a replica of ${rec.newMaster} (pid ${node.pid}); group healthy +${Date.now() - rec.killedAt} ms after the kill`);
          chaos.events.push({ ...rec, startAt: rec.killedAt, healedAt: Date.now(), activeAtStart: before.active, waitingAtStart: before.wait });
        }
        busy = false;
        if (chaosOn) await sleep(rEvents.int(...p.gapMs));
      }
    } catch (err) {
      // What the sentinels said, for the report of a failover that did not happen as planned.
      say(`failover event failed: ${err.message}\n  ${group.timeline(started).slice(-40).join('\n  ')}`);
      throw err;
    } finally {
      busy = false;
      eventsDone = true;
    }
  })();

  // --- sentinel SIGKILLs: one at a time, between failover events (a
  // failover may then run with a sentinel down).
  const sentinelLoop = (async () => {
    while (chaosOn && !eventsDone && chaos.sentinelKills.length < p.sentinelKillsMax) {
      await sleep(rSentinels.int(...p.sentinelKillEveryMs));
      if (!(await waitUntil(() => !busy || !chaosOn || eventsDone, { timeout: 60000, interval: 20 })) || !chaosOn || eventsDone) break;
      const node = rSentinels.pick(group.runningSentinels());
      const pid = node.pid;
      const at = Date.now();
      await group.killSentinel(node);
      const downMs = rSentinels.int(...p.sentinelDownMs);
      say(`${node.name} (pid ${pid}) SIGKILLed; down for ${downMs} ms`);
      await sleep(downMs);
      await group.startSentinel(node);
      chaos.sentinelKills.push({ at: at - started, atMs: at, sentinel: node.name, pid, downMs: Date.now() - at, newPid: node.pid });
      say(`${node.name} restarted: pid ${node.pid}`);
    }
  })();

  await failoverLoop;
  await production;
  await sentinelLoop;
  say(`all ${added.length} jobs added; ${chaos.events.length} failovers, ${chaos.sentinelKills.length} sentinel kills`);
  await sleep(p.tailMs);
  chaosOn = false;
  await killLoop;
  for (let s = 0; s < WORKERS; s += 1) if (!fleet.running(s)) track(s, await fleet.restart(s));
  for (const s of group.sentinelNodes) if (!s.running) await group.startSentinel(s);
  const masterAtEnd = await group.waitHealthy({ timeout: 30000 });
  say(`chaos over: ${chaos.kills.length} worker kills; master ${masterAtEnd}; looking up every job added`);

  // --- adds the demoted master threw away. A failover's window: from 1 s
  // before it began until 1 s after the group was healthy again (for one
  // the sentinels started on their own: its first +try-failover to 10 s
  // after the switch).
  const switches = switchesFrom(group);
  const windows = [
    ...chaos.events.map((e) => [e.startAt - 1000, e.healedAt + 1000]),
    ...switches.map((s) => [(s.tryAt ?? s.switchAt - 5000) - 1000, s.switchAt + 10000]),
  ];
  const direct = (address) => {
    const [host, port] = address.split(':');
    return { host, port: Number(port), maxRetriesPerRequest: null };
  };
  const admin = new IORedis(direct(masterAtEnd));
  admin.on('error', () => {});
  cleanup.push(async () => admin.disconnect());
  const exists = new Map();
  for (let i = 0; i < added.length; i += 1000) {
    const ids = added.slice(i, i + 1000);
    const pipe = admin.pipeline();
    for (const id of ids) pipe.exists(`bull:${queueName}:${id}`);
    const res = await pipe.exec();
    ids.forEach((id, k) => exists.set(id, res[k][1] === 1));
  }
  const addsLostInFailover = [];
  const addsLostOutside = [];
  for (const b of batches) {
    const missing = b.ids.filter((id) => !exists.get(id));
    if (!missing.length) continue;
    const inWindow = windows.some(([from, to]) => b.sentAt <= to && b.doneAt >= from);
    (inWindow ? addsLostInFailover : addsLostOutside).push({ ids: missing, sentAt: rel(b.sentAt), doneAt: rel(b.doneAt) });
  }
  const readdIds = addsLostInFailover.flatMap((b) => b.ids);
  // skipMetasUpdate: a second Queue must not write its own (default)
  // opts.maxLenEvents into the meta hash: the stream would be trimmed.
  const readQueue = new Queue(queueName, {
    connection: direct(masterAtEnd), skipMetasUpdate: true, streams: { events: { maxLen: 2000000 } },
  });
  readQueue.on('error', () => {});
  cleanup.push(() => readQueue.close());
  if (readdIds.length) {
    for (let i = 0; i < readdIds.length; i += 500) {
      await readQueue.addBulk(readdIds.slice(i, i + 500).map((id) => {
        const s = specs.get(id);
        return { name: s.name, data: s.data, opts: s.opts };
      }));
    }
    say(`${readdIds.length} jobs whose addBulk met a failover were not on the master (thrown away with the demoted master's writes): added again`);
  }
  if (addsLostOutside.length) say(`${addsLostOutside.flatMap((b) => b.ids).length} jobs missing whose addBulk met no failover`);

  // --- settle: wait (bounded) until nothing is waiting, active or delayed; stop the workers.
  const { settleMs, uncleanStops } = await settleAndStop(readQueue, fleet, { timeout: p.settleMs, interval: 250, say });
  const processingDoneMs = t();

  // --- read back, on the current master.
  const masterAtReadBack = await group.waitHealthy({ timeout: 30000 });
  if (masterAtReadBack !== masterAtEnd) throw new Error(`the master moved during the settle (${masterAtEnd} -> ${masterAtReadBack}): read-back skipped`);
  const counts = await countsOf(readQueue);
  const cls = await classifyJobs(readQueue, added);
  const events = await readEventStream(admin, queueName);
  const dup = duplicateOutcomes(events, added);
  const lines = outcomeLines(fleet.logFiles, queueName, events, added);
  const { wrong, stallLimitFailures } = judgeResults(specs, added, cls);
  const attemptsSpent = [];
  for (const id of added) {
    const f = cls.byId.get(id);
    const spec = specs.get(id);
    if (f?.state === 'completed' && FIRST_TRY.has(spec.name) && f.job.attemptsMade !== 1) {
      attemptsSpent.push({ id, name: spec.name, attemptsMade: f.job.attemptsMade, stalled: events.perJob.get(id)?.stalled ?? 0 });
    }
  }
  const recoveredOnce = added.filter((id) => (events.perJob.get(id)?.stalled ?? 0) > 0);

  // Claims per job and attempt, from every worker's job.active lines.
  const claims = new Map();
  for (const { line } of lines.lines_raw) {
    if (line.event !== 'job.active' || line.queue !== queueName) continue;
    const key = `${line.job_id}#${line.attempt}`;
    claims.set(key, (claims.get(key) ?? 0) + 1);
  }
  // (A `delay` job is claimed twice in its one attempt: before and after its delay.)
  const claimsExpected = (id) => (specs.get(id)?.name === 'delay' ? 2 : 1);
  const startedTwice = new Set([...claims.entries()].map(([key, n]) => [key.split('#')[0], n])
    .filter(([id, n]) => n > claimsExpected(id)).map(([id]) => id));

  // Each switch: the first completion recorded on the new master after its
  // promotion, and when each worker alive across it had both connections there.
  const connectedLines = lines.lines_raw.filter(({ line }) => line.event === 'redis.connected'
    && (line.connection === 'command' || line.connection === 'blocking'))
    .map(({ file, line }) => ({ file, node: line.node, connection: line.connection, at: Date.parse(line.ts) }));
  const completedAt = [...events.completedAt].sort((a, b) => a - b);
  const notFollowing = [];
  const followMs = [];
  const perSwitch = switches.map((s, k) => {
    const nextStart = switches[k + 1] ? (switches[k + 1].slaveofNoOneAt ?? switches[k + 1].promotedAt) : Infinity;
    // Nothing names the new master before it is told REPLICAOF NO ONE.
    const from = s.slaveofNoOneAt ?? s.promotedAt - 1000;
    const first = completedAt.find((at) => at >= from && at < nextStart);
    const planned = chaos.events.find((e) => e.newMaster === s.newMaster && e.oldMaster === s.oldMaster && Math.abs(e.switchAt - s.switchAt) < 3000);
    const horizon = Math.min(s.promotedAt + FOLLOW_MS, nextStart);
    const workers = [];
    if (horizon - s.promotedAt >= 3000) {
      for (const proc of procs) {
        if (!(proc.startedAt < s.promotedAt - 1000 && (proc.endedAt ?? Infinity) > s.promotedAt + FOLLOW_MS)) continue;
        const on = ['command', 'blocking'].map((connection) => connectedLines.find((c) => c.file === proc.file && c.connection === connection
          && c.node === s.newMaster && c.at >= from && c.at <= horizon)?.at);
        if (on.some((x) => x === undefined)) {
          notFollowing.push({ switch: s.key, pid: proc.pid, slot: proc.slot, log: path.basename(proc.file), command: rel(on[0]), blocking: rel(on[1]) });
        } else {
          const ms = Math.max(...on) - s.promotedAt;
          followMs.push(ms);
          workers.push({ pid: proc.pid, ms });
        }
      }
    }
    return {
      kind: planned?.kind ?? 'unplanned', oldMaster: s.oldMaster, newMaster: s.newMaster,
      // The next failover began before the bound: this master may have had no time to complete anything.
      superseded: nextStart - s.promotedAt < FIRST_COMPLETION_MS,
      promotedAt: rel(s.promotedAt), switchAt: rel(s.switchAt), slaveofNoOneAt: rel(s.slaveofNoOneAt),
      firstCompletionMs: first === undefined ? null : first - s.promotedAt,
      activeAtStart: planned?.activeAtStart, workersOnNewMasterMs: workers,
    };
  });
  const firstCompletion = perSwitch.map((s) => s.firstCompletionMs).filter((x) => x !== null);
  const slowFirst = perSwitch.filter((s) => (s.firstCompletionMs === null && !s.superseded) || s.firstCompletionMs > FIRST_COMPLETION_MS);
  const coordinated = perSwitch.filter((s) => s.kind === 'failover').length;
  const automatic = perSwitch.filter((s) => s.kind === 'kill-master').length;
  const unplanned = perSwitch.filter((s) => s.kind === 'unplanned').length;
  const switchLines = lines.byEvent['redis.master_switch'] ?? 0;
  const metActive = chaos.events.reduce((n, e) => n + (e.activeAtStart ?? 0), 0);
  const wallMs = t();

  const figures = {
    ...jobFigures({ added, cls, dup, specs, stallLimitFailures, wrong, lines }),
    attempts_spent: attemptsSpent.length,
    failovers: perSwitch.length,
    failovers_coordinated: coordinated,
    failovers_after_master_kill: automatic,
    failovers_unplanned: unplanned,
    first_completion_after_promotion_median_ms: median(firstCompletion),
    first_completion_after_promotion_max_ms: firstCompletion.length ? Math.max(...firstCompletion) : null,
    workers_on_new_master_max_ms: followMs.length ? Math.max(...followMs) : null,
    workers_not_following: notFollowing.length,
    adds_lost_in_failover: readdIds.length,
    jobs_started_twice: startedTwice.size,
    jobs_recovered_after_stall: recoveredOnce.length,
    stalled_events: events.totals.stalled ?? 0,
    lock_lost_lines: (lines.byEvent['job.lock_lost'] ?? 0) + (lines.byEvent['job.lock_lost_finishing'] ?? 0),
    sentinel_kills: chaos.sentinelKills.length,
    worker_kills: chaos.kills.length,
    worker_processes: fleet.logFiles.length,
    unexpected_worker_exits: fleet.unexpectedExits.length,
    unclean_sigterm_stops: uncleanStops.length,
    events_read: events.read,
    events_trimmed: events.trimmed,
    settle_ms: settleMs,
    processing_ms: processingDoneMs,
    wall_ms: wallMs,
  };
  const lostOutside = addsLostOutside.flatMap((b) => b.ids);
  const checks = [
    ...jobChecks('sentinel', { cls, dup }),
    ['sentinel: every job the producer added is on the master, or its addBulk met a failover', lostOutside.length === 0,
      `${lostOutside.length} missing: ${lostOutside.slice(0, 10).join(' ')}`],
    ['sentinel: every result as its processor defines', wrong.length === 0, wrongDetail(wrong)],
    ['sentinel: no attempt spent by a failover (attemptsMade 1 for jobs that succeed at once)', attemptsSpent.length === 0,
      `${attemptsSpent.length}: ${attemptsSpent.slice(0, 5).map((x) => `${x.id} ${x.name} attemptsMade ${x.attemptsMade}`).join(', ')}`],
    ['sentinel: every recorded outcome has its log line', lines.missing.length === 0, `${lines.missing.length} missing`],
    [`sentinel: every worker alive across a failover had both connections on the new master within ${FOLLOW_MS / 1000} s`,
      notFollowing.length === 0, JSON.stringify(notFollowing.slice(0, 5))],
    [`sentinel: after every failover a job completed on the new master within ${FIRST_COMPLETION_MS / 1000} s of the promotion`,
      perSwitch.length > 0 && slowFirst.length === 0,
      slowFirst.map((s) => `${s.oldMaster}->${s.newMaster} at ${s.promotedAt} ms: ${s.firstCompletionMs ?? 'none'}`).join('; ')],
    ['sentinel: the chaos happened (coordinated and automatic failovers meeting running jobs, a sentinel and workers killed)',
      coordinated >= 1 && automatic >= 1 && chaos.sentinelKills.length >= 1 && chaos.kills.length >= 3 && metActive > 0 && switchLines > 0,
      `${coordinated} coordinated, ${automatic} automatic, ${chaos.sentinelKills.length} sentinel kills, ${chaos.kills.length} worker kills, `
        + `${metActive} active jobs met, ${switchLines} redis.master_switch lines`],
    ['sentinel: the events stream is complete (not trimmed)', events.trimmed === 0, `trimmed ${events.trimmed}`],
    ['sentinel: no worker exited on its own', fleet.unexpectedExits.length === 0, `${fleet.unexpectedExits.length}`],
    ['sentinel: every worker stops cleanly on SIGTERM', uncleanStops.length === 0, JSON.stringify(uncleanStops)],
  ];
  const details = {
    queue: queueName,
    sentinel_url: group.url,
    master_at_end: masterAtEnd,
    chaos: { ...chaos, events: chaos.events.map((e) => ({ ...e, startAt: rel(e.startAt), healedAt: rel(e.healedAt), requestedAt: rel(e.requestedAt),
      killedAt: rel(e.killedAt), promotedAt: rel(e.promotedAt), switchAt: rel(e.switchAt), slaveofNoOneAt: rel(e.slaveofNoOneAt),
      odownAt: rel(e.odownAt), restartedAt: rel(e.restartedAt) })) },
    switches: perSwitch,
    sentinel_timeline: group.timeline(started),
    adds_lost_in_failover: addsLostInFailover,
    adds_lost_outside_failover: addsLostOutside,
    counts_at_end: counts,
    failure_reasons: failureReasons(cls.failed),
    lost: cls.lost.slice(0, 200),
    stuck: cls.stuck.slice(0, 200),
    completed_twice: dup.completedTwice.slice(0, 200),
    finished_twice: dup.finishedTwice.slice(0, 200),
    wrong_results: wrong.slice(0, 200),
    attempts_spent: attemptsSpent.slice(0, 200),
    stall_limit_failures: stallLimitFailures.slice(0, 200),
    started_twice: [...startedTwice].slice(0, 200),
    workers_not_following: notFollowing,
    outcome_lines_missing: killsAfterOutcome(lines.missing.slice(0, 500), events, chaos.kills),
    events_by_type: events.totals,
    log_events_by_type: lines.byEvent,
    ioredis_unhandled_error_lines: ioredisNoise,
    unexpected_worker_exits: fleet.unexpectedExits,
    produce_error: produceError?.message,
    log_dir: path.join(dir, 'logs'),
    evidence: {
      ...evidenceOfFailures({ dup, cls, lines, events }),
      wrong_results: evidenceFor(wrong.map((x) => x.id), lines.lines_raw, events),
      attempts_spent: evidenceFor(attemptsSpent.map((x) => x.id), lines.lines_raw, events),
    },
  };
  if (checks.some(([, ok]) => !ok)) details.redis_logs = group.logTails();
  await readQueue.close();
  await queue.close();
  watch.disconnect();
  admin.disconnect();
  await group.stop();
  console.error = consoleError;
  return { name: 'sentinel', figures, checks, details };
}
