// The real servers of the chaos suite, each in its own folder under the run's
// work directory and on a free loopback port:
//   - redis-server with appendonly yes / appendfsync always, so that a kill
//     by pid and a start on the same port and data folder keeps every write
//     Redis acknowledged;
//   - PostgreSQL 15 (initdb in a temporary folder; as root the server runs as
//     the `postgres` user), which can be stopped and started again on the
//     same data folder to make an outage.
// Processes are registered (lib/util.mjs) so that everything is stopped by
// pid on any exit.
import { spawn } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import IORedis from 'ioredis';
import {
  alive, freePort, isAborting, killServerProcess, registerDir, registerProcess, signal, sleep, stopServerProcess,
  unregisterProcess, waitFor,
} from './util.mjs';

export class RedisServer {
  static async start(workDir) {
    const server = new RedisServer();
    server.dir = path.join(workDir, 'redis');
    mkdirSync(server.dir, { recursive: true });
    server.port = await freePort();
    server.starts = 0;
    await server.start();
    return server;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  get connection() {
    return { host: '127.0.0.1', port: this.port };
  }

  get pid() {
    return this.process?.pid;
  }

  // Starts redis-server on this server's port and folder (its data is kept).
  async start() {
    if (isAborting()) throw new Error('the run is being stopped');
    if (this.process) throw new Error('redis-server is already running');
    const log = openSync(path.join(this.dir, 'redis.log'), 'a');
    const child = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
      '--appendonly', 'yes', '--appendfsync', 'always', '--save', '',
      '--daemonize', 'no', '--loglevel', 'notice', '--maxmemory-policy', 'noeviction',
    ], { stdio: ['ignore', log, log] });
    closeSync(log);
    this.process = child;
    this.starts += 1;
    registerProcess(child.pid, 'redis-server', 'redis-server', () => this.stop());
    child.once('exit', () => unregisterProcess(child.pid));
    const probe = new IORedis(this.port, '127.0.0.1', {
      lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null,
    });
    probe.on('error', () => {});
    try {
      // Loading the AOF of a long run takes a moment: wait for PONG, not for the port.
      await waitFor(async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${this.logTail()}`);
        try {
          if (probe.status !== 'ready') await probe.connect();
          return (await probe.ping()) === 'PONG';
        } catch (err) {
          if (/exited/.test(err.message)) throw err;
          probe.disconnect();
          return false;
        }
      }, { timeout: 60000, interval: 100, what: `redis-server on port ${this.port}` });
    } finally {
      probe.disconnect();
    }
  }

  // Kills the server by pid (SIGKILL: a crash; appendfsync always keeps what it acknowledged).
  async kill() {
    await killServerProcess(this);
  }

  // Clean stop (SIGTERM, then SIGKILL after 10 s).
  async stop() {
    await stopServerProcess(this);
  }

  client(opts = {}) {
    const c = new IORedis(this.port, '127.0.0.1', { maxRetriesPerRequest: null, ...opts });
    c.on('error', () => {}); // reconnects by itself across the restart
    return c;
  }

  logTail(chars = 2000) {
    try {
      return readFileSync(path.join(this.dir, 'redis.log'), 'utf8').slice(-chars);
    } catch {
      return '';
    }
  }
}

const pgBin = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
const isRoot = process.getuid?.() === 0;

function postgresIds() {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user to run PostgreSQL as (install postgresql-15)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

// Runs a command to completion (bounded); resolves {code, output}.
export function run(argv, { asPostgres = false, cwd, timeout = 60000, env } = {}) {
  const full = asPostgres && isRoot ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
  return new Promise((resolve, reject) => {
    const child = spawn(full[0], full.slice(1), { cwd, env: env ? { ...process.env, ...env } : process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const timer = setTimeout(() => {
      signal(child.pid, 'SIGKILL');
      reject(new Error(`${argv.join(' ')} did not finish in ${timeout} ms:\n${output}`));
    }, timeout);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, output });
    });
  });
}

export class PostgresServer {
  static async start() {
    const server = new PostgresServer();
    // Under /tmp, not the work folder: the postgres user must reach it.
    server.dir = mkdtempSync('/tmp/bullmq-chaos-pg-');
    registerDir(server.dir);
    server.dataDir = path.join(server.dir, 'data');
    if (isRoot) {
      const { uid, gid } = postgresIds();
      chownSync(server.dir, uid, gid);
    }
    server.port = await freePort();
    await server.#must([`${pgBin}/initdb`, '-D', server.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8',
      '--locale=C', '--no-sync', '--no-instructions'], 'initdb');
    await server.start();
    return server;
  }

  async #must(argv, what) {
    const { code, output } = await run(argv, { asPostgres: true, cwd: this.dir });
    if (code !== 0) throw new Error(`${what} failed (exit ${code}):\n${output}\n${this.logTail()}`);
  }

  url(database = 'postgres') {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  postmasterPid() {
    try {
      return Number(readFileSync(path.join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
    } catch {
      return undefined;
    }
  }

  // Starts the server on its data folder and port; waits until it accepts connections.
  async start() {
    if (isAborting()) throw new Error('the run is being stopped');
    const options = [`-p ${this.port}`, `-k ${this.dir}`, '-c listen_addresses=127.0.0.1',
      '-c fsync=off', '-c full_page_writes=off', '-c max_connections=200'].join(' ');
    await this.#must([`${pgBin}/pg_ctl`, '-D', this.dataDir, '-l', path.join(this.dir, 'postgres.log'),
      '-o', options, '-W', 'start'], 'pg_ctl start');
    await waitFor(async () => (await run([`${pgBin}/pg_isready`, '-q', '-h', '127.0.0.1', '-p', String(this.port), '-t', '1'])).code === 0,
      { timeout: 60000, interval: 100, what: `PostgreSQL on port ${this.port}` });
    this.pid = this.postmasterPid();
    if (this.pid) registerProcess(this.pid, 'postgres', 'postgres', () => this.stop());
  }

  // Stops the server (fast shutdown: clients are disconnected); waits for the postmaster to exit.
  async stop() {
    const pid = this.pid ?? this.postmasterPid();
    this.pid = undefined;
    if (!pid) return;
    unregisterProcess(pid);
    if (!alive(pid)) return;
    if (existsSync(this.dataDir)) {
      await run([`${pgBin}/pg_ctl`, '-D', this.dataDir, '-m', 'fast', '-t', '20', 'stop'],
        { asPostgres: true, cwd: this.dir, timeout: 30000 }).catch(() => {});
    }
    const deadline = Date.now() + 10000;
    while (alive(pid)) {
      if (Date.now() > deadline) {
        signal(pid, 'SIGQUIT'); // immediate shutdown of the postmaster this run started
        await sleep(1000);
        if (alive(pid)) signal(pid, 'SIGKILL');
        break;
      }
      await sleep(100);
    }
  }

  // Stops the server and removes its folder (kept with KEEP_CHAOS_DIRS=1).
  async destroy() {
    await this.stop();
    if (this.dir && !process.env.KEEP_CHAOS_DIRS) rmSync(this.dir, { recursive: true, force: true });
  }

  async createDatabase(name) {
    const { code, output } = await run([`${pgBin}/createdb`, '-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', name]);
    if (code !== 0) throw new Error(`createdb ${name} failed (exit ${code}): ${output}`);
    return this.url(name);
  }

  logTail(chars = 2000) {
    try {
      return readFileSync(path.join(this.dir, 'postgres.log'), 'utf8').slice(-chars);
    } catch {
      return '';
    }
  }
}
