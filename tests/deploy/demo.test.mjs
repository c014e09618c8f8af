// scripts/demo.sh as a newcomer runs it, without a terminal (as CI, a pipe or
// ../shared/tools/fresh-debian.sh do):
// - `--once` succeeds from a checkout whose parent folder only root can enter
//   (as /root/project is, in a home of mode 700): PostgreSQL, which runs as
//   the postgres user, keeps its data outside the checkout;
// - progress is one plain line per change (no carriage-return redraws);
// - nothing it started is left running, whether it succeeds or is stopped
//   with SIGTERM half-way;
// - it only uses servers it started: with its default Redis port held by a
//   foreign Redis it takes another free port and leaves the foreign one
//   untouched; with that port set in DEMO_REDIS_PORT it refuses, naming the
//   port and the process holding it.
// The demo's state goes to a temporary folder (DEMO_STATE_DIR) removed with
// `scripts/demo.sh clean` at the end; it uses the already built binary
// (DEMO_BUILD_DIR, from BULLMQ_WORKER_BIN).
//
//   cd tests/deploy && npm ci && BULLMQ_WORKER_BIN=../../build/bullmq-worker node --test demo.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const demo = path.join(root, 'scripts', 'demo.sh');
const bin = process.env.BULLMQ_WORKER_BIN
  ? path.resolve(process.env.BULLMQ_WORKER_BIN)
  : path.join(root, 'build', 'bullmq-worker');
const DEFAULT_REDIS_PORT = 6390; // scripts/demo.sh's default
const RUN_TIMEOUT = 240000;

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}
const missing = ['redis-server', 'redis-cli', 'psql', 'ss', 'node'].filter((c) => !has(c));
if (!existsSync('/usr/lib/postgresql/15/bin/initdb')) missing.push('/usr/lib/postgresql/15/bin/initdb');
if (!existsSync(bin)) missing.push(bin);
const skip = process.platform !== 'linux'
  ? 'scripts/demo.sh runs on Linux'
  : missing.length ? `the demo needs ${missing.join(', ')} (scripts/install-deps.sh, then build)` : false;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor(condition, { timeout = 10000, interval = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

// Alive and not a zombie.
function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function redisCli(port, ...args) {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 5000 });
  return r.stdout.trim();
}

