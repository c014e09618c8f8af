// A fleet of bullmq-worker processes in numbered slots. Every process writes
// its stderr (and stdout) straight into its own file (the file descriptor is
// handed to the child, nothing is buffered in this process), so a SIGKILL
// cannot lose what the worker wrote before it died. Slots can be SIGKILLed and
// restarted, frozen with SIGSTOP and thawed with SIGCONT; a worker that exits
// without being asked to is recorded (and restarted, so the run goes on).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isAborting, registerProcess, signal, unregisterProcess } from './util.mjs';

export class WorkerFleet {
  constructor({ binary, logDir, argsFor, env = {}, log = () => {} }) {
    this.binary = binary;
    this.logDir = logDir;
    this.argsFor = argsFor; // (slot, incarnation) => argv
    this.env = env;
    this.log = log;
    this.slots = [];
    this.logFiles = [];
    this.unexpectedExits = [];
    this.kills = 0;
    this.freezes = 0;
    this.restarts = 0;
  }

  start(slot) {
    if (isAborting() || this.closing) throw new Error('the fleet is being stopped');
    const s = (this.slots[slot] ??= { slot, incarnation: 0 });
    if (s.child) throw new Error(`worker slot ${slot} is already running`);
    s.incarnation += 1;
    const file = path.join(this.logDir, `worker-${slot}.${s.incarnation}.log`);
    const fd = openSync(file, 'a');
    const child = spawn(this.binary, this.argsFor(slot, s.incarnation), {
      env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...this.env },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.logFiles.push(file);
    const entry = { child, file, expectedExit: false, frozen: false, startedAt: Date.now() };
    s.child = entry;
    registerProcess(child.pid, `worker ${slot}`, 'bullmq-worker', () => this.#stopEntry(entry, 5000));
    entry.exited = new Promise((resolve) => {
      child.once('exit', (code, sig) => {
        unregisterProcess(child.pid);
        if (s.child === entry) s.child = undefined;
        if (!entry.expectedExit) {
          const tail = tailOf(file);
          this.unexpectedExits.push({ slot, pid: child.pid, code, signal: sig, log: file, tail });
          this.log(`worker ${slot} (pid ${child.pid}) exited on its own: code ${code}, signal ${sig}`);
          if (!this.closing && !isAborting()) this.start(slot);
        }
        resolve({ code, signal: sig });
      });
    });
    return entry;
  }

  pid(slot) {
    return this.slots[slot]?.child?.child.pid;
  }

  // The running worker's id (from its worker.started log line): the prefix
  // of the lock tokens it writes ("<worker id>:<n>").
  workerId(slot) {
    const entry = this.slots[slot]?.child;
    if (!entry) return undefined;
    if (!entry.workerId) {
      for (const { line } of readLogLines([entry.file])) {
        if (line.event === 'worker.started' && line.worker_id) {
          entry.workerId = line.worker_id;
          break;
        }
      }
    }
    return entry.workerId;
  }

  running(slot) {
    return Boolean(this.slots[slot]?.child);
  }

  frozen(slot) {
    return Boolean(this.slots[slot]?.child?.frozen);
  }

  // SIGKILL by pid; resolves when the process is gone.
  async kill(slot) {
    const entry = this.slots[slot]?.child;
    if (!entry) return false;
    entry.expectedExit = true;
    if (entry.frozen) signal(entry.child.pid, 'SIGCONT');
    signal(entry.child.pid, 'SIGKILL');
    await entry.exited;
    this.kills += 1;
    return true;
  }

  async restart(slot) {
    this.restarts += 1;
    return this.start(slot);
  }

  freeze(slot) {
    const entry = this.slots[slot]?.child;
    if (!entry) return false;
    entry.frozen = signal(entry.child.pid, 'SIGSTOP');
    if (entry.frozen) this.freezes += 1;
    return entry.frozen;
  }

  thaw(slot) {
    const entry = this.slots[slot]?.child;
    if (!entry?.frozen) return false;
    entry.frozen = false;
    return signal(entry.child.pid, 'SIGCONT');
  }

  async #stopEntry(entry, timeout) {
    entry.expectedExit = true;
    if (entry.frozen) {
      entry.frozen = false;
      signal(entry.child.pid, 'SIGCONT');
    }
    signal(entry.child.pid, 'SIGTERM');
    const timer = setTimeout(() => signal(entry.child.pid, 'SIGKILL'), timeout);
    const result = await entry.exited;
    clearTimeout(timer);
    return result;
  }

  // Waits (bounded) until every running worker has logged worker.started: its
  // signal handlers are installed by then. (A SIGTERM in the first
  // milliseconds of a process's life, before that, ends it by the signal's
  // default action; that says nothing about its shutdown.)
  async waitStarted(timeout = 15000) {
    const deadline = Date.now() + timeout;
    for (const s of this.slots) {
      while (s?.child && !this.workerId(s.slot) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  // SIGTERM to every worker (SIGKILL after `timeout`); resolves their exit results.
  async stopAll(timeout = 15000) {
    this.closing = true;
    const entries = this.slots.map((s) => s?.child).filter(Boolean);
    return Promise.all(entries.map((e) => this.#stopEntry(e, timeout)));
  }
}

function tailOf(file, chars = 1500) {
  try {
    return readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}

// Reads the JSON log lines of the given files: [{file, line}] (non-JSON lines kept as {raw}).
export function readLogLines(files) {
  const out = [];
  for (const file of files) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const raw of text.split('\n')) {
      if (!raw) continue;
      let line;
      try {
        line = JSON.parse(raw);
      } catch {
        line = { raw };
      }
      out.push({ file, line });
    }
  }
  return out;
}
