// The reference worker: Node's official BullMQ Worker behind (a subset of)
// bullmq-worker's command line, so that interop tests written for the C++
// binary can run against Node as a reference.
//
// As a module: `startWorker(args, opts)` starts the C++ binary (harness.mjs
// WorkerProcess) by default, or this file as a Node child process when
// BULLMQ_WORKER_REFERENCE=node. Both return the same WorkerProcess interface
// (lines, events(), waitForLog(), kill(), stop(), exited, pid) plus
//   reference        true for the Node program
//   waitUntilReady() both Redis connections of the worker are up
// Log lines differ: the C++ binary writes its own events (redis.connected,
// job.completed, …); this program writes `reference.*` events only, so an
// assertion on a C++ log line cannot pass by accident in reference mode.
//
// As a program: `node reference-worker.mjs run --queue Q [--queue Q2]
//   --redis URL [--concurrency N] [--lock-duration MS] [--lock-renew-time MS]
//   [--stalled-interval MS] [--max-stalled-count N] [--drain-delay S]
//   [--name NAME] [--prefix P] --processors conformance`
// URL forms: redis://[user:pass@]host:port[/db],
//   redis+sentinel://[user:pass@]h:p[,h:p…]/MASTER[/db][?sentinel_password=…&db=N]
//     (ioredis `{ sentinels, name }`),
//   redis+cluster://[user:pass@]h:p[,h:p…] (ioredis `Cluster`).
// Flags the binary has but this program does not implement (--http-port,
// --http-host, --redis-timeout, …) are accepted and reported once as
// `reference.flag_ignored`. Processors mimic
// src/processing/conformance/conformance_processors.cpp:
// echo, sleep {ms}, fail {message}, fail-unrecoverable {message},
// flaky {succeedOnAttempt}.
import { fileURLToPath } from 'node:url';
import { WorkerProcess, waitFor } from './harness.mjs';

const self = fileURLToPath(import.meta.url);

export const referenceMode = process.env.BULLMQ_WORKER_REFERENCE === 'node';

// ---------------------------------------------------------------------------
// Module side

// Ready: the binary logged redis.connected for both of its connections; the
// reference program logged reference.ready. Fails at once if it exited.
async function waitUntilReady(worker, timeout) {
  const ready = worker.reference
    ? () => worker.lines.find((l) => l.event === 'reference.ready')
    : () => {
      const roles = new Set(worker.events('redis.connected').map((l) => l.connection));
      return roles.has('command') && roles.has('blocking');
    };
  const p = worker.process;
  const result = await waitFor(() => (p.exitCode !== null || p.signalCode !== null ? { exited: true } : ready()), {
    timeout,
    what: `worker connected to Redis (${worker.reference ? 'reference.ready' : 'redis.connected: command and blocking'})`,
  });
  if (result.exited) {
    throw new Error(`worker exited (code ${p.exitCode}, signal ${p.signalCode}) before it was ready:\n${worker.stderrText.slice(-2000)}`);
  }
  return result;
}

// The Node program as a WorkerProcess: same parsing of stderr JSON lines.
function startReference(args, { env = {} } = {}) {
  return WorkerProcess.start([self, ...args], { env, program: process.execPath });
}

// Starts the worker under test with bullmq-worker's arguments.
export function startWorker(args, opts = {}) {
  const reference = opts.reference ?? referenceMode;
  const w = reference ? startReference(args, opts) : WorkerProcess.start(args, opts);
  w.reference = reference;
  w.waitUntilReady = (timeout = 15000) => waitUntilReady(w, timeout);
  return w;
}

// ---------------------------------------------------------------------------
// Program side

