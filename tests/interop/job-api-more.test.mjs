// The rest of the processor Job API, seen from Node: rate limiting from a
// processor, moving a job back to wait, adding children, dependency counts,
// removing unprocessed children, any JSON as progress, custom backoff
// strategies, the clear failure of an inline processor that calls its
// context, and the flags --skip-stalled-check, --skip-lock-renewal and
// --maximum-rate-limit-delay. Where Node's own Worker can run the same
// scenario, the two are compared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker as NodeWorker, WaitingError, WaitingChildrenError } from 'bullmq';
import { Queue as Queue5, QueueEvents as QueueEvents5, Job as Job5 } from 'bullmq5';
import { setupSuite, recordEvents, untilListening, Job } from './lib/fixtures.mjs';
import { waitFor, runBinary } from './lib/harness.mjs';

const s = await setupSuite();

// Node's Worker running what the conformance processors of the same names do.
function startNodeConformance(name, opts = {}) {
  let worker;
  const processor = async (job, token) => {
    switch (job.name) {
      case 'echo':
        return job.data;
      case 'fail':
        throw new Error(job.data.message ?? 'conformance failure');
      case 'rate-limit':
        if (job.data.done) return { rateLimited: true };
        await job.updateData({ ...job.data, done: true });
        await worker.rateLimit(job.data.ms ?? 500);
        throw NodeWorker.RateLimitError();
      case 'move-to-wait':
        if (job.data.done) return { waited: true };
        await job.updateData({ ...job.data, done: true });
        await job.moveToWait(token);
        throw new WaitingError();
      case 'spawn-children': {
        if (job.data.step !== 'waiting') {
          const queue = s.queue(job.queueName);
          for (let i = 1; i <= (job.data.count ?? 3); i++) {
            await queue.add('echo', { value: i }, { parent: { id: job.id, queue: job.queueQualifiedName } });
          }
          await job.updateData({ ...job.data, step: 'waiting' });
          if (await job.moveToWaitingChildren(token)) throw new WaitingChildrenError();
        }
        const values = Object.values(await job.getChildrenValues());
        return { sum: values.reduce((sum, v) => sum + v.value, 0) };
      }
      default:
        throw new Error(`unknown job name: ${job.name}`);
    }
  };
  worker = s.nodeWorker(name, processor, {
    settings: { backoffStrategy: (attemptsMade) => attemptsMade * 100 },
    ...opts,
  });
  return worker.waitUntilReady();
}

const startNative = (extra = []) => (name) => s.readyWorker(name, extra);

// ---------------------------------------------------------------------------
// rate_limit + RateLimitError

async function rateLimitScenario(tag, start, ms) {
  const name = s.queueName(tag);
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['failed', 'completed']);
  await start(name);
  const added = Date.now();
  const job = await queue.add('rate-limit', { ms }, { attempts: 1 });

  const parked = await waitFor(async () => {
    const j = await Job.fromId(queue, job.id);
    return j?.data.done && (await j.getState()) === 'waiting' ? j : undefined;
  }, { what: 'rate-limited job back in wait' });
  const ttl = await queue.getRateLimitTtl();
  assert.equal(parked.attemptsMade, 0, 'a rate-limited run is not a failed attempt');
  assert.ok(ttl > 0 && ttl <= ms, `queue rate limit TTL ${ttl} ms (set for ${ms})`);

  assert.deepEqual(await job.waitUntilFinished(qe, 15000), { rateLimited: true });
  const done = await Job.fromId(queue, job.id);
  assert.equal(seen.of('failed', job.id).length, 0);
  return { done, waitedMs: done.processedOn - added, ttlAtEnd: await queue.getRateLimitTtl() };
}

