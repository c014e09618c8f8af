// Locks and stalled jobs: a SIGKILLed worker's job is recovered by another
// worker (or failed with maxStalledCount 0); lock renewal keeps long jobs
// alive; a job whose lock is stolen is reported lost and its result dropped;
// a CPU-bound processor (burn-cpu) stops when its lock is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { setupSuite, recordEvents, waitForJobState, waitForReady, Job } from './lib/fixtures.mjs';
import { waitFor, sleep } from './lib/harness.mjs';

const s = await setupSuite();
// A lost lock is logged as job.lock_lost while the processor runs, as
// job.lock_lost_finishing once it has returned and the outcome is on its way.
const LOCK_LOST = ['job.lock_lost', 'job.lock_lost_finishing'];
const fast = ['--lock-duration', '1000', '--stalled-interval', '400', '--drain-delay', '0.2'];

async function killWhileActive(queue, name, extra) {
  const victim = await s.readyWorker(name, [...fast, '--name', 'victim', ...extra]);
  const job = await queue.add('sleep', { ms: 60000 });
  await waitForJobState(queue, job.id, 'active');
  await victim.waitForLog('job.active', (l) => l.job_id === job.id);
  victim.kill('SIGKILL');
  await victim.exited;
  // The rescuer should not sleep for a minute: shorten the job.
  await (await Job.fromId(queue, job.id)).updateData({ ms: 50 });
  return job;
}

test('a SIGKILLed worker\'s job is recovered by another worker (stalled event) and completed', async () => {
  const name = s.queueName('stalled');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['stalled', 'completed', 'failed']);
  const job = await killWhileActive(queue, name, []);
  const rescuer = await s.readyWorker(name, [...fast, '--name', 'rescuer']);

  assert.deepEqual(await job.waitUntilFinished(qe, 15000), { slept: 50 });
  assert.equal(seen.of('stalled', job.id).length, 1, 'one stalled event');
  assert.equal(seen.of('failed', job.id).length, 0);
  const done = await Job.fromId(queue, job.id);
  assert.equal(done.processedBy, 'rescuer');
  assert.equal(done.stalledCounter, 1);
  assert.equal(done.attemptsMade, 1, 'the killed run was not counted as an attempt');
  await rescuer.waitForLog('job.stalled', (l) => l.job_id === job.id);
});

test('with --max-stalled-count 0 the recovered job fails with "job stalled more than allowable limit"', async () => {
  const name = s.queueName('stalledmax');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['stalled', 'failed', 'active']);
  const job = await killWhileActive(queue, name, ['--max-stalled-count', '0']);
  const rescuer = await s.readyWorker(name, [...fast, '--max-stalled-count', '0', '--name', 'rescuer']);

  await assert.rejects(job.waitUntilFinished(qe, 15000), /job stalled more than allowable limit/);
  const done = await Job.fromId(queue, job.id);
  assert.equal(await done.getState(), 'failed');
  assert.equal(done.failedReason, 'job stalled more than allowable limit');
  assert.equal(seen.of('stalled', job.id).length, 1);
  assert.equal(seen.of('failed', job.id).length, 1);
  assert.match(done.stacktrace.at(-1), /^UnrecoverableError: job stalled more than allowable limit/);
  // Failed at claim time without running the processor.
  await rescuer.waitForLog('job.failed', (l) => l.job_id === job.id);
  assert.equal(rescuer.events('job.completed').length, 0);
});

test('lock renewal: a sleep longer than --lock-duration completes without stalling', async () => {
  const name = s.queueName('renew');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['stalled', 'completed']);
  const worker = await s.readyWorker(name, ['--lock-duration', '500', '--stalled-interval', '200']);
  // A second worker runs stalled checks too, so a missed renewal would be noticed.
  await s.readyWorker(name, ['--lock-duration', '500', '--stalled-interval', '200']);
  const job = await queue.add('sleep', { ms: 2000 });
  assert.deepEqual(await job.waitUntilFinished(qe, 10000), { slept: 2000 });
  assert.equal(seen.of('stalled').length, 0);
  const done = await Job.fromId(queue, job.id);
  assert.equal(done.stalledCounter, 0);
  assert.equal(done.attemptsMade, 1);
  assert.equal(worker.events(LOCK_LOST).length, 0);
});

