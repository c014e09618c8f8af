// Job and worker options: retention (removeOnComplete / removeOnFail as job
// options and worker defaults), priority, lifo, delay, the worker limiter,
// and queue pause / resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setupSuite, recordEvents, Job } from './lib/fixtures.mjs';
import { waitFor, sleep } from './lib/harness.mjs';

const s = await setupSuite();

async function finish(job, qe) {
  try {
    return await job.waitUntilFinished(qe, 10000);
  } catch (err) {
    if (/timed out|Job wait/.test(err.message)) throw err;
    return err; // failed jobs reject with their reason
  }
}

const raw = s.client();

// The retention sets are ordered by finishedOn (ms); jobs finished within the
// same ms tie and are then ordered by id as text. Let the clock move on
// before the next job so that "newest" is well defined.
async function afterFinishMs(queue, id) {
  const finishedOn = Number(await raw.hget(`bull:${queue.name}:${id}`, 'finishedOn'));
  await waitFor(() => Date.now() > finishedOn + 1, { interval: 1, what: 'the next ms' });
}
async function exists(queue, id) {
  return (await raw.exists(`bull:${queue.name}:${id}`)) === 1;
}

test('removeOnComplete / removeOnFail as job options: true, count and {age}', async () => {
  const name = s.queueName('retention');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['completed', 'failed']);
  await s.readyWorker(name);

  const removed = await queue.add('echo', { a: 1 }, { removeOnComplete: true });
  // (waitUntilFinished may race with the removal, as with a Node worker: use the event.)
  const completed = await waitFor(() => seen.of('completed', removed.id)[0], { what: 'completed event' });
  assert.deepEqual(completed.returnvalue, { a: 1 }, 'completed event still carries the value');
  assert.equal(await exists(queue, removed.id), false, 'removeOnComplete: true deletes the job');

  const removedFail = await queue.add('fail', {}, { removeOnFail: true });
  await waitFor(() => seen.of('failed', removedFail.id)[0], { what: 'failed event' });
  assert.equal(await exists(queue, removedFail.id), false, 'removeOnFail: true deletes the job');
  assert.equal(seen.of('failed', removedFail.id).length, 1);

  const counted = [];
  // One at a time, each finished in its own ms (see afterFinishMs).
  for (let i = 0; i < 5; i++) {
    counted.push(await queue.add('echo', { i }, { removeOnComplete: 2 }));
    await finish(counted[i], qe);
    await afterFinishMs(queue, counted[i].id);
  }
  const completedIds = (await queue.getCompleted()).map((j) => j.id);
  assert.deepEqual(completedIds.sort(), [counted[3].id, counted[4].id].sort(), 'count 2 keeps the newest two');

  const failCounted = [];
  for (let i = 0; i < 3; i++) {
    failCounted.push(await queue.add('fail', { i }, { removeOnFail: 1 }));
    await finish(failCounted[i], qe);
    await afterFinishMs(queue, failCounted[i].id);
  }
  assert.deepEqual((await queue.getFailed()).map((j) => j.id), [failCounted[2].id]);

  const old = await queue.add('echo', { old: true }, { removeOnComplete: { age: 1 } });
  await finish(old, qe);
  const oldJob = await Job.fromId(queue, old.id);
  assert.ok(oldJob, 'kept while younger than age');
  // Age is in seconds: wait until the first job is older than one second.
  await waitFor(() => Date.now() - oldJob.finishedOn > 1100, { timeout: 3000, what: 'one second' });
  const young = await queue.add('echo', { young: true }, { removeOnComplete: { age: 1 } });
  await finish(young, qe);
  assert.equal(await exists(queue, old.id), false, 'age: the older job was cleaned up');
  assert.equal(await exists(queue, young.id), true, 'age: the new job is kept');
});

test('worker defaults --remove-on-complete / --remove-on-fail; job options win', async () => {
  const name = s.queueName('wdefaults');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name, ['--remove-on-complete', 'true', '--remove-on-fail', '1']);

  const seen = recordEvents(qe, ['completed']);
  const c = await queue.add('echo', { c: 1 });
  await waitFor(() => seen.of('completed', c.id)[0], { what: 'completed event' });
  assert.equal(await exists(queue, c.id), false, 'worker default removes completed jobs');
  const kept = await queue.add('echo', { c: 2 }, { removeOnComplete: false });
  await finish(kept, qe);
  assert.equal(await exists(queue, kept.id), true, 'job option false wins over the worker default');

  const f1 = await queue.add('fail', {});
  await finish(f1, qe);
  await afterFinishMs(queue, f1.id);
  const f2 = await queue.add('fail', {});
  await finish(f2, qe);
  assert.deepEqual((await queue.getFailed()).map((j) => j.id), [f2.id], 'worker default keeps one failed job');
});

