// Surviving a Redis restart, and sharing a queue with a Node Worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue, QueueEvents } from 'bullmq';
import { setupSuite, recordEvents, waitForReady, untilListening, Job } from './lib/fixtures.mjs';
import { waitFor, sleep } from './lib/harness.mjs';

const s = await setupSuite();

test('Redis restart mid-run: the worker reconnects and processes jobs added afterwards', async () => {
  const name = s.queueName('restart');
  const worker = await s.readyWorker(name, ['--drain-delay', '0.5']);
  {
    const queue = s.queue(name);
    const qe = await s.events(name);
    const job = await queue.add('echo', { before: true });
    assert.deepEqual(await job.waitUntilFinished(qe, 10000), { before: true });
    await qe.close(); // would not close once its server is gone
  }

  // A sleep job is running while the server goes away.
  const queue = s.queue(name);
  const running = await queue.add('sleep', { ms: 400 });
  await worker.waitForLog('job.active', (l) => l.job_id === running.id);
  await s.redis.restart(); // same port, empty data set

  for (const role of ['command', 'blocking']) {
    await worker.waitForLog('redis.connected', (l) => l.connection === role && l.reconnects >= 1, 15000);
  }
  assert.ok(worker.events('redis.connection_lost').length >= 1, 'the loss was logged');

  // New objects: the old QueueEvents would wait for stream ids of the lost data set.
  const queue2 = s.queue(name);
  const qe2 = await s.events(name);
  const jobs = await queue2.addBulk([1, 2, 3].map((n) => ({ name: 'echo', data: { after: n } })));
  for (const [i, job] of jobs.entries()) {
    assert.deepEqual(await job.waitUntilFinished(qe2, 15000), { after: i + 1 });
  }
  assert.equal(worker.process.exitCode, null, 'worker still running');
  await waitFor(async () => (await queue2.getWorkersCount()) === 1, { what: 'listed by getWorkers() again' });
  const fatal = worker.lines.filter((l) => l.level === 'fatal' || l.raw?.includes('terminate'));
  assert.deepEqual(fatal, []);
});

test('a Node Worker and bullmq-worker on one queue: every job processed exactly once', async () => {
  const name = s.queueName('shared');
  const queue = s.queue(name);
  const total = 300;
  const nodeSeen = new Map();
  const nodeWorker = s.nodeWorker(name, async (job) => {
    nodeSeen.set(job.id, (nodeSeen.get(job.id) ?? 0) + 1);
    return job.data;
  }, { concurrency: 5, name: 'node-worker' });
  await nodeWorker.waitUntilReady();
  const native = await s.readyWorker(name, ['--concurrency', '5', '--name', 'native-worker']);
  await waitFor(async () => (await queue.getWorkersCount()) === 2, { what: 'two workers listed' });

  const jobs = [];
  for (let i = 0; i < total; i += 50) {
    jobs.push(...(await queue.addBulk(Array.from({ length: 50 }, (_, k) => ({ name: 'echo', data: { i: i + k } })))));
  }
  await waitFor(async () => (await queue.getCompletedCount()) === total, { timeout: 30000, what: `${total} completed` });
  // The worker logs a completion just after Redis recorded it.
  await waitFor(() => nodeSeen.size + native.events('job.completed').length >= total, { what: 'all completions logged' });

  const nativeSeen = new Map();
  for (const l of native.events('job.completed')) nativeSeen.set(l.job_id, (nativeSeen.get(l.job_id) ?? 0) + 1);
  let byNode = 0;
  let byNative = 0;
  for (const job of jobs) {
    const n = nodeSeen.get(job.id) ?? 0;
    const m = nativeSeen.get(job.id) ?? 0;
    assert.equal(n + m, 1, `job ${job.id} processed ${n} times by Node and ${m} times by bullmq-worker`);
    const done = await Job.fromId(queue, job.id);
    assert.equal(done.processedBy, n ? 'node-worker' : 'native-worker', `job ${job.id} processedBy`);
    assert.equal(done.attemptsMade, 1);
    assert.deepEqual(done.returnvalue, job.data);
    byNode += n;
    byNative += m;
  }
  assert.ok(byNode > 0 && byNative > 0, `both workers took jobs (node ${byNode}, native ${byNative})`);
  assert.equal(await queue.getActiveCount(), 0);
  assert.equal(await queue.getFailedCount(), 0);
});