test('rate_limit + RateLimitError: back to wait, no attempt spent, limiter TTL set, claimed again after it (as Node)', async () => {
  const native = await rateLimitScenario('ratelimit', startNative(), 1200);
  const node = await rateLimitScenario('ratelimit-node', startNodeConformance, 1200);
  for (const [who, r] of [['bullmq-worker', native], ['node', node]]) {
    assert.ok(r.waitedMs >= 1100, `${who}: second run ${r.waitedMs} ms after the add`);
    assert.equal(r.done.attemptsMade, 1, who);
    assert.equal(r.done.attemptsStarted, 2, who);
    assert.deepEqual(r.done.data, { ms: 1200, done: true }, who);
  }
});

test('--maximum-rate-limit-delay caps the wait after a rate limit (as Node\'s maximumRateLimitDelay)', async () => {
  const native = await rateLimitScenario('maxrl', startNative(['--maximum-rate-limit-delay', '300']), 5000);
  const node = await rateLimitScenario('maxrl-node', (n) => startNodeConformance(n, { maximumRateLimitDelay: 300 }), 5000);
  for (const [who, r] of [['bullmq-worker', native], ['node', node]]) {
    assert.ok(r.waitedMs < 2500, `${who}: claimed again ${r.waitedMs} ms after the add, not after the 5000 ms limit`);
    assert.ok(r.ttlAtEnd > 2000, `${who}: the queue was still rate limited (${r.ttlAtEnd} ms left)`);
  }
});

// ---------------------------------------------------------------------------
// move_to_wait

async function moveToWaitScenario(tag, start) {
  const name = s.queueName(tag);
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['waiting', 'active', 'failed']);
  await start(name);
  const job = await queue.add('move-to-wait', { keep: 1 }, { attempts: 1 });
  assert.deepEqual(await job.waitUntilFinished(qe, 10000), { waited: true });
  await waitFor(() => seen.of('waiting', job.id).some((e) => e.prev === 'active'), { what: 'waiting event from active' });
  const done = await Job.fromId(queue, job.id);
  assert.equal(seen.of('failed', job.id).length, 0);
  return { attemptsMade: done.attemptsMade, attemptsStarted: done.attemptsStarted, data: done.data };
}

test('move_to_wait: waiting event from active, no attempt spent, runs again (as Node)', async () => {
  const native = await moveToWaitScenario('mtw', startNative());
  const node = await moveToWaitScenario('mtw-node', startNodeConformance);
  assert.deepEqual(native, { attemptsMade: 1, attemptsStarted: 2, data: { keep: 1, done: true } });
  assert.deepEqual(native, node);
});

// ---------------------------------------------------------------------------
// add_job as a child, dependencies

// What Node reads of the children a parent added, ids and queue names left out.
async function childrenOf(queue, parent) {
  const deps = await parent.getDependencies();
  assert.equal(deps.unprocessed.length, 0);
  const children = [];
  for (const [key, value] of Object.entries(deps.processed)) {
    const id = key.split(':').pop();
    const child = await Job.fromId(queue, id);
    assert.equal(child.parentKey, `bull:${queue.name}:${parent.id}`);
    assert.deepEqual(child.parent, { id: parent.id, queueKey: `bull:${queue.name}` });
    assert.deepEqual(child.opts.parent, { id: parent.id, queue: `bull:${queue.name}` });
    assert.deepEqual(value, child.data, 'the parent holds the child\'s return value');
    const { parent: _p, ...opts } = child.opts;
    children.push({ name: child.name, data: child.data, opts, attemptsMade: child.attemptsMade });
  }
  return children.sort((a, b) => a.data.value - b.data.value);
}

async function spawnScenario(tag, start) {
  const name = s.queueName(tag);
  const queue = s.queue(name);
  const qe = await s.events(name);
  await start(name);
  const parent = await queue.add('spawn-children', { count: 3 });
  assert.deepEqual(await parent.waitUntilFinished(qe, 15000), { sum: 6 });
  const done = await Job.fromId(queue, parent.id);
  return { parent: { data: done.data, attemptsMade: done.attemptsMade }, children: await childrenOf(queue, done) };
}

