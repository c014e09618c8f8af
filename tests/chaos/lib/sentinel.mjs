// A Redis Sentinel group for the chaos suite: one master, one replica and
// three sentinels, each a redis-server process in its own folder under the
// scenario's work directory, on free loopback ports, started, SIGKILLed and
// restarted by its pid (registered in lib/util.mjs, so the driver and run.sh
// stop them on any exit).
//
// Timing. The sentinels' periods are shortened with `SENTINEL DEBUG`
// (Redis 7) right after every start: publish-period (hello messages, and the
// delay before a demoted master is turned into a replica: 4 of them) and
// info-period (INFO polling; a promotion is seen at the next poll), 1 s each.
// down-after-milliseconds is 1 s: a master that stops answering is failed
// over about 2–4 s after it died. A coordinated `SENTINEL FAILOVER` takes
// ~1 s. After it the old master stays a writable master for ~4 publish
// periods; what a client writes there then is thrown away when it becomes a
// replica (a full resync from the new master). The data nodes keep nothing
// on disk: a node restarts empty, as a replica (`--replicaof` the current
// master), and takes a full copy.
//
// Every message the sentinels publish is recorded ({sentinel, channel,
// message, at}) by one subscriber per sentinel that reconnects by itself
// across that sentinel's restarts.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import IORedis from 'ioredis';
import {
  freePort, isAborting, killServerProcess, registerProcess, stopServerProcess, unregisterProcess, waitFor,
} from './util.mjs';

const HOST = '127.0.0.1';

function exited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

// Flat [k, v, k, v…] replies (SENTINEL MASTER / REPLICAS) as objects.
function fields(list) {
  const out = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]] = list[i + 1];
  return out;
}

