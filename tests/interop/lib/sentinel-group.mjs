// A Redis Sentinel group for the interop suites: one master, N replicas
// (`--replicaof`) and M sentinels (`redis-server CONF --sentinel`), all
// redis-server processes on free loopback ports under one temporary
// directory. Every process is started and ended here by its pid.
//
// Timing: a manual `SENTINEL FAILOVER` takes ~1 s (the leader polls the
// promoted replica's INFO every second while a failover is in progress). The
// sentinels' periods are shortened at start with `SENTINEL DEBUG` (Redis 7):
//   - publish-period (hello messages; default 2000 ms): how fast sentinels
//     find each other and spread a new configuration. Also sets the delay
//     before the demoted master is reconfigured as a replica
//     (`+convert-to-slave` waits 4 publish periods after the switch).
//   - info-period (INFO polling of master and replicas; default 10000 ms).
// With the defaults below the old master stays a writable master for about
// 4–5 s after `+switch-master` before the sentinels turn it into a replica
// (production defaults: ~10 s), which is the window in which a client that
// does not follow `+switch-master` writes data that is then thrown away.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { freePort, waitFor } from './harness.mjs';

const HOST = '127.0.0.1';

function exited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child, timeout = 10000) {
  if (exited(child)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process ${child.pid} did not exit in ${timeout} ms`)), timeout);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// `INFO` / `SENTINEL MASTER` style replies as objects.
export function parseInfo(text) {
  const out = {};
  for (const line of String(text).split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

function pairs(list) {
  const out = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]] = list[i + 1];
  return out;
}

// Short-lived client for one question to one node: no retries, bounded.
async function ask(port, fn, { timeout = 2000 } = {}) {
  const c = new IORedis(port, HOST, {
    lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null,
    enableOfflineQueue: false, connectTimeout: timeout, commandTimeout: timeout,
  });
  c.on('error', () => {});
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

// One redis-server process (data node or sentinel) that can be stopped and
// started again on the same port with the same configuration. A data node
// restarts with its original role (the first master without --replicaof, a
// replica with --replicaof the first master), empty: there is no persistence;
// the sentinels reconfigure it if that role is out of date.
export class GroupNode {
  constructor({ kind, port, dir, args }) {
    this.kind = kind; // 'data' | 'sentinel'
    this.port = port;
    this.dir = dir;
    this.args = args;
    this.process = undefined;
  }

  get address() {
    return `${HOST}:${this.port}`;
  }

  get running() {
    return !!this.process && !exited(this.process);
  }

  get pid() {
    return this.process?.pid;
  }

  async start() {
    if (this.running) return;
    this.process = spawn('redis-server', this.args, { stdio: 'ignore' });
    this.process.on('error', () => {});
    await waitFor(async () => {
      if (exited(this.process)) throw new Error(`redis-server (${this.kind}) on ${this.port} exited at start`);
      return (await ask(this.port, (c) => c.ping(), { timeout: 500 }).catch(() => '')) === 'PONG';
    }, { timeout: 10000, interval: 25, what: `${this.kind} redis-server on port ${this.port}` });
  }

  // SIGKILL: no shutdown save, no goodbye to replicas or sentinels.
  async stop() {
    if (!this.process) return;
    if (!exited(this.process)) this.process.kill('SIGKILL');
    await waitExit(this.process);
  }

  // SIGSTOP / SIGCONT: a node that stops answering without closing sockets.
  freeze() {
    if (this.running) process.kill(this.process.pid, 'SIGSTOP');
  }

  thaw() {
    if (this.running) process.kill(this.process.pid, 'SIGCONT');
  }

  client(opts = {}) {
    return new IORedis(this.port, HOST, { maxRetriesPerRequest: null, ...opts });
  }
}

// MONITOR on one node through a plain socket (ioredis' monitor() loses its
// command queue when MONITOR's +OK and the first lines arrive together).
// records: {t: server time in ms, source: "ip:port" | "lua", cmd: lower case}.
// The connection is not re-established: `closedAt` says when it ended (a
// sentinel that turns a master into a replica kills its normal clients).
export class NodeMonitor {
  static start(address, { timeout = 5000 } = {}) {
    const port = Number(String(address).split(':').pop());
    const m = new NodeMonitor();
    m.address = `${HOST}:${port}`;
    m.records = [];
    m.closedAt = undefined;
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, HOST);
      m.socket = socket;
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`MONITOR on ${m.address}: no +OK in ${timeout} ms`)); }, timeout);
      let buffer = '';
      let started = false;
      socket.setEncoding('utf8');
      socket.on('connect', () => socket.write('MONITOR\r\n'));
      socket.on('data', (chunk) => {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf('\r\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 2);
          if (!started) {
            if (line === '+OK') {
              started = true;
              clearTimeout(timer);
              resolve(m);
            } else {
              clearTimeout(timer);
              reject(new Error(`MONITOR on ${m.address}: ${line}`));
            }
            continue;
          }
          // +1796211039.973253 [0 127.0.0.1:58320] "evalsha" "…" "0"
          const r = /^\+(\d+\.\d+) \[(\d+) ([^\]]+)\] "([^"]*)"/.exec(line);
          if (r) m.records.push({ t: Number(r[1]) * 1000, db: Number(r[2]), source: r[3], cmd: r[4].toLowerCase() });
        }
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        m.closedAt = Date.now();
        clearTimeout(timer);
        if (!started) reject(new Error(`MONITOR on ${m.address}: connection closed`));
      });
    });
  }

  stop() {
    this.socket?.destroy();
  }
}

export class SentinelGroup {
  // downAfterMs: `down-after-milliseconds` (automatic failover only; the
  // manual SENTINEL FAILOVER does not wait for it). failoverTimeoutMs:
  // `failover-timeout`. publishPeriodMs / infoPeriodMs: see the file comment.
  static async start({
    replicas = 1, sentinels = 3, masterName = 'mymaster', quorum,
    downAfterMs = 1500, failoverTimeoutMs = 5000, publishPeriodMs = 1000, infoPeriodMs = 1000,
    startTimeoutMs = 20000,
  } = {}) {
    const g = new SentinelGroup();
    g.masterName = masterName;
    g.quorum = quorum ?? Math.floor(sentinels / 2) + 1;
    g.settings = { downAfterMs, failoverTimeoutMs, publishPeriodMs, infoPeriodMs };
    g.dir = mkdtempSync(path.join(os.tmpdir(), 'bullmq-worker-sentinel-'));
    g.dataNodes = [];
    g.sentinelNodes = [];
    g.clients = [];
    g.events = []; // every sentinel pub/sub message: {sentinel, channel, message, at}
    g.subscribers = [];
    // freePort() closes its probe: two calls could hand out the same port.
    const taken = new Set();
    const port = async () => {
      for (;;) {
        const p = await freePort();
        if (!taken.has(p)) {
          taken.add(p);
          return p;
        }
      }
    };
    try {
      const masterPort = await port();
      g.initialMasterPort = masterPort;
      g.dataNodes.push(g.#dataNode('master', masterPort));
      for (let i = 0; i < replicas; i++) g.dataNodes.push(g.#dataNode(`replica${i + 1}`, await port(), masterPort));
      await Promise.all(g.dataNodes.map((n) => n.start()));
      for (let i = 0; i < sentinels; i++) {
        const sentinelPort = await port();
        const conf = path.join(g.dir, `sentinel-${i + 1}.conf`);
        writeFileSync(conf, [
          `port ${sentinelPort}`,
          `bind ${HOST}`,
          'daemonize no',
          'protected-mode no',
          `dir ${g.dir}`,
          `logfile ${path.join(g.dir, `sentinel-${i + 1}.log`)}`,
          'loglevel notice',
          `sentinel monitor ${masterName} ${HOST} ${masterPort} ${g.quorum}`,
          `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
          `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'));
        const node = new GroupNode({ kind: 'sentinel', port: sentinelPort, dir: g.dir, args: [conf, '--sentinel'] });
        node.conf = conf;
        node.index = i;
        g.sentinelNodes.push(node);
      }
      await Promise.all(g.sentinelNodes.map((s) => g.startSentinel(s)));
      await g.waitHealthy({ timeout: startTimeoutMs });
    } catch (err) {
      await g.destroy();
      throw err;
    }
    return g;
  }

  #dataNode(name, port, replicaOf) {
    const dir = path.join(this.dir, name);
    mkdirSync(dir, { recursive: true });
    const args = ['--port', String(port), '--bind', HOST, '--dir', dir, '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--loglevel', 'notice', '--logfile', path.join(dir, 'redis.log'),
      // A full sync starts at once (diskless, no 5 s delay waiting for more replicas).
      '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '1'];
    if (replicaOf) args.push('--replicaof', HOST, String(replicaOf));
    const node = new GroupNode({ kind: 'data', port, dir, args });
    node.name = name;
    return node;
  }

  // Starts (or restarts) a sentinel with its own, possibly rewritten, config,
  // applies the debug periods and subscribes to all its events.
  async startSentinel(node) {
    await node.start();
    await ask(node.port, (c) => c.call('SENTINEL', 'DEBUG',
      'publish-period', String(this.settings.publishPeriodMs),
      'info-period', String(this.settings.infoPeriodMs)));
    const sub = new IORedis(node.port, HOST, { maxRetriesPerRequest: null, retryStrategy: () => null });
    sub.on('error', () => {});
    sub.on('pmessage', (_pattern, channel, message) => {
      this.events.push({ sentinel: node.port, channel, message, at: Date.now() });
    });
    await sub.psubscribe('*');
    this.subscribers.push(sub);
  }

  // Changes the periods of every running sentinel (and of those started later).
  async setPeriods({ publishPeriodMs = this.settings.publishPeriodMs, infoPeriodMs = this.settings.infoPeriodMs } = {}) {
    this.settings = { ...this.settings, publishPeriodMs, infoPeriodMs };
    await Promise.all(this.sentinelNodes.filter((s) => s.running).map((s) => ask(s.port, (c) => c.call('SENTINEL', 'DEBUG',
      'publish-period', String(publishPeriodMs), 'info-period', String(infoPeriodMs)))));
  }

  get sentinelAddresses() {
    return this.sentinelNodes.map((s) => ({ host: HOST, port: s.port }));
  }

  // redis+sentinel://127.0.0.1:P1,…/mymaster; `prefix` puts addresses first
  // (e.g. a dead one).
  get url() {
    return this.urlWith();
  }

  urlWith({ prefix = [], db } = {}) {
    const hosts = [...prefix, ...this.sentinelNodes.map((s) => s.address)].join(',');
    return `redis+sentinel://${hosts}/${this.masterName}${db ? `/${db}` : ''}`;
  }

  // ioredis options for the group (what a Node producer or Worker passes).
  connectionOptions(extra = {}) {
    return { sentinels: this.sentinelAddresses, name: this.masterName, maxRetriesPerRequest: null, ...extra };
  }

  // The master as one running sentinel sees it: "host:port".
  async masterAddress() {
    let lastErr;
    for (const s of this.sentinelNodes) {
      if (!s.running) continue;
      try {
        const [host, port] = await ask(s.port, (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName));
        return `${host}:${port}`;
      } catch (err) {
        lastErr = err;
      }
    }
    throw new Error(`no sentinel answered GET-MASTER-ADDR-BY-NAME (${lastErr?.message ?? 'none running'})`);
  }

  nodeAt(address) {
    const port = Number(String(address).split(':').pop());
    return this.dataNodes.find((n) => n.port === port);
  }

  async masterNode() {
    return this.nodeAt(await this.masterAddress());
  }

  // Waits until every running sentinel names the same master, sees it up,
  // every running replica and every other running sentinel, and every replica
  // reports its link to the master up.
  async waitHealthy({ timeout = 20000, replicas } = {}) {
    let last = '';
    await waitFor(async () => {
      const running = this.sentinelNodes.filter((s) => s.running);
      const expectReplicas = replicas ?? this.dataNodes.filter((n) => n.running).length - 1;
      const views = await Promise.all(running.map((s) => ask(s.port, async (c) => {
        const master = pairs(await c.call('SENTINEL', 'MASTER', this.masterName));
        const reps = (await c.call('SENTINEL', 'REPLICAS', this.masterName)).map(pairs);
        return { master, reps };
      }).catch((err) => ({ err }))));
      const addrs = new Set();
      for (const [i, v] of views.entries()) {
        if (v.err) { last = `sentinel ${running[i].port}: ${v.err.message}`; return false; }
        const m = v.master;
        addrs.add(`${m.ip}:${m.port}`);
        if (m.flags !== 'master') { last = `sentinel ${running[i].port}: master flags ${m.flags}`; return false; }
        if (Number(m['num-other-sentinels']) < running.length - 1) {
          last = `sentinel ${running[i].port}: ${m['num-other-sentinels']} other sentinels`; return false;
        }
        const okReps = v.reps.filter((r) => r.flags === 'slave' && r['master-link-status'] === 'ok');
        if (okReps.length < expectReplicas) {
          last = `sentinel ${running[i].port}: ${okReps.length}/${expectReplicas} replicas ok (${v.reps.map((r) => `${r.port}:${r.flags}:${r['master-link-status']}`).join(' ')})`;
          return false;
        }
      }
      if (addrs.size !== 1) { last = `sentinels disagree: ${[...addrs].join(' ')}`; return false; }
      const [master] = addrs;
      for (const n of this.dataNodes.filter((d) => d.running && d.address !== master)) {
        const info = parseInfo(await ask(n.port, (c) => c.info('replication')));
        if (info.role !== 'slave' || info.master_link_status !== 'up' || `${info.master_host}:${info.master_port}` !== master) {
          last = `replica ${n.port}: role ${info.role} link ${info.master_link_status} of ${info.master_host}:${info.master_port}`;
          return false;
        }
      }
      return master;
    }, { timeout, interval: 50, what: 'sentinel group healthy' }).catch((err) => {
      throw new Error(`${err.message}; last: ${last}`);
    });
    return this.masterAddress();
  }

  // Events seen so far on channel (e.g. '+switch-master'), optionally after t.
  eventsOf(channel, since = 0) {
    return this.events.filter((e) => e.channel === channel && e.at >= since);
  }

  // Runs SENTINEL FAILOVER on one sentinel (`via`: index in the list; by
  // default the first running one) and resolves once every running sentinel
  // has announced +switch-master, with
  //   requestedAt: when SENTINEL FAILOVER was sent,
  //   slaveofNoOneAt: +failover-state-wait-promotion (the leader has sent
  //     REPLICAOF NO ONE to the chosen replica: it is a master from then on),
  //   promotedAt: +promoted-slave (the leader saw the replica report role
  //     master; falls back to switchAt),
  //   switchAt: the first +switch-master, allSwitchedAt: the last one,
  //   oldMaster, newMaster: "host:port", leader: the sentinel's port,
  //   events: this failover's messages from all sentinels.
  async failover({ timeout = 15000, via } = {}) {
    const oldMaster = await this.masterAddress();
    const leader = via === undefined ? this.sentinelNodes.find((s) => s.running) : this.sentinelNodes[via];
    if (!leader?.running) throw new Error('failover(): the chosen sentinel is not running');
    const running = this.sentinelNodes.filter((s) => s.running);
    // SENTINEL FAILOVER promotes the replica whatever it holds: one still in
    // its first sync (or behind) would lose what the master acknowledged, and
    // the scenario would blame the worker for jobs that vanished with it.
    await this.waitReplicated(oldMaster, { timeout });
    const since = Date.now();
    const requestedAt = Date.now();
    const reply = await ask(leader.port, (c) => c.call('SENTINEL', 'FAILOVER', this.masterName));
    if (reply !== 'OK') throw new Error(`SENTINEL FAILOVER answered ${reply}`);
    const switches = await waitFor(() => {
      const seen = this.eventsOf('+switch-master', since).filter((e) => e.message.startsWith(`${this.masterName} `));
      return new Set(seen.map((e) => e.sentinel)).size >= running.length && seen;
    }, { timeout, interval: 10, what: `+switch-master from all ${running.length} sentinels` });
    // "<name> <old-ip> <old-port> <new-ip> <new-port>"
    const [, oh, op, nh, np] = switches[0].message.split(' ');
    const promoted = this.eventsOf('+promoted-slave', since)[0];
    const noOne = this.eventsOf('+failover-state-wait-promotion', since)[0];
    const result = {
      requestedAt,
      leader: leader.port,
      slaveofNoOneAt: noOne?.at,
      promotedAt: promoted?.at ?? switches[0].at,
      switchAt: switches[0].at,
      allSwitchedAt: switches.at(-1).at,
      oldMaster: `${oh}:${op}`,
      newMaster: `${nh}:${np}`,
      events: this.events.filter((e) => e.at >= since),
    };
    if (result.oldMaster !== oldMaster) throw new Error(`+switch-master from ${result.oldMaster}, expected ${oldMaster}`);
    this.lastFailover = result;
    return result;
  }

  // Resolves when every replica of `master` is online and has everything the
  // master had written when this was called.
  async waitReplicated(master, { timeout = 15000 } = {}) {
    const port = Number(master.split(':').pop());
    const info = async () => parseInfo(await ask(port, (c) => c.info('replication')));
    const target = Number((await info()).master_repl_offset);
    await waitFor(async () => {
      const now = await info();
      const replicas = Object.entries(now).filter(([k]) => /^slave\d+$/.test(k)).map(([, v]) =>
        Object.fromEntries(v.split(',').map((kv) => kv.split('='))));
      return replicas.length > 0 && replicas.every((r) => r.state === 'online' && Number(r.offset) >= target);
    }, { timeout, interval: 20, what: `the replicas of ${master} caught up with offset ${target}` });
  }

  // After a failover: resolves when a sentinel has reconfigured the old
  // master as a replica (+convert-to-slave) and it reports role slave.
  async waitDemoted(oldMaster, { timeout = 20000, since = 0 } = {}) {
    const port = Number(oldMaster.split(':').pop());
    const convert = await waitFor(() => this.events.find((e) => e.at >= since && e.channel === '+convert-to-slave' &&
      e.message.includes(` ${port} `)), { timeout, what: `+convert-to-slave of ${oldMaster}` });
    await waitFor(async () => parseInfo(await ask(port, (c) => c.info('replication'))).role === 'slave',
      { timeout, what: `${oldMaster} reporting role slave` });
    return convert.at;
  }

  // An ioredis client that follows the master through the sentinels.
  clientForMaster(opts = {}) {
    const c = new IORedis(this.connectionOptions(opts));
    c.on('error', () => {});
    this.clients.push(c);
    return c;
  }

  // A plain ioredis client on one node ("host:port" or port).
  clientFor(address, opts = {}) {
    const port = Number(String(address).split(':').pop());
    const c = new IORedis(port, HOST, { maxRetriesPerRequest: null, ...opts });
    c.on('error', () => {});
    this.clients.push(c);
    return c;
  }

  // The tail of each sentinel's log (for failure messages).
  logs(lines = 30) {
    return this.sentinelNodes.map((s) => {
      const file = path.join(this.dir, `sentinel-${s.index + 1}.log`);
      const text = existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '';
      return `--- sentinel ${s.port}\n${text}`;
    }).join('\n');
  }

  async stop() {
    for (const c of [...this.subscribers, ...this.clients]) c.disconnect();
    this.subscribers = [];
    this.clients = [];
    const nodes = [...this.sentinelNodes, ...this.dataNodes];
    for (const n of nodes) n.thaw?.();
    await Promise.allSettled(nodes.map((n) => n.stop()));
  }

  async destroy() {
    await this.stop();
    if (this.dir && existsSync(this.dir) && !process.env.BULLMQ_KEEP_SENTINEL_DIR) {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
