// What a processor does to its job, seen from Node: progress events, job logs
// (keepLogs), moving itself back to delayed, and updating its data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setupSuite, recordEvents, Job } from './lib/fixtures.mjs';
import { waitFor } from './lib/harness.mjs';

const s = await setupSuite();

test('progress numbers and objects arrive in order as QueueEvents progress', async () => {
  const name = s.queueName('progress');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['progress']);
  await s.readyWorker(name);
  const steps = [5, { stage: 'parse', pct: 40, tags: ['a', 'b'] }, 70.5, { stage: 'done', pct: 100 }];
  const job = await queue.add('progress', { steps, intervalMs: 20 });
  assert.deepEqual(await job.waitUntilFinished(qe, 10000), { steps: 4 });
  await waitFor(() => seen.of('progress', job.id).length === 4, { what: '4 progress events' });
  assert.deepEqual(seen.of('progress', job.id).map((e) => e.data), steps);
  const done = await Job.fromId(queue, job.id);
  assert.deepEqual(done.progress, { stage: 'done', pct: 100 });
});

test('log lines are readable through Queue.getJobLogs, honouring keepLogs', async () => {
  const name = s.queueName('logs');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name);
  const lines = ['first line', 'second: with "quotes"', 'third ünïcode', 'fourth'];
  const all = await queue.add('log', { lines });
  const kept = await queue.add('log', { lines }, { keepLogs: 2 });
  assert.deepEqual(await all.waitUntilFinished(qe, 10000), { logged: 4 });
  assert.deepEqual(await kept.waitUntilFinished(qe, 10000), { logged: 4 });
  assert.deepEqual(await queue.getJobLogs(all.id), { logs: lines, count: 4 });
  assert.deepEqual(await queue.getJobLogs(kept.id), { logs: lines.slice(2), count: 2 });
});

test('delay processor: delayed event, no attempt counted, data updated, resumes with {resumed:true}', async () => {
  const name = s.queueName('delay');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['active', 'delayed', 'failed', 'completed']);
  await s.readyWorker(name);
  const job = await queue.add('delay', { ms: 600, keep: 'me' }, { attempts: 1 });

  const delayed = await waitFor(() => seen.of('delayed', job.id)[0], { what: 'delayed event' });
  const dueMs = Number(delayed.delay);
  const scheduledAt = Number(String(delayed.id).split('-')[0]);
  assert.ok(dueMs - scheduledAt >= 500 && dueMs - scheduledAt <= 615, `due ${dueMs - scheduledAt} ms later`);
  const parked = await Job.fromId(queue, job.id);
  assert.equal(await parked.getState(), 'delayed');
  assert.equal(parked.attemptsMade, 0, 'moving to delayed is not a failed attempt');
  assert.deepEqual(parked.data, { ms: 600, keep: 'me', step: 'done' }, 'updateData is visible');

  assert.deepEqual(await job.waitUntilFinished(qe, 10000), { resumed: true });
  const done = await Job.fromId(queue, job.id);
  assert.equal(done.attemptsMade, 1);
  assert.ok(done.processedOn >= dueMs - 5, `resumed at ${done.processedOn}, due ${dueMs}`);
  assert.equal(seen.of('active', job.id).length, 2);
  assert.equal(seen.of('failed', job.id).length, 0);
  assert.equal(done.failedReason, undefined);
});
