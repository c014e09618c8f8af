// Redis Cluster: the worker given one node of a real cluster finds the node
// that owns each queue's slot, consumes several queues on several nodes,
// follows a slot migration (MOVED, ASK) and a master failover, refuses a
// queue whose keys would span slots, and reports on /readyz when its slot
// has no reachable master. Every scenario ends by reading every job back
// with Node's client: completed exactly once, none missing, none failed.
//
// BULLMQ_WORKER_REFERENCE=node runs the same scenarios against Node's own
// BullMQ Worker (lib/reference-worker.mjs); assertions on the C++ binary's
// log lines, exit codes and HTTP probes are skipped there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Queue, Job } from 'bullmq';
import { freePort, waitFor } from './lib/harness.mjs';
import { RedisCluster, slotOf } from './lib/redis-cluster.mjs';
import { startWorker, referenceMode } from './lib/reference-worker.mjs';

const cppOnly = referenceMode ? 'C++ only (BULLMQ_WORKER_REFERENCE=node)' : false;

// One cluster without replicas shared by the tests that leave it healthy;
// the failover and /readyz tests start their own.
let cluster;
const workers = [];

before(async () => {
  cluster = await RedisCluster.start({ masters: 3, replicasPerMaster: 0, nodeTimeoutMs: 1000 });
});

after(async () => {
  await Promise.allSettled(workers.map((w) => w.stop(5000)));
  await teardown(cluster);
});

