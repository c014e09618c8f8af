// Small helpers of the chaos suite: bounded waiting, free ports, a seeded
// random generator, and the registry of every process this run started, so
// that they are all stopped by pid on any exit (normal end, failure, signal).
// The registry is mirrored to a pid file that run.sh reads as a last resort
// when the Node process itself was killed.
import { appendFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Polls `condition` until it returns a truthy value; throws after `timeout` ms.
export async function waitFor(condition, { timeout = 10000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await condition();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
    await sleep(interval);
  }
}

// Like waitFor but resolves false instead of throwing when the bound passes.
export async function waitUntil(condition, opts) {
  try {
    return await waitFor(condition, opts);
  } catch {
    return false;
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

// mulberry32: small, seedable, good enough to pick victims and job mixes.
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  return next;
}

export function alive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

export function signal(pid, sig) {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

// Every process started by this run: pid -> {what, stop(): Promise}.
const started = new Map();
let pidFile;
let aborting = false;

// Once the run is being torn down (signal, fatal error), nothing new may
// start: the chaos loops still running check this, and a process registered
// anyway is stopped at once.
export function abortRun() {
  aborting = true;
}

export function isAborting() {
  return aborting;
}

export function setPidFile(file) {
  pidFile = file;
  writeFileSync(pidFile, '');
}

// `comm` is what /proc/<pid>/comm should read (run.sh checks it before killing).
export function registerProcess(pid, what, comm, stop) {
  if (pidFile) appendFileSync(pidFile, `${pid}\t${comm}\n`);
  if (aborting) {
    Promise.race([stop(), sleep(15000)]).catch(() => {}).finally(() => {
      if (alive(pid)) signal(pid, 'SIGKILL');
    });
    return;
  }
  started.set(pid, { what, stop });
}

// Temporary folders outside the run's own output folder, listed for run.sh
// to remove should this process be killed before it removes them itself.
export function registerDir(dir) {
  if (pidFile) appendFileSync(`${pidFile}.dirs`, `${dir}\n`);
}

export function unregisterProcess(pid) {
  started.delete(pid);
}

// Stops everything still registered (each by its own stop function, bounded).
export async function stopAll() {
  const entries = [...started.entries()];
  started.clear();
  await Promise.allSettled(entries.map(async ([pid, { stop }]) => {
    try {
      await Promise.race([stop(), sleep(30000)]);
    } finally {
      if (alive(pid)) signal(pid, 'SIGKILL');
    }
  }));
}

export function fmtMs(ms) {
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 100) / 10;
  if (s < 120) return `${s} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

// Resolves when `child` has exited; rejects after `timeout` ms.
export function waitExit(child, timeout) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${child.pid} did not exit in ${timeout} ms`)), timeout);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// Ends the process a server object holds in `.process` (and forgets it):
// SIGKILL, a crash with no goodbye; or SIGTERM, then SIGKILL after 10 s.
export async function killServerProcess(server) {
  const child = server.process;
  if (!child) return;
  server.process = undefined;
  signal(child.pid, 'SIGKILL');
  await waitExit(child, 10000);
}

export async function stopServerProcess(server) {
  const child = server.process;
  if (!child) return;
  server.process = undefined;
  signal(child.pid, 'SIGTERM');
  try {
    await waitExit(child, 10000);
  } catch {
    signal(child.pid, 'SIGKILL');
    await waitExit(child, 5000);
  }
}

// Queue.addBulk, again every 500 ms while Redis (or its master) is away; the
// same job ids again are a no-op for jobs already added. Throws the last
// error after about a minute.
export async function addBulkRetrying(queue, batch) {
  for (let tries = 0; ; tries += 1) {
    try {
      return await queue.addBulk(batch);
    } catch (err) {
      if (tries > 120) throw err;
      await sleep(500);
    }
  }
}