// Runs the demo without a terminal; `onOutput(text)` sees stdout as it grows.
function startDemo(args, { env = {}, onOutput } = {}) {
  const child = spawn('bash', [demo, ...args], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env },
  });
  const run = { child, stdout: '', stderr: '' };
  child.stdout.on('data', (c) => { run.stdout += c; onOutput?.(run.stdout); });
  child.stderr.on('data', (c) => { run.stderr += c; });
  run.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  run.finish = async (timeout = RUN_TIMEOUT) => {
    let timer;
    const result = await Promise.race([
      run.exited,
      new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeout); }),
    ]);
    clearTimeout(timer);
    if (!result) {
      child.kill('SIGTERM');
      await Promise.race([run.exited, sleep(30000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      throw new Error(`scripts/demo.sh ${args.join(' ')} did not finish in ${timeout} ms\n${run.output()}`);
    }
    return result;
  };
  run.output = () => `--- stdout ---\n${run.stdout.slice(-4000)}\n--- stderr ---\n${run.stderr.slice(-3000)}`;
  return run;
}

// "started redis-server (pid 12, port 6390)", "started bullmq-worker (pid 13, metrics port 9464)", ...
function startedProcesses(stdout) {
  return [...stdout.matchAll(/^started (.+?) \(pid (\d+), (?:metrics )?port (\d+)/gm)]
    .map((m) => ({ name: m[1], pid: Number(m[2]), port: Number(m[3]) }));
}

async function assertNothingLeft(started, run) {
  for (const p of started) {
    await waitFor(() => !alive(p.pid), { timeout: 5000, what: `${p.name} (pid ${p.pid}) to be gone\n${run.output()}` });
    await waitFor(() => portFree(p.port), { timeout: 5000, what: `port ${p.port} of ${p.name} to be free` });
  }
}

describe('scripts/demo.sh without a terminal', { skip, timeout: 600000 }, () => {
  let tmp;
  let state;
  let env;
  let foreign; // a Redis this test started on the demo's default port (or another one)

  before(async () => {
    // <tmp, mode 700>/project/.state: like /root/project/.state, which the
    // postgres user cannot reach.
    tmp = mkdtempSync(path.join(os.tmpdir(), 'bullmq-demo-test-'));
    state = path.join(tmp, 'project', '.state');
    mkdirSync(path.dirname(state));
    env = { DEMO_STATE_DIR: state, DEMO_BUILD_DIR: path.dirname(bin) };
    for (const v of ['DEMO_REDIS_PORT', 'DEMO_PG_PORT', 'DEMO_METRICS_PORT', 'DEMO_BOARD_PORT']) env[v] = '';

    // The default Redis port held by a Redis that is not the demo's (when
    // something else holds it already, that serves as well).
    const port = (await portFree(DEFAULT_REDIS_PORT)) ? DEFAULT_REDIS_PORT : await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--dir', tmp], { stdio: 'ignore' });
    foreign = { child, port, exited: new Promise((resolve) => child.once('exit', resolve)) };
    await waitFor(() => redisCli(port, 'ping') === 'PONG', { timeout: 10000, what: `the foreign Redis on port ${port}` });
  });

  after(async () => {
    if (foreign && foreign.child.exitCode === null) {
      foreign.child.kill('SIGTERM');
      await Promise.race([foreign.exited, sleep(10000)]);
    }
    if (state && existsSync(state)) {
      const clean = startDemo(['clean'], { env });
      await clean.finish(60000).catch(() => {});
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('a taken port set in DEMO_REDIS_PORT is refused, naming the port and its owner', async () => {
    const run = startDemo(['--once'], { env: { ...env, DEMO_REDIS_PORT: String(foreign.port) } });
    const { code } = await run.finish();
    assert.notEqual(code, 0, `the demo refused to go on\n${run.output()}`);
    // ss names the owner of a port (run by this same user here).
    const message = `port ${foreign.port} (DEMO_REDIS_PORT) for Redis is already in use by redis-server (pid ${foreign.child.pid})`;
    assert.ok(run.stderr.includes(message), `the refusal names the port and its owner: ${message}\n${run.output()}`);
    assert.deepEqual(startedProcesses(run.stdout), [], 'nothing was started');
    assert.ok(alive(foreign.child.pid), 'the foreign Redis still runs');
    assert.equal(redisCli(foreign.port, 'dbsize'), '0', 'the foreign Redis was not written to');
  });

  test('--once: exit 0, one progress line per change, its own servers, nothing left running', async () => {
    const run = startDemo(['--once'], { env });
    const { code } = await run.finish();
    assert.equal(code, 0, run.output());
    assert.match(run.stdout, /demo: the batch completed as expected/);

    // Plain output: no redraws, no colours.
    assert.ok(!run.stdout.includes('\r') && !run.stderr.includes('\r'), 'no carriage return in the output');
    assert.ok(!run.stdout.includes('\x1b'), 'no terminal escape sequences in the output');
    const progress = run.stdout.split('\n').filter((l) => /^ {2}\d+\/\d+ files, batch \S+$/.test(l));
    assert.ok(progress.length >= 1, `progress lines are printed\n${run.output()}`);
    for (let i = 1; i < progress.length; i++) assert.notEqual(progress[i], progress[i - 1], 'one line per change');
    assert.match(progress.at(-1), /^ {2}7\/7 files, batch completed_with_errors$/);

    // Its own Redis, not the foreign one on the default port.
    const started = startedProcesses(run.stdout);
    assert.deepEqual(started.map((p) => p.name).sort(), ['Bull Board', 'PostgreSQL', 'bullmq-worker', 'redis-server']);
    const redis = started.find((p) => p.name === 'redis-server');
    assert.notEqual(redis.port, DEFAULT_REDIS_PORT, 'the demo did not use the Redis already on its default port');
    if (foreign.port === DEFAULT_REDIS_PORT) {
      assert.match(run.stderr, new RegExp(`port ${DEFAULT_REDIS_PORT} is in use by .*; Redis uses port ${redis.port} instead`));
      assert.equal(redisCli(foreign.port, 'dbsize'), '0', 'the foreign Redis was not written to');
    }
    assert.ok(alive(foreign.child.pid), 'the foreign Redis still runs');

    // PostgreSQL's data is outside the checkout, where the postgres user can reach it.
    const pgDir = readFileSync(path.join(state, 'pg-dir'), 'utf8').trim();
    assert.ok(!pgDir.startsWith(tmp), `PostgreSQL data in ${pgDir}, outside the checkout`);

    await assertNothingLeft(started, run);
    for (const p of started) assert.match(run.stdout, new RegExp(`^stopped \\S+ \\(pid ${p.pid}\\)$`, 'm'), `${p.name} stopped by the demo`);
  });

  test('SIGTERM half-way: the demo stops everything it started', async () => {
    let ready = false;
    const run = startDemo(['--once'], {
      env,
      onOutput: (out) => { ready = ready || /^started Bull Board/m.test(out); },
    });
    await waitFor(() => ready || run.child.exitCode !== null, { timeout: RUN_TIMEOUT, what: 'the demo to start its servers' });
    assert.equal(run.child.exitCode, null, `the demo is still running\n${run.output()}`);
    const started = startedProcesses(run.stdout);
    assert.equal(started.length, 4, run.output());
    run.child.kill('SIGTERM');
    const { code } = await run.finish(60000);
    assert.equal(code, 143, `the demo exits 143 on SIGTERM\n${run.output()}`);
    await assertNothingLeft(started, run);
  });
});
