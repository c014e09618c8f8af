// Scenario 2: the document pipeline (`run --processors files`) under SIGKILLs
// with PostgreSQL stopped for a while (60 s in the full run) and started again.
//
// Batches of 20 documents are produced the way the backend does it, by
// scripts/producer.mjs (PostgreSQL rows, files in the storage folder, jobs
// with the official bullmq; attempts 3 and exponential backoff from 2000 ms),
// half of them as flows. A first wave is produced before the workers start,
// so there is a backlog; PostgreSQL is stopped once a quarter of that wave is
// done, so the outage meets running jobs and a queue full of waiting ones; a
// second wave is produced after PostgreSQL is back. A dependency outage is
// not the jobs' fault: no job may fail because of it (no
// `database_unavailable` failure), nothing may be lost or stuck, and every
// batch must end with its summary.
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import pg from 'pg';
import { PostgresServer, RedisServer, run } from '../lib/servers.mjs';
import { WorkerFleet } from '../lib/fleet.mjs';
import {
  classifyJobs, countsOf, duplicateOutcomes, evidenceOfFailures, failureReasons, jobChecks, killsAfterOutcome, outcomeLines, readEventStream, unfinished,
} from '../lib/outcome.mjs';
import { freePort, rng, sleep, waitUntil } from '../lib/util.mjs';
import { mixedUpload } from '../../../scripts/lib/documents.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const producerScript = path.join(repoRoot, 'scripts', 'producer.mjs');

const PROFILES = {
  short: {
    batches: 12, firstWave: 8, outageMs: 15000, killEveryMs: [3000, 5000], tailMs: 10000, settleMs: 90000,
    producers: 2,
  },
  full: {
    batches: 50, firstWave: 35, outageMs: 60000, killEveryMs: [3000, 5000], tailMs: 20000, settleMs: 150000,
    producers: 3,
  },
};
const WORKERS = 3;
const CONCURRENCY = 4;
const LOCK_MS = 3000;
const STALLED_MS = 3000;
const FINAL = ['completed', 'completed_with_errors', 'failed'];

// 20 documents: the mixed upload (PDF, DOCX, XLSX, CSV, text, Markdown and a
// truncated PDF) in three folders; 2 of them are corrupt and must fail.
function upload20() {
  const base = mixedUpload();
  const files = [...base];
  for (const f of base) files.push({ ...f, path: `more/${f.path}` });
  for (const f of base.filter((x) => x.expect.status === 'completed').slice(0, 6)) files.push({ ...f, path: `extra/${f.path}` });
  return files;
}

function readyz(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/readyz', timeout: 1500 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body: body.slice(0, 300) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
  });
}