test('worker default --remove-on-complete age=1 removes jobs older than a second', async () => {
  const name = s.queueName('wage');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name, ['--remove-on-complete', 'age=1']);
  const seen = recordEvents(qe, ['completed']);
  const first = await queue.add('echo', { n: 1 });
  await finish(first, qe);
  const firstJob = await Job.fromId(queue, first.id);
  await waitFor(() => Date.now() - firstJob.finishedOn > 1100, { timeout: 3000, what: 'one second' });
  const second = await queue.add('echo', { n: 2 });
  await waitFor(() => seen.of('completed', second.id)[0], { what: 'completed event' });
  assert.equal(await exists(queue, first.id), false);
  assert.equal(await exists(queue, second.id), true);
});

async function processingOrder(queue, ids) {
  const jobs = await Promise.all(ids.map((id) => Job.fromId(queue, id)));
  return jobs.sort((a, b) => a.processedOn - b.processedOn || Number(a.finishedOn) - Number(b.finishedOn)).map((j) => j.data.tag);
}

test('priority order: plain jobs first, then lower priority numbers first', async () => {
  const name = s.queueName('prio');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const jobs = [
    await queue.add('sleep', { ms: 30, tag: 'p5' }, { priority: 5 }),
    await queue.add('sleep', { ms: 30, tag: 'p1' }, { priority: 1 }),
    await queue.add('sleep', { ms: 30, tag: 'none' }),
    await queue.add('sleep', { ms: 30, tag: 'p3' }, { priority: 3 }),
    await queue.add('sleep', { ms: 30, tag: 'p1b' }, { priority: 1 }),
  ];
  await s.readyWorker(name, ['--concurrency', '1']);
  for (const j of jobs) await finish(j, qe);
  assert.deepEqual(await processingOrder(queue, jobs.map((j) => j.id)), ['none', 'p1', 'p1b', 'p3', 'p5']);
});

test('lifo jobs are taken before the FIFO ones', async () => {
  const name = s.queueName('lifo');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const jobs = [
    await queue.add('sleep', { ms: 30, tag: 'a' }),
    await queue.add('sleep', { ms: 30, tag: 'b' }),
    await queue.add('sleep', { ms: 30, tag: 'c' }, { lifo: true }),
    await queue.add('sleep', { ms: 30, tag: 'd' }, { lifo: true }),
  ];
  await s.readyWorker(name, ['--concurrency', '1']);
  for (const j of jobs) await finish(j, qe);
  assert.deepEqual(await processingOrder(queue, jobs.map((j) => j.id)), ['d', 'c', 'a', 'b']);
});

test('delayed jobs start no earlier than their delay (and not much later)', async () => {
  const name = s.queueName('delayed');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name, ['--concurrency', '2']);
  const long = await queue.add('echo', { d: 900 }, { delay: 900 });
  const short = await queue.add('echo', { d: 400 }, { delay: 400 });
  const now = await queue.add('echo', { d: 0 });
  for (const j of [long, short, now]) await finish(j, qe);
  for (const j of [long, short, now]) {
    const done = await Job.fromId(queue, j.id);
    const waited = done.processedOn - done.timestamp;
    assert.ok(waited >= j.data.d, `job delayed ${j.data.d} ms started after ${waited} ms`);
    assert.ok(waited <= j.data.d + 500, `job delayed ${j.data.d} ms started late, after ${waited} ms`);
  }
});

test('the worker limiter caps throughput (--limiter-max / --limiter-duration)', async () => {
  const name = s.queueName('limiter');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const jobs = await queue.addBulk(Array.from({ length: 8 }, (_, i) => ({ name: 'echo', data: { i } })));
  await s.readyWorker(name, ['--concurrency', '8', '--limiter-max', '2', '--limiter-duration', '400']);
  for (const j of jobs) await finish(j, qe);
  const done = await Promise.all(jobs.map((j) => Job.fromId(queue, j.id)));
  const starts = done.map((j) => j.processedOn).sort((a, b) => a - b);
  // 8 jobs, 2 per 400 ms window: four windows, so the last start is >= 3 windows after the first.
  assert.ok(starts[7] - starts[0] >= 3 * 400 - 50, `8 jobs started within ${starts[7] - starts[0]} ms`);
  // No three starts close together (without the limiter all 8 start within a few ms;
  // the margin is the lag between two claims of one window).
  for (let i = 2; i < starts.length; i++) {
    assert.ok(starts[i] - starts[i - 2] >= 250, `3 jobs started within ${starts[i] - starts[i - 2]} ms: ${starts}`);
  }
});