// Closes the Node objects made on cluster `c`, then stops its servers.
async function teardown(c) {
  if (!c) return;
  for (const close of (c.closers ?? []).reverse()) {
    // Bounded: a Node object whose node went away may never finish closing.
    await Promise.race([Promise.resolve().then(close).catch(() => {}),
      new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
  }
  await c.destroy();
}

function uid() {
  return randomBytes(3).toString('hex');
}

function addr(node) {
  return `127.0.0.1:${node.port}`;
}

function run(c, queues, extra = [], opts = {}) {
  const args = ['run', ...queues.flatMap((q) => ['--queue', q]), '--redis', c.seedUrl(opts.seed ?? 0),
    '--processors', 'conformance', ...extra];
  const w = startWorker(args, { env: opts.env ?? {} });
  workers.push(w);
  return w;
}

function queueOn(c, name, opts = {}) {
  const connection = c.client();
  const q = new Queue(name, { connection, ...opts });
  q.raw = connection; // the ioredis Cluster client itself, for plain commands
  (c.closers ??= []).push(() => q.close());
  return q;
}

// Completions the worker itself reported (its own log lines).
function completionsLogged(w) {
  return w.events(w.reference ? 'reference.job_completed' : 'job.completed');
}

// The expected return value of a conformance job.
function expectedResult(job) {
  if (job.name === 'echo') return job.data;
  if (job.name === 'sleep') return { slept: job.data.ms };
  throw new Error(`no expectation for ${job.name}`);
}

// Reads every job of `queue` back with Node's client: the completed set is
// exactly `jobs`, nothing is failed, active or waiting, each job has its
// result, and the events stream holds exactly one `completed` event per job.
async function assertExactlyOnce(queue, jobs, label) {
  const counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed', 'prioritized', 'paused');
  assert.deepEqual(counts, { completed: jobs.length, failed: 0, active: 0, wait: 0, delayed: 0, prioritized: 0, paused: 0 },
    `${label}: job counts`);
  const client = queue.raw;
  const completed = await client.zrange(queue.keys.completed, 0, -1);
  assert.deepEqual([...completed].sort(), jobs.map((j) => j.id).sort(), `${label}: the completed set holds every job, once`);
  for (const job of jobs) {
    const back = await Job.fromId(queue, job.id);
    assert.ok(back, `${label}: job ${job.id} exists`);
    assert.equal(back.failedReason, undefined, `${label}: job ${job.id} has no failure`);
    assert.ok(back.finishedOn > 0, `${label}: job ${job.id} has finishedOn`);
    assert.deepEqual(back.returnvalue, expectedResult(job), `${label}: job ${job.id} result`);
  }
  const perJob = new Map();
  let failedEvents = 0;
  for (const [, fields] of await client.xrange(queue.keys.events, '-', '+')) {
    const f = {};
    for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
    if (f.event === 'completed') perJob.set(f.jobId, (perJob.get(f.jobId) ?? 0) + 1);
    if (f.event === 'failed') failedEvents += 1;
  }
  assert.equal(failedEvents, 0, `${label}: no failed event`);
  for (const job of jobs) assert.equal(perJob.get(job.id), 1, `${label}: one completed event for job ${job.id}`);
  assert.equal(perJob.size, jobs.length, `${label}: completed events only for the queue's jobs`);
}

async function clientList(c, node) {
  return (await c.command(node, 'CLIENT', 'LIST')).trim().split('\n').filter(Boolean).map((line) => {
    const f = {};
    for (const part of line.split(' ')) {
      const i = part.indexOf('=');
      f[part.slice(0, i)] = part.slice(i + 1);
    }
    return f;
  });
}

// Clients blocked in BZPOPMIN on `node` under the client name that
// Queue.getWorkers() looks for: a worker's blocking connection for `queue`.
async function blockedOn(c, node, queue, prefix = 'bull') {
  const name = `${prefix}:${Buffer.from(queue).toString('base64')}`;
  return (await clientList(c, node)).filter((f) => f.cmd === 'bzpopmin' && f.flags.includes('b')
    && (f.name === name || f.name.startsWith(`${name}:w:`)));
}

// The worker waits for the queue's jobs on the node that owns its slot and
// on no other node.
async function assertBlocksOn(c, owner, queue, what, prefix = 'bull') {
  await waitFor(async () => (await blockedOn(c, owner, queue, prefix)).length > 0,
    { timeout: 15000, what: `${what}: the worker blocked in BZPOPMIN for ${queue} on node ${owner.index} (${addr(owner)})` });
  for (const n of c.nodes) {
    if (n === owner || !c.alive(n)) continue;
    assert.deepEqual(await blockedOn(c, n, queue, prefix), [], `${what}: nobody blocked for ${queue} on node ${n.index}`);
  }
}

function errorStats(info) {
  const out = {};
  for (const [k, v] of Object.entries(info)) {
    const m = /^errorstat_(.+)$/.exec(k);
    if (m) out[m[1]] = Number(/count=(\d+)/.exec(v)[1]);
  }
  return out;
}

test('the queue\'s slot lives on a node other than the one in the URL: jobs are processed there', async () => {
  const seed = cluster.nodes[0];
  const owner = cluster.nodes[2];
  const name = await cluster.tagOn(owner, `elsewhere-${uid()}`);
  assert.equal(await cluster.nodeForKey(`bull:${name}:wait`), owner);
  const queue = queueOn(cluster, name);
  const w = run(cluster, [name], ['--concurrency', '4'], { seed: 0 });
  await w.waitUntilReady();
  if (!w.reference) {
    // The connections that carry the queue's commands go to the owner.
    for (const role of ['command', 'blocking']) {
      await w.waitForLog('redis.connected', (l) => l.connection === role && l.node === addr(owner));
    }
  }
  await assertBlocksOn(cluster, owner, name, 'idle worker');
  const jobs = await queue.addBulk(Array.from({ length: 60 }, (_, i) => ({ name: i % 2 ? 'echo' : 'sleep', data: { i, ms: 5 } })));
  await waitFor(async () => (await queue.getCompletedCount()) === jobs.length, { timeout: 20000, what: 'all 60 completed' });
  await assertExactlyOnce(queue, jobs, 'elsewhere');
  await waitFor(() => completionsLogged(w).length >= jobs.length, { what: 'completions logged' });
  assert.equal(completionsLogged(w).length, jobs.length, 'the worker ran each job once');
  assert.deepEqual(await cluster.command(seed, 'KEYS', `*${name}*`), [], 'nothing of the queue on the seed node');
  assert.equal(w.process.exitCode, null);
  await w.stop();
});

test('two queues whose hash tags live on two different nodes, one process: both drain, neither starves', async () => {
  const a = await cluster.tagOn(cluster.nodes[1], `two-a-${uid()}`);
  const b = await cluster.tagOn(cluster.nodes[2], `two-b-${uid()}`);
  const qa = queueOn(cluster, a);
  const qb = queueOn(cluster, b);
  const w = run(cluster, [a, b], ['--concurrency', '2'], { seed: 0 });
  await w.waitUntilReady();
  // Both queues' blocking reads wait on their own node.
  await assertBlocksOn(cluster, cluster.nodes[1], a, 'queue a');
  await assertBlocksOn(cluster, cluster.nodes[2], b, 'queue b');

  const per = 40;
  const [ja, jb] = await Promise.all([
    qa.addBulk(Array.from({ length: per }, (_, i) => ({ name: 'sleep', data: { ms: 20, i } }))),
    qb.addBulk(Array.from({ length: per }, (_, i) => ({ name: 'sleep', data: { ms: 20, i } }))),
  ]);
  await waitFor(async () => (await qa.getCompletedCount()) === per && (await qb.getCompletedCount()) === per,
    { timeout: 20000, what: 'both queues drained' });
  await assertExactlyOnce(qa, ja, `queue ${a}`);
  await assertExactlyOnce(qb, jb, `queue ${b}`);

  // Neither waited for the other: each queue's processing started before
  // the other's ended (2 × 40 × 20 ms at concurrency 2 takes ≥ 400 ms).
  const span = async (q, jobs) => {
    const back = await Promise.all(jobs.map((j) => Job.fromId(q, j.id)));
    return { start: Math.min(...back.map((j) => j.processedOn)), end: Math.max(...back.map((j) => j.finishedOn)) };
  };
  const sa = await span(qa, ja);
  const sb = await span(qb, jb);
  assert.ok(sa.start < sb.end && sb.start < sa.end, `processing overlapped (a ${JSON.stringify(sa)}, b ${JSON.stringify(sb)})`);
  assert.ok(Math.abs(sa.start - sb.start) < 1000, `both started at once (a ${sa.start}, b ${sb.start})`);
  if (!w.reference) {
    for (const [q, node] of [[a, cluster.nodes[1]], [b, cluster.nodes[2]]]) {
      assert.ok(w.events('redis.connected').some((l) => l.node === addr(node)), `connected to ${addr(node)} for ${q}`);
    }
  }
  await w.stop();
});

test('the queue\'s slot migrated mid-run (MOVED, ASK): no job lost or completed twice; then the worker talks to the new owner', async (t) => {
  const from = cluster.nodes[0];
  const to = cluster.nodes[1];
  const name = await cluster.tagOn(from, `migrate-${uid()}`);
  const slot = slotOf(name);
  const queue = queueOn(cluster, name);
  const total = 300;
  const jobs = await queue.addBulk(Array.from({ length: total }, (_, i) => ({ name: 'sleep', data: { ms: 15, i } })));
  const w = run(cluster, [name], ['--concurrency', '6', '--lock-duration', '3000', '--stalled-interval', '1000'],
    { seed: 2, env: referenceMode ? { DEBUG: 'ioredis:cluster' } : {} });
  await waitFor(async () => (await queue.getCompletedCount()) >= 40 && (await queue.getActiveCount()) > 0,
    { timeout: 15000, what: '40 jobs completed and some running before the migration' });

  // From here until the redirections are counted, only the worker touches
  // the queue's keys: every ASK/MOVED the source answers is the worker's.
  const before = errorStats(await cluster.info(from, 'errorstats'));
  const targetBefore = errorStats(await cluster.info(to, 'errorstats'));
  // BullMQ's scripts declare keys that never exist in this queue (paused,
  // limiter, …), so while the slot migrates every script is refused: with
  // TRYAGAIN on the source (some keys moved, some not) and, once all keys
  // moved, ASK from the source then TRYAGAIN from the target. The worker must
  // retry through that. Keys move 20 at a time, then the slot stays
  // MIGRATING for 200 ms with every key on the target (the ASK phase). Kept
  // short: Node's Worker fails jobs ("Too many Cluster redirections") when
  // this lasts more than ~0.4 s (ioredis: 16 redirections, TRYAGAIN retried
  // after 100 ms on a random node).
  const moved = await cluster.migrateSlot(slot, to, { batchSize: 20, pauseBetweenKeysMs: 5, holdBeforeNodeMs: 200 });
  const during = errorStats(await cluster.info(from, 'errorstats'));
  const targetDuring = errorStats(await cluster.info(to, 'errorstats'));
  await waitFor(async () => (errorStats(await cluster.info(from, 'errorstats')).MOVED ?? 0) > (during.MOVED ?? 0),
    { timeout: 10000, what: 'the worker redirected by MOVED from the old owner' });
  const asks = (during.ASK ?? 0) - (before.ASK ?? 0);
  const tryagain = (during.TRYAGAIN ?? 0) - (before.TRYAGAIN ?? 0);
  const targetTryagain = (targetDuring.TRYAGAIN ?? 0) - (targetBefore.TRYAGAIN ?? 0);
  assert.ok(moved.keys > total, `the queue's keys were moved (${moved.keys} keys in ${moved.batches} batches)`);
  t.diagnostic(`migration: ${moved.keys} keys, ${moved.batches} batches, ${moved.finishedAt - moved.startedAt} ms; source answered ASK ${asks}, TRYAGAIN ${tryagain}; target answered TRYAGAIN ${targetTryagain}`);

  await waitFor(async () => (await queue.getCompletedCount()) === total, { timeout: 30000, what: `${total} completed` });
  const extra = await queue.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 'echo', data: { after: i } })));
  await waitFor(async () => (await queue.getCompletedCount()) === total + 20, { timeout: 15000, what: 'jobs added after the migration completed' });
  await assertExactlyOnce(queue, [...jobs, ...extra], 'migrated');

  // Jobs finished before, during and after the migration window.
  const finished = (await Promise.all(jobs.map((j) => Job.fromId(queue, j.id)))).map((j) => j.finishedOn);
  assert.ok(finished.some((at) => at < moved.startedAt), 'some jobs finished before the migration');
  assert.ok(finished.some((at) => at > moved.finishedAt), 'some jobs finished after it');
  assert.equal(await cluster.command(from, 'CLUSTER', 'COUNTKEYSINSLOT', slot), 0, 'no key of the slot left on the old owner');
  await assertBlocksOn(cluster, to, name, 'after the migration');
  assert.ok(asks > 0, `the worker met ASK during the migration (${JSON.stringify({ before, during })})`);
  if (w.reference) {
    const raw = w.lines.filter((l) => l.raw).map((l) => l.raw).join('\n');
    assert.match(raw, /is moved to/, 'ioredis followed MOVED');
    assert.match(raw, /is required to ask/, 'ioredis followed ASK');
  } else {
    assert.ok(w.events('redis.moved').length + w.events('redis.relocated').length > 0, 'the worker logged following the cluster');
    assert.ok(w.events('redis.connected').some((l) => l.node === addr(to)), `connected to the new owner ${addr(to)}`);
  }
  assert.equal(w.process.exitCode, null);
  await w.stop();
});