test('add_job as a child: children created with the parent link Node sets, parent waits for them and sums them (as Node)', async () => {
  const native = await spawnScenario('spawn', startNative(['--concurrency', '2']));
  const node = await spawnScenario('spawn-node', (n) => startNodeConformance(n, { concurrency: 2 }));
  assert.deepEqual(native.children.map((c) => c.data), [{ value: 1 }, { value: 2 }, { value: 3 }]);
  assert.deepEqual(native.parent, { data: { count: 3, step: 'waiting' }, attemptsMade: 1 });
  assert.deepEqual(native, node);
});

test('add-job: a job added from a processor is stored exactly as Node\'s Queue.add stores it (options, state, deduplication)', async () => {
  const name = s.queueName('addjob');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const nativeTarget = s.queueName('added'); // no worker: the added jobs stay as stored
  const nodeTarget = s.queueName('added-node');
  const nativeQueue = s.queue(nativeTarget);
  const nodeQueue = s.queue(nodeTarget);
  const client = s.client();
  await s.readyWorker(name);
  const cases = [
    [{ plain: true }, {}],
    [{ custom: 1 }, { jobId: 'custom-a', delay: 400, priority: 3, attempts: 4, backoff: 250, removeOnComplete: 5, keepLogs: 10 }],
    [{ prioritized: 'yes' }, { priority: 7, deduplication: { id: 'dd-1', ttl: 5000 }, removeOnFail: { count: 3 } }],
    [{ again: [1, 2] }, { deduplication: { id: 'dd-1', ttl: 5000 } }], // deduplicated: the first one's id
    [{ exp: null }, { attempts: 2, backoff: { type: 'exponential', delay: 10, jitter: 0.5 }, lifo: true, stackTraceLimit: 2 }],
  ];
  const ids = [];
  for (const [data, opts] of cases) {
    const adder = await queue.add('add-job', { queue: nativeTarget, data, opts });
    const { id } = await adder.waitUntilFinished(qe, 10000);
    const expected = await nodeQueue.add('echo', data, opts);
    assert.equal(id, expected.id, `id for ${JSON.stringify(opts)}`);
    ids.push(id);
  }
  // Every add takes a number from the queue's counter, custom ids and deduplicated ones too.
  assert.deepEqual(ids, ['1', 'custom-a', '3', '3', '5']);
  const stored = async (queueName, id) => {
    const { timestamp, opts, ...fields } = await client.hgetall(`bull:${queueName}:${id}`);
    assert.ok(Math.abs(Number(timestamp) - Date.now()) < 60000, `timestamp ${timestamp}`);
    return { ...fields, opts: JSON.parse(opts) };
  };
  for (const id of new Set(ids)) {
    assert.deepEqual(await stored(nativeTarget, id), await stored(nodeTarget, id), `job ${id}`);
    assert.equal(await nativeQueue.getJobState(id), await nodeQueue.getJobState(id), `state of job ${id}`);
  }
  assert.equal(await client.get(`bull:${nativeTarget}:de:dd-1`), '3');
  assert.deepEqual(await nativeQueue.getJobCounts(), await nodeQueue.getJobCounts());

  const bad = await queue.add('add-job', { queue: nativeTarget, opts: { jobId: '42' } });
  await assert.rejects(bad.waitUntilFinished(qe, 10000), /cannot add job 'echo': Custom Id cannot be integers/);
});

