// A processor's dependency that goes down is not the job's fault: the job goes
// back to delayed without spending an attempt, the worker stops claiming and
// says so on /readyz and /metrics, and it resumes by itself once the
// dependency's check passes. Driven through the conformance processor
// `needs-dependency`, whose dependency is up while a switch file exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Job, setupSuite, recordEvents } from './lib/fixtures.mjs';
import { freePort, waitFor } from './lib/harness.mjs';

const s = await setupSuite();

async function get(port, urlPath) {
  const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, { signal: AbortSignal.timeout(2000) });
  return { status: res.status, body: await res.text() };
}

test('a dependency outage spends no attempt, stops claiming, and consumption resumes when it answers', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bullmq-dependency-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const switchFile = path.join(dir, 'up');
  const name = s.queueName('dependency');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const seen = recordEvents(qe, ['completed', 'failed']);
  const port = await freePort();
  writeFileSync(switchFile, 'up');
  const worker = await s.readyWorker(name, ['--concurrency', '2', '--http-port', String(port), '--http-host', '127.0.0.1'],
    { env: { BULLMQ_CONFORMANCE_SWITCH_FILE: switchFile } });
  await waitFor(async () => (await get(port, '/readyz')).status === 200, { what: '/readyz 200 with the dependency up' });
  unlinkSync(switchFile); // the dependency goes down while the worker runs

  // attempts: 1 and no backoff: a single spent attempt would fail the job for good.
  const jobs = await queue.addBulk(Array.from({ length: 4 }, (_, i) => ({ name: 'needs-dependency', data: { i }, opts: { attempts: 1 } })));
  await worker.waitForLog('dependency.down', (l) => l.dependency === 'conformance-switch');
  await worker.waitForLog('job.deferred', (l) => l.dependency === 'conformance-switch');

  const ready = await waitFor(async () => {
    const r = await get(port, '/readyz');
    return r.status === 503 && r;
  }, { what: '/readyz 503 while the dependency is down' });
  assert.match(ready.body, /dependency conformance-switch unavailable .*switch file .* is absent/);
  assert.equal((await get(port, '/livez')).status, 200, 'a worker waiting for a dependency is alive');
  const metrics = (await get(port, '/metrics')).body;
  assert.match(metrics, /bullmq_worker_dependency_up\{dependency="conformance-switch"\} 0/);

  // While it is down: nothing fails, and the worker does not churn through the
  // queue (a deferred job is claimed again only by a worker whose gate is open).
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(seen.length, 0, 'no job completed or failed during the outage');
  assert.equal(await queue.getFailedCount(), 0);
  const deferrals = worker.events('job.deferred').length;
  assert.ok(deferrals >= 1 && deferrals <= 2, `at most one claim per slot before the gate closed (saw ${deferrals})`);
  for (const job of jobs) {
    const j = await Job.fromId(queue, job.id);
    assert.equal(j.attemptsMade, 0, `job ${job.id} spent no attempt`);
    assert.equal(j.attemptsStarted ?? 0, 0, `job ${job.id}: a deferred claim is not a start`);
    assert.equal(j.failedReason, undefined);
  }

  writeFileSync(switchFile, 'up');
  await worker.waitForLog('dependency.up', (l) => l.dependency === 'conformance-switch');
  for (const job of jobs) assert.deepEqual(await job.waitUntilFinished(qe, 10000), { ran: true });
  await waitFor(async () => (await get(port, '/readyz')).status === 200, { what: '/readyz 200 again' });
  for (const job of jobs) {
    const j = await Job.fromId(queue, job.id);
    assert.equal(j.attemptsMade, 1, 'completed on its first attempt');
    assert.equal(j.attemptsStarted, 1);
  }
  assert.match((await get(port, '/metrics')).body, /bullmq_worker_dependency_up\{dependency="conformance-switch"\} 1/);
  assert.ok(existsSync(switchFile));
});

test('a worker started while a dependency is down claims nothing until it answers', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bullmq-dependency-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const switchFile = path.join(dir, 'up');
  const name = s.queueName('dependency-start');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const jobs = await queue.addBulk(Array.from({ length: 3 }, (_, i) => ({ name: 'needs-dependency', data: { i }, opts: { attempts: 1 } })));
  const worker = await s.readyWorker(name, ['--concurrency', '3'], { env: { BULLMQ_CONFORMANCE_SWITCH_FILE: switchFile } });
  await worker.waitForLog('dependency.down', (l) => l.dependency === 'conformance-switch');
  // The first check answered before any claim: the jobs stay waiting, untouched.
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(await queue.getWaitingCount(), 3);
  assert.deepEqual(worker.events('job.active'), []);
  assert.deepEqual(worker.events('job.deferred'), []);
  writeFileSync(switchFile, 'up');
  for (const job of jobs) assert.deepEqual(await job.waitUntilFinished(qe, 10000), { ran: true });
});

test('the outcome line of a job is written before the outcome reaches Redis', async () => {
  // A worker SIGKILLed at any point: every job Redis has as completed has its
  // job.completed line in the log (the line is written before the script is sent).
  const name = s.queueName('log-ahead');
  const queue = s.queue(name);
  const total = 3000;
  for (let i = 0; i < total; i += 500) {
    await queue.addBulk(Array.from({ length: 500 }, (_, k) => ({ name: 'echo', data: { i: i + k } })));
  }
  const worker = await s.readyWorker(name, ['--concurrency', '20'], { env: { LOG_LEVEL: 'info' } });
  await waitFor(async () => (await queue.getCompletedCount()) >= total / 3, { timeout: 20000, what: 'a third completed' });
  worker.kill('SIGKILL');
  await worker.exited;
  const completed = await queue.getCompleted(0, -1);
  assert.ok(completed.length > 0 && completed.length < total, `killed mid-run (${completed.length} of ${total} completed)`);
  const logged = new Set(worker.events('job.completed').map((l) => l.job_id));
  const missing = completed.map((j) => j.id).filter((id) => !logged.has(id));
  assert.deepEqual(missing, [], 'completed in Redis without a job.completed line');
});