function log(event, fields = {}) {
  const level = /fatal/.test(event) ? 'fatal' : /error/.test(event) ? 'error' : 'info';
  process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), level, event, ...fields })}\n`);
}

function parseArgs(argv) {
  const [command, ...rest] = argv;
  if (command !== 'run') throw new Error(`usage: reference-worker.mjs run --queue Q --redis URL … (got ${command})`);
  const opts = { queues: [], concurrency: 1, processors: 'conformance', ignored: [] };
  const valued = new Set(['--queue', '--redis', '--concurrency', '--lock-duration', '--lock-renew-time',
    '--stalled-interval', '--max-stalled-count', '--drain-delay', '--name', '--prefix', '--processors']);
  const ignoredWithValue = new Set(['--http-port', '--http-host', '--redis-timeout', '--shutdown-timeout',
    '--processor-threads', '--log-level', '--log-format', '--liveness-idle-timeout', '--remove-on-complete',
    '--remove-on-fail', '--metrics-max-data-points', '--max-started-attempts', '--limiter-max',
    '--limiter-duration']);
  for (let i = 0; i < rest.length; i++) {
    let flag = rest[i];
    let value;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const takeValue = () => {
      if (value !== undefined) return value;
      if (i + 1 >= rest.length) throw new Error(`${flag} needs a value`);
      return rest[++i];
    };
    if (ignoredWithValue.has(flag)) {
      opts.ignored.push(`${flag} ${takeValue()}`);
      continue;
    }
    if (!valued.has(flag)) throw new Error(`reference worker: unsupported argument ${flag}`);
    const v = takeValue();
    switch (flag) {
      case '--queue': opts.queues.push(v); break;
      case '--redis': opts.redis = v; break;
      case '--concurrency': opts.concurrency = Number(v); break;
      case '--lock-duration': opts.lockDuration = Number(v); break;
      case '--lock-renew-time': opts.lockRenewTime = Number(v); break;
      case '--stalled-interval': opts.stalledInterval = Number(v); break;
      case '--max-stalled-count': opts.maxStalledCount = Number(v); break;
      case '--drain-delay': opts.drainDelay = Number(v); break;
      case '--name': opts.name = v; break;
      case '--prefix': opts.prefix = v; break;
      case '--processors': opts.processors = v; break;
      default: break;
    }
  }
  opts.redis ??= process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!opts.queues.length) throw new Error('reference worker: --queue is required');
  if (opts.processors !== 'conformance') throw new Error('reference worker: only --processors conformance');
  return opts;
}

function hostPort(text, defaultPort) {
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(text);
  if (!m || !m[1]) throw new Error(`bad address '${text}'`);
  return { host: m[1], port: m[2] ? Number(m[2]) : defaultPort };
}

// Parses the URL forms the C++ worker accepts (the subset used by the tests).
export function parseRedisUrl(url) {
  const m = /^([a-z+]+):\/\/(.*)$/.exec(url);
  if (!m) throw new Error(`Redis URL '${url}' has no scheme`);
  const scheme = m[1];
  let rest = m[2];
  const query = {};
  const q = rest.indexOf('?');
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(rest.slice(q + 1))) query[k] = v;
    rest = rest.slice(0, q);
  }
  const slash = rest.indexOf('/');
  let hosts = slash >= 0 ? rest.slice(0, slash) : rest;
  const pathPart = slash >= 0 ? rest.slice(slash + 1) : '';
  const auth = {};
  const at = hosts.lastIndexOf('@');
  if (at >= 0) {
    const cred = hosts.slice(0, at);
    hosts = hosts.slice(at + 1);
    const colon = cred.indexOf(':');
    const user = decodeURIComponent(colon >= 0 ? cred.slice(0, colon) : cred);
    if (user) auth.username = user;
    if (colon >= 0) auth.password = decodeURIComponent(cred.slice(colon + 1));
  }
  const tls = scheme.startsWith('rediss') ? { tls: {} } : {};
  const db = query.db !== undefined ? { db: Number(query.db) } : {};
  switch (scheme) {
    case 'redis':
    case 'rediss': {
      const { host, port } = hostPort(hosts || '127.0.0.1', 6379);
      return { mode: 'standalone', options: { host, port, ...auth, ...tls, ...(pathPart ? { db: Number(pathPart) } : {}), ...db } };
    }
    case 'redis+sentinel':
    case 'rediss+sentinel': {
      const [name, dbPath] = pathPart.split('/');
      if (!name) throw new Error('Sentinel URL needs the master name');
      const sentinels = hosts.split(',').filter(Boolean).map((h) => hostPort(h, 26379));
      return {
        mode: 'sentinel',
        options: {
          sentinels, name: decodeURIComponent(name), ...auth, ...tls,
          ...(tls.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
          ...(dbPath ? { db: Number(dbPath) } : {}), ...db,
          ...(query.sentinel_username ? { sentinelUsername: query.sentinel_username } : {}),
          ...(query.sentinel_password ? { sentinelPassword: query.sentinel_password } : {}),
          // Follow +switch-master as soon as a sentinel announces it, instead of
          // waiting for the demoted master to drop the connections.
          failoverDetector: process.env.BULLMQ_REFERENCE_FAILOVER_DETECTOR !== '0',
        },
      };
    }
    case 'redis+cluster':
    case 'rediss+cluster': {
      if (pathPart) throw new Error('a Redis Cluster has only database 0');
      return { mode: 'cluster', nodes: hosts.split(',').filter(Boolean).map((h) => hostPort(h, 6379)), options: { ...auth, ...tls } };
    }
    default:
      throw new Error(`unsupported Redis URL scheme '${scheme}'`);
  }
}

async function runProgram(argv) {
  const { Worker, UnrecoverableError } = await import('bullmq');
  const { default: IORedis, Cluster } = await import('ioredis');
  const opts = parseArgs(argv);
  const target = parseRedisUrl(opts.redis);
  for (const flag of opts.ignored) log('reference.flag_ignored', { flag });

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const processors = {
    echo: async (job) => job.data,
    sleep: async (job) => {
      const ms = job.data?.ms ?? 100;
      if (typeof ms !== 'number' || ms < 0) throw new UnrecoverableError("field 'ms' of 'sleep' must be a number >= 0");
      await sleep(ms);
      return { slept: ms };
    },
    fail: async (job) => {
      throw new Error(job.data?.message ?? 'conformance failure');
    },
    'fail-unrecoverable': async (job) => {
      throw new UnrecoverableError(job.data?.message ?? 'conformance failure');
    },
    flaky: async (job) => {
      const attempt = job.attemptsMade + 1;
      if (attempt < (job.data?.succeedOnAttempt ?? 1)) throw new Error(`flaky attempt ${attempt}`);
      return { attempt };
    },
  };

  // Diagnostics for one ioredis connection: where it is connected, and what
  // goes wrong (READONLY, UNBLOCKED, connection resets, …).
  const watch = (client, connection, queue) => {
    client.on('ready', () => {
      const s = client.stream;
      log('reference.redis_ready', { queue, connection, node: s ? `${s.remoteAddress}:${s.remotePort}` : undefined, local: s ? s.localPort : undefined });
    });
    client.on('error', (err) => log('reference.redis_error', { queue, connection, message: err.message }));
    client.on('close', () => log('reference.redis_close', { queue, connection }));
    client.on('+node', (node) => log('reference.cluster_node', { queue, connection, node: `${node.options.host}:${node.options.port}` }));
  };

  const makeConnection = (queue) => {
    if (target.mode === 'cluster') {
      const c = new Cluster(target.nodes, { redisOptions: { ...target.options, maxRetriesPerRequest: null } });
      watch(c, 'command', queue);
      const duplicate = c.duplicate.bind(c);
      c.duplicate = (...a) => {
        const d = duplicate(...a);
        watch(d, 'blocking', queue);
        return d;
      };
      return c;
    }
    const c = new IORedis({ ...target.options, maxRetriesPerRequest: null });
    watch(c, 'command', queue);
    const duplicate = c.duplicate.bind(c);
    c.duplicate = (...a) => {
      const d = duplicate(...a);
      watch(d, 'blocking', queue);
      return d;
    };
    return c;
  };

  const workers = [];
  const connections = [];
  for (const queue of opts.queues) {
    const connection = makeConnection(queue);
    connections.push(connection);
    const worker = new Worker(queue, async (job) => {
      const fn = processors[job.name];
      if (!fn) throw new UnrecoverableError(`no conformance processor named '${job.name}'`);
      return fn(job);
    }, {
      connection,
      concurrency: opts.concurrency,
      ...(opts.lockDuration ? { lockDuration: opts.lockDuration } : {}),
      ...(opts.lockRenewTime ? { lockRenewTime: opts.lockRenewTime } : {}),
      ...(opts.stalledInterval ? { stalledInterval: opts.stalledInterval } : {}),
      ...(opts.maxStalledCount !== undefined ? { maxStalledCount: opts.maxStalledCount } : {}),
      ...(opts.drainDelay ? { drainDelay: opts.drainDelay } : {}),
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.prefix ? { prefix: opts.prefix } : {}),
    });
    worker.on('active', (job) => log('reference.job_active', { queue, job_id: job.id, name: job.name }));
    worker.on('completed', (job) => log('reference.job_completed', { queue, job_id: job.id, name: job.name }));
    worker.on('failed', (job, err) => log('reference.job_failed', { queue, job_id: job?.id, name: job?.name, message: err?.message }));
    worker.on('stalled', (jobId) => log('reference.job_stalled', { queue, job_id: jobId }));
    worker.on('error', (err) => log('reference.worker_error', { queue, message: err?.message }));
    workers.push(worker);
  }
  log('reference.started', { queues: opts.queues, mode: target.mode, redis: opts.redis, concurrency: opts.concurrency });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  await Promise.all(workers.map((w) => w.blockingConnection?.client ?? w.backend?.blockingClient).filter(Boolean));
  log('reference.ready', { queues: opts.queues });

  let closing = false;
  const shutdown = async (signal) => {
    if (closing) return;
    closing = true;
    log('reference.shutdown', { signal });
    const force = setTimeout(() => process.exit(1), 10000);
    force.unref();
    await Promise.allSettled(workers.map((w) => w.close()));
    await Promise.allSettled(connections.map((c) => c.quit()));
    log('reference.stopped', {});
    process.exit(0);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (process.argv[1] === self) {
  runProgram(process.argv.slice(2)).catch((err) => {
    log('reference.fatal', { message: err?.stack ?? String(err) });
    process.exit(2);
  });
}
