// Failing jobs as a Node Worker does: attempts, fixed / exponential backoff
// and jitter, the `failed` and `retries-exhausted` events, stack traces,
// unrecoverable errors, unknown job names and malformed data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setupSuite, recordEvents, Job } from './lib/fixtures.mjs';
import { waitFor } from './lib/harness.mjs';

const s = await setupSuite();

// Stream ids are "<ms>-<seq>": the Redis time the event was written.
const streamMs = (id) => Number(String(id).split('-')[0]);

async function failedJob(queue, qe, job, timeout = 10000) {
  await assert.rejects(job.waitUntilFinished(qe, timeout));
  return Job.fromId(queue, job.id);
}

test('fail with attempts and fixed backoff: delayed retries at the fixed delay, then failed + retries-exhausted', async () => {
  const name = s.queueName('fixed');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['active', 'delayed', 'failed', 'retries-exhausted', 'waiting']);
  await s.readyWorker(name);

  const job = await queue.add('fail', { message: 'boom fixed' }, { attempts: 3, backoff: { type: 'fixed', delay: 300 } });
  const done = await failedJob(queue, qe, job);
  assert.equal(await done.getState(), 'failed');
  assert.equal(done.failedReason, 'boom fixed');
  assert.equal(done.attemptsMade, 3);

  await waitFor(() => seen.of('retries-exhausted', job.id).length === 1, { what: 'retries-exhausted' });
  assert.equal(seen.of('active', job.id).length, 3, 'three runs');
  const delayed = seen.of('delayed', job.id);
  assert.equal(delayed.length, 2, 'two delayed retries');
  for (const d of delayed) {
    // `delay` is the due time; the stream id is when the retry was scheduled
    // (a little later than the worker computed the due time, under load).
    const relative = Number(d.delay) - streamMs(d.id);
    assert.ok(relative >= 200 && relative <= 315, `fixed retry delay ${relative} ms`);
  }
  const actives = seen.of('active', job.id).map((e) => streamMs(e.id));
  assert.ok(actives[1] - actives[0] >= 290, `2nd run ${actives[1] - actives[0]} ms after the 1st`);
  assert.ok(actives[2] - actives[1] >= 290, `3rd run ${actives[2] - actives[1]} ms after the 2nd`);

  const failed = seen.of('failed', job.id);
  assert.equal(failed.length, 1, 'the stream gets one failed event (the final one)');
  assert.equal(failed[0].failedReason, 'boom fixed');
  assert.equal(failed[0].prev, 'active');
  assert.equal(Number(seen.of('retries-exhausted', job.id)[0].attemptsMade), 3);

  assert.ok(Array.isArray(done.stacktrace), 'stacktrace is an array');
  assert.equal(done.stacktrace.length, 3, 'one stack entry per attempt');
  for (const entry of done.stacktrace) assert.match(entry, /boom fixed/);
});

test('exponential backoff doubles the delay between attempts', async () => {
  const name = s.queueName('expo');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['delayed']);
  await s.readyWorker(name);

  const job = await queue.add('fail', {}, { attempts: 4, backoff: { type: 'exponential', delay: 150 } });
  const done = await failedJob(queue, qe, job);
  assert.equal(done.failedReason, 'conformance failure');
  assert.equal(done.attemptsMade, 4);
  const delays = seen.of('delayed', job.id).map((d) => Number(d.delay) - streamMs(d.id));
  assert.equal(delays.length, 3);
  const expected = [150, 300, 600];
  delays.forEach((d, i) => assert.ok(d >= expected[i] - 60 && d <= expected[i] + 15, `retry ${i + 1}: ${d} ms, expected ${expected[i]}`));
});

test('backoff jitter keeps every delay within [delay*(1-jitter), delay]', async () => {
  const name = s.queueName('jitter');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['delayed']);
  await s.readyWorker(name, ['--concurrency', '4']);

  const jobs = await queue.addBulk([1, 2, 3, 4].map(() => ({
    name: 'fail', data: {}, opts: { attempts: 3, backoff: { type: 'fixed', delay: 400, jitter: 0.5 } },
  })));
  for (const job of jobs) await failedJob(queue, qe, job);
  const delays = seen.of('delayed').map((d) => Number(d.delay) - streamMs(d.id));
  assert.equal(delays.length, 8);
  for (const d of delays) assert.ok(d >= 150 && d <= 415, `jittered delay ${d} outside 200..400`);
  assert.ok(delays.some((d) => d < 380), `jitter had no effect: ${delays}`);
});

test('retry without backoff goes straight back to wait (retryJob)', async () => {
  const name = s.queueName('nobackoff');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['waiting', 'delayed']);
  await s.readyWorker(name);
  const job = await queue.add('flaky', { succeedOnAttempt: 2 }, { attempts: 2 });
  assert.deepEqual(await job.waitUntilFinished(qe, 10000), { attempt: 2 });
  await waitFor(() => seen.of('waiting', job.id).some((e) => e.prev === 'active'), { what: 'waiting prev active' });
  assert.equal(seen.of('delayed', job.id).length, 0);
});

