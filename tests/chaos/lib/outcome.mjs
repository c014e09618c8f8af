// Reads the outcome of a run back from Redis with the official bullmq client
// (Queue getters, Job fields) and from the queue's events stream (XRANGE on
// bull:<queue>:events), and from the workers' log files.
import { readLogLines } from './fleet.mjs';
import { waitUntil } from './util.mjs';

const NOT_FINAL = ['active', 'wait', 'delayed', 'prioritized', 'waiting-children', 'paused'];

export async function countsOf(queue) {
  return queue.getJobCounts(...NOT_FINAL, 'completed', 'failed');
}

// Jobs not yet finished (active, waiting, delayed, prioritized, waiting for children, paused).
export function unfinished(counts) {
  return NOT_FINAL.reduce((n, state) => n + (counts[state] ?? 0), 0);
}

// Every event of the queue's stream, read in pages: per job id, how many of
// each event; plus the stream's own figures (to tell whether it was trimmed).
export async function readEventStream(client, queueName, prefix = 'bull') {
  const key = `${prefix}:${queueName}:events`;
  const perJob = new Map();
  const totals = {};
  const activeAt = []; // Redis time (ms) of every `active` event: when jobs were claimed
  const completedAt = []; // Redis time (ms) of every `completed` event
  let start = '-';
  let read = 0;
  for (;;) {
    const page = await client.xrange(key, start, '+', 'COUNT', 5000);
    if (!page.length) break;
    for (const [id, fields] of page) {
      read += 1;
      const f = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
      totals[f.event] = (totals[f.event] ?? 0) + 1;
      if (f.event === 'active') activeAt.push(Number(id.split('-')[0]));
      if (f.event === 'completed') completedAt.push(Number(id.split('-')[0]));
      if (f.jobId !== undefined) {
        let j = perJob.get(f.jobId);
        if (!j) perJob.set(f.jobId, (j = {}));
        j[f.event] = (j[f.event] ?? 0) + 1;
        // The entry id's first part is Redis's clock in ms when it was added.
        if (f.event === 'completed' || f.event === 'failed') j.finishedAt = Number(id.split('-')[0]);
      }
      start = `(${id}`;
    }
    if (page.length < 5000) break;
  }
  // XINFO STREAM: entries-added (Redis 7) says how many were ever added; more
  // than we read means the stream was trimmed and duplicates could hide.
  let entriesAdded;
  try {
    const info = await client.xinfo('STREAM', key);
    for (let i = 0; i + 1 < info.length; i += 2) if (info[i] === 'entries-added') entriesAdded = Number(info[i + 1]);
  } catch {
    entriesAdded = undefined;
  }
  return { key, read, entriesAdded, trimmed: entriesAdded === undefined ? null : entriesAdded - read, totals, perJob, activeAt, completedAt };
}

// Loads the final jobs of the given states with the Queue getters, in pages.
export async function jobsIn(queue, state, pageSize = 1000) {
  const out = [];
  for (let start = 0; ; start += pageSize) {
    const page = await queue.getJobs([state], start, start + pageSize - 1, true);
    out.push(...page.filter(Boolean));
    if (page.length < pageSize) break;
  }
  return out;
}

// Classifies every job id that was added: final (completed/failed), stuck
// (still in a non-final state) or lost (not in any state any more).
export async function classifyJobs(queue, addedIds) {
  const completed = await jobsIn(queue, 'completed');
  const failed = await jobsIn(queue, 'failed');
  const byId = new Map();
  for (const j of completed) byId.set(j.id, { job: j, state: 'completed' });
  for (const j of failed) byId.set(j.id, { job: j, state: 'failed' });
  const stuck = [];
  const lost = [];
  for (const id of addedIds) {
    if (byId.has(id)) continue;
    const state = await queue.getJobState(id);
    if (state === 'unknown') lost.push(id);
    else stuck.push({ id, state });
  }
  return { byId, completed, failed, stuck, lost };
}

// From the events stream: jobs with more than one `completed` event, and jobs
// finished more than once in any way (completed and/or failed events > 1).
export function duplicateOutcomes(events, ids) {
  const completedTwice = [];
  const finishedTwice = [];
  for (const id of ids) {
    const e = events.perJob.get(id) ?? {};
    const c = e.completed ?? 0;
    const f = e.failed ?? 0;
    if (c > 1) completedTwice.push({ id, completed: c, failed: f });
    if (c + f > 1) finishedTwice.push({ id, completed: c, failed: f });
  }
  return { completedTwice, finishedTwice };
}

// The logging check: every job that the events stream shows as completed or
// failed must have a job.completed / job.failed line in some worker's log.
// The worker writes that line before it sends the outcome to Redis; when
// Redis then refuses it (lock lost), a job.outcome_rejected line follows in
// the same log, and the line it retracts does not count.
export function outcomeLines(logFiles, queueName, events, ids) {
  const lines = readLogLines(logFiles);
  const logged = new Map(); // job id -> {completed, failed} (lines not retracted)
  const byEvent = {};
  let unparsable = 0;
  let retracted = 0;
  const pendingByFile = new Map(); // file -> job id -> [kinds of its outcome lines, in order]
  for (const { file, line } of lines) {
    if (line.raw !== undefined) {
      unparsable += 1;
      continue;
    }
    byEvent[line.event] = (byEvent[line.event] ?? 0) + 1;
    if (line.queue !== queueName) continue;
    if (!pendingByFile.has(file)) pendingByFile.set(file, new Map());
    const pending = pendingByFile.get(file);
    if (line.event === 'job.completed' || line.event === 'job.failed') {
      if (!pending.has(line.job_id)) pending.set(line.job_id, []);
      pending.get(line.job_id).push(line.event === 'job.completed' ? 'completed' : 'failed');
    } else if (line.event === 'job.outcome_rejected') {
      if (pending.get(line.job_id)?.pop()) retracted += 1;
    }
  }
  for (const pending of pendingByFile.values()) {
    for (const [id, kinds] of pending) {
      let l = logged.get(id);
      if (!l) logged.set(id, (l = { completed: 0, failed: 0 }));
      for (const k of kinds) l[k] += 1;
    }
  }
  const missing = [];
  for (const id of ids) {
    const e = events.perJob.get(id) ?? {};
    const l = logged.get(id) ?? { completed: 0, failed: 0 };
    if ((e.completed ?? 0) > 0 && l.completed === 0) missing.push({ id, outcome: 'completed' });
    else if ((e.failed ?? 0) > 0 && l.failed === 0) missing.push({ id, outcome: 'failed' });
  }
  return { missing, retracted, lines: lines.length, unparsable, byEvent, lines_raw: lines };
}

