// Per-file fixtures for the interop suites: one RedisServer per test file,
// unique queue names, Node bullmq objects and bullmq-worker processes that
// are all closed / stopped (by pid) in after().
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents, FlowProducer, Worker as NodeWorker, Job } from 'bullmq';
import { RedisServer, WorkerProcess, workerArgs, waitFor } from './harness.mjs';

export { Job };

// Starts a Redis server for the current test file and registers cleanup of
// everything created through the returned object.
export async function setupSuite() {
  const redis = await RedisServer.start();
  const closers = [];
  const workers = [];
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
      closers.push(async () => c.disconnect());
      return c;
    },
    // Starts bullmq-worker on `queue` with the conformance processors.
    worker(queue, extra = [], opts = {}) {
      const w = WorkerProcess.start(workerArgs(redis, queue, extra), opts);
      workers.push(w);
      return w;
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
        await close();
      } catch {
        // already closed
      }
    }
    await redis.destroy();
  });
  return suite;
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

export function expectWithin(value, lo, hi, what) {
  if (!(value >= lo && value <= hi)) {
    throw new Error(`${what}: expected ${lo}..${hi}, got ${value}`);
  }
}
