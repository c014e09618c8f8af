// Test support for the interop suites: a real redis-server on a free loopback
// port in a temporary directory, the bullmq-worker binary as a child process
// whose JSON log lines are collected, and bounded waiting on conditions.
// Everything started here is stopped by its pid.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import IORedis from 'ioredis';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const workerBinary =
  process.env.BULLMQ_WORKER_BIN ?? path.join(repoRoot, 'build', 'bullmq-worker');

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Polls `condition` (sync or async) until it returns a truthy value or the
// bound passes; throws with `what` on timeout.
export async function waitFor(condition, { timeout = 10000, interval = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await condition();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
    }
    await sleep(interval);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function waitExit(child, timeout) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process ${child.pid} did not exit in ${timeout} ms`)), timeout);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

export class RedisServer {
  // `args`: extra redis-server arguments (e.g. ['--save', '3600 1']),
  // after the defaults so that they win.
  static async start({ port, args = [] } = {}) {
    const server = new RedisServer();
    server.dir = mkdtempSync(path.join(os.tmpdir(), 'bullmq-worker-redis-'));
    server.port = port ?? (await freePort());
    server.args = args;
    await server.#spawn();
    return server;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  async #spawn() {
    this.process = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '',
        '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', ...(this.args ?? [])],
      { stdio: 'ignore' },
    );
    const probe = new IORedis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {}); // refused connections while the server starts are expected
    await waitFor(async () => {
      try {
        if (probe.status !== 'ready') await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        probe.disconnect();
        return false;
      }
    }, { timeout: 10000, what: `redis-server on port ${this.port}` });
    probe.disconnect();
  }

  client(opts = {}) {
    return new IORedis(this.port, '127.0.0.1', { maxRetriesPerRequest: null, ...opts });
  }

  async stop() {
    if (!this.process) return;
    this.process.kill('SIGKILL');
    await waitExit(this.process, 10000);
    this.process = undefined;
  }

  // Kills the server and starts a fresh one (empty dataset) on the same port.
  async restart() {
    await this.stop();
    await this.#spawn();
  }

  async destroy() {
    await this.stop();
    if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
  }
}

// The bullmq-worker binary under test, with its log lines collected.
// `program` runs another program that logs the same way instead (the Node
// reference worker).
export class WorkerProcess {
  static start(args, { env = {}, program = workerBinary } = {}) {
    const w = new WorkerProcess();
    w.lines = [];
    w.stdout = '';
    w.stderrText = '';
    w.process = spawn(program, args, {
      env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'debug', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    w.exited = new Promise((resolve) => w.process.once('exit', (code, signal) => resolve({ code, signal })));
    let partial = '';
    w.process.stderr.on('data', (chunk) => {
      w.stderrText += chunk;
      partial += chunk;
      let nl;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        try {
          w.lines.push(JSON.parse(line));
        } catch {
          w.lines.push({ raw: line });
        }
      }
    });
    w.process.stdout.on('data', (chunk) => {
      w.stdout += chunk;
    });
    return w;
  }

  get pid() {
    return this.process.pid;
  }

  // `name`: an event name, or an array of names (any of them).
  events(name) {
    const names = [name].flat();
    return this.lines.filter((l) => names.includes(l.event));
  }

  waitForLog(event, predicate = () => true, timeout = 10000) {
    const names = [event].flat();
    return waitFor(() => this.lines.find((l) => names.includes(l.event) && predicate(l)), {
      timeout,
      what: `log event ${names.join(' or ')}`,
    });
  }

  kill(signal = 'SIGTERM') {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
  }

  async stop(timeout = 15000) {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), timeout);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}

// Runs a command to completion with a bound; resolves {code, stdout, stderr}.
export function runCommand(command, args, { env = {}, timeout = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(command)} ${args.join(' ')} did not exit in ${timeout} ms\n${stderr}`));
    }, timeout);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// Runs the binary to completion (for CLI checks).
export function runBinary(args, options = {}) {
  return runCommand(workerBinary, args, options);
}

// Common flags for a worker on `queue` against `redis`.
export function workerArgs(redis, queue, extra = []) {
  return ['run', '--queue', queue, '--redis', redis.url, '--processors', 'conformance', ...extra];
}