test('dependencies: counts and child keys match Node\'s getDependenciesCount / getDependencies', async () => {
  const name = s.queueName('deps');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name);
  const tree = await s.flowProducer().add({
    name: 'dependencies', queueName: name, data: { keys: true },
    children: [
      { name: 'echo', queueName: name, data: { value: 1 } },
      { name: 'echo', queueName: name, data: { value: 2 } },
      { name: 'fail', queueName: name, data: { message: 'ignored one' }, opts: { ignoreDependencyOnFailure: true } },
    ],
  });
  const result = await tree.job.waitUntilFinished(qe, 15000);
  const parent = await Job.fromId(queue, tree.job.id);
  const counts = await parent.getDependenciesCount();
  const deps = await parent.getDependencies();
  assert.deepEqual(
    { processed: result.processed, unprocessed: result.unprocessed, failed: result.failed, ignored: result.ignored },
    { processed: 2, unprocessed: 0, failed: 0, ignored: 1 });
  assert.deepEqual({ processed: result.processed, unprocessed: result.unprocessed, failed: result.failed, ignored: result.ignored },
    counts);
  assert.deepEqual(result.children, {
    processed: Object.keys(deps.processed).sort(),
    unprocessed: [...deps.unprocessed].sort(),
    failed: [...deps.failed].sort(),
    ignored: Object.keys(deps.ignored).sort(),
  });
});

test('continue-parent: a continueParentOnFailure child starts the parent, which removes its unprocessed children', async () => {
  const name = s.queueName('cpof');
  const idle = `${name}-idle`; // no worker: its children stay unprocessed
  const queue = s.queue(name);
  const idleQueue = s.queue(idle);
  const qe = await s.events(name);
  await s.readyWorker(name);
  const tree = await s.flowProducer().add({
    name: 'continue-parent', queueName: name, data: {},
    children: [
      { name: 'fail', queueName: name, data: { message: 'child broke' }, opts: { continueParentOnFailure: true } },
      { name: 'echo', queueName: idle, data: { value: 1 } },
      { name: 'echo', queueName: idle, data: { value: 2 } },
    ],
  });
  const idleIds = tree.children.filter((c) => c.job.queueName === idle).map((c) => c.job.id);
  assert.deepEqual(await tree.job.waitUntilFinished(qe, 15000), { failed: 1 });
  for (const id of idleIds) assert.equal(await Job.fromId(idleQueue, id), undefined, `unprocessed child ${id} removed`);
  const parent = await Job.fromId(queue, tree.job.id);
  const deps = await parent.getDependencies();
  assert.deepEqual(deps.unprocessed, []);
  assert.deepEqual(Object.values(deps.ignored), ['child broke']);
});

// ---------------------------------------------------------------------------
// progress, inline processors, custom backoff

test('update_progress takes any JSON value: arrays, strings and booleans arrive as progress events', async () => {
  const name = s.queueName('progress-any');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['progress']);
  await s.readyWorker(name);
  const steps = [[1, 2, 3], 'half', true, { nested: [1, { a: 'b' }] }, [{ x: 1 }]];
  const job = await queue.add('progress', { steps, intervalMs: 10 });
  assert.deepEqual(await job.waitUntilFinished(qe, 10000), { steps: steps.length });
  await waitFor(() => seen.of('progress', job.id).length === steps.length, { what: 'progress events' });
  assert.deepEqual(seen.of('progress', job.id).map((e) => e.data), steps);
  assert.deepEqual((await Job.fromId(queue, job.id)).progress, [{ x: 1 }]);
});

test('an inline processor calling its context fails unrecoverably with a message that says why; the worker goes on', async () => {
  const name = s.queueName('inline');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name);
  const job = await queue.add('inline-context', {}, { attempts: 3 });
  await assert.rejects(job.waitUntilFinished(qe, 10000), /runs inline.*runs_inline\(\)/);
  const failed = await Job.fromId(queue, job.id);
  assert.equal(failed.attemptsMade, 1, 'unrecoverable: no retry');
  assert.match(failed.stacktrace[0], /^UnrecoverableError: processor 'inline-context' runs inline/);
  const next = await queue.add('echo', { after: true });
  assert.deepEqual(await next.waitUntilFinished(qe, 10000), { after: true });
});

