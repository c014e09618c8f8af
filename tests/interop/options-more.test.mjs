// Worker paths that only show with some job options: a flow child with
// removeDependencyOnFailure failing for good (and the contrast without it),
// deduplication with ttl + extend, replace (of a delayed job), reschedule
// and keepLastIfActive, the deduplication key released when the worker
// completes or fails the job, and a manual --lock-renew-time (the lock's
// PTTL sampled from Redis while a long job runs).
//
// Jobs come from bullmq 6.7.0 and, where the options exist there too, from a
// bullmq 5 producer (versions.test.mjs). BULLMQ_WORKER_REFERENCE=node runs
// every scenario against Node's own Worker (lib/reference-worker.mjs), which
// is how parity is shown: the assertions are the same in both modes, except
// those on the C++ binary's own log lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as v6 from 'bullmq';
import * as v5 from 'bullmq5';
import { setupSuite, waitForJobState, waitForReady } from './lib/fixtures.mjs';
import { waitFor, workerArgs, runBinary } from './lib/harness.mjs';
import { startWorker, referenceMode } from './lib/reference-worker.mjs';

const s = await setupSuite();
const raw = s.client();

const producers = [['v6', v6], ['v5', v5]];

// The worker under test, stopped in after(): the binary (through the suite,
// so that its stderr is also scanned for sanitizer reports), or Node's
// Worker in reference mode.
async function worker(name, extra = []) {
  const args = workerArgs(s.redis, name, extra);
  if (!referenceMode) {
    const w = s.workerWith(args);
    w.reference = false;
    await waitForReady(w);
    return w;
  }
  const w = startWorker(args);
  s.own({ close: () => w.stop(5000) });
  await w.waitUntilReady();
  return w;
}

function queueOf(lib, name) {
  return s.own(new lib.Queue(name, { connection: s.connection }));
}

function flowOf(lib) {
  return s.own(new lib.FlowProducer({ connection: s.connection }));
}

// The queue's events stream, read back whole: [{event, jobId, …}].
async function streamEvents(name) {
  const entries = await raw.xrange(`bull:${name}:events`, '-', '+');
  return entries.map(([, kv]) => {
    const e = {};
    for (let i = 0; i < kv.length; i += 2) e[kv[i]] = kv[i + 1];
    return e;
  });
}

