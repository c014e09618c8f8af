// The HTTP endpoint for Kubernetes probes and Prometheus: /livez, /readyz,
// /metrics, against a real Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, RedisServer, WorkerProcess, waitFor, workerArgs } from './lib/harness.mjs';
import { Queue } from 'bullmq';
import { readdirSync } from 'node:fs';

let redis;
const started = [];

before(async () => {
  redis = await RedisServer.start();
});

after(async () => {
  for (const w of started) await w.stop();
  await redis?.destroy();
});

async function get(port, path, timeout = 2000) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(timeout) });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

async function startWorker(queue, extra = []) {
  const port = await freePort();
  const worker = WorkerProcess.start(workerArgs(redis, queue, ['--http-port', String(port), '--http-host', '127.0.0.1', ...extra]));
  started.push(worker);
  await waitFor(async () => (await get(port, '/readyz')).status === 200, { what: '/readyz 200' });
  return { worker, port };
}

test('/livez and /readyz answer 200 on a healthy worker; unknown paths 404', async () => {
  const { port } = await startWorker('http-ok');
  assert.deepEqual((await get(port, '/livez')).status, 200);
  const ready = await get(port, '/readyz');
  assert.equal(ready.status, 200);
  assert.match(ready.body, /ready/);
  assert.equal((await get(port, '/nope')).status, 404);
});

test('/metrics exposes job counters, the duration histogram and the queue depth', async () => {
  const queueName = 'http-metrics';
  const { port } = await startWorker(queueName, ['--concurrency', '2']);
  const queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: redis.port } });
  try {
    await queue.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 'echo', data: { i } })));
    await queue.add('fail-unrecoverable', { message: 'nope' });
    await queue.add('sleep', { ms: 100 }, { delay: 60000 });
    await waitFor(async () => {
      const m = (await get(port, '/metrics')).body;
      return m.includes('bullmq_worker_jobs_total{queue="http-metrics",name="echo",outcome="completed"} 5') &&
        m.includes('outcome="failed"} 1');
    }, { what: 'completed and failed counters' });
    const { body, type } = await get(port, '/metrics');
    assert.match(type, /text\/plain; version=0\.0\.4/);
    assert.match(body, /# TYPE bullmq_worker_job_duration_seconds histogram/);
    assert.match(body, /bullmq_worker_job_duration_seconds_count\{queue="http-metrics",name="echo"\} 5/);
    assert.match(body, /bullmq_worker_job_duration_seconds_bucket\{queue="http-metrics",name="echo",le="\+Inf"\} 5/);
    assert.match(body, /bullmq_worker_jobs_total\{queue="http-metrics",name="echo",outcome="claimed"\} 5/);
    assert.match(body, /bullmq_queue_jobs\{queue="http-metrics",state="delayed"\} 1/);
    assert.match(body, /bullmq_queue_jobs\{queue="http-metrics",state="completed"\} 5/);
    assert.match(body, /bullmq_queue_jobs\{queue="http-metrics",state="failed"\} 1/);
    assert.match(body, /bullmq_worker_redis_connected\{queue="http-metrics"\} 1/);
  } finally {
    await queue.close();
  }
});