async function backoffScenario(tag, start) {
  const name = s.queueName(tag);
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['delayed']);
  await start(name);
  const job = await queue.add('fail', { message: 'again' }, { attempts: 3, backoff: { type: 'conformance-linear' } });
  await assert.rejects(job.waitUntilFinished(qe, 10000), /again/);
  await waitFor(() => seen.of('delayed', job.id).length === 2, { what: 'two delayed events' });
  const failed = await Job.fromId(queue, job.id);
  assert.equal(failed.attemptsMade, 3);
  // Each retry is due `delay` after it was scheduled (the event's stream id time).
  return seen.of('delayed', job.id).map((e) => Number(e.delay) - Number(String(e.id).split('-')[0]));
}

test('custom backoff conformance-linear: retries wait attemptsMade x 100 ms (as Node\'s settings.backoffStrategy)', async () => {
  const native = await backoffScenario('backoff', startNative());
  const node = await backoffScenario('backoff-node', startNodeConformance);
  for (const [who, delays] of [['bullmq-worker', native], ['node', node]]) {
    assert.equal(delays.length, 2, who);
    // The due time counts from the worker's clock, the stream id from Redis's a
    // few ms later: allow for that gap.
    assert.ok(delays[0] >= 75 && delays[0] <= 130, `${who}: first retry due ${delays[0]} ms later`);
    assert.ok(delays[1] >= 175 && delays[1] <= 230, `${who}: second retry due ${delays[1]} ms later`);
    assert.ok(delays[1] - delays[0] >= 60, `${who}: the second retry waits longer (${delays})`);
  }
});

// ---------------------------------------------------------------------------
// flags

test('--print-config shows --skip-stalled-check, --skip-lock-renewal, --maximum-rate-limit-delay and their env twins', async () => {
  const base = ['run', '--queue', 'q', '--processors', 'conformance', '--redis', 'redis://127.0.0.1:6390'];
  const defaults = JSON.parse((await runBinary([...base, '--print-config'])).stdout);
  assert.equal(defaults.skip_stalled_check, false);
  assert.equal(defaults.skip_lock_renewal, false);
  assert.equal(defaults.maximum_rate_limit_delay_ms, 30000);
  const flags = JSON.parse((await runBinary([...base, '--skip-stalled-check', '--skip-lock-renewal',
    '--maximum-rate-limit-delay', '750', '--print-config'])).stdout);
  assert.equal(flags.skip_stalled_check, true);
  assert.equal(flags.skip_lock_renewal, true);
  assert.equal(flags.maximum_rate_limit_delay_ms, 750);
  const env = JSON.parse((await runBinary([...base, '--print-config'], {
    env: { BULLMQ_SKIP_STALLED_CHECK: 'true', BULLMQ_SKIP_LOCK_RENEWAL: '1', BULLMQ_MAXIMUM_RATE_LIMIT_DELAY: '1200' },
  })).stdout);
  assert.equal(env.skip_stalled_check, true);
  assert.equal(env.skip_lock_renewal, true);
  assert.equal(env.maximum_rate_limit_delay_ms, 1200);
  const bad = await runBinary([...base, '--maximum-rate-limit-delay', '0', '--print-config']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /maximum-rate-limit-delay/);
});

test('--skip-stalled-check: a job left active without a lock is not recovered; a worker without the flag recovers it', async () => {
  const name = s.queueName('skipstalled');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const client = s.client();
  const job = await queue.add('echo', { lost: true });
  // A worker that claimed the job and died: active, no lock.
  assert.equal(await client.rpoplpush(`bull:${name}:wait`, `bull:${name}:active`), job.id);
  const skipping = await s.readyWorker(name, ['--skip-stalled-check', '--stalled-interval', '200']);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // several stalled intervals
  assert.equal(await queue.getJobState(job.id), 'active', 'nobody moved the stalled job');
  assert.equal(await client.exists(`bull:${name}:stalled-check`), 0, 'no stalled check ran');
  assert.equal(skipping.events('job.stalled').length, 0);
  const checking = await s.readyWorker(name, ['--stalled-interval', '200']);
  assert.deepEqual(await job.waitUntilFinished(qe, 10000), { lost: true });
  await checking.waitForLog('job.stalled', (l) => l.job_id === job.id); // recovered by the worker that checks
  assert.equal(skipping.events('job.stalled').length, 0);
});

