// What the probes say while Redis refuses the worker, and that no job pays
// for it: a real redis-server that cannot persist (MISCONF), is full (OOM),
// changed the worker's password (WRONGPASS), took a command from its ACL
// user (NOPERM), became a replica (READONLY), or froze (SIGSTOP) for longer
// than --redis-timeout. In each state /readyz is 503 and names the cause;
// afterwards it is 200 again and every job ends exactly once, its attempts
// unspent.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Queue } from 'bullmq';
import { freePort, RedisServer, WorkerProcess, waitFor } from './lib/harness.mjs';

const cleanups = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

async function get(port, path) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: await res.text() };
}

async function server(args = []) {
  const redis = await RedisServer.start({ args });
  cleanups.push(() => redis.destroy());
  return redis;
}

async function worker(url, queue, extra = []) {
  const port = await freePort();
  const w = WorkerProcess.start(['run', '--queue', queue, '--redis', url, '--processors', 'conformance',
    '--http-port', String(port), '--http-host', '127.0.0.1', '--stalled-interval', '500', '--drain-delay', '1',
    ...extra]);
  cleanups.push(() => w.stop());
  await waitFor(async () => (await get(port, '/readyz')).status === 200, { what: 'worker ready', timeout: 10000 });
  return { w, port };
}

function queueOn(redis, name, auth = {}) {
  const q = new Queue(name, { connection: { host: '127.0.0.1', port: redis.port, ...auth } });
  cleanups.push(() => q.close());
  return q;
}

// /readyz turns 503 naming `cause`, within `timeout`.
async function notReady(port, cause, timeout = 8000) {
  const r = await waitFor(async () => {
    const res = await get(port, '/readyz');
    return res.status === 503 && res.body.includes(cause) ? res : null;
  }, { what: `/readyz 503 naming ${cause}`, timeout });
  return r.body;
}

async function readyAgain(port, timeout = 10000) {
  await waitFor(async () => (await get(port, '/readyz')).status === 200, { what: '/readyz 200 again', timeout });
}

// Every job completed exactly once, on its first attempt, with its value.
async function allCompletedOnce(redis, queue, ids) {
  await waitFor(async () => {
    const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
    return states.every((s) => s === 'completed');
  }, { what: `${ids.length} jobs completed`, timeout: 15000 });
  const client = redis.client();
  const events = await client.xrange(`bull:${queue.name}:events`, '-', '+');
  await client.quit();
  const completions = new Map();
  for (const [, fields] of events) {
    const e = {};
    for (let i = 0; i < fields.length; i += 2) e[fields[i]] = fields[i + 1];
    if (e.event === 'completed') completions.set(e.jobId, (completions.get(e.jobId) ?? 0) + 1);
  }
  for (const id of ids) {
    const job = await queue.getJob(id);
    assert.equal(job.attemptsMade, 1, `job ${id} spent ${job.attemptsMade} attempts`);
    assert.equal(completions.get(id), 1, `job ${id} completed ${completions.get(id) ?? 0} times`);
  }
}

test('MISCONF (Redis cannot persist): 503 naming it; running jobs finish once, unspent, after the fix', async () => {
  const redis = await server(['--save', '3600 1']);
  const name = 'health-misconf';
  const q = queueOn(redis, name);
  const { port } = await worker(redis.url, name, ['--concurrency', '4']);
  await q.add('echo', { n: 0 }, { jobId: 'before' });
  // Four jobs still running when Redis starts refusing writes.
  for (let i = 0; i < 4; i++) await q.add('sleep', { ms: 1500 }, { jobId: `running-${i}`, attempts: 3 });
  await waitFor(async () => (await q.getActiveCount()) === 4, { what: '4 jobs active' });
  const admin = redis.client();
  cleanups.push(() => admin.quit());
  rmSync(redis.dir, { recursive: true, force: true }); // the next snapshot has nowhere to go
  await admin.bgsave();
  await waitFor(async () => (await admin.info('persistence')).includes('rdb_last_bgsave_status:err'),
    { what: 'a failed BGSAVE' });
  const body = await notReady(port, 'MISCONF');
  assert.match(body, /Redis refuses/);
  await admin.config('SET', 'stop-writes-on-bgsave-error', 'no');
  await readyAgain(port);
  await q.add('echo', { n: 1 }, { jobId: 'after' });
  await allCompletedOnce(redis, q, ['before', 'after', 'running-0', 'running-1', 'running-2', 'running-3']);
});