test('processing threads start only when blocking processors need them (none for inline ones)', async () => {
  const queueName = 'http-threads';
  const { worker, port } = await startWorker(queueName, ['--concurrency', '50']);
  const queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: redis.port } });
  const gauge = async (name) => {
    const m = (await get(port, '/metrics')).body.match(new RegExp(`^${name} (\\d+)$`, 'm'));
    assert.ok(m, `${name} in /metrics`);
    return Number(m[1]);
  };
  const osThreads = () => readdirSync(`/proc/${worker.pid}/task`).length;
  try {
    // echo runs inline on the I/O thread: 50 slots, no processing thread.
    await queue.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 'echo', data: { i } })));
    await waitFor(async () => (await queue.getCompletedCount()) === 20, { what: '20 echo jobs completed' });
    assert.equal(await gauge('bullmq_worker_processor_threads'), 0);
    const inlineThreads = osThreads();
    assert.ok(inlineThreads < 10, `a worker at concurrency 50 with inline processors runs ${inlineThreads} threads`);

    // Three sleeps at once: one thread each, no more.
    await queue.addBulk(Array.from({ length: 3 }, (_, i) => ({ name: 'sleep', data: { ms: 1500, i } })));
    await waitFor(async () => (await gauge('bullmq_worker_processor_threads_busy')) === 3, { what: '3 sleeps running' });
    assert.equal(await gauge('bullmq_worker_processor_threads'), 3);
    assert.equal(osThreads(), inlineThreads + 3);
    await waitFor(async () => (await queue.getCompletedCount()) === 23, { what: 'the sleeps completed' });
    assert.equal(await gauge('bullmq_worker_processor_threads_busy'), 0);
    assert.equal(await gauge('bullmq_worker_processor_threads'), 3); // kept for the next jobs
  } finally {
    await queue.close();
  }
});

test('/livez fails when jobs wait but the worker claims none (a lost wake-up), and recovers', async () => {
  const queueName = 'http-idle';
  const { port } = await startWorker(queueName, ['--liveness-idle-timeout', '1', '--drain-delay', '3600']);
  const client = redis.client();
  try {
    // A job in wait without the marker that would wake the worker.
    await client.hset(`bull:${queueName}:9`, 'name', 'echo', 'data', '{}', 'opts', '{}', 'timestamp', String(Date.now()));
    await client.lpush(`bull:${queueName}:wait`, '9');
    const failing = await waitFor(async () => {
      const r = await get(port, '/livez');
      return r.status === 503 && r;
    }, { timeout: 10000, what: '/livez 503' });
    assert.match(failing.body, /queue http-idle has 1 waiting jobs but this worker claimed none/);
    // Waking it up: the worker claims the job and /livez is fine again.
    await client.zadd(`bull:${queueName}:marker`, 0, '0');
    await waitFor(async () => (await get(port, '/livez')).status === 200, { what: '/livez 200 again' });
  } finally {
    client.disconnect();
  }
});

test('/livez does not answer while the event loop is stopped', async () => {
  const { worker, port } = await startWorker('http-stopped');
  process.kill(worker.pid, 'SIGSTOP');
  try {
    await assert.rejects(get(port, '/livez', 1000));
  } finally {
    process.kill(worker.pid, 'SIGCONT');
  }
  assert.equal((await get(port, '/livez')).status, 200);
});

test('/readyz fails while Redis is down and while shutting down', async () => {
  const { worker, port } = await startWorker('http-ready', ['--shutdown-timeout', '5000']);
  const queue = new Queue('http-ready', { connection: { host: '127.0.0.1', port: redis.port } });
  await queue.add('sleep', { ms: 3000 });
  await worker.waitForLog('job.active');
  worker.kill('SIGTERM');
  const closing = await waitFor(async () => {
    const r = await get(port, '/readyz');
    return r.status === 503 && r;
  }, { what: '/readyz 503 while closing' });
  assert.match(closing.body, /shutting down/);
  await queue.close();
  assert.equal((await worker.exited).code, 0);

  const second = await startWorker('http-ready-2');
  await redis.stop();
  try {
    const down = await waitFor(async () => {
      const r = await get(second.port, '/readyz');
      return r.status === 503 && r;
    }, { what: '/readyz 503 without Redis' });
    assert.match(down.body, /Redis not connected/);
    assert.equal((await get(second.port, '/livez')).status, 200, 'Redis trouble is not a liveness failure');
  } finally {
    await redis.restart();
  }
  await waitFor(async () => (await get(second.port, '/readyz')).status === 200, { timeout: 15000, what: '/readyz 200 after Redis is back' });
});