test('Queue.pause stops claims; Queue.resume restarts them', async () => {
  const name = s.queueName('pause');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name, ['--drain-delay', '0.2']);
  const first = await queue.add('echo', { n: 0 });
  await finish(first, qe);

  await queue.pause();
  const jobs = await queue.addBulk([1, 2, 3].map((n) => ({ name: 'echo', data: { n } })));
  // Proving something does not happen needs a (short) wait: several drain-delay polls.
  await sleep(800);
  assert.equal(await queue.getWaitingCount(), 3, 'nothing claimed while paused');
  assert.equal(await queue.getActiveCount(), 0);
  assert.equal(await queue.getCompletedCount(), 1);

  await queue.resume();
  for (const j of jobs) await finish(j, qe);
  assert.equal(await queue.getCompletedCount(), 4);
});

test('global concurrency (Queue.setGlobalConcurrency) caps a worker with a higher --concurrency', async () => {
  const name = s.queueName('gconc');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await queue.setGlobalConcurrency(1);
  const jobs = await queue.addBulk([1, 2, 3].map((n) => ({ name: 'sleep', data: { ms: 150, n } })));
  await s.readyWorker(name, ['--concurrency', '4', '--drain-delay', '0.2']);
  for (const j of jobs) await finish(j, qe);
  const done = await Promise.all(jobs.map((j) => Job.fromId(queue, j.id)));
  const intervals = done.map((j) => [j.processedOn, j.finishedOn]).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < intervals.length; i++) {
    assert.ok(intervals[i][0] >= intervals[i - 1][1], `overlap under global concurrency 1: ${JSON.stringify(intervals)}`);
  }
});

test('global rate limit (Queue.setGlobalRateLimit) applies to a worker without --limiter', async () => {
  const name = s.queueName('grate');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await queue.setGlobalRateLimit(2, 400);
  const jobs = await queue.addBulk(Array.from({ length: 6 }, (_, i) => ({ name: 'echo', data: { i } })));
  await s.readyWorker(name, ['--concurrency', '6']);
  for (const j of jobs) await finish(j, qe);
  const starts = (await Promise.all(jobs.map((j) => Job.fromId(queue, j.id)))).map((j) => j.processedOn).sort((a, b) => a - b);
  assert.ok(starts[5] - starts[0] >= 2 * 400 - 50, `6 jobs at 2 per 400 ms started within ${starts[5] - starts[0]} ms`);
});

test('--metrics-max-data-points records completed and failed counts for Queue.getMetrics', async () => {
  const name = s.queueName('metrics');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name, ['--metrics-max-data-points', '10']);
  const jobs = [
    await queue.add('echo', { a: 1 }),
    await queue.add('echo', { a: 2 }),
    await queue.add('echo', { a: 3 }),
    await queue.add('fail', {}),
  ];
  for (const j of jobs) await finish(j, qe);
  const completed = await queue.getMetrics('completed');
  const failed = await queue.getMetrics('failed');
  assert.equal(completed.meta.count, 3);
  assert.equal(failed.meta.count, 1);
});

test('--prefix: a queue under another key prefix (hash-tagged)', async () => {
  const name = s.queueName('prefix');
  const prefix = '{tenant-a}';
  const queue = s.queue(name, { prefix });
  const qe = await s.events(name, { prefix });
  await s.readyWorker(name, ['--prefix', prefix, '--name', 'prefixed']);
  const job = await queue.add('echo', { prefixed: true });
  assert.deepEqual(await job.waitUntilFinished(qe, 10000), { prefixed: true });
  assert.equal((await Job.fromId(queue, job.id)).processedBy, 'prefixed');
  const workers = await queue.getWorkers();
  assert.equal(workers.length, 1);
  assert.equal(await raw.exists(`bull:${name}:${job.id}`), 0, 'nothing under the default prefix');
});

test('deduplication: the id is released when the job completes', async () => {
  const name = s.queueName('dedup');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name);
  const first = await queue.add('echo', { n: 1 }, { deduplication: { id: 'same' } });
  assert.deepEqual(await first.waitUntilFinished(qe, 10000), { n: 1 });
  await waitFor(async () => (await raw.exists(`bull:${name}:de:same`)) === 0, { what: 'dedup key released' });
  const second = await queue.add('echo', { n: 2 }, { deduplication: { id: 'same' } });
  assert.notEqual(second.id, first.id, 'a new job, not deduplicated');
  assert.deepEqual(await second.waitUntilFinished(qe, 10000), { n: 2 });
});
