// Per-file fixtures for the interop suites: one RedisServer per test file,
// unique queue names, Node bullmq objects and bullmq-worker processes that
// are all closed / stopped (by pid) in after().
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents, FlowProducer, Worker as NodeWorker, Job } from 'bullmq';
import { RedisServer, WorkerProcess, workerArgs, waitFor } from './harness.mjs';

export { Job };

// Starts a Redis server for the current test file and registers cleanup of
// everything created through the returned object. Call it at the top level
// of the test file (`const s = await setupSuite();`): the after() hook it
// registers would otherwise belong to whatever hook called it.
export async function setupSuite() {
  const redis = await RedisServer.start();
  const closers = [];
  const workers = [];
  let admin;
  const suite = {
    redis,
    get connection() {
      return { host: '127.0.0.1', port: redis.port };
    },
    queueName(tag) {
      return `${tag}-${randomBytes(4).toString('hex')}`;
    },
    queue(name, opts = {}) {
      const q = new Queue(name, { connection: suite.connection, ...opts });
      closers.push(() => q.close());
      return q;
    },
    async events(name, opts = {}) {
      const qe = new QueueEvents(name, { connection: suite.connection, ...opts });
      closers.push(() => qe.close());
      await qe.waitUntilReady();
      admin ??= suite.client();
      await untilListening(admin, name, opts.prefix);
      return qe;
    },
    flowProducer() {
      const f = new FlowProducer({ connection: suite.connection });
      closers.push(() => f.close());
      return f;
    },
    nodeWorker(name, processor, opts = {}) {
      const w = new NodeWorker(name, processor, { connection: suite.connection, ...opts });
      closers.push(() => w.close(true));
      return w;
    },
    client() {
      const c = redis.client();
      c.on('error', () => {}); // reconnects by itself; tests assert on outcomes
      closers.push(async () => c.disconnect());
      return c;
    },
    // Starts bullmq-worker on `queue` with the conformance processors.
    worker(queue, extra = [], opts = {}) {
      const w = WorkerProcess.start(workerArgs(redis, queue, extra), opts);
      workers.push(w);
      return w;
    },
    // Starts the binary with these exact arguments (stopped in after()).
    workerWith(args, opts = {}) {
      const w = WorkerProcess.start(args, opts);
      workers.push(w);
      return w;
    },
    // Closes a Node object in after() (bounded), if the test did not.
    own(closable) {
      closers.push(() => closable.close());
      return closable;
    },
    // Starts a worker and waits until it is connected and polling.
    async readyWorker(queue, extra = [], opts = {}) {
      const w = suite.worker(queue, extra, opts);
      await waitForReady(w);
      return w;
    },
  };
  after(async () => {
    await Promise.allSettled(workers.map((w) => w.stop(5000)));
    for (const close of closers.reverse()) {
      try {
        // Bounded: a Node object whose server was restarted may never finish closing.
        await Promise.race([close(), new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
      } catch {
        // already closed
      }
    }
    await redis.destroy();
    // With a sanitizer build (BULLMQ_WORKER_BIN=build-asan/…), any report fails the file.
    const reports = workers
      .map((w) => w.stderrText.match(/^.*(?:ERROR: \w+Sanitizer|runtime error:).*$/m)?.[0])
      .filter(Boolean);
    if (reports.length) throw new Error(`sanitizer reports from bullmq-worker:\n${reports.join('\n')}`);
  });
  return suite;
}

// QueueEvents.waitUntilReady() resolves before its first XREAD (which reads
// from '$') is sent: events written in between are never seen, which makes
// waitUntilFinished() time out when a fast worker finishes a job at once.
// This waits until the QueueEvents connection is blocked in XREAD.
export async function untilListening(client, queueName, prefix = 'bull') {
  const name = `name=${prefix}:${Buffer.from(queueName).toString('base64')}:qe `;
  await waitFor(async () => (await client.client('LIST')).split('\n')
    .some((line) => `${line} `.includes(name) && / cmd=xread /.test(`${line} `)), {
    what: `QueueEvents of ${queueName} reading the stream`,
  });
}

// Both connections of the worker are up (the blocking one carries the
// client name that Queue.getWorkers() looks for).
export async function waitForReady(worker, timeout = 10000) {
  await waitFor(
    () => {
      const roles = new Set(worker.events('redis.connected').map((l) => l.connection));
      return roles.has('command') && roles.has('blocking');
    },
    { timeout, what: 'worker connected to Redis' },
  );
}

// Records QueueEvents events of the given names with the time they arrived.
export function recordEvents(queueEvents, names) {
  const seen = [];
  for (const name of names) {
    queueEvents.on(name, (args, id) => seen.push({ event: name, at: Date.now(), id, ...args }));
  }
  seen.of = (name, jobId) => seen.filter((e) => e.event === name && (jobId === undefined || e.jobId === jobId));
  return seen;
}

export async function waitForJobState(queue, jobId, state, timeout = 10000) {
  return waitFor(async () => (await queue.getJobState(jobId)) === state, {
    timeout,
    what: `job ${jobId} in state ${state}`,
  });
}

// Resolves with the promise's value, or with 'timeout' after `ms` (the timer
// does not keep the process alive).
export function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