for (const steal of ['overwritten', 'deleted']) {
  test(`a job whose lock is ${steal} is reported lost and its result is not written`, async () => {
    const name = s.queueName(`steal-${steal}`);
    const queue = s.queue(name);
    const qe = await s.events(name);
    const seen = recordEvents(qe, ['completed', 'failed']);
    const client = s.client();
    // Long stalled interval: nobody recovers the job during the test.
    const worker = await s.readyWorker(name, ['--lock-duration', '600', '--stalled-interval', '60000']);
    const job = await queue.add('sleep', { ms: 1500 });
    await worker.waitForLog('job.active', (l) => l.job_id === job.id);
    const lockKey = `bull:${name}:${job.id}:lock`;
    if (steal === 'overwritten') await client.set(lockKey, 'another-worker-token', 'PX', 60000);
    else await client.del(lockKey);

    await worker.waitForLog('job.lock_lost', (l) => l.job_id === job.id, 5000);
    // The processor was cancelled or ran out; either way, nothing may be written.
    await waitFor(() => worker.events('job.outcome_rejected').some((l) => l.job_id === job.id)
      || worker.events('job.finish_failed').some((l) => l.job_id === job.id), { timeout: 5000, what: 'finish attempt' });
    const after = await Job.fromId(queue, job.id);
    assert.equal(await after.getState(), 'active', 'the job stays active for its new owner / the stalled check');
    assert.equal(after.returnvalue, null);
    assert.equal(after.failedReason, undefined);
    assert.equal(after.finishedOn, undefined);
    assert.equal(after.attemptsMade, 0);
    assert.equal(seen.length, 0, 'no completed / failed event');
    if (steal === 'overwritten') assert.equal(await client.get(lockKey), 'another-worker-token', 'the new owner keeps its lock');
    assert.equal(worker.events('job.completed').length, 0);
    // The worker goes on with other jobs.
    const next = await queue.add('echo', { ok: 1 });
    assert.deepEqual(await next.waitUntilFinished(qe, 5000), { ok: 1 });
  });
}

// utime + stime of a process, in seconds (clock ticks of 10 ms).
function processCpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

test('burn-cpu returns the CPU time it burned, and stops burning when its lock is lost', async () => {
  const name = s.queueName('burn');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['completed', 'failed']);
  const client = s.client();
  // One slot: the next job can only run once burn-cpu has returned. Long stalled
  // interval: nobody recovers the job during the test.
  const worker = await s.readyWorker(name, ['--concurrency', '1', '--lock-duration', '1000', '--stalled-interval', '60000']);
  const short = await queue.add('burn-cpu', { ms: 150 });
  const { burnedMs } = await short.waitUntilFinished(qe, 10000);
  assert.ok(burnedMs >= 150 && burnedMs < 1000, `burnedMs ${burnedMs} for 150 ms asked`);

  const long = await queue.add('burn-cpu', { ms: 60000 });
  await worker.waitForLog('job.active', (l) => l.job_id === long.id);
  await sleep(300); // burning
  await client.del(`bull:${name}:${long.id}:lock`);
  await worker.waitForLog('job.lock_lost', (l) => l.job_id === long.id, 5000);
  const next = await queue.add('echo', { ok: 1 });
  assert.deepEqual(await next.waitUntilFinished(qe, 5000), { ok: 1 }, 'the slot was freed: the burn stopped');
  await waitFor(() => worker.events('job.outcome_rejected').some((l) => l.job_id === long.id)
    || worker.events('job.finish_failed').some((l) => l.job_id === long.id), { timeout: 5000, what: 'finish attempt' });
  const after = await Job.fromId(queue, long.id);
  assert.equal(await after.getState(), 'active', 'left for the stalled check');
  assert.equal(after.returnvalue, null);
  assert.equal(after.failedReason, undefined);
  assert.equal(seen.of('failed').length, 0);
  // No thread burns on in the background: the idle worker uses next to no CPU.
  const cpu0 = processCpuSeconds(worker.pid);
  await sleep(1000);
  const idleCpu = processCpuSeconds(worker.pid) - cpu0;
  assert.ok(idleCpu < 0.3, `the worker used ${idleCpu} s of CPU in 1 s after the lock loss`);
});

test('--max-started-attempts: a job started more often than allowed fails without running', async () => {
  const name = s.queueName('maxstarted');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const job = await killWhileActive(queue, name, ['--max-started-attempts', '1']);
  const rescuer = await s.readyWorker(name, [...fast, '--max-started-attempts', '1', '--name', 'rescuer']);
  await assert.rejects(job.waitUntilFinished(qe, 15000), /job started more than allowable limit/);
  const done = await Job.fromId(queue, job.id);
  assert.equal(done.failedReason, 'job started more than allowable limit');
  assert.equal(done.attemptsStarted, 2);
  assert.equal(rescuer.events('job.completed').length, 0);
});