// True when a worker of queue `name` is blocked in BZPOPMIN on its marker
// (its blocking connection carries the name Queue.getWorkers() looks for).
async function blockedInBzpopmin(name) {
  const clientName = `bull:${Buffer.from(name).toString('base64')}`;
  return (await raw.client('LIST')).split('\n').some((line) => {
    const f = Object.fromEntries(line.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    return f.cmd === 'bzpopmin' && (f.name === clientName || f.name?.startsWith(`${clientName}:w:`));
  });
}

async function finished(lib, queue, id, state = 'completed', timeout = 10000) {
  await waitForJobState(queue, id, state, timeout);
  return lib.Job.fromId(queue, id);
}

// ---------------------------------------------------------------------------
// removeDependencyOnFailure

for (const [version, lib] of producers) {
  test(`${version} flow: a removeDependencyOnFailure child that fails for good releases its parent; without it the parent waits`, async () => {
    const name = s.queueName(`rdof-${version}`);
    const queue = queueOf(lib, name);
    const flow = flowOf(lib);
    await worker(name, ['--concurrency', '3']);

    // Attempts exhausted: the parent may only be released after the last one.
    const retried = await flow.add({
      name: 'echo', queueName: name, data: { parent: 'retried' },
      children: [
        { name: 'echo', queueName: name, data: { value: 1 } },
        { name: 'fail', queueName: name, data: { message: 'child gave up' },
          opts: { removeDependencyOnFailure: true, attempts: 2, backoff: 100 } },
      ],
    });
    // Unrecoverable: no retry, the parent is released at the first failure.
    const unrecoverable = await flow.add({
      name: 'echo', queueName: name, data: { parent: 'unrecoverable' },
      children: [
        { name: 'echo', queueName: name, data: { value: 2 } },
        { name: 'fail-unrecoverable', queueName: name, data: { message: 'child refused' },
          opts: { removeDependencyOnFailure: true, attempts: 3, backoff: 100 } },
      ],
    });
    // Contrast: the same failure without the option leaves the parent waiting.
    const plain = await flow.add({
      name: 'echo', queueName: name, data: { parent: 'plain' },
      children: [
        { name: 'echo', queueName: name, data: { value: 3 } },
        { name: 'fail', queueName: name, data: { message: 'child broke' } },
      ],
    });

    const childOf = (tree, jobName) => tree.children.find((c) => c.job.name === jobName).job;
    const key = (job) => `bull:${name}:${job.id}`;

    for (const [tree, failing, reason, attempts] of [
      [retried, childOf(retried, 'fail'), 'child gave up', 2],
      [unrecoverable, childOf(unrecoverable, 'fail-unrecoverable'), 'child refused', 1],
    ]) {
      const what = tree.job.data.parent;
      // Catches: the worker finishing a failed child in a way that skips the
      // parent update (e.g. not through moveToFinished 'failed', or on a retry).
      const parent = await finished(lib, queue, tree.job.id);
      assert.deepEqual(parent.returnvalue, tree.job.data, `${what}: the released parent ran`);
      const child = await lib.Job.fromId(queue, failing.id);
      assert.equal(await child.getState(), 'failed', `${what}: the child stays failed`);
      assert.equal(child.failedReason, reason);
      assert.equal(child.attemptsMade, attempts, `${what}: attempts of the failed child`);
      assert.ok(parent.processedOn >= child.finishedOn, `${what}: the parent started only after the child's last attempt`);
      const echoChild = childOf(tree, 'echo');
      assert.deepEqual(await parent.getDependencies(), {
        processed: { [key(echoChild)]: echoChild.data },
        unprocessed: [],
        failed: [],
        ignored: {},
      }, `${what}: the failed child is gone from the parent's dependencies, not recorded as ignored`);
      assert.deepEqual(await parent.getDependenciesCount(), { processed: 1, unprocessed: 0, ignored: 0, failed: 0 });
      assert.deepEqual(await parent.getChildrenValues(), { [key(echoChild)]: echoChild.data });
    }

    // Catches: a plain child failure releasing (or failing) its parent.
    const plainFailing = childOf(plain, 'fail');
    await finished(lib, queue, plainFailing.id, 'failed');
    await finished(lib, queue, childOf(plain, 'echo').id, 'completed');
    const plainParent = await lib.Job.fromId(queue, plain.job.id);
    assert.equal(await plainParent.getState(), 'waiting-children', 'without the option the parent keeps waiting');
    assert.deepEqual((await plainParent.getDependencies()).unprocessed, [key(plainFailing)]);
    assert.deepEqual(await plainParent.getDependenciesCount(), { processed: 1, unprocessed: 1, ignored: 0, failed: 0 });
    assert.equal(plainParent.processedOn, undefined, 'the waiting parent never ran');
  });
}

// ---------------------------------------------------------------------------
// Deduplication

for (const [version, lib] of producers) {
  test(`${version} deduplication ttl + extend: the key outlives completion, each duplicate extends it, then a new job runs`, async () => {
    const name = s.queueName(`dd-extend-${version}`);
    const queue = queueOf(lib, name);
    await worker(name);
    const ttl = 800;
    const dedup = { deduplication: { id: 'ext', ttl, extend: true } };
    const deKey = `bull:${name}:de:ext`;

    const first = await queue.add('sleep', { ms: 200, n: 1 }, dedup);
    await finished(lib, queue, first.id);
    // Catches: the worker's finish deleting a key that still has a TTL
    // (only keys without one belong to the job's lifetime).
    assert.equal(await raw.get(deKey), first.id, 'the key survives the completion of its job');
    assert.ok((await raw.pttl(deKey)) > 0, 'the key keeps its TTL');

    const seen = await waitFor(async () => ((await raw.pttl(deKey)) <= ttl / 2 ? Date.now() : 0),
      { timeout: 3000, interval: 5, what: 'half the TTL gone' });
    const second = await queue.add('echo', { n: 2 }, dedup);
    assert.equal(second.id, first.id, 'deduplicated to the first job');
    assert.ok((await raw.pttl(deKey)) > ttl - 200, 'the duplicate restarted the TTL (extend)');

    // Past the first TTL's end: only the extension keeps the key.
    await waitFor(() => Date.now() > seen + ttl / 2 + 50, { interval: 5, what: 'the first TTL over' });
    assert.equal(await raw.get(deKey), first.id, 'extended: still deduplicating');
    const third = await queue.add('echo', { n: 3 }, dedup);
    assert.equal(third.id, first.id);

    await waitFor(async () => (await raw.exists(deKey)) === 0, { timeout: 3000, what: 'the extended key expired' });
    const fourth = await queue.add('echo', { n: 4 }, dedup);
    assert.notEqual(fourth.id, first.id, 'a new job once the key expired');
    assert.deepEqual((await finished(lib, queue, fourth.id)).returnvalue, { n: 4 });

    const completed = (await queue.getCompleted()).map((j) => j.data.n).sort();
    assert.deepEqual(completed, [1, 4], 'only the first and the fourth job ran');
    assert.equal((await lib.Job.fromId(queue, first.id)).attemptsMade, 1, 'the first job ran once');
    const dups = (await streamEvents(name)).filter((e) => e.event === 'deduplicated');
    assert.equal(dups.length, 2);
    for (const e of dups) {
      assert.equal(e.jobId, first.id);
      assert.equal(e.deduplicationId, 'ext');
    }
  });

  test(`${version} deduplication replace: a delayed job is replaced, an active one is not; the key is released on completion`, async () => {
    const name = s.queueName(`dd-replace-${version}`);
    const queue = queueOf(lib, name);
    await worker(name);
    const dedup = (delay) => ({ delay, deduplication: { id: 'rep', replace: true } });

    const replaced = await queue.add('echo', { v: 'replaced' }, dedup(3000));
    const winner = await queue.add('sleep', { ms: 500, v: 'winner' }, dedup(100));
    assert.notEqual(winner.id, replaced.id, 'the replacement is a job of its own');
    assert.equal(await lib.Job.fromId(queue, replaced.id), undefined, 'the delayed job is gone');
    assert.equal(await queue.getDeduplicationJobId('rep'), winner.id);

    // Catches: the worker not waking for the replacement's (shorter) delay.
    await waitForJobState(queue, winner.id, 'active', 3000);
    // An active job cannot be replaced: the new one is deduplicated.
    const late = await queue.add('echo', { v: 'late' }, dedup(0));
    assert.equal(late.id, winner.id, 'deduplicated to the active job');

    // Catches: the worker's finish not releasing a key without TTL.
    const done = await finished(lib, queue, winner.id);
    assert.deepEqual(done.returnvalue, { slept: 500 });
    assert.equal(await queue.getDeduplicationJobId('rep'), null, 'released by the completion');
    const next = await queue.add('echo', { v: 'next' }, dedup(0));
    assert.notEqual(next.id, winner.id);
    assert.deepEqual((await finished(lib, queue, next.id)).returnvalue, { v: 'next' });

    assert.deepEqual((await queue.getCompleted()).map((j) => j.data.v).sort(), ['next', 'winner']);
    const events = await streamEvents(name);
    assert.ok(events.some((e) => e.event === 'removed' && e.jobId === replaced.id && e.prev === 'delayed'));
    // The replace branch of the add script writes no event for the duplicate
    // of a job that is not delayed: the replacement's is the only one.
    assert.deepEqual(events.filter((e) => e.event === 'deduplicated').map((e) => [e.jobId, e.deduplicatedJobId]),
      [[winner.id, replaced.id]]);
  });

  test(`${version} deduplication keepLastIfActive: the last duplicate added while the job runs becomes the next job`, async () => {
    const name = s.queueName(`dd-keeplast-${version}`);
    const queue = queueOf(lib, name);
    await worker(name);
    const dedup = { deduplication: { id: 'kl', keepLastIfActive: true } };
    const deKey = `bull:${name}:de:kl`;

    const running = await queue.add('sleep', { ms: 600, v: 'running' }, dedup);
    await waitForJobState(queue, running.id, 'active', 3000);
    const dropped = await queue.add('echo', { v: 'dropped' }, dedup);
    const kept = await queue.add('echo', { v: 'kept' }, dedup);
    assert.equal(dropped.id, running.id);
    assert.equal(kept.id, running.id);
    assert.equal(await raw.pttl(deKey), -1, 'no expiry while the job is active');
    assert.deepEqual(JSON.parse(await raw.hget(`bull:${name}:dn:kl`, 'data')), { v: 'kept' });

    // Catches: the worker finishing the job without the requeue (or losing the
    // job that the finish script both creates and may hand back as the next).
    await finished(lib, queue, running.id);
    const next = await waitFor(async () => (await queue.getCompleted()).find((j) => j.data.v === 'kept'),
      { what: 'the kept duplicate completed' });
    assert.notEqual(next.id, running.id);
    assert.deepEqual(next.returnvalue, { v: 'kept' });
    assert.ok(next.processedOn >= (await lib.Job.fromId(queue, running.id)).finishedOn, 'never in parallel');
    // Its own completion releases the key and leaves no pending payload.
    await waitFor(async () => (await raw.exists(deKey)) === 0, { what: 'the key released' });
    assert.equal(await raw.exists(`bull:${name}:dn:kl`), 0);
    assert.deepEqual((await queue.getCompleted()).map((j) => j.data.v).sort(), ['kept', 'running']);
    assert.deepEqual(await queue.getJobCounts('wait', 'delayed', 'active', 'failed'), { wait: 0, delayed: 0, active: 0, failed: 0 });
    const dups = (await streamEvents(name)).filter((e) => e.event === 'deduplicated');
    assert.deepEqual(dups.map((e) => e.jobId), [running.id, running.id]);
  });

  test(`${version} deduplication: the key is kept across retries and released when the job fails for good`, async () => {
    const name = s.queueName(`dd-fail-${version}`);
    const queue = queueOf(lib, name);
    await worker(name);

    const retried = await queue.add('flaky', { succeedOnAttempt: 2 },
      { attempts: 2, backoff: 600, deduplication: { id: 'retry' } });
    // Catches: the retry path (moveToDelayed / retryJob) releasing the key.
    await waitForJobState(queue, retried.id, 'delayed', 3000);
    assert.equal(await queue.getDeduplicationJobId('retry'), retried.id, 'kept while the job waits for its retry');
    const dup = await queue.add('flaky', { succeedOnAttempt: 1 }, { deduplication: { id: 'retry' } });
    assert.equal(dup.id, retried.id);
    assert.deepEqual((await finished(lib, queue, retried.id)).returnvalue, { attempt: 2 });
    assert.equal(await queue.getDeduplicationJobId('retry'), null);

    // Catches: the final failure (attempts exhausted, unrecoverable) not releasing the key.
    for (const [jobName, attempts] of [['fail', 2], ['fail-unrecoverable', 3]]) {
      const id = `gone-${jobName}`;
      const failing = await queue.add(jobName, { message: 'no' }, { attempts, backoff: 50, deduplication: { id } });
      const failed = await finished(lib, queue, failing.id, 'failed');
      assert.equal(failed.attemptsMade, jobName === 'fail' ? 2 : 1);
      assert.equal(await queue.getDeduplicationJobId(id), null, `${jobName}: released by the failure`);
      const again = await queue.add('echo', { again: jobName }, { deduplication: { id } });
      assert.notEqual(again.id, failing.id, `${jobName}: a new job, not deduplicated`);
      assert.deepEqual((await finished(lib, queue, again.id)).returnvalue, { again: jobName });
    }
  });
}

// deduplication.reschedule is newer than bullmq 5.81.5 (its
// deduplicateJob.lua has no such branch): v6 only.
for (const [version, lib] of producers) {
  test(`${version} deduplication reschedule: the delayed job keeps its id and data and runs at the new time`,
    { skip: version === 'v5' ? 'bullmq 5.81.5 has no deduplication.reschedule' : false }, async () => {
      const name = s.queueName(`dd-resched-${version}`);
      const queue = queueOf(lib, name);
      await worker(name);
      const original = await queue.add('echo', { v: 'original' }, { delay: 4000, deduplication: { id: 'rs', reschedule: true } });
      // The worker is now blocked until the original due time: the reschedule
      // must wake it (catches a worker ignoring the marker of a closer delayed job).
      await waitFor(async () => (await blockedInBzpopmin(name)) && (await raw.zcard(`bull:${name}:marker`)) === 0,
        { what: 'the worker blocked until the original due time' });
      const at = Date.now();
      const dup = await queue.add('echo', { v: 'duplicate' }, { delay: 200, deduplication: { id: 'rs', reschedule: true } });
      assert.equal(dup.id, original.id);
      const done = await finished(lib, queue, original.id, 'completed', 3000);
      assert.deepEqual(done.returnvalue, { v: 'original' }, 'the existing job with its own data');
      assert.ok(done.processedOn >= at + 200 - 5, `started ${done.processedOn - at} ms after the reschedule`);
      assert.ok(done.processedOn <= at + 1500, `started ${done.processedOn - at} ms after the reschedule`);
      assert.equal(await queue.getDeduplicationJobId('rs'), null, 'released by the completion');
    });
}

// ---------------------------------------------------------------------------
// Manual lock renew time

test('--lock-renew-time: the lock of a long job is renewed at that cadence and never runs low; no stall', async (t) => {
  const name = s.queueName('renew');
  const queue = s.queue(name);
  const lockDuration = 1000;
  const renewTime = 200;
  const flags = ['--lock-duration', String(lockDuration), '--lock-renew-time', String(renewTime),
    '--stalled-interval', '250', '--drain-delay', '0.2', '--concurrency', '2'];
  // A second worker runs stalled checks too, so a lapsed lock would be noticed.
  const workers = [await worker(name, flags), await worker(name, flags)];
  const jobMs = 3000; // three lock durations
  // Four at once: the renewals of several jobs go in one call.
  const jobs = await queue.addBulk([1, 2, 3, 4].map((n) => ({ name: 'sleep', data: { ms: jobMs, n } })));
  const job = jobs[0];
  const lockKey = `bull:${name}:${job.id}:lock`;
  const sampler = s.client();
  await waitFor(async () => (await sampler.exists(lockKey)) === 1, { interval: 2, what: 'the job locked' });

  // PTTL samples until the job finishes (the lock is released then).
  const samples = [];
  for (;;) {
    const [[, pttl], [, finishedOn]] = await sampler.multi().pttl(lockKey).hget(`bull:${name}:${job.id}`, 'finishedOn').exec();
    if (finishedOn) break;
    samples.push({ at: Date.now(), pttl });
    if (samples.length > 10000) throw new Error('the job never finished');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  for (const j of jobs) {
    const done = await finished(v6, queue, j.id, 'completed', 5000);
    assert.deepEqual(done.returnvalue, { slept: jobMs });
    assert.equal(done.stalledCounter, 0, `job ${j.id} never stalled`);
    assert.equal(done.attemptsMade, 1);
  }
  assert.equal((await streamEvents(name)).filter((e) => e.event === 'stalled').length, 0, 'no stalled event');
  for (const w of workers) {
    assert.equal(w.events(w.reference ? 'reference.worker_error' : ['job.lock_lost', 'job.lock_lost_finishing']).length, 0, 'no lock lost');
  }

  // A renewal shows as the PTTL jumping up between two samples.
  const renewals = [];
  for (let i = 1; i < samples.length; i++) {
    if (samples[i].pttl > samples[i - 1].pttl + 20) renewals.push(samples[i].at);
  }
  const gaps = renewals.slice(1).map((at, i) => at - renewals[i]);
  const live = samples.filter((x) => x.pttl !== -2);
  const minPttl = Math.min(...live.map((x) => x.pttl));
  const detail = `renewals every ${JSON.stringify(gaps)} ms, lowest PTTL ${minPttl} ms, ${samples.length} samples`;
  t.diagnostic(detail);
  // Catches the flag being ignored (the default renew time, lockDuration / 2,
  // lets the PTTL fall to about 500 ms with renewals every 250-500 ms), and
  // renewals too rare or far too frequent. Like Node's, the renewal timer
  // ticks every renewTime / 2 and renews locks older than that: renewals
  // come every renewTime / 2 to renewTime.
  assert.equal(live.length, samples.length, `the lock never lapsed: ${detail}`);
  const slack = 150; // timer lateness on a loaded machine; still far from the default cadence
  assert.ok(minPttl >= lockDuration - renewTime - slack, `PTTL fell below ${lockDuration - renewTime - slack}: ${detail}`);
  assert.ok(renewals.length >= jobMs / renewTime - 2, `too few renewals: ${detail}`);
  assert.ok(Math.max(...gaps) <= renewTime + slack, `a renewal came late: ${detail}`);
  assert.ok(Math.min(...gaps) >= renewTime / 2 - 40, `renewals more often than every renewTime / 2: ${detail}`);
});

// Node's Worker accepts any lockRenewTime; the binary refuses one that is not
// shorter than the lock (next test). What that setting does to Node's Worker
// — the lock lapses, the stalled checker takes the job back twice and then
// fails it — is why: this scenario runs for Node only (BULLMQ_WORKER_REFERENCE=node).
test('a renew time longer than the lock: the lock lapses, the job stalls twice and fails (Node)', {
  skip: referenceMode ? false : 'the binary refuses this setting at start (next test)',
}, async () => {
  const name = s.queueName('lapse');
  const queue = s.queue(name);
  const w = await worker(name, ['--lock-duration', '300', '--lock-renew-time', '1200', '--stalled-interval', '250',
    '--drain-delay', '0.2']);
  const job = await queue.add('sleep', { ms: 1500 });
  const done = await finished(v6, queue, job.id, 'failed', 15000);
  assert.equal(done.failedReason, 'job stalled more than allowable limit');
  assert.equal(done.returnvalue, null, 'no result written by a run that lost its lock');
  assert.equal(done.stalledCounter, 2);
  assert.equal(done.attemptsMade, 1);
  assert.equal(done.attemptsStarted, 3);
  const trail = (await streamEvents(name)).filter((e) => e.jobId === job.id).map((e) => `${e.event} ${e.prev ?? ''}`.trim());
  assert.deepEqual(trail, ['added', 'waiting',
    'active waiting', 'waiting active', 'stalled',
    'active waiting', 'waiting active', 'stalled',
    'active waiting', 'failed active', 'retries-exhausted']);
  if (!w.reference) {
    // The renewal call itself reports the lapsed lock.
    await w.waitForLog(['job.lock_lost', 'job.lock_lost_finishing'], (l) => l.job_id === job.id);
    assert.equal(w.events('job.completed').length, 0);
  }
});

// House rule: bad input gets a clear error. A renew time that is not shorter
// than the lock duration makes every job longer than the lock stall (above).
test('--lock-renew-time not below --lock-duration is refused with a clear message', {
  skip: referenceMode ? 'a check of the binary\'s command line' : false,
}, async () => {
  for (const [duration, renew] of [['1000', '1000'], ['1000', '5000']]) {
    const r = await runBinary(['run', '--queue', 'q', '--redis', s.redis.url, '--processors', 'conformance',
      '--lock-duration', duration, '--lock-renew-time', renew, '--print-config']);
    assert.equal(r.code, 2, `--lock-duration ${duration} --lock-renew-time ${renew}: exit code`);
    assert.match(r.stderr, /lock renew time .*lock duration/i);
  }
});
