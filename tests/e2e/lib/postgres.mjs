// A throw-away PostgreSQL 15 for the end-to-end tests: initdb into a fresh
// temporary folder, a free loopback port, the socket in that folder. As root
// every server command runs as the `postgres` user (PostgreSQL refuses root)
// through `runuser -u postgres --`. Waits are bounded; stop() stops the server
// with `pg_ctl stop -m fast` and, failing that, signals the postmaster's pid.
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { freePort, sleep } from '../../interop/lib/harness.mjs';

const binDir = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
const isRoot = process.getuid?.() === 0;

function postgresIds() {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user to run PostgreSQL as (install the postgresql package)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

// Runs a command to completion (bounded); resolves {code, output}.
function run(argv, { asPostgres = false, cwd, timeout = 60000 } = {}) {
  const full = asPostgres && isRoot ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
  return new Promise((resolve, reject) => {
    const child = spawn(full[0], full.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')} did not finish in ${timeout} ms:\n${output}`));
    }, timeout);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, signal, output });
    });
  });
}

function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class PostgresServer {
  static async start({ readyTimeout = 30000 } = {}) {
    const server = new PostgresServer();
    // /tmp, not $TMPDIR: the postgres user must be able to reach it.
    server.dir = mkdtempSync('/tmp/bullmq-e2e-pg-');
    server.dataDir = path.join(server.dir, 'data');
    if (isRoot) {
      const { uid, gid } = postgresIds();
      chownSync(server.dir, uid, gid);
    }
    server.port = await freePort();
    try {
      await server.#mustRun(
        [`${binDir}/initdb`, '-D', server.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8',
          '--locale=C', '--no-sync', '--no-instructions'],
        'initdb',
      );
      await server.#launch(readyTimeout);
    } catch (err) {
      await server.destroy().catch(() => {});
      throw err;
    }
    return server;
  }

  // Starts the server again on the same port and data after stop() (an outage ends).
  async restart({ readyTimeout = 30000 } = {}) {
    await this.#launch(readyTimeout);
  }

  async #launch(readyTimeout) {
    const options = [`-p ${this.port}`, `-k ${this.dir}`, '-c listen_addresses=127.0.0.1',
      '-c fsync=off', '-c full_page_writes=off', '-c max_connections=100'].join(' ');
    await this.#mustRun(
      [`${binDir}/pg_ctl`, '-D', this.dataDir, '-l', path.join(this.dir, 'postgres.log'),
        '-o', options, '-W', 'start'],
      'pg_ctl start',
    );
    this.pid = this.#postmasterPid();
    const deadline = Date.now() + readyTimeout;
    for (;;) {
      const { code } = await run([`${binDir}/pg_isready`, '-q', '-h', '127.0.0.1', '-p', String(this.port), '-t', '1']);
      if (code === 0) break;
      if (Date.now() > deadline) throw new Error(`PostgreSQL not ready after ${readyTimeout} ms\n${this.logTail()}`);
      await sleep(100);
    }
    this.pid = this.#postmasterPid();
  }

  async #mustRun(argv, what) {
    const { code, output } = await run(argv, { asPostgres: true, cwd: this.dir });
    if (code !== 0) throw new Error(`${what} failed (exit ${code}):\n${output}\n${this.logTail()}`);
  }

  #postmasterPid() {
    try {
      return Number(readFileSync(path.join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
    } catch {
      return undefined;
    }
  }

  logTail(chars = 3000) {
    try {
      const text = readFileSync(path.join(this.dir, 'postgres.log'), 'utf8');
      return text.slice(-chars);
    } catch {
      return '(no postgres.log)';
    }
  }

  url(database = 'postgres') {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async createDatabase(name) {
    const { code, output } = await run([`${binDir}/createdb`, '-h', '127.0.0.1', '-p', String(this.port),
      '-U', 'postgres', name]);
    if (code !== 0) throw new Error(`createdb ${name} failed (exit ${code}): ${output}`);
    return this.url(name);
  }

  async stop() {
    const pid = this.pid ?? this.#postmasterPid();
    this.pid = undefined;
    if (!pid || !processAlive(pid)) return;
    if (existsSync(this.dataDir)) {
      await run([`${binDir}/pg_ctl`, '-D', this.dataDir, '-m', 'fast', '-t', '20', 'stop'],
        { asPostgres: true, cwd: this.dir, timeout: 30000 }).catch(() => {});
    }
    const deadline = Date.now() + 10000;
    while (processAlive(pid)) {
      if (Date.now() > deadline) {
        process.kill(pid, 'SIGQUIT'); // immediate shutdown of the postmaster we started
        await sleep(500);
        if (processAlive(pid)) throw new Error(`PostgreSQL (pid ${pid}) did not stop`);
        break;
      }
      await sleep(100);
    }
  }

  async destroy() {
    try {
      await this.stop();
    } finally {
      if (this.dir && !process.env.KEEP_PG_DIR) rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