test('a stalled job scheduler iteration is recovered and run even with --max-stalled-count 0', async () => {
  const name = s.queueName('stalledsched');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['stalled', 'completed', 'failed', 'duplicated']);
  const victim = await s.readyWorker(name, [...fast, '--max-stalled-count', '0', '--name', 'victim']);
  await queue.upsertJobScheduler('slow', { every: 60000 }, { name: 'sleep', data: { ms: 60000 } });
  const first = await waitFor(async () => (await queue.getActive())[0], { what: 'first iteration active' });
  assert.match(first.id, /^repeat:slow:\d+$/);
  await victim.waitForLog('job.active', (l) => l.job_id === first.id);
  victim.kill('SIGKILL');
  await victim.exited;
  await first.updateData({ ms: 20 });
  await s.readyWorker(name, [...fast, '--max-stalled-count', '0', '--name', 'rescuer']);
  assert.deepEqual(await first.waitUntilFinished(qe, 15000), { slept: 20 }, 'scheduler jobs never get the deferred failure');
  assert.equal(seen.of('stalled', first.id).length, 1);
  assert.equal(seen.of('failed', first.id).length, 0);
  // The rescuer's claim finds the next iteration already there.
  assert.equal(await queue.getDelayedCount(), 1);
  await queue.removeJobScheduler('slow');
});

test('a frozen worker that wakes after its job was taken over writes nothing into it', async () => {
  const name = s.queueName('thawed');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const frozen = await s.readyWorker(name, [...fast, '--name', 'frozen']);
  const steps = Array.from({ length: 8 }, (_, i) => i + 1);
  const job = await queue.add('progress', { steps, intervalMs: 250 });
  await waitFor(async () => (await Job.fromId(queue, job.id)).progress === 2, { what: 'the frozen worker at step 2' });
  process.kill(frozen.pid, 'SIGSTOP');
  try {
    const rescuer = await s.readyWorker(name, [...fast, '--name', 'rescuer']);
    assert.deepEqual(await job.waitUntilFinished(qe, 15000), { steps: steps.length });
    await rescuer.stop();
  } finally {
    process.kill(frozen.pid, 'SIGCONT');
  }
  // Awake again, its processor goes on with its steps until it learns that
  // the lock is gone; none of its writes may land on the finished job.
  await frozen.waitForLog(LOCK_LOST, (l) => l.job_id === job.id, 10000);
  await waitFor(() => frozen.events('job.outcome_rejected').some((l) => l.job_id === job.id)
    || frozen.events('job.finish_failed').some((l) => l.job_id === job.id), { what: 'the frozen worker gave up the job' });
  const done = await Job.fromId(queue, job.id);
  assert.equal(await done.getState(), 'completed');
  assert.equal(done.progress, steps.length, 'the rescuer\'s last progress stands');
  assert.deepEqual(done.returnvalue, { steps: steps.length });
});

// Forwards connections to Redis; the first client→Redis chunk holding
// `marker` is held back until `onMarker()` has run, so a test can act in
// the window between a worker's decision to write and the write itself.
async function holdingProxy(redisPort, marker, onMarker) {
  const needle = Buffer.from(marker);
  let fired = false;
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let chain = Promise.resolve();
    client.on('data', (chunk) => {
      chain = chain.then(async () => {
        if (!fired && chunk.includes(needle)) {
          fired = true;
          await onMarker();
        }
        upstream.write(chunk);
      });
    });
    upstream.on('data', (chunk) => client.write(chunk));
    for (const [a, b] of [[client, upstream], [upstream, client]]) {
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    get fired() { return fired; },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

test('a progress write racing a lock takeover is refused by the write itself (no check-then-write window)', async () => {
  const name = s.queueName('racewrite');
  const queue = s.queue(name);
  const client = s.client();
  let lockKey;
  // The takeover happens after the worker decided to write and before Redis
  // sees the write: a lock checked by an earlier GET would not notice it.
  const proxy = await holdingProxy(s.redis.port, '"race-marker"', async () => {
    await client.set(lockKey, 'another-worker-token', 'PX', 60000);
  });
  try {
    const worker = s.workerWith(['run', '--queue', name, '--redis', `redis://127.0.0.1:${proxy.port}`,
      '--processors', 'conformance', '--stalled-interval', '60000']);
    await waitForReady(worker);
    const job = await queue.add('progress', { steps: [10, 'race-marker', 30], intervalMs: 20 });
    lockKey = `bull:${name}:${job.id}:lock`;
    await waitFor(() => worker.events('job.outcome_rejected').some((l) => l.job_id === job.id)
      || worker.events('job.finish_failed').some((l) => l.job_id === job.id), { what: 'the worker gave up the job' });
    assert.ok(proxy.fired, 'the write went through the proxy');
    const after = await Job.fromId(queue, job.id);
    assert.equal(after.progress, 10, 'the write after the takeover did not land');
    assert.equal(await after.getState(), 'active', 'left to its new owner');
    assert.equal(await client.get(lockKey), 'another-worker-token');
    assert.equal(after.failedReason, undefined);
  } finally {
    await proxy.close();
  }
});