test('Redis connections killed mid-job (CLIENT KILL): the job still completes exactly once', async () => {
  const name = s.queueName('clientkill');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['completed', 'failed', 'stalled']);
  const admin = s.client();
  const worker = await s.readyWorker(name, ['--concurrency', '3', '--lock-duration', '2000', '--stalled-interval', '500']);
  const jobs = await queue.addBulk([1, 2, 3].map((n) => ({ name: 'sleep', data: { ms: 600, n } })));
  for (const j of jobs) await worker.waitForLog('job.active', (l) => l.job_id === j.id);
  // Drop every connection of the worker (both of them), keeping the data.
  // Not the QueueEvents reader: its XREAD cut mid-wait can miss the very
  // events this test counts (seen in a fresh-Debian run).
  const before = worker.events('redis.connected').length;
  const list = await admin.client('LIST');
  const self = await admin.client('ID');
  const victims = list.split('\n').filter(Boolean).map((line) => Object.fromEntries(line.split(' ').map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1)];
  }))).filter((c) => Number(c.id) !== self && !c.name.endsWith(':qe'));
  for (const c of victims) await admin.client('KILL', 'ID', c.id).catch(() => {});
  await waitFor(() => worker.events('redis.connected').length >= before + 2, { timeout: 10000, what: 'both connections back' });
  for (const j of jobs) assert.deepEqual(await j.waitUntilFinished(qe, 10000), { slept: 600 });
  const after = await queue.add('echo', { after: 'kill' });
  assert.deepEqual(await after.waitUntilFinished(qe, 10000), { after: 'kill' });
  for (const j of jobs) assert.equal(seen.of('completed', j.id).length, 1);
  assert.equal(seen.of('failed').length, 0);
  assert.equal(seen.of('stalled').length, 0);
});

test('Redis not yet running when the worker starts: it keeps retrying, then works', async () => {
  const { RedisServer, freePort } = await import('./lib/harness.mjs');
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const name = s.queueName('late-redis');
  const worker = s.workerWith(['run', '--queue', name, '--redis', url, '--processors', 'conformance']);
  await worker.waitForLog('redis.connect_failed');
  const late = await RedisServer.start({ port });
  try {
    await waitForReady(worker, 15000);
    const connection = { host: '127.0.0.1', port };
    const queue = s.own(new Queue(name, { connection }));
    const qe = s.own(new QueueEvents(name, { connection }));
    await qe.waitUntilReady();
    const lateClient = late.client();
    await untilListening(lateClient, name);
    lateClient.disconnect();
    const job = await queue.add('echo', { late: true });
    assert.deepEqual(await job.waitUntilFinished(qe, 10000), { late: true });
    assert.equal(worker.events('redis.connect_failed').length <= 2, true, 'each state change logged once per connection');
    await worker.stop();
    await qe.close();
    await queue.close();
  } finally {
    await late.destroy();
  }
});

test('a storm of dropped connections loses and duplicates no job', async () => {
  const name = s.queueName('storm');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['completed', 'failed']);
  const admin = s.client();
  const worker = await s.readyWorker(name, ['--concurrency', '10', '--lock-duration', '1000', '--stalled-interval', '300', '--drain-delay', '0.2']);
  const total = 400;
  for (let i = 0; i < total; i += 100) {
    await queue.addBulk(Array.from({ length: 100 }, (_, k) => ({ name: k % 2 ? 'sleep' : 'echo', data: { ms: 5, i: i + k } })));
  }
  for (let k = 0; k < 12; k++) {
    await sleep(50);
    await admin.client('KILL', 'SKIPME', 'yes', 'TYPE', 'normal').catch(() => {});
  }
  // Jobs claimed by a reply lost with its connection come back through the stalled check.
  await waitFor(async () => (await queue.getCompletedCount()) === total, { timeout: 30000, what: `${total} completed` });
  assert.equal(await queue.getFailedCount(), 0);
  await waitFor(() => seen.of('completed').length === total, { what: 'all completed events' });
  assert.equal(new Set(seen.of('completed').map((e) => e.jobId)).size, total, 'one completed event per job');
  assert.ok(worker.events('redis.connection_lost').length >= 2, 'connections were really dropped');
  assert.equal(worker.process.exitCode, null);
  // Every job completed: none may be reported as having lost its outcome
  // (a resend after a dropped reply finds the job already moved).
  const falseLoss = worker.events('job.outcome_rejected');
  assert.deepEqual(falseLoss.map((l) => l.msg), []);
});
