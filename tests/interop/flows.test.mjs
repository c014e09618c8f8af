// Flows from Node's FlowProducer: a parent sums its children's results; a
// child failing with failParentOnFailure fails the parent without running it;
// with ignoreDependencyOnFailure the parent still runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setupSuite, recordEvents, Job } from './lib/fixtures.mjs';
import { waitFor } from './lib/harness.mjs';

const s = await setupSuite();

test('sum-children parent returns the sum of its echo children', async () => {
  const name = s.queueName('flow');
  const qe = await s.events(name);
  const flow = s.flowProducer();
  await s.readyWorker(name, ['--concurrency', '3']);
  const tree = await flow.add({
    name: 'sum-children', queueName: name, data: {},
    children: [1, 2, 3, 4.5].map((value) => ({ name: 'echo', queueName: name, data: { value } })),
  });
  assert.deepEqual(await tree.job.waitUntilFinished(qe, 10000), { sum: 10.5 });
  const queue = s.queue(name);
  const parent = await Job.fromId(queue, tree.job.id);
  assert.equal(await parent.getState(), 'completed');
  const values = Object.values(await parent.getChildrenValues()).map((v) => v.value).sort();
  assert.deepEqual(values, [1, 2, 3, 4.5]);
  for (const child of tree.children) assert.equal(await child.job.getState(), 'completed');
});

test('children in another queue: the parent waits for them and sums them', async () => {
  const parentQ = s.queueName('flowp');
  const childQ = s.queueName('flowc');
  const qe = await s.events(parentQ);
  const flow = s.flowProducer();
  await s.readyWorker(parentQ);
  await s.readyWorker(childQ);
  const tree = await flow.add({
    name: 'sum-children', queueName: parentQ, data: {},
    children: [10, 20].map((value) => ({ name: 'sleep', queueName: childQ, data: { ms: 50, value } })),
  });
  // sleep returns {slept}, not {value}: the sum only counts `value` fields.
  assert.deepEqual(await tree.job.waitUntilFinished(qe, 10000), { sum: 0 });
  const tree2 = await flow.add({
    name: 'sum-children', queueName: parentQ, data: {},
    children: [10, 20].map((value) => ({ name: 'echo', queueName: childQ, data: { value } })),
  });
  assert.deepEqual(await tree2.job.waitUntilFinished(qe, 10000), { sum: 30 });
});

test('a child failing with failParentOnFailure fails the parent without running it', async () => {
  const name = s.queueName('fpof');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['active', 'failed', 'completed']);
  const flow = s.flowProducer();
  const worker = await s.readyWorker(name, ['--concurrency', '2']);
  const tree = await flow.add({
    name: 'sum-children', queueName: name, data: {},
    children: [
      { name: 'echo', queueName: name, data: { value: 1 } },
      { name: 'fail', queueName: name, data: { message: 'child broke' }, opts: { failParentOnFailure: true } },
    ],
  });
  const failedChild = tree.children.find((c) => c.job.name === 'fail').job;
  await assert.rejects(tree.job.waitUntilFinished(qe, 10000));
  const parent = await Job.fromId(queue, tree.job.id);
  assert.equal(await parent.getState(), 'failed');
  assert.equal(parent.failedReason, `child bull:${name}:${failedChild.id} failed`);
  assert.equal(parent.attemptsMade, 1);
  assert.equal(seen.of('completed', tree.job.id).length, 0);
  assert.equal(seen.of('failed', failedChild.id)[0].failedReason, 'child broke');
  // The deferred failure is applied at claim time, not by the processor.
  const failLog = await worker.waitForLog('job.failed', (l) => l.job_id === tree.job.id);
  assert.equal(failLog.unrecoverable, true);
  assert.equal(failLog.error, parent.failedReason);
});

test('an ignoreDependencyOnFailure child failure: the parent still runs', async () => {
  const name = s.queueName('idof');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const flow = s.flowProducer();
  await s.readyWorker(name, ['--concurrency', '2']);
  const tree = await flow.add({
    name: 'sum-children', queueName: name, data: {},
    children: [
      { name: 'echo', queueName: name, data: { value: 7 } },
      { name: 'fail', queueName: name, data: { message: 'ignored' }, opts: { ignoreDependencyOnFailure: true } },
    ],
  });
  assert.deepEqual(await tree.job.waitUntilFinished(qe, 10000), { sum: 7 });
  const parent = await Job.fromId(queue, tree.job.id);
  const ignored = await parent.getIgnoredChildrenFailures();
  const failedChild = tree.children.find((c) => c.job.name === 'fail').job;
  assert.deepEqual(ignored, { [`bull:${name}:${failedChild.id}`]: 'ignored' });
});