test('add_job from a processor: children in a queue sharing the slot are added; a queue in another slot is refused, naming the fix', { skip: cppOnly }, async () => {
  const name = await cluster.tagOn(cluster.nodes[1], `spawn-${uid()}`);
  const sibling = `${name}-children`; // same hash tag, same slot
  const elsewhere = await cluster.tagOn(cluster.nodes[2], `other-${uid()}`);
  assert.notEqual(slotOf(`bull:${sibling}:wait`), slotOf(`bull:${elsewhere}:wait`));
  const queue = queueOn(cluster, name);
  const w = run(cluster, [name, sibling], ['--concurrency', '2']);
  await w.waitUntilReady();
  const ok = await queue.add('spawn-children', { count: 2, queue: sibling });
  await waitFor(async () => (await queue.getJobState(ok.id)) === 'completed', { timeout: 15000, what: 'parent completed' });
  assert.deepEqual((await Job.fromId(queue, ok.id)).returnvalue, { sum: 3 });
  const refused = await queue.add('spawn-children', { count: 2, queue: elsewhere });
  await waitFor(async () => (await queue.getJobState(refused.id)) === 'failed', { timeout: 15000, what: 'parent failed' });
  const failed = await Job.fromId(queue, refused.id);
  assert.match(failed.failedReason, /cannot add job 'echo' to queue '.*': in Redis Cluster its keys live in another slot/);
  assert.match(failed.failedReason, /hash tag/);
  await w.stop();
});

