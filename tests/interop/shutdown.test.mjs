// Stopping: SIGTERM stops claiming and lets the running job finish; with
// --shutdown-timeout the running job is handed back to wait at the deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { setupSuite, recordEvents, within, waitForReady, Job } from './lib/fixtures.mjs';
import { waitFor, RedisServer } from './lib/harness.mjs';

const s = await setupSuite();

test('SIGTERM: no new claims, the running job completes, exit code 0', async () => {
  const name = s.queueName('term');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['completed', 'active']);
  const worker = await s.readyWorker(name, ['--drain-delay', '0.2']);
  const running = await queue.add('sleep', { ms: 800 });
  await worker.waitForLog('job.active', (l) => l.job_id === running.id);

  worker.kill('SIGTERM');
  await worker.waitForLog('worker.closing');
  const late = await queue.add('echo', { late: true });
  const exit = await within(worker.exited, 5000);
  assert.deepEqual(exit, { code: 0, signal: null });

  const done = await Job.fromId(queue, running.id);
  assert.equal(await done.getState(), 'completed');
  assert.deepEqual(done.returnvalue, { slept: 800 });
  await waitFor(() => seen.of('completed', running.id).length === 1, { what: 'completed event' });
  assert.equal(await queue.getJobState(late.id), 'waiting', 'a job added after SIGTERM is not claimed');
  assert.equal(seen.of('active', late.id).length, 0);
  assert.equal(await queue.getActiveCount(), 0);
});

test('SIGINT on an idle worker exits 0 promptly', async () => {
  const name = s.queueName('int');
  const worker = await s.readyWorker(name); // default drain delay: 5 s BZPOPMIN in flight
  const t0 = Date.now();
  worker.kill('SIGINT');
  const exit = await within(worker.exited, 5000);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(Date.now() - t0 < 2000, `exit took ${Date.now() - t0} ms`);
});

test('--shutdown-timeout: a long job is handed back to wait at the deadline and the process exits 0', async () => {
  const name = s.queueName('deadline');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['failed', 'waiting', 'completed']);
  const worker = await s.readyWorker(name, ['--shutdown-timeout', '300']);
  const job = await queue.add('sleep', { ms: 30000 });
  await worker.waitForLog('job.active', (l) => l.job_id === job.id);

  const t0 = Date.now();
  worker.kill('SIGTERM');
  const exit = await within(worker.exited, 10000);
  const took = Date.now() - t0;
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(took >= 250 && took < 3000, `exited ${took} ms after SIGTERM`);

  assert.equal(await queue.getJobState(job.id), 'waiting', 'handed back to wait');
  const back = await Job.fromId(queue, job.id);
  assert.equal(back.attemptsMade, 0, 'not a failed attempt');
  assert.equal(back.failedReason, undefined);
  const client = s.client();
  assert.equal(await client.exists(`bull:${name}:${job.id}:lock`), 0, 'lock released');
  await waitFor(() => seen.of('waiting', job.id).some((e) => e.prev === 'active'), { what: 'waiting event' });
  assert.equal(seen.of('failed', job.id).length, 0);
  await worker.waitForLog('job.handed_back', (l) => l.job_id === job.id);

  // Another worker can take it at once (no waiting for stall detection).
  await back.updateData({ ms: 20 });
  await s.readyWorker(name);
  assert.deepEqual(await job.waitUntilFinished(qe, 5000), { slept: 20 });
});

test('a second SIGTERM hands running jobs back at once; exit code 0', async () => {
  const name = s.queueName('twice');
  const queue = s.queue(name);
  const worker = await s.readyWorker(name, ['--concurrency', '2']);
  const jobs = [await queue.add('sleep', { ms: 30000 }), await queue.add('sleep', { ms: 30000 })];
  for (const j of jobs) await worker.waitForLog('job.active', (l) => l.job_id === j.id);
  worker.kill('SIGTERM');
  await worker.waitForLog('worker.closing');
  worker.kill('SIGTERM');
  assert.deepEqual(await within(worker.exited, 5000), { code: 0, signal: null });
  for (const j of jobs) assert.equal(await queue.getJobState(j.id), 'waiting');
});

