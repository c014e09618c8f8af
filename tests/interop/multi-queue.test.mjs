// Several queues in one process, each with its own concurrency; the
// effective settings (--print-config) and a configuration file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { RedisServer, WorkerProcess, runBinary, waitFor } from './lib/harness.mjs';

let redis;
let dir;
before(async () => {
  redis = await RedisServer.start();
  dir = mkdtempSync(path.join(os.tmpdir(), 'bullmq-worker-config-'));
});
after(async () => {
  await redis?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('one process consumes two queues, each with its own concurrency', async () => {
  const connection = { host: '127.0.0.1', port: redis.port };
  const files = new Queue('mq-files', { connection });
  const aggregation = new Queue('mq-aggregation', { connection });
  const worker = WorkerProcess.start(['run', '--queue', 'mq-files:3', '--queue', 'mq-aggregation:1',
    '--redis', redis.url, '--processors', 'conformance', '--name', 'multi']);
  try {
    await files.addBulk(Array.from({ length: 6 }, (_, i) => ({ name: 'sleep', data: { ms: 300 }, opts: { jobId: `f${i}` } })));
    await aggregation.addBulk(Array.from({ length: 3 }, (_, i) => ({ name: 'sleep', data: { ms: 300 }, opts: { jobId: `a${i}` } })));
    await waitFor(async () => (await files.getCompletedCount()) === 6 && (await aggregation.getCompletedCount()) === 3,
      { timeout: 15000, what: 'both queues done' });
    const overlap = async (queue, ids) => {
      const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
      let most = 0;
      for (const a of jobs) {
        // Jobs running at the moment `a` started.
        const running = jobs.filter((b) => b.processedOn <= a.processedOn && a.processedOn < b.finishedOn).length;
        most = Math.max(most, running);
      }
      return most;
    };
    assert.equal(await overlap(files, ['f0', 'f1', 'f2', 'f3', 'f4', 'f5']), 3, 'files runs 3 at a time');
    assert.equal(await overlap(aggregation, ['a0', 'a1', 'a2']), 1, 'aggregation runs 1 at a time');
    assert.equal((await files.getWorkers()).length, 1);
    assert.equal((await aggregation.getWorkers()).length, 1);
  } finally {
    const { code } = await worker.stop();
    assert.equal(code, 0);
    await files.close();
    await aggregation.close();
  }
});

test('--print-config shows the effective settings with secrets masked', async () => {
  const { code, stdout } = await runBinary(['run', '--queue', 'a:4', '--queue', 'b', '--concurrency', '2',
    '--processors', 'files', '--redis', 'redis://app:topsecret@redis:6379/1',
    '--database-url', 'postgresql://app:dbsecret@db:5432/app', '--storage-base-path', '/data', '--print-config']);
  assert.equal(code, 0);
  assert.doesNotMatch(stdout, /topsecret|dbsecret/);
  const config = JSON.parse(stdout);
  assert.deepEqual(config.queues, [{ name: 'a', concurrency: 4 }, { name: 'b', concurrency: 2 }]);
  assert.equal(config.redis, 'redis://app:***@redis:6379/1');
  assert.equal(config.database_url, 'postgresql://app:***@db:5432/app');
  assert.equal(config.processors, 'files');
});

test('settings come from a configuration file; flags and environment twins still apply', async () => {
  const file = path.join(dir, 'worker.toml');
  writeFileSync(file, '[run]\nqueue = ["cfg-a:2", "cfg-b"]\nprocessors = "conformance"\nlock-duration = 45000\n');
  const { code, stdout, stderr } = await runBinary(['--config', file, 'run', '--name', 'from-flag', '--print-config'],
    { env: { BULLMQ_STALLED_INTERVAL: '12345' } });
  assert.equal(code, 0, stderr);
  const config = JSON.parse(stdout);
  assert.deepEqual(config.queues.map((q) => q.name), ['cfg-a', 'cfg-b']);
  assert.equal(config.queues[0].concurrency, 2);
  assert.equal(config.lock_duration_ms, 45000);
  assert.equal(config.name, 'from-flag');
  assert.equal(config.stalled_interval_ms, 12345);
  const bad = await runBinary(['--config', path.join(dir, 'missing.toml'), 'run', '--print-config']);
  assert.equal(bad.code, 2);
});