export async function runPipeline({ mode, binary, outDir, seed, log, cleanup }) {
  const p = PROFILES[mode];
  const started = Date.now();
  const t = () => Date.now() - started;
  const say = (msg) => log(`[pipeline ${(t() / 1000).toFixed(1)}s] ${msg}`);
  const dir = path.join(outDir, 'pipeline');
  const storage = path.join(dir, 'storage');
  const uploadDir = path.join(dir, 'upload');
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  mkdirSync(storage, { recursive: true });
  const r = rng(seed + 1);
  const queueName = `chaos-files-${seed}`;

  const files = upload20();
  for (const f of files) {
    const target = path.join(uploadDir, ...f.path.split('/'));
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, f.data);
  }
  const expectByPath = new Map(files.map((f) => [f.path, f.expect]));

  const [redis, postgres] = await Promise.all([RedisServer.start(dir), PostgresServer.start()]);
  cleanup.push(() => postgres.destroy());
  say(`redis-server pid ${redis.pid} port ${redis.port}; PostgreSQL pid ${postgres.pid} port ${postgres.port}`);
  const databaseUrl = await postgres.createDatabase('chaos');
  const migrated = await run([binary, 'migrate', '--database-url', databaseUrl], { timeout: 60000 });
  if (migrated.code !== 0) throw new Error(`bullmq-worker migrate failed: ${migrated.output}`);

  const admin = redis.client();
  cleanup.push(async () => admin.disconnect());

  // --- production, by the backend's producer script (one process per batch).
  const batches = [];
  const produceErrors = [];
  async function produce(indexes) {
    const queueOf = [...indexes];
    const worker = async () => {
      for (;;) {
        const n = queueOf.shift();
        if (n === undefined) return;
        const flow = n % 2 === 1;
        const runId = `chaos-${seed}-${n}`;
        const args = [producerScript, '--dir', uploadDir, '--redis', redis.url, '--database-url', databaseUrl,
          '--storage', storage, '--queue', queueName, '--attempts', '3', '--backoff-delay', '2000',
          '--run-id', runId, '--batch-id', `batch-${runId}`, ...(flow ? ['--flow'] : [])];
        const out = await run([process.execPath, ...args], { timeout: 60000 });
        if (out.code !== 0) {
          produceErrors.push({ n, output: out.output.slice(-1000) });
          continue;
        }
        const line = JSON.parse(out.output.trim().split('\n').pop());
        batches.push({ n, flow, ...line });
      }
    };
    await Promise.all(Array.from({ length: p.producers }, worker));
  }
  // The producer's Queue resets the events stream's length cap to bullmq's
  // default (10000); set it back high after each wave so nothing is trimmed.
  async function raiseEventsCap() {
    const q = new Queue(queueName, { connection: redis.connection, streams: { events: { maxLen: 1000000 } } });
    await q.waitUntilReady();
    await waitUntil(async () => Number(await admin.hget(`bull:${queueName}:meta`, 'opts.maxLenEvents')) === 1000000,
      { timeout: 10000 });
    await q.close();
  }

  const waveA = Array.from({ length: p.firstWave }, (_, i) => i);
  const waveB = Array.from({ length: p.batches - p.firstWave }, (_, i) => p.firstWave + i);
  await produce(waveA);
  await raiseEventsCap();
  say(`first wave produced: ${batches.length} batches of ${files.length} documents`);

  const queue = new Queue(queueName, {
    connection: { ...redis.connection, maxRetriesPerRequest: null },
    streams: { events: { maxLen: 1000000 } },
  });
  queue.on('error', () => {});
  cleanup.push(() => queue.close());
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 3000 });
  db.on('error', () => {}); // the outage drops its connections
  cleanup.push(() => db.end());
  const query = async (sql, params = []) => (await db.query(sql, params)).rows;

  const httpPorts = [];
  const fleet = new WorkerFleet({
    binary,
    logDir: path.join(dir, 'logs'),
    log: say,
    argsFor: (slot) => ['run', '--processors', 'files', '--queue', queueName, '--redis', redis.url,
      '--database-url', databaseUrl, '--storage-base-path', storage,
      '--concurrency', String(CONCURRENCY), '--lock-duration', String(LOCK_MS),
      '--stalled-interval', String(STALLED_MS), '--name', `chaos-files-${slot}`, '--shutdown-timeout', '5000',
      '--http-port', String(httpPorts[slot]), '--http-host', '127.0.0.1'],
  });
  for (let s = 0; s < WORKERS; s += 1) httpPorts[s] = await freePort();
  for (let s = 0; s < WORKERS; s += 1) fleet.start(s);
  say(`3 workers started: pids ${[0, 1, 2].map((s) => fleet.pid(s)).join(', ')}`);

  // --- chaos: kills every few seconds for the whole run.
  const chaos = { kills: [], outage: null, readyz: [] };
  let chaosOn = true;
  // However the scenario ends (even by an exception), its loops stop and its
  // fleet restarts nothing any more.
  cleanup.push(async () => {
    chaosOn = false;
    fleet.closing = true;
  });
  const killLoop = (async () => {
    await sleep(r.int(...p.killEveryMs));
    while (chaosOn) {
      const slot = r.int(0, WORKERS - 1);
      if (fleet.running(slot)) {
        const pid = fleet.pid(slot);
        const killAt = Date.now();
        await fleet.kill(slot);
        chaos.kills.push({ at: killAt - started, atMs: killAt, slot, pid });
        await sleep(r.int(200, 1000));
        if (!fleet.running(slot) && chaosOn) fleet.restart(slot);
      }
      await sleep(r.int(...p.killEveryMs));
    }
  })();

  // --- the PostgreSQL outage, once a quarter of the first wave is done.
  const firstWaveFiles = batches.length * files.length;
  await waitUntil(async () => {
    const [{ n }] = await query("SELECT count(*)::int AS n FROM file_extractions WHERE status IN ('completed', 'failed')");
    return n >= firstWaveFiles / 4;
  }, { timeout: 60000, interval: 100 });
  const [{ n: doneBefore }] = await query("SELECT count(*)::int AS n FROM file_extractions WHERE status IN ('completed', 'failed')");
  const countsBefore = await countsOf(queue);
  const outageStart = t();
  const outageStartAbs = Date.now();
  await postgres.stop();
  say(`PostgreSQL stopped (${doneBefore} of ${firstWaveFiles} files done; queue ${JSON.stringify(countsBefore)}); down for ${p.outageMs} ms`);
  const outageEnd = started + outageStart + p.outageMs;
  while (Date.now() < outageEnd) {
    const samples = await Promise.all([0, 1, 2].map(async (s) => ({ slot: s, at: t(), ...(await readyz(httpPorts[s])) })));
    chaos.readyz.push(...samples);
    await sleep(Math.min(2000, Math.max(0, outageEnd - Date.now())));
  }
  const countsAtEnd = await countsOf(queue);
  const outageEndAbs = Date.now();
  await postgres.start();
  chaos.outage = { startMs: outageStart, downMs: t() - outageStart, doneBefore, countsBefore, countsAtEnd };
  say(`PostgreSQL started again after ${chaos.outage.downMs} ms (queue ${JSON.stringify(countsAtEnd)})`);

  await produce(waveB);
  await raiseEventsCap();
  say(`second wave produced: ${batches.length} batches in all`);
  await sleep(p.tailMs);
  chaosOn = false;
  await killLoop;
  for (let s = 0; s < WORKERS; s += 1) if (!fleet.running(s)) fleet.restart(s);
  say(`chaos over: ${chaos.kills.length} kills; settling`);

  // --- settle: every batch final and nothing left in the queue (bounded).
  const settleStart = Date.now();
  const runIds = batches.map((b) => b.run_id);
  let last = {};
  let idleSince;
  const settled = await waitUntil(async () => {
    const rows = await query('SELECT status FROM processing_jobs WHERE run_id = ANY($1)', [runIds]);
    const counts = await countsOf(queue);
    last = { final: rows.filter((x) => FINAL.includes(x.status)).length, batches: runIds.length, counts };
    if (rows.length === runIds.length && last.final === runIds.length && unfinished(counts) === 0) return 'settled';
    // Batches left unfinished while the queue holds no job at all for 10 s:
    // nothing is left that could finish them, so stop waiting.
    if (unfinished(counts) !== 0) idleSince = undefined;
    else if ((idleSince ??= Date.now()) < Date.now() - 10000) return 'idle';
    return false;
  }, { timeout: p.settleMs, interval: 500 });
  const settleMs = Date.now() - settleStart;
  if (settled === 'settled') say(`settled ${settleMs} ms after the chaos`);
  else say(`NOT settled after ${settleMs} ms${settled === 'idle' ? ' (the queue is empty; nothing can finish the rest)' : ''}: ${JSON.stringify(last)}`);
  await fleet.waitStarted();
  const stopResults = await fleet.stopAll(15000);
  const uncleanStops = stopResults.filter((x) => x.code !== 0);
  const processingDoneMs = t();

  // --- read back: PostgreSQL.
  const batchRows = await query('SELECT * FROM processing_jobs WHERE run_id = ANY($1)', [runIds]);
  const fileRows = await query('SELECT * FROM file_extractions WHERE run_id = ANY($1)', [runIds]);
  const summaryRows = await query('SELECT * FROM run_summaries WHERE run_id = ANY($1)', [runIds]);
  const dupFiles = await query(`SELECT run_id, file_path, count(*)::int AS n FROM file_extractions
    WHERE run_id = ANY($1) GROUP BY run_id, file_path HAVING count(*) > 1`, [runIds]);
  const dupBatches = await query(`SELECT run_id, count(*)::int AS n FROM processing_jobs
    WHERE run_id = ANY($1) GROUP BY run_id HAVING count(*) > 1`, [runIds]);
  const dupSummaries = await query(`SELECT run_id, count(*)::int AS n FROM run_summaries
    WHERE run_id = ANY($1) GROUP BY run_id HAVING count(*) > 1`, [runIds]);
  const missingRows = [];
  const wrongFiles = [];
  const batchesWithoutSummary = [];
  const summaryMismatch = [];
  const batchNotFinal = [];
  const jobIds = [];
  for (const b of batches) {
    const batch = batchRows.find((x) => x.run_id === b.run_id);
    if (!batch) missingRows.push({ table: 'processing_jobs', run_id: b.run_id });
    else if (!FINAL.includes(batch.status)) batchNotFinal.push({ run_id: b.run_id, status: batch.status });
    const rows = fileRows.filter((x) => x.run_id === b.run_id);
    for (const f of files) {
      const row = rows.find((x) => x.file_path === `${b.run_id}/${f.path}`);
      if (!row) {
        missingRows.push({ table: 'file_extractions', run_id: b.run_id, file_path: f.path });
        continue;
      }
      const ok = row.status === f.expect.status && (f.expect.status !== 'failed' || row.error_type === f.expect.error_type);
      if (!ok) wrongFiles.push({ doc_id: row.doc_id, path: row.file_path, status: row.status, error_type: row.error_type, error: row.error_message?.slice(0, 200) });
    }
    for (const row of rows) jobIds.push(`file-${row.doc_id}`);
    jobIds.push(b.aggregate_job_id);
    const summary = summaryRows.find((x) => x.run_id === b.run_id);
    if (!summary) {
      batchesWithoutSummary.push({ run_id: b.run_id, status: batch?.status, flow: b.flow });
      continue;
    }
    const expectFailed = files.filter((f) => f.expect.status === 'failed').length;
    if (summary.file_count !== files.length || summary.error_count !== expectFailed || summary.success_count !== files.length - expectFailed) {
      summaryMismatch.push({ run_id: b.run_id, file_count: summary.file_count, success: summary.success_count, errors: summary.error_count });
    }
  }

  // --- read back: Redis.
  const counts = await countsOf(queue);
  const cls = await classifyJobs(queue, jobIds);
  const events = await readEventStream(admin, queueName);
  const dup = duplicateOutcomes(events, jobIds);
  const lines = outcomeLines(fleet.logFiles, queueName, events, jobIds);
  const outageFailures = cls.failed.filter((j) => /database_unavailable/.test(j.failedReason ?? ''));
  const corruptIds = new Set(fileRows.filter((x) => expectByPath.get(x.file_path.slice(x.run_id.length + 1))?.status === 'failed')
    .map((x) => `file-${x.doc_id}`));
  const unexpectedFailures = cls.failed.filter((j) => !corruptIds.has(j.id));
  const attempts = cls.completed.concat(cls.failed).map((j) => j.attemptsMade ?? 0);
  const readyzDuringOutage = chaos.readyz.filter((s) => s.status !== 0);
  // Claims (active events) once the outage had lasted 5 s: a worker that
  // knows its database is down should not keep taking jobs it cannot do.
  const claimsInOutage = events.activeAt.filter((at) => at >= outageStartAbs + 5000 && at <= outageEndAbs).length;
  const ce = chaos.outage.countsAtEnd;
  const wallMs = t();

  const figures = {
    batches: batches.length,
    documents: batches.length * files.length,
    jobs: jobIds.length,
    completed: cls.completed.length,
    failed: cls.failed.length,
    failed_corrupt_planned: cls.failed.length - unexpectedFailures.length,
    failed_unexpected: unexpectedFailures.length,
    failed_database_unavailable: outageFailures.length,
    lost: cls.lost.length,
    completed_twice: dup.completedTwice.length,
    finished_twice: dup.finishedTwice.length,
    stuck: cls.stuck.length,
    outcome_lines_missing: lines.missing.length,
    outcome_lines_retracted: lines.retracted,
    duplicate_rows: dupFiles.length + dupBatches.length + dupSummaries.length,
    missing_rows: missingRows.length,
    files_with_wrong_outcome: wrongFiles.length,
    batches_not_final: batchNotFinal.length,
    batches_without_summary: batchesWithoutSummary.length,
    summaries_with_wrong_counts: summaryMismatch.length,
    jobs_with_more_than_one_attempt: attempts.filter((a) => a > 1).length,
    max_attempts_made: attempts.length ? Math.max(...attempts) : 0,
    stalled_events: events.totals.stalled ?? 0,
    worker_kills: chaos.kills.length,
    worker_processes: fleet.logFiles.length,
    postgres_outage_ms: chaos.outage.downMs,
    jobs_deferred_lines: lines.byEvent['job.deferred'] ?? 0,
    claims_during_outage: claimsInOutage,
    queue_at_outage_end: `wait ${ce.wait}, delayed ${ce.delayed}, active ${ce.active}`,
    readyz_503_during_outage: `${readyzDuringOutage.filter((s) => s.status === 503).length}/${readyzDuringOutage.length}`,
    unexpected_worker_exits: fleet.unexpectedExits.length,
    unclean_sigterm_stops: uncleanStops.length,
    events_read: events.read,
    events_trimmed: events.trimmed,
    settle_ms: settleMs,
    processing_ms: processingDoneMs,
    wall_ms: wallMs,
  };
  const checks = [
    ...jobChecks('pipeline', { cls, dup }),
    ['pipeline: no job failed because PostgreSQL was down', outageFailures.length === 0, `${outageFailures.length} database_unavailable`],
    // The upload has no document with a retryable error: a second attempt
    // can only come from something that was not the job's fault.
    ['pipeline: no attempt spent on the outage (every job finished in one attempt)', attempts.every((a) => a <= 1),
      `${attempts.filter((a) => a > 1).length} jobs with attemptsMade > 1`],
    ['pipeline: only the corrupt documents failed', unexpectedFailures.length === 0, `${unexpectedFailures.length} other failures`],
    ['pipeline: every recorded outcome has its log line', lines.missing.length === 0, `${lines.missing.length} missing`],
    ['pipeline: no duplicate rows', figures.duplicate_rows === 0, `${figures.duplicate_rows}`],
    ['pipeline: no missing rows', missingRows.length === 0, `${missingRows.length}`],
    ['pipeline: every file row ends as its content dictates', wrongFiles.length === 0, `${wrongFiles.length}`],
    ['pipeline: every batch final and summarised', batchesWithoutSummary.length === 0 && batchNotFinal.length === 0,
      `${batchesWithoutSummary.length} without summary, ${batchNotFinal.length} not final`],
    ['pipeline: every summary counts its files right', summaryMismatch.length === 0, `${summaryMismatch.length}`],
    ['pipeline: the chaos happened (kills; the outage met running and waiting jobs)',
      chaos.kills.length >= 3 && chaos.outage.downMs >= p.outageMs && chaos.outage.countsBefore.active + chaos.outage.countsBefore.wait > 0,
      `${chaos.kills.length} kills, outage ${chaos.outage.downMs} ms, queue at its start ${JSON.stringify(chaos.outage.countsBefore)}`],
    ['pipeline: the events stream is complete (not trimmed)', events.trimmed === 0, `trimmed ${events.trimmed}`],
    ['pipeline: every batch was produced', produceErrors.length === 0, `${produceErrors.length} producer failures`],
    ['pipeline: no worker exited on its own', fleet.unexpectedExits.length === 0, `${fleet.unexpectedExits.length}`],
    ['pipeline: every worker stops cleanly on SIGTERM', uncleanStops.length === 0, JSON.stringify(uncleanStops)],
  ];
  const details = {
    queue: queueName,
    chaos,
    counts_at_end: counts,
    failure_reasons: failureReasons(cls.failed),
    outage_failures: outageFailures.slice(0, 100).map((j) => ({ id: j.id, name: j.name, attemptsMade: j.attemptsMade, reason: j.failedReason })),
    unexpected_failures: unexpectedFailures.slice(0, 100).map((j) => ({ id: j.id, name: j.name, attemptsMade: j.attemptsMade, reason: j.failedReason })),
    lost: cls.lost.slice(0, 200),
    stuck: cls.stuck.slice(0, 200),
    completed_twice: dup.completedTwice.slice(0, 200),
    finished_twice: dup.finishedTwice.slice(0, 200),
    outcome_lines_missing: killsAfterOutcome(lines.missing.slice(0, 500), events, chaos.kills),
    missing_rows: missingRows.slice(0, 100),
    duplicate_rows: { files: dupFiles, batches: dupBatches, summaries: dupSummaries },
    files_with_wrong_outcome: wrongFiles.slice(0, 100),
    batches_without_summary: batchesWithoutSummary,
    batches_not_final: batchNotFinal,
    summaries_with_wrong_counts: summaryMismatch,
    produce_errors: produceErrors,
    events_by_type: events.totals,
    log_events_by_type: lines.byEvent,
    unexpected_worker_exits: fleet.unexpectedExits,
    log_dir: path.join(dir, 'logs'),
    evidence: evidenceOfFailures({ dup, cls, lines, events }),
  };
  await queue.close();
  admin.disconnect();
  await redis.stop();
  return { name: 'pipeline', figures, checks, details };
}