test('--shutdown-timeout longer than the running job: the job completes normally', async () => {
  const name = s.queueName('shortjob');
  const queue = s.queue(name);
  const worker = await s.readyWorker(name, ['--shutdown-timeout', '5000', '--concurrency', '3']);
  const jobs = await queue.addBulk([200, 300, 400].map((ms) => ({ name: 'sleep', data: { ms } })));
  for (const j of jobs) await worker.waitForLog('job.active', (l) => l.job_id === j.id);
  const t0 = Date.now();
  worker.kill('SIGTERM');
  assert.deepEqual(await within(worker.exited, 5000), { code: 0, signal: null });
  assert.ok(Date.now() - t0 < 2000, `exit took ${Date.now() - t0} ms`);
  for (const j of jobs) assert.equal(await queue.getJobState(j.id), 'completed');
  assert.equal(worker.events('job.handed_back').length, 0);
});

test('SIGTERM while Redis is down: an idle worker exits 0 promptly', async () => {
  const own = await RedisServer.start();
  try {
    const name = s.queueName('downterm');
    const worker = s.workerWith(['run', '--queue', name, '--redis', own.url, '--processors', 'conformance']);
    await waitForReady(worker);
    await own.stop();
    await worker.waitForLog('redis.connection_lost');
    const t0 = Date.now();
    worker.kill('SIGTERM');
    assert.deepEqual(await within(worker.exited, 8000), { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 3000, `exit took ${Date.now() - t0} ms`);
  } finally {
    await own.destroy();
  }
});

test('SIGTERM while Redis is down with a job running and --shutdown-timeout: exits 0 after the deadline', async () => {
  const own = await RedisServer.start();
  try {
    const name = s.queueName('downdeadline');
    const queue = s.own(new Queue(name, { connection: { host: '127.0.0.1', port: own.port } }));
    const worker = s.workerWith(['run', '--queue', name, '--redis', own.url, '--processors', 'conformance',
      '--shutdown-timeout', '500']);
    await waitForReady(worker);
    const job = await queue.add('sleep', { ms: 30000 });
    await worker.waitForLog('job.active', (l) => l.job_id === job.id);
    await queue.close();
    await own.stop();
    await worker.waitForLog('redis.connection_lost');
    const t0 = Date.now();
    worker.kill('SIGTERM');
    assert.deepEqual(await within(worker.exited, 8000), { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 4000, `exit took ${Date.now() - t0} ms`);
  } finally {
    await own.destroy();
  }
});

test('a second SIGTERM while Redis is down and a result is pending: exits 0 at once', async () => {
  const own = await RedisServer.start();
  try {
    const name = s.queueName('downtwice');
    const queue = s.own(new Queue(name, { connection: { host: '127.0.0.1', port: own.port } }));
    const worker = s.workerWith(['run', '--queue', name, '--redis', own.url, '--processors', 'conformance']);
    await waitForReady(worker);
    const job = await queue.add('sleep', { ms: 300 });
    await worker.waitForLog('job.active', (l) => l.job_id === job.id);
    await queue.close();
    await own.stop();
    worker.kill('SIGTERM');
    // The job ends but its result cannot reach Redis: the worker waits for it...
    await new Promise((r) => setTimeout(r, 500)); // (proving a hang needs a wait: the job ended at 300 ms)
    assert.equal(worker.process.exitCode, null, 'still waiting to record the result');
    // ...until told a second time to stop.
    const t0 = Date.now();
    worker.kill('SIGTERM');
    assert.deepEqual(await within(worker.exited, 8000), { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 2000, `exit took ${Date.now() - t0} ms`);
  } finally {
    await own.destroy();
  }
});

test('--shutdown-timeout while Redis is down and a finished job\'s result is pending: exits 0 after the deadline', async () => {
  const own = await RedisServer.start();
  try {
    const name = s.queueName('downpending');
    const queue = s.own(new Queue(name, { connection: { host: '127.0.0.1', port: own.port } }));
    const worker = s.workerWith(['run', '--queue', name, '--redis', own.url, '--processors', 'conformance',
      '--shutdown-timeout', '800']);
    await waitForReady(worker);
    const job = await queue.add('sleep', { ms: 200 });
    await worker.waitForLog('job.active', (l) => l.job_id === job.id);
    await queue.close();
    await own.stop();
    const t0 = Date.now();
    worker.kill('SIGTERM');
    // The job ends before the deadline, but its result cannot be recorded.
    assert.deepEqual(await within(worker.exited, 8000), { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 3000, `exit took ${Date.now() - t0} ms`);
    assert.ok(worker.events('job.finish_failed').some((l) => l.job_id === job.id), 'the lost result is logged');
  } finally {
    await own.destroy();
  }
});
