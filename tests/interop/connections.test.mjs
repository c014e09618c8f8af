// How the worker reaches Redis: a Unix socket, an ACL user, the
// REDIS_HOST/PORT variables, and what it does with a wrong password (keeps
// retrying, never crashes). TLS (rediss://) is in tls.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { freePort, waitFor, WorkerProcess } from './lib/harness.mjs';
import { untilListening } from './lib/fixtures.mjs';
import IORedis from 'ioredis';

let dir;
let redis;
let port;
let socketPath;

function exitOf(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', resolve);
  });
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'bullmq-worker-conn-'));
  port = await freePort();
  socketPath = path.join(dir, 'redis.sock');
  redis = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
    '--unixsocket', socketPath, '--unixsocketperm', '700',
    '--user', 'default', 'on', 'nopass', '~*', '&*', '+@all',
    '--user', 'worker', 'on', '>s3cret', '~*', '&*', '+@all',
  ], { stdio: 'ignore' });
  await waitFor(() => {
    try {
      return execFileSync('redis-cli', ['-p', String(port), 'ping']).toString().trim() === 'PONG';
    } catch {
      return false;
    }
  }, { timeout: 10000, what: 'redis-server' });
});

after(async () => {
  redis?.kill('SIGKILL');
  if (redis) await exitOf(redis);
  rmSync(dir, { recursive: true, force: true });
});

// QueueEvents.waitUntilReady() resolves before its first XREAD: wait until
// it is really reading, or an early `completed` event can be missed.
async function listeningEvents(queueName) {
  const events = new QueueEvents(queueName, { connection: { host: '127.0.0.1', port } });
  await events.waitUntilReady();
  const admin = new IORedis(port, '127.0.0.1');
  try {
    await untilListening(admin, queueName);
  } finally {
    admin.disconnect();
  }
  return events;
}

async function roundTrip(queueName, redisUrl, env = {}, extra = []) {
  const connection = { host: '127.0.0.1', port };
  const queue = new Queue(queueName, { connection });
  const events = await listeningEvents(queueName);
  const worker = WorkerProcess.start(['run', '--queue', queueName, '--redis', redisUrl, '--processors', 'conformance',
    ...extra], { env });
  try {
    const job = await queue.add('echo', { via: redisUrl.split(':')[0] });
    const value = await job.waitUntilFinished(events, 15000);
    assert.deepEqual(value, { via: redisUrl.split(':')[0] });
  } finally {
    const { code } = await worker.stop();
    assert.equal(code, 0, worker.stderrText);
    await queue.close();
    await events.close();
  }
}

test('unix:// socket', async () => {
  await roundTrip('conn-unix', `unix://${socketPath}`);
});

test('an ACL user name and password', async () => {
  await roundTrip('conn-acl', `redis://worker:s3cret@127.0.0.1:${port}/0`);
});

test('REDIS_HOST / REDIS_PORT / REDIS_PASSWORD instead of a URL', async () => {
  const queueName = 'conn-env';
  const connection = { host: '127.0.0.1', port };
  const queue = new Queue(queueName, { connection });
  const events = await listeningEvents(queueName);
  const worker = WorkerProcess.start(['run', '--queue', queueName, '--processors', 'conformance'], {
    env: { REDIS_URL: '', REDIS_HOST: '127.0.0.1', REDIS_PORT: String(port) },
  });
  try {
    const job = await queue.add('echo', { env: true });
    assert.deepEqual(await job.waitUntilFinished(events, 15000), { env: true });
  } finally {
    await worker.stop();
    await queue.close();
    await events.close();
  }
});

// Every command connection (three at concurrency 10: the command connection
// and two more finishing ones) loads BullMQ's scripts on connect, but asks
// first which ones the server has: one that lost them (SCRIPT FLUSH) is sent
// their text, one that has them all is sent none.
test('scripts are sent only to a server that lacks them', async () => {
  const admin = new IORedis(port, '127.0.0.1');
  const calls = async (subcommand) => {
    const stats = await admin.info('commandstats');
    const m = stats.match(new RegExp(`cmdstat_script\\|${subcommand}:calls=(\\d+)`));
    return m ? Number(m[1]) : 0;
  };
  try {
    await admin.script('FLUSH');
    const loadsBefore = await calls('load');
    await roundTrip('conn-scripts', `redis://127.0.0.1:${port}`, {}, ['--concurrency', '10']);
    const loads = await calls('load');
    assert.ok(loads > loadsBefore, 'the scripts were loaded after SCRIPT FLUSH');
    const exists = await calls('exists');
    await roundTrip('conn-scripts', `redis://127.0.0.1:${port}`, {}, ['--concurrency', '10']);
    assert.equal(await calls('load'), loads, 'no SCRIPT LOAD to a server that has every script');
    assert.ok(await calls('exists') >= exists + 3, 'each of the three command connections asked SCRIPT EXISTS');
  } finally {
    admin.disconnect();
  }
});

test('a wrong password is reported and retried, not a crash', async () => {
  const worker = WorkerProcess.start(['run', '--queue', 'conn-badpass', '--redis',
    `redis://worker:wrong@127.0.0.1:${port}`, '--processors', 'conformance']);
  try {
    const line = await worker.waitForLog('redis.connect_failed', () => true, 10000);
    assert.match(line.error, /AUTH|WRONGPASS|invalid/i);
    assert.equal(worker.process.exitCode, null);
  } finally {
    const { code } = await worker.stop();
    assert.equal(code, 0);
  }
});
