// bullmq 5.x producers: their jobs complete, and the worker warns once that
// the queue's meta version is another major version than its scripts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue as Queue5, QueueEvents as QueueEvents5, FlowProducer as FlowProducer5, Job as Job5 } from 'bullmq5';
import { setupSuite, untilListening } from './lib/fixtures.mjs';
import { waitFor } from './lib/harness.mjs';

const s = await setupSuite();

test('a v5 producer feeds the worker: standard, delayed, prioritized, lifo, retried jobs and a flow complete; version warning once', async () => {
  const name = s.queueName('v5');
  const queue = new Queue5(name, { connection: s.connection });
  const qe = new QueueEvents5(name, { connection: s.connection });
  const flow = new FlowProducer5({ connection: s.connection });
  try {
    await queue.waitUntilReady();
    await qe.waitUntilReady();
    await untilListening(s.client(), name);
    const client = s.client();
    await waitFor(async () => (await client.hget(`bull:${name}:meta`, 'version'))?.startsWith('bullmq:5.'), {
      what: 'v5 meta version',
    });
    const worker = await s.readyWorker(name, ['--concurrency', '3', '--drain-delay', '0.5']);

    const standard = await queue.add('echo', { kind: 'standard' });
    const delayed = await queue.add('echo', { kind: 'delayed' }, { delay: 300 });
    const prioritized = await queue.add('echo', { kind: 'prioritized' }, { priority: 2 });
    const lifo = await queue.add('echo', { kind: 'lifo' }, { lifo: true });
    const retried = await queue.add('flaky', { succeedOnAttempt: 2 }, { attempts: 3, backoff: { type: 'exponential', delay: 100 } });
    const removed = await queue.add('echo', { kind: 'removed' }, { removeOnComplete: true });
    const tree = await flow.add({
      name: 'sum-children', queueName: name, data: {},
      children: [1, 2, 3].map((value) => ({ name: 'echo', queueName: name, data: { value } })),
    });

    for (const job of [standard, delayed, prioritized, lifo]) {
      assert.deepEqual(await job.waitUntilFinished(qe, 10000), job.data);
    }
    assert.deepEqual(await retried.waitUntilFinished(qe, 10000), { attempt: 2 });
    assert.deepEqual(await tree.job.waitUntilFinished(qe, 10000), { sum: 6 });
    await waitFor(async () => !(await client.exists(`bull:${name}:${removed.id}`)), { what: 'removed job gone' });

    const d = await Job5.fromId(queue, delayed.id);
    assert.ok(d.processedOn - d.timestamp >= 300, 'delay honoured');
    const r = await Job5.fromId(queue, retried.id);
    assert.equal(r.attemptsMade, 2);
    assert.equal(r.failedReason, 'flaky attempt 1');

    const warnings = worker.events('queue.version_mismatch');
    assert.equal(warnings.length, 1, 'warned exactly once');
    assert.equal(warnings[0].producer_version, 'bullmq:5.81.5');
  } finally {
    await flow.close();
    await qe.close();
    await queue.close();
  }
});

test('meta version bullmq:5.x written by hand: warned once; a v6 queue: no warning', async () => {
  const client = s.client();
  const old = s.queueName('meta5');
  await client.hset(`bull:${old}:meta`, 'version', 'bullmq:5.0.0');
  const w5 = await s.readyWorker(old);
  await w5.waitForLog('queue.version_mismatch');

  const current = s.queueName('meta6');
  const queue = s.queue(current);
  await queue.waitUntilReady();
  await waitFor(async () => (await client.hget(`bull:${current}:meta`, 'version')) === 'bullmq:6.7.0', { what: 'v6 meta' });
  const w6 = await s.readyWorker(current);
  const qe = await s.events(current);
  const job = await queue.add('echo', { v: 6 });
  await job.waitUntilFinished(qe, 10000);
  assert.equal(w6.events('queue.version_mismatch').length, 0, 'no warning for the same major version');
  assert.equal(w5.events('queue.version_mismatch').length, 1, 'still a single warning');
});

test('a worker started before the v5 producer wrote the meta still warns, once', async () => {
  const name = s.queueName('late5');
  const worker = await s.readyWorker(name, ['--drain-delay', '0.3']);
  const queue = new Queue5(name, { connection: s.connection });
  const qe = new QueueEvents5(name, { connection: s.connection });
  try {
    await qe.waitUntilReady();
    await untilListening(s.client(), name);
    const jobs = [];
    for (let i = 0; i < 3; i++) jobs.push(await queue.add('echo', { i }));
    for (const job of jobs) await job.waitUntilFinished(qe, 10000);
    const warning = await worker.waitForLog('queue.version_mismatch', () => true, 10000);
    assert.equal(warning.producer_version, 'bullmq:5.81.5');
    const more = await queue.add('echo', { more: true });
    await more.waitUntilFinished(qe, 10000);
    assert.equal(worker.events('queue.version_mismatch').length, 1, 'warned exactly once');
  } finally {
    await qe.close();
    await queue.close();
  }
});
