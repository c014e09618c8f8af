// Job schedulers (Queue.upsertJobScheduler): the worker creates the next
// iteration when it claims the current one, for `every` and for cron
// patterns with a seconds field and a time zone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CronExpressionParser } from 'cron-parser';
import { setupSuite, recordEvents } from './lib/fixtures.mjs';
import { waitFor } from './lib/harness.mjs';

const s = await setupSuite();

function iterations(seen, schedulerId) {
  const re = new RegExp(`^repeat:${schedulerId}:(\\d+)$`);
  return seen.of('completed').filter((e) => re.test(e.jobId)).map((e) => ({ ...e, ms: Number(re.exec(e.jobId)[1]) }));
}

test('every 500 ms: iterations repeat:<id>:<ms> complete; the next exists while the current runs', async () => {
  const name = s.queueName('every');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['completed', 'active']);
  const worker = await s.readyWorker(name, ['--concurrency', '2', '--drain-delay', '0.5']);
  const id = 'tick';
  await queue.upsertJobScheduler(id, { every: 500 }, { name: 'sleep', data: { ms: 250 } });

  // While an iteration runs, the following one is already scheduled.
  const firstActive = await waitFor(() => seen.of('active').find((e) => e.jobId.startsWith(`repeat:${id}:`)), {
    what: 'first iteration active',
  });
  const firstMs = Number(firstActive.jobId.split(':')[2]);
  const nextId = `repeat:${id}:${firstMs + 500}`;
  await waitFor(async () => (await queue.getJobState(nextId)) === 'delayed', { timeout: 2000, what: `${nextId} delayed` });
  assert.equal(await queue.getJobState(firstActive.jobId), 'active', 'created while the current iteration runs');

  await waitFor(() => iterations(seen, id).length >= 4, { timeout: 8000, what: '4 iterations' });
  const its = iterations(seen, id).sort((a, b) => a.ms - b.ms);
  for (let i = 1; i < its.length; i++) assert.equal(its[i].ms - its[i - 1].ms, 500, `iteration spacing ${its.map((x) => x.ms)}`);
  for (const it of its) assert.deepEqual(it.returnvalue, { slept: 250 });
  assert.equal(new Set(its.map((x) => x.jobId)).size, its.length, 'each iteration completed once');

  assert.equal(await queue.getJobSchedulersCount(), 1);
  const scheduler = await queue.getJobScheduler(id);
  assert.equal(scheduler.every, 500);
  assert.ok(scheduler.iterationCount >= its.length, `iterationCount ${scheduler.iterationCount}`);
  const delayed = await queue.getDelayed();
  assert.ok(delayed.length <= 1, `one pending iteration at most, got ${delayed.map((j) => j.id)}`);
  if (delayed.length) assert.equal(Number(delayed[0].id.split(':')[2]), scheduler.next);
  assert.equal(worker.events('scheduler.next_failed').length, 0);

  assert.equal(await queue.removeJobScheduler(id), true);
  assert.equal(await queue.getJobSchedulersCount(), 0);
});

test('cron pattern with seconds and a time zone: iterations every second at whole seconds', async () => {
  const name = s.queueName('cron');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['completed']);
  const worker = await s.readyWorker(name, ['--drain-delay', '0.5']);
  const tz = 'Asia/Kolkata'; // UTC+05:30: its hour is never the UTC hour
  const hour = Number(new Intl.DateTimeFormat('en-GB', { hour: '2-digit', hourCycle: 'h23', timeZone: tz }).format(new Date()));
  // Every second, but only in this hour and the next one of that zone: a
  // worker computing in UTC would schedule the next iteration hours away.
  const pattern = `*/1 * ${hour},${(hour + 1) % 24} * * *`;
  const id = 'cron-kolkata';
  await queue.upsertJobScheduler(id, { pattern, tz }, { name: 'echo', data: { from: 'cron' } });

  await waitFor(() => iterations(seen, id).length >= 3, { timeout: 8000, what: '3 cron iterations' });
  const its = iterations(seen, id).sort((a, b) => a.ms - b.ms);
  for (const it of its) {
    assert.equal(it.ms % 1000, 0, `whole second: ${it.ms}`);
    assert.deepEqual(it.returnvalue, { from: 'cron' });
  }
  for (let i = 1; i < its.length; i++) {
    const expected = CronExpressionParser.parse(pattern, { tz, currentDate: new Date(its[i - 1].ms) }).next().getTime();
    assert.equal(its[i].ms, expected, 'as cron-parser computes it');
  }
  assert.equal(await queue.getJobSchedulersCount(), 1);
  assert.ok((await queue.getDelayedCount()) <= 1);
  assert.equal(worker.events('scheduler.next_failed').length, 0);
  await queue.removeJobScheduler(id);
});

test('scheduler limit: the same number of iterations as with a Node Worker', async () => {
  const runs = {};
  for (const kind of ['node', 'native']) {
    const name = s.queueName(`limit-${kind}`);
    const queue = s.queue(name);
    const qe = await s.events(name);
    const seen = recordEvents(qe, ['completed']);
    if (kind === 'node') {
      const w = s.nodeWorker(name, async (job) => job.data, { drainDelay: 0.3 });
      await w.waitUntilReady();
    } else {
      await s.readyWorker(name, ['--drain-delay', '0.3']);
    }
    await queue.upsertJobScheduler('lim', { every: 150, limit: 3 }, { name: 'echo', data: { kind } });
    await waitFor(() => iterations(seen, 'lim').length >= 3, { timeout: 5000, what: `${kind}: 3 iterations` });
    // Proving that no fourth iteration comes needs a short wait (two periods).
    await new Promise((r) => setTimeout(r, 400));
    runs[kind] = {
      iterations: iterations(seen, 'lim').length,
      delayed: await queue.getDelayedCount(),
      waiting: await queue.getWaitingCount(),
      schedulers: await queue.getJobSchedulersCount(),
      iterationCount: (await queue.getJobScheduler('lim'))?.iterationCount,
    };
  }
  assert.equal(runs.node.iterations, 3, `Node reference: ${JSON.stringify(runs.node)}`);
  assert.deepEqual(runs.native, runs.node);
});