test('prefix and queue name: keys that would span slots are refused; a hash tag in either works', async (t) => {
  await t.test('prefix bull, queue plain: exit code 2 and how to hash-tag it', { skip: cppOnly }, async () => {
    const w = run(cluster, ['plain'], ['--prefix', 'bull']);
    const exit = await Promise.race([w.exited, new Promise((resolve) => setTimeout(() => resolve('running'), 10000).unref())]);
    assert.deepEqual(exit, { code: 2, signal: null }, `exit status (stderr: ${w.stderrText})`);
    assert.match(w.stderrText, /hash tag/);
    assert.match(w.stderrText, /\{[^{}\s]+\}/, 'an example with braces');
  });
  for (const [prefix, name] of [['{bull}', `plain-${uid()}`], ['bull', `{plain-${uid()}}`]]) {
    await t.test(`prefix ${prefix}, queue ${name}: works`, async () => {
      const queue = queueOn(cluster, name, { prefix });
      const w = run(cluster, [name], ['--prefix', prefix, '--concurrency', '2']);
      await w.waitUntilReady();
      const owner = await cluster.nodeForKey(`${prefix}:${name}:wait`);
      assert.equal(slotOf(`${prefix}:${name}:wait`), slotOf(`${prefix}:${name}:1`), 'one slot for all keys');
      const jobs = await queue.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 'echo', data: { i } })));
      await waitFor(async () => (await queue.getCompletedCount()) === jobs.length, { timeout: 15000, what: 'all completed' });
      await assertExactlyOnce(queue, jobs, `${prefix} ${name}`);
      await assertBlocksOn(cluster, owner, name, `${prefix} ${name}`, prefix);
      assert.equal(w.process.exitCode, null);
      await w.stop();
    });
  }
});

