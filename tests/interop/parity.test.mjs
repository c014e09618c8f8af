// Side by side with a Node Worker (bullmq 6.7.0) running the same
// conformance behaviours: the same jobs, added the same way to two queues,
// must leave the same job hashes (fields and values that do not depend on
// time), the same logs and the same per-job event sequence on the stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DelayedError, UnrecoverableError } from 'bullmq';
import { setupSuite } from './lib/fixtures.mjs';
import { waitFor } from './lib/harness.mjs';

const s = await setupSuite();

// The conformance processors, written against Node's Job API.
const nodeProcessors = {
  echo: async (job) => job.data,
  fail: async (job) => {
    throw new Error(job.data.message ?? 'conformance failure');
  },
  'fail-unrecoverable': async (job) => {
    throw new UnrecoverableError(job.data.message ?? 'conformance failure');
  },
  flaky: async (job) => {
    const attempt = job.attemptsMade + 1;
    if (attempt < (job.data.succeedOnAttempt ?? 1)) throw new Error(`flaky attempt ${attempt}`);
    return { attempt };
  },
  progress: async (job) => {
    for (const step of job.data.steps ?? []) await job.updateProgress(step);
    return { steps: (job.data.steps ?? []).length };
  },
  log: async (job) => {
    for (const line of job.data.lines ?? []) await job.log(line);
    return { logged: (job.data.lines ?? []).length };
  },
  delay: async (job, token) => {
    if (job.data.step === 'done') return { resumed: true };
    await job.updateData({ ...job.data, step: 'done' });
    await job.moveToDelayed(Date.now() + (job.data.ms ?? 1000), token);
    throw new DelayedError();
  },
};

const scenarios = [
  ['echo', { a: 1, b: [1, 2], c: { d: 'e' } }, {}],
  ['echo', { prio: true }, { priority: 3 }],
  ['echo', { removed: true }, { removeOnComplete: true }],
  ['echo', { kept: 1 }, { removeOnComplete: { count: 5 } }],
  ['fail', { message: 'fixed retries' }, { attempts: 2, backoff: { type: 'fixed', delay: 50 } }],
  ['fail', { message: 'immediate retry' }, { attempts: 2 }],
  ['fail', { message: 'expo' }, { attempts: 3, backoff: { type: 'exponential', delay: 20 }, stackTraceLimit: 1 }],
  ['fail-unrecoverable', { message: 'unrecoverable' }, { attempts: 3, backoff: 50 }],
  ['flaky', { succeedOnAttempt: 2 }, { attempts: 3, backoff: 30 }],
  ['progress', { steps: [10, { stage: 'x', pct: 50 }, 100], intervalMs: 1 }, {}],
  ['log', { lines: ['one', 'two', 'three'] }, { keepLogs: 2 }],
  ['delay', { ms: 100 }, { attempts: 2 }],
  ['echo', { delayed: true }, { delay: 150 }],
  ['fail', { message: 'removed on fail' }, { removeOnFail: true }],
];

// Values that legitimately differ between two runs.
const timeFields = new Set(['timestamp', 'processedOn', 'finishedOn', 'pb']);

async function snapshot(client, name, ids) {
  const out = {};
  for (const [i, id] of ids.entries()) {
    const hash = await client.hgetall(`bull:${name}:${id}`);
    const fields = {};
    for (const [k, v] of Object.entries(hash)) {
      if (timeFields.has(k)) fields[k] = '<time>';
      else if (k === 'stacktrace') fields[k] = `<${JSON.parse(v).length} entries>`;
      else if (k === 'delay') fields[k] = v === '0' ? '0' : '<delay>';
      else fields[k] = v;
    }
    const logs = await client.lrange(`bull:${name}:${id}:logs`, 0, -1);
    const state = (await client.zscore(`bull:${name}:completed`, id)) !== null ? 'completed'
      : (await client.zscore(`bull:${name}:failed`, id)) !== null ? 'failed' : 'other';
    out[`${i}:${scenarios[i][0]}`] = { fields, logs, state };
  }
  return out;
}

async function eventSequences(client, name, ids) {
  const entries = await client.xrange(`bull:${name}:events`, '-', '+');
  const byJob = new Map(ids.map((id) => [id, []]));
  for (const [, kv] of entries) {
    const e = {};
    for (let i = 0; i < kv.length; i += 2) e[kv[i]] = kv[i + 1];
    if (!byJob.has(e.jobId)) continue;
    const extra = e.event === 'completed' ? ` ${e.returnvalue}` : e.event === 'failed' ? ` ${e.failedReason}`
      : e.event === 'progress' ? ` ${e.data}` : e.prev ? ` prev=${e.prev}` : '';
    byJob.get(e.jobId).push(e.event + extra);
  }
  return Object.fromEntries([...byJob].map(([id, seq], i) => [`${i}:${scenarios[i][0]}`, seq]));
}

test('the same jobs leave the same hashes, logs and event sequences as with a Node Worker', async () => {
  const client = s.client();
  const result = {};
  for (const kind of ['node', 'native']) {
    const name = s.queueName(`parity-${kind}`);
    const queue = s.queue(name);
    const ids = [];
    for (const [jobName, data, opts] of scenarios) ids.push((await queue.add(jobName, data, opts)).id);
    if (kind === 'node') {
      s.nodeWorker(name, (job, token) => nodeProcessors[job.name](job, token), { name: 'parity', drainDelay: 0.2 });
    } else {
      await s.readyWorker(name, ['--name', 'parity', '--drain-delay', '0.2']);
    }
    // Every job ends with exactly one completed or failed event.
    await waitFor(async () => {
      const seqs = await eventSequences(client, name, ids);
      return Object.values(seqs).every((seq) => seq.some((e) => /^(completed|failed) /.test(e)));
    }, { timeout: 15000, what: `${kind}: all jobs finished` });
    result[kind] = { hashes: await snapshot(client, name, ids), events: await eventSequences(client, name, ids) };
  }
  if (process.env.PARITY_DUMP) console.log(JSON.stringify(result, null, 1));
  for (const key of Object.keys(result.node.hashes)) {
    assert.deepEqual(result.native.hashes[key], result.node.hashes[key], `job ${key}: hash, logs and state`);
    assert.deepEqual(result.native.events[key], result.node.events[key], `job ${key}: event sequence`);
  }
});
