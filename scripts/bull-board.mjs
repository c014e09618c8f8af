#!/usr/bin/env node
// Bull Board for bullmq-worker's queues: the dashboard the Node.js backend's
// operators already use (@bull-board/api with its BullMQAdapter, served by
// @bull-board/express), pointed at the queues bullmq-worker consumes. Jobs
// processed by the worker show their data, return value, progress, logs,
// attempts, failed reason and stacktrace, and the worker appears in the
// queue's workers (it names its Redis connections the way BullMQ does).
//
// Its packages live in scripts/node (install them once with
// `npm ci --prefix scripts/node`). Run `node scripts/bull-board.mjs --help`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { UsageError, loadPackage as load } from './lib/node-packages.mjs';

const HELP = `Usage: node scripts/bull-board.mjs [options]

Serves Bull Board for bullmq-worker's queues.

  --queue NAME       a queue to show; repeat for several (default file-processing,
                     env BULLMQ_QUEUE)
  --redis URL        Redis, e.g. redis://127.0.0.1:6379 (env REDIS_URL, default
                     redis://127.0.0.1:6379)
  --prefix PREFIX    BullMQ key prefix (default bull, env BULLMQ_PREFIX)
  --host HOST        address to listen on (default 127.0.0.1)
  --port PORT        port to listen on (default 3000; 0 picks a free one)
  --base-path PATH   URL path the board is served under (default /)
  --read-only        hide the actions that change jobs and queues
  -h, --help         this text

Prints "Bull Board: http://HOST:PORT/" once listening; stops on SIGTERM or
SIGINT. Exit codes: 0 stopped, 1 failed, 2 usage.`;

export function parseOptions(argv, env = process.env) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        queue: { type: 'string', multiple: true },
        redis: { type: 'string' },
        prefix: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        'base-path': { type: 'string' },
        'read-only': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(err.message);
  }
  const v = parsed.values;
  if (v.help) return { help: true };
  const queues = v.queue?.length ? v.queue : [env.BULLMQ_QUEUE || 'file-processing'];
  for (const q of queues) {
    if (!q) throw new UsageError('--queue must not be empty');
  }
  const portText = v.port ?? '3000';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`--port: not a port number: ${portText}`);
  const redis = v.redis || env.REDIS_URL || 'redis://127.0.0.1:6379';
  try {
    const u = new URL(redis);
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error();
  } catch {
    throw new UsageError(`--redis: not a redis:// or rediss:// URL: ${redis}`);
  }
  let basePath = v['base-path'] ?? '/';
  if (!basePath.startsWith('/')) basePath = `/${basePath}`;
  if (basePath.length > 1) basePath = basePath.replace(/\/+$/, '');
  return {
    queues: [...new Set(queues)],
    redis,
    prefix: v.prefix || env.BULLMQ_PREFIX || 'bull',
    host: v.host || '127.0.0.1',
    port,
    basePath,
    readOnly: Boolean(v['read-only']),
  };
}

// Starts the board; resolves {url, close()} once the HTTP server listens.
export async function startBoard(opts) {
  const { Queue } = load('bullmq');
  const IORedis = load('ioredis');
  const { createBullBoard } = load('@bull-board/api');
  const { BullMQAdapter } = load('@bull-board/api/bullMQAdapter');
  const { ExpressAdapter } = load('@bull-board/express');
  const express = load('express');

  // One shared connection for every queue; commands wait while Redis is away
  // instead of failing the page for good.
  const connection = new IORedis(opts.redis, { maxRetriesPerRequest: null, enableReadyCheck: true });
  // Redis errors repeat on every retry; each distinct one is printed once
  // until the connection is ready again.
  let lastRedisError = '';
  const reportError = (err) => {
    if (err.message !== lastRedisError) {
      lastRedisError = err.message;
      console.error(`bull-board: redis: ${err.message}`);
    }
  };
  connection.on('error', reportError);
  connection.on('ready', () => {
    if (lastRedisError) console.error('bull-board: redis: connected');
    lastRedisError = '';
  });

  const queues = opts.queues.map((name) => {
    const queue = new Queue(name, { connection, prefix: opts.prefix });
    queue.on('error', reportError);
    return queue;
  });
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(opts.basePath === '/' ? '' : opts.basePath);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: opts.readOnly })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'bullmq-worker', showWorkers: true, showMetrics: true } },
  });

  const app = express();
  app.disable('x-powered-by');
  app.use(opts.basePath, serverAdapter.getRouter());

  const server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port, opts.host);
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  }).catch(async (err) => {
    await Promise.allSettled(queues.map((q) => q.close()));
    connection.disconnect();
    throw err;
  });

  const { port } = server.address();
  const hostPart = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${hostPart}:${port}${opts.basePath === '/' ? '/' : `${opts.basePath}/`}`;

  let closing;
  const close = () => {
    closing ??= (async () => {
      await new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.(); // the UI polls with keep-alive connections
      });
      await Promise.allSettled(queues.map((q) => q.close()));
      await connection.quit().catch(() => connection.disconnect());
    })();
    return closing;
  };
  return { url, port, close };
}

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`bull-board: ${err.message}\n\n${HELP}`);
      return 2;
    }
    throw err;
  }
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  // Signals are taken from the start, so one that arrives while the board
  // starts still stops it cleanly; a second signal, or a close that hangs,
  // ends the process at once.
  let signalled = null;
  let onSignal = () => {};
  const handle = (signal) => {
    if (signalled) {
      console.error(`bull-board: ${signal} again, exiting now`);
      process.exit(1);
    }
    signalled = signal;
    console.error(`bull-board: ${signal}, stopping`);
    setTimeout(() => {
      console.error('bull-board: could not stop in 5 s, exiting');
      process.exit(1);
    }, 5000).unref();
    onSignal();
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
  const stopped = new Promise((resolve) => {
    onSignal = resolve;
  });

  let board;
  try {
    board = await startBoard(opts);
  } catch (err) {
    console.error(`bull-board: ${err instanceof UsageError ? '' : 'cannot start: '}${err.message}`);
    return err instanceof UsageError ? 2 : 1;
  }
  if (!signalled) {
    console.log(`Bull Board: ${board.url} (queues: ${opts.queues.join(', ')}; redis: ${redactUrl(opts.redis)})`);
  }
  await stopped;
  try {
    await board.close();
    return 0;
  } catch (err) {
    console.error(`bull-board: stopping: ${err.message}`);
    return 1;
  }
}

function redactUrl(text) {
  try {
    const u = new URL(text);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return text;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`bull-board: ${err.stack || err.message}`);
      process.exit(1);
    },
  );
}