for (const kill of [false, true]) {
  test(`master failover inside the cluster (${kill ? 'master SIGKILLed' : 'CLUSTER FAILOVER on its replica'}) mid-run: every job ends exactly once`, async (t) => {
    const c = await RedisCluster.start({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
    let w;
    try {
      const master = c.nodes[kill ? 2 : 1];
      const name = await c.tagOn(master, `failover-${kill ? 'kill' : 'manual'}-${uid()}`);
      const queue = queueOn(c, name);
      const total = 200;
      const jobs = await queue.addBulk(Array.from({ length: total }, (_, i) => ({ name: 'sleep', data: { ms: 20, i } })));
      w = run(c, [name], ['--concurrency', '5', '--lock-duration', '2000', '--stalled-interval', '500'], { seed: 0 });
      await waitFor(async () => (await queue.getCompletedCount()) >= 40 && (await queue.getActiveCount()) > 0,
        { timeout: 15000, what: '40 completed and some running before the failover' });
      const failoverAt = Date.now();
      const { newMaster, promotedAt } = await c.failoverMaster(master, { kill });
      assert.equal(await c.nodeForKey(`bull:${name}:wait`), newMaster);
      await waitFor(async () => (await queue.getCompletedCount()) === total, { timeout: 30000, what: `${total} completed after the failover` });
      const drainedAt = Date.now();
      const extra = await queue.addBulk(Array.from({ length: 10 }, (_, i) => ({ name: 'echo', data: { after: i } })));
      await waitFor(async () => (await queue.getCompletedCount()) === total + 10, { timeout: 15000, what: 'jobs added after the failover completed' });
      await assertExactlyOnce(queue, [...jobs, ...extra], 'failover');
      const finished = (await Promise.all(jobs.map((j) => Job.fromId(queue, j.id)))).map((j) => j.finishedOn);
      assert.ok(finished.some((at) => at > promotedAt), 'jobs finished on the new master');
      const firstAfter = Math.min(...finished.filter((at) => at > promotedAt));
      const ran = completionsLogged(w).length;
      t.diagnostic(`promoted ${promotedAt - failoverAt} ms after the failover began; first completion on the new master ${firstAfter - promotedAt} ms later, `
        + `all ${total} done ${drainedAt - promotedAt} ms after it; `
        + `${ran - total - 10} job(s) run twice (at least once: a completion lost with the old master is redone)`);
      await assertBlocksOn(c, newMaster, name, 'after the failover');
      if (!w.reference) {
        assert.ok(w.events('redis.connected').some((l) => l.node === addr(newMaster)), `connected to the new master ${addr(newMaster)}`);
      }
      assert.equal(w.process.exitCode, null);
    } finally {
      await w?.stop(5000);
      await teardown(c);
    }
  });
}

test('a redis:// URL pointed at a Cluster node that does not own the queue: /readyz 503 naming MOVED and the fix', { skip: cppOnly }, async () => {
  const owner = cluster.nodes[1];
  const other = cluster.nodes[0];
  const name = await cluster.tagOn(owner, `plainurl-${uid()}`);
  const httpPort = await freePort();
  const w = startWorker(['run', '--queue', name, '--redis', `redis://${addr(other)}`, '--processors', 'conformance',
    '--http-port', String(httpPort), '--http-host', '127.0.0.1', '--stalled-interval', '500']);
  workers.push(w);
  const body = await waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(2000) });
    const text = await res.text();
    return res.status === 503 && /MOVED/.test(text) ? text : null;
  }, { timeout: 10000, what: '/readyz 503 naming MOVED' });
  assert.match(body, /redis\+cluster:\/\//, 'the reason says how to fix it');
  assert.equal(w.process.exitCode, null, 'the worker keeps running');
  await w.stop();
});

