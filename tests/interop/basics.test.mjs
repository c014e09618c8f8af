// Claiming and completing as a Node Worker does: what QueueEvents, Job and
// Queue.getWorkers() see, and concurrency.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setupSuite, recordEvents, Job } from './lib/fixtures.mjs';
import { waitFor } from './lib/harness.mjs';

const s = await setupSuite();

test('echo completes; QueueEvents and waitUntilFinished see the parsed return value; Job fields', async () => {
  const name = s.queueName('echo');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['active', 'completed']);
  const worker = await s.readyWorker(name, ['--name', 'interop-w1']);

  const data = { value: 42, nested: { list: [1, 'two', null], flag: true }, text: 'héllo "q" \\ /' };
  const before = Date.now();
  const job = await queue.add('echo', data);
  const result = await job.waitUntilFinished(qe, 10000);
  assert.deepEqual(result, data);

  await waitFor(() => seen.of('completed', job.id).length === 1, { what: 'completed event' });
  assert.deepEqual(seen.of('completed', job.id)[0].returnvalue, data);
  assert.equal(seen.of('active', job.id).length, 1, 'one active event');
  assert.equal(seen.of('active', job.id)[0].prev, 'waiting');

  const done = await Job.fromId(queue, job.id);
  assert.equal(await done.getState(), 'completed');
  assert.deepEqual(done.returnvalue, data);
  assert.equal(done.attemptsMade, 1);
  assert.equal(done.processedBy, 'interop-w1');
  assert.ok(done.processedOn >= before - 5 && done.processedOn <= Date.now(), `processedOn ${done.processedOn}`);
  assert.ok(done.finishedOn >= done.processedOn, 'finishedOn after processedOn');
  assert.ok(done.finishedOn <= Date.now());
  await worker.waitForLog('job.completed', (l) => l.job_id === job.id);
});

test('Queue.getWorkers() lists the worker under its --name', async () => {
  const name = s.queueName('workers');
  const queue = s.queue(name);
  const worker = await s.readyWorker(name, ['--name', 'listed-worker']);
  const workers = await waitFor(async () => {
    const list = await queue.getWorkers();
    return list.length > 0 && list;
  }, { what: 'getWorkers() non-empty' });
  assert.equal(workers.length, 1);
  assert.equal(workers[0].rawname, `bull:${Buffer.from(name).toString('base64')}:w:listed-worker`);
  assert.equal(workers[0].name, name);
  assert.equal(await queue.getWorkersCount(), 1);
  await worker.stop();
  await waitFor(async () => (await queue.getWorkers()).length === 0, { what: 'worker gone from getWorkers()' });
});

test('a queue name outside ASCII: listed under the same base64 client name as Node uses', async () => {
  const name = `qué-名前-${s.queueName('u')}`;
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name, ['--name', 'uni']);
  const workers = await waitFor(async () => {
    const list = await queue.getWorkers();
    return list.length > 0 && list;
  }, { what: 'getWorkers() non-empty' });
  assert.equal(workers[0].rawname, `bull:${Buffer.from(name).toString('base64')}:w:uni`);
  const job = await queue.add('echo', { ok: true });
  assert.deepEqual(await job.waitUntilFinished(qe, 10000), { ok: true });
});

test('an unnamed worker is listed too and stores no processedBy', async () => {
  const name = s.queueName('unnamed');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name);
  await waitFor(async () => (await queue.getWorkers()).length === 1, { what: 'getWorkers() lists 1' });
  const job = await queue.add('echo', { x: 1 });
  await job.waitUntilFinished(qe, 10000);
  const done = await Job.fromId(queue, job.id);
  assert.equal(done.processedBy, undefined);
});

async function activeIntervals(queue, ids) {
  const jobs = await Promise.all(ids.map((id) => Job.fromId(queue, id)));
  return jobs.map((j) => [j.processedOn, j.finishedOn]);
}

function maxOverlap(intervals) {
  const points = [];
  for (const [a, b] of intervals) {
    points.push([a, 1], [b, -1]);
  }
  points.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let cur = 0;
  let best = 0;
  for (const [, d] of points) {
    cur += d;
    best = Math.max(best, cur);
  }
  return best;
}

test('--concurrency N runs N sleep jobs in parallel', async () => {
  const name = s.queueName('conc');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name, ['--concurrency', '4']);
  const started = Date.now();
  const jobs = await queue.addBulk([1, 2, 3, 4].map(() => ({ name: 'sleep', data: { ms: 600 } })));
  const results = await Promise.all(jobs.map((j) => j.waitUntilFinished(qe, 10000)));
  const elapsed = Date.now() - started;
  for (const r of results) assert.deepEqual(r, { slept: 600 });
  assert.ok(elapsed < 1800, `4 x 600 ms at concurrency 4 took ${elapsed} ms`);
  const intervals = await activeIntervals(queue, jobs.map((j) => j.id));
  assert.equal(maxOverlap(intervals), 4, `all four ran at once: ${JSON.stringify(intervals)}`);
});

test('--concurrency 1 runs sleep jobs one after the other', async () => {
  const name = s.queueName('conc1');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name, ['--concurrency', '1']);
  const started = Date.now();
  const jobs = await queue.addBulk([1, 2, 3].map(() => ({ name: 'sleep', data: { ms: 250 } })));
  await Promise.all(jobs.map((j) => j.waitUntilFinished(qe, 10000)));
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 750, `3 x 250 ms at concurrency 1 took only ${elapsed} ms`);
  const intervals = await activeIntervals(queue, jobs.map((j) => j.id));
  assert.equal(maxOverlap(intervals), 1, `no overlap: ${JSON.stringify(intervals)}`);
  const order = intervals.map(([a]) => a);
  assert.deepEqual([...order].sort((a, b) => a - b), order, 'FIFO order');
});