test('stackTraceLimit keeps only the newest entries', async () => {
  const name = s.queueName('stl');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name);
  const limited = await queue.add('fail', { message: 'limited' }, { attempts: 3, backoff: 10, stackTraceLimit: 2 });
  const none = await queue.add('fail', { message: 'none' }, { attempts: 2, stackTraceLimit: 0 });
  const d1 = await failedJob(queue, qe, limited);
  const d2 = await failedJob(queue, qe, none);
  assert.equal(d1.attemptsMade, 3);
  assert.equal(d1.stacktrace.length, 2);
  assert.deepEqual(d2.stacktrace, []);
  assert.equal(d2.failedReason, 'none');
});

test('flaky succeeds on attempt N with attemptsMade N', async () => {
  const name = s.queueName('flaky');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name);
  const job = await queue.add('flaky', { succeedOnAttempt: 3 }, { attempts: 5, backoff: { type: 'fixed', delay: 50 } });
  assert.deepEqual(await job.waitUntilFinished(qe, 10000), { attempt: 3 });
  const done = await Job.fromId(queue, job.id);
  assert.equal(done.attemptsMade, 3);
  assert.equal(done.failedReason, 'flaky attempt 2', 'failedReason of the last failed attempt is kept, as in Node');
  assert.equal(done.stacktrace.length, 2);
  assert.equal(await done.getState(), 'completed');
});

test('fail-unrecoverable fails at once despite attempts', async () => {
  const name = s.queueName('unrec');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['active', 'delayed', 'retries-exhausted']);
  await s.readyWorker(name);
  const job = await queue.add('fail-unrecoverable', { message: 'permanent' }, { attempts: 5, backoff: 50 });
  const done = await failedJob(queue, qe, job);
  assert.equal(done.failedReason, 'permanent');
  assert.equal(done.attemptsMade, 1);
  assert.equal(seen.of('active', job.id).length, 1);
  assert.equal(seen.of('delayed', job.id).length, 0);
  assert.match(done.stacktrace[0], /^UnrecoverableError: permanent/);
});

test('unknown job name fails unrecoverable with "unknown job name: NAME"', async () => {
  const name = s.queueName('unknown');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name);
  const job = await queue.add('no-such-processor', { a: 1 }, { attempts: 3, backoff: 50 });
  const done = await failedJob(queue, qe, job);
  assert.equal(done.failedReason, 'unknown job name: no-such-processor');
  assert.equal(done.attemptsMade, 1);
});

test('malformed data fails unrecoverable with a clear message; the worker keeps running', async () => {
  const name = s.queueName('malformed');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const client = s.client();
  // Added while paused so that the raw data can be corrupted before a claim.
  await queue.pause();
  const notJson = await queue.add('sleep', { ms: 1 }, { attempts: 3 });
  const notObject = await queue.add('progress', { steps: [] }, { attempts: 3 });
  const wrongType = await queue.add('sleep', { ms: 'soon' }, { attempts: 3 });
  const wrongArray = await queue.add('log', { lines: 'not a list' }, { attempts: 3 });
  // Any JSON value is a progress step; a wrong interval is not.
  const badStep = await queue.add('progress', { steps: ['text'], intervalMs: 'fast' }, { attempts: 3 });
  const badOpts = await queue.add('echo', { fine: true });
  await client.hset(`bull:${name}:${notJson.id}`, 'data', '{"ms": 1,');
  await client.hset(`bull:${name}:${badOpts.id}`, 'opts', 'attempts=3');
  await client.hset(`bull:${name}:${notObject.id}`, 'data', '[1,2]');
  const worker = await s.readyWorker(name, ['--drain-delay', '0.2']);
  await queue.resume();

  const expected = [
    [notJson, "job data of 'sleep' is not valid JSON"],
    [notObject, "job data of 'progress' must be a JSON object"],
    [wrongType, "field 'ms' of 'sleep' must be a number"],
    [wrongArray, "field 'lines' of 'log' must be an array"],
    [badStep, "field 'intervalMs' of 'progress' must be a number"],
    [badOpts, 'job opts are not valid JSON'],
  ];
  for (const [job, message] of expected) {
    await assert.rejects(job.waitUntilFinished(qe, 10000));
    // Read the hash directly: Node's Job.fromId cannot parse the corrupted data.
    const [failedReason, atm] = await client.hmget(`bull:${name}:${job.id}`, 'failedReason', 'atm');
    assert.equal(failedReason, message);
    assert.equal(atm, '1', `${message}: no retry`);
    assert.equal(await client.zscore(`bull:${name}:failed`, job.id) !== null, true, 'in the failed set');
  }
  const after = await queue.add('echo', { still: 'alive' });
  assert.deepEqual(await after.waitUntilFinished(qe, 10000), { still: 'alive' });
  assert.equal(worker.process.exitCode, null, 'worker still running');
});

test('an unknown backoff type fails the job clearly instead of leaving it active', async () => {
  const name = s.queueName('custombackoff');
  const queue = s.queue(name);
  const qe = await s.events(name);
  await s.readyWorker(name);
  const job = await queue.add('fail', { message: 'boom' }, { attempts: 3, backoff: { type: 'linear', delay: 10 } });
  const done = await failedJob(queue, qe, job);
  assert.equal(done.failedReason, "boom (no retry: unknown backoff strategy 'linear')");
  assert.equal(done.attemptsMade, 1);
});
