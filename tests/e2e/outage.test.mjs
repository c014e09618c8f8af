// The document pipeline through a PostgreSQL outage and a storage outage,
// with real servers: an outage is not the jobs' fault, so while a dependency
// is down `bullmq-worker run --processors files` spends no attempt and fails
// no job, stops claiming (/readyz 503 naming the dependency), and finishes
// every batch by itself once the dependency answers again. The batches use
// short backoffs (2 attempts, 200 ms), far shorter than the outages, so a
// worker that spent attempts would fail the jobs for good.
//
// Needs: build/bullmq-worker, `npm ci` in scripts/node and tests/interop,
// redis-server and postgresql 15 (scripts/install-deps.sh).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { renameSync } from 'node:fs';
import path from 'node:path';

import { WorkerProcess, freePort, runCommand, waitFor } from '../interop/lib/harness.mjs';
import { mixedUpload } from '../../scripts/lib/documents.mjs';
import { repoRoot, startPipelineEnv } from './lib/pipeline-env.mjs';

const FINAL = ['completed', 'completed_with_errors', 'failed'];

async function get(port, urlPath) {
  const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

describe('dependency outages under the document pipeline', { timeout: 120000 }, () => {
  let env;
  let queue;
  let worker;
  let port;
  const queueName = `e2e-outage-${randomBytes(4).toString('hex')}`;
  const upload = mixedUpload();

  const query = (sql, params) => env.query(sql, params);

  async function produce() {
    const r = await runCommand(process.execPath, [path.join(repoRoot, 'scripts', 'producer.mjs'),
      '--zip', env.zipFile, '--redis', env.redis.url, '--database-url', env.databaseUrl, '--storage', env.storage,
      '--queue', queueName, '--attempts', '2', '--backoff-delay', '200'], { timeout: 30000 });
    assert.equal(r.code, 0, `producer failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim());
  }

  function diagnostics() {
    return `\n--- last worker log lines:\n${worker.lines.slice(-30).map((l) => JSON.stringify(l)).join('\n')}`;
  }

  // During the outage: the worker says why it is not ready, nothing failed,
  // and no job of the batch spent an attempt.
  // `claims`: whether jobs met the outage (it began while the worker ran) or
  // the worker claimed none (it started during the outage).
  async function checkOutage(out, dependency, { from, failedBefore, claims }) {
    const since = (event) => worker.lines.slice(from).filter((l) => l.event === event);
    await worker.waitForLog('dependency.down', (l) => l.dependency === dependency, 20000);
    const ready = await waitFor(async () => {
      const r = await get(port, '/readyz');
      return r.status === 503 && r.body.includes(`dependency ${dependency} unavailable`) && r;
    }, { timeout: 10000, what: `/readyz 503 naming ${dependency}` });
    assert.match(ready.body, /claiming no jobs/);
    assert.equal((await get(port, '/livez')).status, 200, 'waiting for a dependency is not a reason to restart');
    // Longer than both backoffs together (200 + 400 ms) and than the gate's
    // first checks: a worker spending attempts would have failed jobs by now.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(await queue.getFailedCount(), failedBefore, 'no job failed during the outage');
    for (const job of await queue.getJobs(['waiting', 'delayed', 'active', 'waiting-children', 'prioritized'])) {
      if (job.data.batch_id !== out.batch_id && job.data.run_id !== out.run_id) continue;
      assert.equal(job.attemptsMade, 0, `${job.name} ${job.id} spent no attempt`);
    }
    if (claims) {
      assert.ok(since('job.deferred').some((l) => l.dependency === dependency), 'jobs were deferred');
    } else {
      assert.deepEqual(since('job.deferred'), [], 'a worker started during the outage claims nothing');
      assert.equal(await queue.getDelayedCount(), 0, 'no job was claimed and put back');
      assert.equal(await queue.getActiveCount(), 0);
    }
    assert.deepEqual(since('job.failed'), []);
    assert.deepEqual(since('job.retrying'), []);
  }

  // After the outage: the batch is final and summarised, the corrupt file is
  // the only failure, and every job of the batch finished on its first attempt.
  async function checkRecovered(out) {
    await waitFor(async () => {
      if (worker.process.exitCode !== null) throw new Error(`worker exited: ${worker.stderrText.slice(-2000)}`);
      const rows = await query('SELECT status FROM processing_jobs WHERE batch_id = $1', [out.batch_id]);
      return rows.length === 1 && FINAL.includes(rows[0].status);
    }, { timeout: 45000, interval: 250, what: 'the batch to finish after the outage' }).catch((err) => {
      err.message += diagnostics();
      throw err;
    });
    const [batch] = await query('SELECT * FROM processing_jobs WHERE batch_id = $1', [out.batch_id]);
    assert.equal(batch.status, 'completed_with_errors');
    const rows = await query('SELECT * FROM file_extractions WHERE run_id = $1', [out.run_id]);
    assert.equal(rows.length, upload.length);
    for (const file of upload) {
      const row = rows.find((r) => r.file_path === `${out.run_id}/${file.path}`);
      assert.equal(row.status, file.expect.status, `${file.path}: ${row.error_type} ${row.error_message}`);
      if (file.expect.status === 'failed') assert.equal(row.error_type, file.expect.error_type);
    }
    const summaries = await query('SELECT * FROM run_summaries WHERE run_id = $1', [out.run_id]);
    assert.equal(summaries.length, 1, 'one summary');
    assert.equal(summaries[0].success_count, upload.length - 1);
    const aggregate = await queue.getJob(out.aggregate_job_id);
    assert.equal(await aggregate.getState(), 'completed');
    for (const row of rows) {
      const job = await queue.getJob(`file-${row.doc_id}`);
      assert.equal(job.attemptsMade, 1, `${row.file_path}: one attempt, none spent by the outage`);
    }
    await waitFor(async () => (await get(port, '/readyz')).status === 200, { timeout: 15000, what: '/readyz 200 again' });
  }

  before(async () => {
    env = await startPipelineEnv({ tag: 'e2e-outage', queueName, upload });
    queue = env.queue;
    port = await freePort();
  });

  after(async () => {
    await env?.stop([() => worker?.stop(15000)]);
  });

  test('PostgreSQL down: no attempt spent, no job failed, the batch finishes once it is back', async () => {
    const out = await produce();
    await env.db.end();
    await env.postgres.stop();
    worker = WorkerProcess.start([
      'run', '--processors', 'files', '--queue', queueName, '--concurrency', '3',
      '--redis', env.redis.url, '--database-url', env.databaseUrl, '--storage-base-path', env.storage,
      '--http-port', String(port), '--http-host', '127.0.0.1',
    ], { env: { LOG_LEVEL: 'info' } });
    await checkOutage(out, 'postgresql', { from: 0, failedBefore: 0, claims: false });

    await env.postgres.restart();
    await env.connectDb();
    await worker.waitForLog('dependency.up', (l) => l.dependency === 'postgresql', 20000);
    await checkRecovered(out);
  });

  test('storage root gone: no attempt spent, nothing recorded as failed, the batch finishes once it is back', async () => {
    assert.ok(worker, 'the worker of the first test runs');
    await queue.pause();
    const out = await produce();
    const away = `${env.storage}.away`;
    renameSync(env.storage, away);
    try {
      const mark = { from: worker.lines.length, failedBefore: await queue.getFailedCount(), claims: true };
      await queue.resume();
      await checkOutage(out, 'storage', mark);
      const rows = await query('SELECT status FROM file_extractions WHERE run_id = $1', [out.run_id]);
      assert.ok(rows.every((r) => r.status !== 'failed'), 'no row recorded as failed while the storage is away');
    } finally {
      renameSync(away, env.storage);
    }
    await worker.waitForLog('dependency.up', (l) => l.dependency === 'storage', 20000);
    await checkRecovered(out);
  });
});