test('large payloads and custom job ids round-trip unchanged', async () => {
  const name = s.queueName('large');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name, ['--concurrency', '2']);
  const big = { blob: 'x'.repeat(3 * 1024 * 1024), unicode: '日本語 ✓ 🎉', list: Array.from({ length: 20000 }, (_, i) => i) };
  const job = await queue.add('echo', big, { jobId: 'custom-ïd-1' });
  const many = await queue.addBulk(Array.from({ length: 20 }, (_, i) => ({
    name: 'echo', data: { i, pad: 'y'.repeat(100000 + i) }, opts: { jobId: `bulk-${i}` },
  })));
  assert.deepEqual(await job.waitUntilFinished(qe, 15000), big);
  for (const [i, j] of many.entries()) assert.deepEqual(await j.waitUntilFinished(qe, 15000), { i, pad: 'y'.repeat(100000 + i) });
  const done = await Job.fromId(queue, 'custom-ïd-1');
  assert.equal(done.id, 'custom-ïd-1');
  assert.equal(await done.getState(), 'completed');
  assert.deepEqual(done.returnvalue, big);
});

// Redis's MONITOR on a plain socket: `onCommand(source, line)` for every command
// line ('+<time> [<db> <source>] "<command>" ...'); resolves once MONITOR is on.
async function monitorCommands(onCommand) {
  const socket = net.connect(s.redis.port, '127.0.0.1');
  let pending = '';
  let on = false;
  socket.on('data', (chunk) => {
    pending += chunk.toString('latin1');
    const lines = pending.split('\r\n');
    pending = lines.pop();
    for (const line of lines) {
      if (line === '+OK') on = true;
      const m = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] /.exec(line);
      if (m) onCommand(m[1], line);
    }
  });
  socket.write('MONITOR\r\n');
  await waitFor(() => on, { what: 'MONITOR on' });
  return socket;
}

// From concurrency 8 the slots' finishing scripts go out on one connection per
// 4 slots, at most 3 (--finish-connections): at concurrency 10 Redis sees them
// from three clients, Node's tools still see one worker, and every job
// completes once. moveToFinished is the script
// call naming both the queue's completed and stalled keys (addStandardJob
// names no stalled key, moveToActive no completed key).
async function finishingClients(extra) {
  const name = s.queueName('lanes');
  const queue = s.queue(name);
  const keys = [`"bull:${name}:completed"`, `"bull:${name}:stalled"`];
  const sources = new Set();
  const monitor = await monitorCommands((source, line) => {
    if (/\] "evalsha" /i.test(line) && keys.every((k) => line.includes(k))) sources.add(source);
  });
  try {
    await s.readyWorker(name, ['--concurrency', '10', '--name', 'lanes', ...extra]);
    const jobs = await queue.addBulk(Array.from({ length: 200 }, (_, i) => ({ name: 'echo', data: { i } })));
    await waitFor(async () => (await queue.getCompletedCount()) === jobs.length, { what: '200 completed', timeout: 20000 });
    assert.equal(await queue.getFailedCount(), 0);
    const done = await queue.getJobs(['completed'], 0, -1);
    assert.equal(new Set(done.map((j) => j.data.i)).size, 200, 'each job completed once');
    assert.ok(done.every((j) => j.attemptsMade === 1), 'one attempt each');
    assert.equal((await queue.getWorkers()).length, 1, 'listed once by getWorkers()');
  } finally {
    monitor.destroy();
  }
  return sources;
}

test('at concurrency 10 the finishing scripts use three connections; getWorkers() lists one worker', async () => {
  const sources = await finishingClients([]);
  assert.equal(sources.size, 3, `moveToFinished from ${[...sources].join(', ')}`);
});

test('--finish-connections 1 keeps them on the command connection', async () => {
  const sources = await finishingClients(['--finish-connections', '1']);
  assert.equal(sources.size, 1, `moveToFinished from ${[...sources].join(', ')}`);
});

// A finishing script asked for the next job and the queue had none: the worker
// is drained, as Node's concludes, and waits on the marker next. Per job on an
// idle worker: moveToActive, moveToFinished, then BZPOPMIN (which finds the
// marker the finish left) before the one empty moveToActive that precedes the
// blocking wait, two moveToActive calls in all, as Node's worker makes.
test('after the last job the worker waits on the marker before claiming again, as Node does', async () => {
  const name = s.queueName('drained');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const wait = `"bull:${name}:wait"`;
  const completed = `"bull:${name}:completed"`;
  const marker = `"bull:${name}:marker"`;
  const idKey = `"bull:${name}:id"`; // named by the add script only
  await s.readyWorker(name);
  const seen = [];
  let watching = false;
  const monitor = await monitorCommands((_source, line) => {
    if (!watching) return;
    if (/\] "evalsha" /i.test(line) && line.includes(wait) && !line.includes(idKey)) seen.push(line.includes(completed) ? 'finish' : 'claim');
    else if (/\] "bzpopmin" /i.test(line) && line.includes(marker)) seen.push('wait');
  });
  try {
    // The worker is idle, blocked on the marker; the add below is what wakes it.
    watching = true;
    const job = await queue.add('echo', { n: 1 });
    await job.waitUntilFinished(qe, 10000);
    await waitFor(() => seen.filter((c) => c === 'wait').length >= 2, { what: 'back to waiting on the marker' });
  } finally {
    monitor.destroy();
  }
  assert.deepEqual(seen.slice(0, 5), ['claim', 'finish', 'wait', 'claim', 'wait'], seen.join(' '));
});