// INFO sections as an object.
export function parseInfo(text) {
  const out = {};
  for (const line of String(text).split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

// One question to one node on a connection of its own: no retries, bounded.
export async function ask(port, fn, timeout = 2000) {
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

// A redis-server process (data node or sentinel) on a fixed port that can be
// SIGKILLed and started again.
class GroupNode {
  constructor({ kind, name, port, dir }) {
    this.kind = kind; // 'data' | 'sentinel'
    this.name = name;
    this.port = port;
    this.dir = dir;
    this.logFile = path.join(dir, `${name}.log`);
    this.process = undefined;
    this.starts = 0;
  }

  get address() {
    return `${HOST}:${this.port}`;
  }

  get running() {
    return Boolean(this.process) && !exited(this.process);
  }

  get pid() {
    return this.process?.pid;
  }

  async start(args) {
    if (isAborting()) throw new Error('the run is being stopped');
    if (this.running) throw new Error(`${this.name} is already running`);
    const out = openSync(this.logFile, 'a'); // what redis-server says before its log file is open
    const child = spawn('redis-server', args, { stdio: ['ignore', out, out] });
    closeSync(out);
    child.on('error', () => {});
    this.process = child;
    this.starts += 1;
    registerProcess(child.pid, `${this.kind} ${this.name}`, 'redis-server', () => this.stop());
    child.once('exit', () => unregisterProcess(child.pid));
    await waitFor(async () => {
      if (exited(child)) throw new Error(`${this.name} (redis-server) exited at start: ${this.logTail(600)}`);
      return (await ask(this.port, (c) => c.ping(), 500).catch(() => '')) === 'PONG';
    }, { timeout: 15000, interval: 25, what: `${this.name} on port ${this.port}` });
  }

  // SIGKILL: no shutdown, no goodbye to replicas, sentinels or clients.
  async kill() {
    await killServerProcess(this);
  }

  async stop() {
    await stopServerProcess(this);
  }

  logTail(chars = 2000) {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-chars);
    } catch {
      return '';
    }
  }
}

export class SentinelGroup {
  static async start(workDir, {
    masterName = 'chaos', sentinels = 3, downAfterMs = 1000, failoverTimeoutMs = 4000,
    publishPeriodMs = 1000, infoPeriodMs = 1000,
  } = {}) {
    const g = new SentinelGroup();
    g.dir = path.join(workDir, 'sentinel-group');
    mkdirSync(g.dir, { recursive: true });
    g.masterName = masterName;
    g.quorum = Math.floor(sentinels / 2) + 1;
    g.settings = { downAfterMs, failoverTimeoutMs, publishPeriodMs, infoPeriodMs };
    g.events = [];
    g.subscribers = [];
    g.failovers = [];
    // freePort() closes its probe socket: two calls may hand out one port.
    const taken = new Set();
    const port = async () => {
      for (let tries = 0; ; tries += 1) {
        const p = await freePort();
        if (!taken.has(p)) {
          taken.add(p);
          return p;
        }
        if (tries > 50) throw new Error('no free port');
      }
    };
    g.dataNodes = [];
    for (const name of ['data-a', 'data-b']) {
      const node = new GroupNode({ kind: 'data', name, port: await port(), dir: g.dir });
      mkdirSync(path.join(g.dir, name), { recursive: true });
      g.dataNodes.push(node);
    }
    g.sentinelNodes = [];
    for (let i = 0; i < sentinels; i += 1) {
      g.sentinelNodes.push(new GroupNode({ kind: 'sentinel', name: `sentinel-${i + 1}`, port: await port(), dir: g.dir }));
    }
    const [first, second] = g.dataNodes;
    await g.startData(first);
    await g.startData(second, first.address);
    for (const s of g.sentinelNodes) {
      writeFileSync(path.join(g.dir, `${s.name}.conf`), [
        `port ${s.port}`,
        `bind ${HOST}`,
        'daemonize no',
        'protected-mode no',
        `dir ${g.dir}`,
        `logfile ${s.logFile}`,
        'loglevel notice',
        `sentinel monitor ${masterName} ${HOST} ${first.port} ${g.quorum}`,
        `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
        `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${masterName} 1`,
        '',
      ].join('\n'));
    }
    await Promise.all(g.sentinelNodes.map((s) => g.startSentinel(s)));
    for (const s of g.sentinelNodes) g.#subscribe(s);
    await g.waitHealthy({ timeout: 30000 });
    return g;
  }

  // A data node, empty, as the master (no replicaOf) or as a replica of "host:port".
  async startData(node, replicaOf) {
    const args = ['--port', String(node.port), '--bind', HOST, '--dir', path.join(this.dir, node.name),
      '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'notice', '--logfile', node.logFile,
      '--maxmemory-policy', 'noeviction',
      // A full sync at once, without disk, without waiting for more replicas.
      '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '1'];
    if (replicaOf) args.push('--replicaof', ...replicaOf.split(':'));
    await node.start(args);
  }

  // Starts (or restarts, on its own rewritten configuration) a sentinel and
  // shortens its periods.
  async startSentinel(node) {
    await node.start([path.join(this.dir, `${node.name}.conf`), '--sentinel']);
    await ask(node.port, (c) => c.call('SENTINEL', 'DEBUG',
      'publish-period', String(this.settings.publishPeriodMs), 'info-period', String(this.settings.infoPeriodMs)));
  }

  #subscribe(node) {
    const sub = new IORedis(node.port, HOST, { maxRetriesPerRequest: null, retryStrategy: () => 100, enableOfflineQueue: true });
    sub.on('error', () => {});
    sub.on('pmessage', (_pattern, channel, message) => {
      this.events.push({ sentinel: node.name, channel, message, at: Date.now() });
    });
    sub.psubscribe('*').catch(() => {});
    this.subscribers.push(sub);
  }

  get url() {
    return `redis+sentinel://${this.sentinelNodes.map((s) => s.address).join(',')}/${this.masterName}`;
  }

  // ioredis options that follow the master through the sentinels.
  connectionOptions(extra = {}) {
    return {
      sentinels: this.sentinelNodes.map((s) => ({ host: HOST, port: s.port })),
      name: this.masterName,
      failoverDetector: true,
      maxRetriesPerRequest: null,
      ...extra,
    };
  }

  runningSentinels() {
    return this.sentinelNodes.filter((s) => s.running);
  }

  nodeAt(address) {
    return this.dataNodes.find((n) => n.address === address);
  }

  // The master as the first running sentinel that answers names it ("host:port").
  async masterAddress() {
    let last;
    for (const s of this.runningSentinels()) {
      try {
        const [host, port] = await ask(s.port, (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName));
        return `${host}:${port}`;
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`no sentinel named the master (${last?.message ?? 'none running'})`);
  }

  // Waits until every running sentinel names the same master, flags it
  // plain `master`, knows the other running sentinels and sees every running
  // data node as a replica with its link up; the master says ROLE master and
  // every other running data node is its replica with the link up. Resolves
  // the master's address.
  async waitHealthy({ timeout = 30000 } = {}) {
    let last = '';
    try {
      return await waitFor(async () => {
        const sentinels = this.runningSentinels();
        const views = await Promise.all(sentinels.map((s) => ask(s.port, async (c) => ({
          master: fields(await c.call('SENTINEL', 'MASTER', this.masterName)),
          replicas: (await c.call('SENTINEL', 'REPLICAS', this.masterName)).map(fields),
        })).catch((err) => ({ err }))));
        const named = new Set();
        const replicasWanted = this.dataNodes.filter((n) => n.running).length - 1;
        for (const [i, v] of views.entries()) {
          const who = sentinels[i].name;
          if (v.err) return !(last = `${who}: ${v.err.message}`);
          named.add(`${v.master.ip}:${v.master.port}`);
          if (v.master.flags !== 'master') return !(last = `${who}: master flags ${v.master.flags}`);
          if (Number(v.master['num-other-sentinels']) < sentinels.length - 1) {
            return !(last = `${who}: knows ${v.master['num-other-sentinels']} other sentinels`);
          }
          const ok = v.replicas.filter((r) => r.flags === 'slave' && r['master-link-status'] === 'ok');
          if (ok.length < replicasWanted) {
            return !(last = `${who}: ${ok.length}/${replicasWanted} replicas ok (${v.replicas.map((r) => `${r.port} ${r.flags} ${r['master-link-status']}`).join(', ')})`);
          }
        }
        if (named.size !== 1) return !(last = `sentinels disagree: ${[...named].join(' ')}`);
        const [master] = named;
        const masterNode = this.nodeAt(master);
        if (!masterNode?.running) return !(last = `named master ${master} is not running`);
        const role = parseInfo(await ask(masterNode.port, (c) => c.info('replication')));
        if (role.role !== 'master') return !(last = `${master} says role ${role.role}`);
        for (const n of this.dataNodes.filter((d) => d.running && d !== masterNode)) {
          const info = parseInfo(await ask(n.port, (c) => c.info('replication')));
          if (info.role !== 'slave' || info.master_link_status !== 'up' || `${info.master_host}:${info.master_port}` !== master) {
            return !(last = `${n.address}: role ${info.role}, link ${info.master_link_status} to ${info.master_host}:${info.master_port}`);
          }
        }
        return master;
      }, { timeout, interval: 50, what: 'the sentinel group to be healthy' });
    } catch (err) {
      throw new Error(`${err.message}; last: ${last}`);
    }
  }

  eventsOf(channel, since) {
    const ours = (m) => m.startsWith(`${this.masterName} `) || m.includes(` ${this.masterName} `);
    return this.events.filter((e) => e.channel === channel && e.at >= since && ours(e.message));
  }

  // Waits until a quorum of sentinels announced +switch-master away from
  // `oldMaster` since `since`; returns the failover's record.
  async #switched(oldMaster, since, timeout, record) {
    const want = this.quorum;
    const switches = await waitFor(() => {
      const seen = this.eventsOf('+switch-master', since).filter((e) => {
        const [, oh, op] = e.message.split(' ');
        return `${oh}:${op}` === oldMaster;
      });
      return new Set(seen.map((e) => e.sentinel)).size >= want && seen;
    }, { timeout, interval: 10, what: `+switch-master from ${want} sentinels (away from ${oldMaster})` });
    const [, , , nh, np] = switches[0].message.split(' ');
    const promoted = this.eventsOf('+promoted-slave', since)[0];
    const noOne = this.eventsOf('+failover-state-wait-promotion', since)[0];
    Object.assign(record, {
      oldMaster,
      newMaster: `${nh}:${np}`,
      promotedAt: promoted?.at ?? switches[0].at,
      slaveofNoOneAt: noOne?.at,
      switchAt: switches[0].at,
    });
    return record;
  }

  // SENTINEL FAILOVER through the given running sentinel; resolves once a
  // quorum announced the switch (the group is not healthy yet: the old
  // master is demoted ~4 publish periods later).
  async failover(via, { timeout = 20000 } = {}) {
    const oldMaster = await this.masterAddress();
    const record = { kind: 'failover', via: via.name, requestedAt: Date.now() };
    // -NOGOODSLAVE while the sentinel's view of a just-synced replica is a poll old: ask again.
    await waitFor(async () => {
      try {
        return (await ask(via.port, (c) => c.call('SENTINEL', 'FAILOVER', this.masterName))) === 'OK';
      } catch (err) {
        if (/NOGOODSLAVE|INPROG/.test(err.message)) return false;
        throw err;
      }
    }, { timeout: 10000, interval: 200, what: `SENTINEL FAILOVER accepted by ${via.name}` });
    await this.#switched(oldMaster, record.requestedAt, timeout, record);
    this.failovers.push(record);
    return record;
  }

  // SIGKILL of the master; resolves once a quorum announced the automatic
  // failover (down-after, election, promotion). The killed node stays down.
  async killMaster({ timeout = 40000 } = {}) {
    const oldMaster = await this.masterAddress();
    const node = this.nodeAt(oldMaster);
    const record = { kind: 'kill-master', killedPid: node.pid, killedAt: Date.now() };
    await node.kill();
    await this.#switched(oldMaster, record.killedAt, timeout, record);
    record.odownAt = this.eventsOf('+odown', record.killedAt)[0]?.at;
    this.failovers.push(record);
    return { record, node };
  }

  async killSentinel(node) {
    const pid = node.pid;
    await node.kill();
    return pid;
  }

  // The sentinels' log tails (for a failure's report).
  logTails(chars = 3000) {
    const out = {};
    for (const n of [...this.sentinelNodes, ...this.dataNodes]) out[n.name] = n.logTail(chars);
    return out;
  }

  // Every event of interest (not the sentinels' hellos), relative to t0.
  timeline(t0) {
    const boring = new Set(['__sentinel__:hello', '+sentinel', '+slave', '+reboot']);
    return this.events.filter((e) => !boring.has(e.channel))
      .map((e) => `${((e.at - t0) / 1000).toFixed(3)}s ${e.sentinel} ${e.channel} ${e.message}`);
  }

  async stop() {
    for (const s of this.subscribers) s.disconnect();
    this.subscribers = [];
    await Promise.allSettled([...this.sentinelNodes, ...this.dataNodes].map((n) => n.stop()));
  }
}