test('--skip-lock-renewal: the lock of a long job expires and its result is refused; without it the lock is renewed', async () => {
  const name = s.queueName('skiplock');
  const queue = s.queue(name);
  const client = s.client();
  const skipping = await s.readyWorker(name, ['--skip-lock-renewal', '--skip-stalled-check', '--lock-duration', '600']);
  const job = await queue.add('sleep', { ms: 1500 });
  const lockKey = `bull:${name}:${job.id}:lock`;
  await waitFor(async () => (await client.exists(lockKey)) === 1, { what: 'job locked' });
  await waitFor(async () => (await client.exists(lockKey)) === 0, { timeout: 1400, what: 'lock expired while the job runs' });
  assert.equal(await queue.getJobState(job.id), 'active');
  const rejected = await skipping.waitForLog('job.outcome_rejected', (l) => l.job_id === job.id, 5000);
  assert.match(rejected.msg ?? rejected.message ?? JSON.stringify(rejected), /Missing lock/);
  await skipping.stop();

  // Control: the same job with renewal keeps its lock past the lock duration.
  const name2 = s.queueName('renewlock');
  const queue2 = s.queue(name2);
  const qe2 = await s.events(name2);
  await s.readyWorker(name2, ['--lock-duration', '600']);
  const job2 = await queue2.add('sleep', { ms: 1500 });
  const lockKey2 = `bull:${name2}:${job2.id}:lock`;
  await waitFor(async () => (await client.exists(lockKey2)) === 1, { what: 'job locked' });
  const started = Date.now();
  while (Date.now() - started < 1000) {
    assert.equal(await client.exists(lockKey2), 1, 'lock renewed while the job runs');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.deepEqual(await job2.waitUntilFinished(qe2, 10000), { slept: 1500 });
});

// ---------------------------------------------------------------------------
// bullmq v5 producers

test('a v5 producer: rate-limit, move-to-wait and spawn-children jobs behave the same, read back with v5', async () => {
  const name = s.queueName('v5-api');
  const queue = new Queue5(name, { connection: s.connection });
  const qe = new QueueEvents5(name, { connection: s.connection });
  try {
    await queue.waitUntilReady();
    await qe.waitUntilReady();
    await untilListening(s.client(), name);
    await s.readyWorker(name, ['--concurrency', '2']);
    const limited = await queue.add('rate-limit', { ms: 400 }, { attempts: 1 });
    const moved = await queue.add('move-to-wait', {}, { attempts: 1 });
    const parent = await queue.add('spawn-children', { count: 4 });
    assert.deepEqual(await limited.waitUntilFinished(qe, 15000), { rateLimited: true });
    assert.deepEqual(await moved.waitUntilFinished(qe, 15000), { waited: true });
    assert.deepEqual(await parent.waitUntilFinished(qe, 15000), { sum: 10 });
    for (const job of [limited, moved]) {
      const done = await Job5.fromId(queue, job.id);
      assert.equal(done.attemptsMade, 1, `${job.name}: no attempt spent before the last run`);
      assert.equal(done.attemptsStarted, 2, job.name);
    }
    const deps = await (await Job5.fromId(queue, parent.id)).getDependencies();
    assert.deepEqual(Object.values(deps.processed).map((v) => v.value).sort(), [1, 2, 3, 4]);
    for (const key of Object.keys(deps.processed)) {
      const child = await Job5.fromId(queue, key.split(':').pop());
      assert.equal(child.parentKey, `bull:${name}:${parent.id}`);
    }
  } finally {
    await qe.close();
    await queue.close();
  }
});