test('/readyz: 503 with a reason while the queue\'s slot has no reachable master, 200 once it is back', async (t) => {
  // Its own cluster without replicas; persistence keeps the jobs over the restart.
  const c = await RedisCluster.start({ masters: 3, replicasPerMaster: 0, nodeTimeoutMs: 1000, persistence: true });
  let w;
  try {
    const master = c.nodes[1];
    const name = await c.tagOn(master, `ready-${uid()}`);
    const queue = queueOn(c, name);
    const httpPort = await freePort();
    w = run(c, [name], ['--http-port', String(httpPort), '--http-host', '127.0.0.1', '--concurrency', '2'], { seed: 0 });
    const get = async (path) => {
      const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, { signal: AbortSignal.timeout(2000) });
      return { status: res.status, body: await res.text() };
    };
    await w.waitUntilReady();
    const first = await queue.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 'echo', data: { i } })));
    await waitFor(async () => (await queue.getCompletedCount()) === 20, { timeout: 15000, what: 'first jobs completed' });
    if (!w.reference) await waitFor(async () => (await get('/readyz')).status === 200, { what: '/readyz 200 when healthy' });

    await c.killNode(master);
    // The other masters declare the cluster down once the node timeout passes.
    await waitFor(async () => {
      try {
        await c.command(c.nodes[0], 'GET', `bull:${name}:id`);
        return false;
      } catch (err) {
        return /CLUSTERDOWN/.test(err.message);
      }
    }, { timeout: 15000, what: 'CLUSTERDOWN on the other nodes' });
    if (!w.reference) {
      const down = await waitFor(async () => {
        const r = await get('/readyz');
        return r.status === 503 && r;
      }, { timeout: 15000, what: '/readyz 503 while the slot has no master' });
      t.diagnostic(`/readyz while the master is down: ${down.status} ${JSON.stringify(down.body)}`);
      assert.match(down.body, /CLUSTERDOWN|cluster is down|refused|not connected|unreachable|no master/i, `a reason: ${down.body}`);
      assert.equal((await get('/livez')).status, 200, 'not a liveness failure');
    }
    if (!w.reference) assert.equal((await get('/readyz')).status, 503, 'still 503 just before the master comes back');
    await c.restartNode(master);
    await c.waitStable();
    if (!w.reference) await waitFor(async () => (await get('/readyz')).status === 200, { timeout: 20000, what: '/readyz 200 after the restart' });
    const second = await queue.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 'echo', data: { again: i } })));
    await waitFor(async () => (await queue.getCompletedCount()) === 40, { timeout: 20000, what: 'jobs after the restart completed' });
    await assertExactlyOnce(queue, [...first, ...second], 'readyz');
    await assertBlocksOn(c, master, name, 'after the restart');
    assert.equal(w.process.exitCode, null);
  } finally {
    await w?.stop(5000);
    await teardown(c);
  }
});