// Groups failed jobs by their failedReason, the job-specific parts (ids, numbers) blurred.
export function failureReasons(failedJobs) {
  const reasons = {};
  for (const j of failedJobs) {
    const key = String(j.failedReason ?? '').replace(/[0-9a-f]{8}-[0-9a-f-]{27,}/g, '<id>').replace(/\d+/g, 'N').slice(0, 160);
    reasons[key] = (reasons[key] ?? 0) + 1;
  }
  return reasons;
}

// Evidence for a report: the log lines (file basename + line) that name each
// of the given job ids, and the job's events counted from the stream.
export function evidenceFor(ids, linesRaw, events, limit = 5) {
  const wanted = new Set(ids.slice(0, limit));
  const out = {};
  for (const id of wanted) out[id] = { events: events.perJob.get(id) ?? {}, log: [] };
  for (const { file, line } of linesRaw) {
    if (line.job_id !== undefined && wanted.has(String(line.job_id))) {
      out[line.job_id].log.push({ file: file.split('/').pop(), ...line });
    }
  }
  return out;
}

// For outcomes recorded in Redis without a log line: how long after the
// outcome was the nearest SIGKILL (of any worker)? kills: [{atMs, slot, pid}].
export function killsAfterOutcome(missing, events, kills) {
  return missing.map(({ id, outcome }) => {
    const at = events.perJob.get(id)?.finishedAt;
    const after = kills.filter((k) => at !== undefined && k.atMs >= at).sort((a, b) => a.atMs - b.atMs)[0];
    return { id, outcome, recorded_at: at, next_kill_ms_later: after ? after.atMs - at : null, killed_pid: after?.pid };
  });
}

// The evidence of every failed check of a scenario: for each job id, its
// events and every log line naming it.
export function evidenceOfFailures({ dup, cls, lines, events }) {
  const of = (ids) => evidenceFor(ids, lines.lines_raw, events);
  return {
    completed_twice: of(dup.completedTwice.map((x) => x.id)),
    finished_twice: of(dup.finishedTwice.map((x) => x.id)),
    lost: of(cls.lost),
    stuck: of(cls.stuck.map((x) => x.id)),
    outcome_lines_missing: of(lines.missing.map((x) => x.id)),
  };
}

// The checks every scenario makes of its jobs: [name, passed, detail].
export function jobChecks(scenario, { cls, dup }) {
  return [
    [`${scenario}: no job lost`, cls.lost.length === 0, `${cls.lost.length} lost`],
    [`${scenario}: no job completed twice`, dup.completedTwice.length === 0, `${dup.completedTwice.length} completed twice`],
    [`${scenario}: no job finished twice (completed/failed events)`, dup.finishedTwice.length === 0, `${dup.finishedTwice.length}`],
    [`${scenario}: no job stuck after settling`, cls.stuck.length === 0, `${cls.stuck.length} stuck`],
  ];
}

// After the chaos: waits (bounded by `timeout`) until `queue` has nothing
// waiting, active or delayed, then stops every worker of `fleet` with
// SIGTERM. Says how it went through `say`.
export async function settleAndStop(queue, fleet, { timeout, interval, say }) {
  const settleStart = Date.now();
  let lastCounts = {};
  const settled = await waitUntil(async () => {
    lastCounts = await countsOf(queue);
    return unfinished(lastCounts) === 0;
  }, { timeout, interval, what: 'the queue to drain' });
  const settleMs = Date.now() - settleStart;
  say(settled ? `queue drained ${settleMs} ms after the chaos` : `queue NOT drained after ${settleMs} ms: ${JSON.stringify(lastCounts)}`);
  await fleet.waitStarted();
  const stopResults = await fleet.stopAll(15000);
  return { settled, settleMs, lastCounts, uncleanStops: stopResults.filter((x) => x.code !== 0) };
}

// The figures every conformance-style scenario reports about its jobs.
export function jobFigures({ added, cls, dup, specs, stallLimitFailures, wrong, lines }) {
  return {
    jobs_added: added.length,
    completed: cls.completed.length,
    failed: cls.failed.length,
    failed_planned: cls.failed.filter((j) => specs.get(j.id)?.expect === 'failed').length,
    failed_stall_limit: stallLimitFailures.length,
    lost: cls.lost.length,
    completed_twice: dup.completedTwice.length,
    finished_twice: dup.finishedTwice.length,
    stuck: cls.stuck.length,
    wrong_results: wrong.length,
    outcome_lines_missing: lines.missing.length,
    outcome_lines_retracted: lines.retracted,
  };
}