test('OOM (maxmemory reached): 503 naming it; 200 and jobs once after memory is freed', async () => {
  const redis = await server();
  const name = 'health-oom';
  const q = queueOn(redis, name);
  const { port } = await worker(redis.url, name);
  await q.add('sleep', { ms: 1000 }, { jobId: 'running', attempts: 2 });
  await waitFor(async () => (await q.getActiveCount()) === 1, { what: 'job active' });
  const admin = redis.client();
  cleanups.push(() => admin.quit());
  await admin.config('SET', 'maxmemory', '1');
  await notReady(port, 'OOM');
  await admin.config('SET', 'maxmemory', '0');
  await readyAgain(port);
  await q.add('echo', {}, { jobId: 'after' });
  await allCompletedOnce(redis, q, ['running', 'after']);
});

test('WRONGPASS (the password changed): 503 naming it while reconnects are refused; 200 when it is back', async () => {
  const redis = await server();
  const admin = redis.client();
  cleanups.push(() => admin.quit());
  await admin.acl('SETUSER', 'worker', 'on', '>first', '~*', '&*', '+@all');
  const name = 'health-wrongpass';
  const { port } = await worker(`redis://worker:first@127.0.0.1:${redis.port}`, name);
  await admin.acl('SETUSER', 'worker', 'resetpass', '>second');
  await admin.client('KILL', 'USER', 'worker');
  await notReady(port, 'WRONGPASS');
  await admin.acl('SETUSER', 'worker', 'resetpass', '>first');
  await readyAgain(port);
  const q = queueOn(redis, name);
  await q.add('echo', {}, { jobId: 'after' });
  await allCompletedOnce(redis, q, ['after']);
});

test('NOPERM (a command taken from the ACL user): 503 naming it; 200 when it is given back', async () => {
  const redis = await server();
  const admin = redis.client();
  cleanups.push(() => admin.quit());
  await admin.acl('SETUSER', 'worker', 'on', '>pw', '~*', '&*', '+@all');
  const name = 'health-noperm';
  const q = queueOn(redis, name);
  const { port } = await worker(`redis://worker:pw@127.0.0.1:${redis.port}`, name,
    ['--liveness-idle-timeout', '1']);
  await admin.acl('SETUSER', 'worker', '-evalsha', '-eval', '-bzpopmin');
  await notReady(port, 'NOPERM');
  // Jobs wait that the worker cannot claim: it is not ready, but it is alive
  // (a restart would not give the ACL user its command back). Observed for
  // longer than the idle timeout.
  await q.add('echo', {}, { jobId: 'during' });
  const until = Date.now() + 2500;
  while (Date.now() < until) {
    assert.equal((await get(port, '/livez')).status, 200, '/livez failed during the refusal');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await admin.acl('SETUSER', 'worker', '+@all');
  await readyAgain(port);
  await q.add('echo', {}, { jobId: 'after' });
  await allCompletedOnce(redis, q, ['during', 'after']);
});

test('READONLY (the server became a replica): 503 naming it; 200 once it is a master again', async () => {
  const redis = await server();
  const upstream = await server();
  const name = 'health-readonly';
  const { port } = await worker(redis.url, name);
  const admin = redis.client();
  cleanups.push(() => admin.quit());
  await admin.replicaof('127.0.0.1', String(upstream.port));
  await notReady(port, 'READONLY');
  await admin.replicaof('NO', 'ONE');
  await readyAgain(port);
  const q = queueOn(redis, name);
  await q.add('echo', {}, { jobId: 'after' });
  await allCompletedOnce(redis, q, ['after']);
});

test('a Redis frozen longer than --redis-timeout is noticed: 503, connections rebuilt, the job ends once', async (t) => {
  const redis = await server();
  const name = 'health-frozen';
  const q = queueOn(redis, name);
  const { w, port } = await worker(redis.url, name, ['--redis-timeout', '1000']);
  await q.add('sleep', { ms: 300 }, { jobId: 'in-flight', attempts: 2 });
  await waitFor(async () => (await q.getActiveCount()) === 1, { what: 'job active' });
  const frozenAt = Date.now();
  redis.process.kill('SIGSTOP');
  try {
    await w.waitForLog('redis.timeout', () => true, 6000);
    await notReady(port, 'Redis not connected', 6000);
  } finally {
    redis.process.kill('SIGCONT');
  }
  const noticedAfter = w.events('redis.timeout')[0] && Date.parse(w.events('redis.timeout')[0].ts) - frozenAt;
  t.diagnostic(`frozen Redis noticed ${noticedAfter} ms after SIGSTOP (--redis-timeout 1000)`);
  assert.ok(noticedAfter < 4000, `noticed only after ${noticedAfter} ms`);
  await readyAgain(port);
  await q.add('echo', {}, { jobId: 'after' });
  await allCompletedOnce(redis, q, ['in-flight', 'after']);
});
