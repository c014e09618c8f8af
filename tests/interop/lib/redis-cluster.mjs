// A real Redis Cluster for the interop suites: redis-server nodes with
// cluster mode on, each in its own temporary directory on free loopback
// ports (client port and cluster-bus port both picked at run time), slots
// assigned, nodes met, replicas attached, and bounded waits until every node
// agrees. It can move a slot the way an operator's resharding does (with ASK
// redirections mid-way), fail a master over, kill and restart nodes.
// Every process it starts is stopped by its pid.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis, { Cluster, ReplyError } from 'ioredis';
import { freePort, waitFor, sleep } from './harness.mjs';

export const SLOTS = 16384;

// CRC16/XMODEM (polynomial 0x1021, initial value 0), the checksum Redis
// Cluster hashes keys with.
const crcTable = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes) {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ crcTable[((crc >> 8) ^ b) & 0xff];
  return crc;
}

// The slot of a key: only the part between the first '{' and the next '}'
// is hashed when that part is not empty.
export function slotOf(key) {
  const bytes = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % SLOTS;
  }
  return crc16(bytes) % SLOTS;
}

function waitExit(child, timeout) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server ${child.pid} did not exit in ${timeout} ms`)), timeout);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function parseInfo(text) {
  const out = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

// ioredis ReplyError = the server answered with an error; anything else is
// a connection problem.
function isReply(err) {
  return err instanceof ReplyError;
}

export class RedisCluster {
  // masters: number of masters; replicasPerMaster: 0 or more replicas each;
  // nodeTimeoutMs: cluster-node-timeout (failure detection, failover speed);
  // persistence: append-only file fsynced on every write, so a node that is
  // SIGKILLed and restarted comes back with its data.
  static async start({ masters = 3, replicasPerMaster = 0, nodeTimeoutMs = 1000, persistence = false } = {}) {
    const cluster = new RedisCluster();
    cluster.options = { masters, replicasPerMaster, nodeTimeoutMs, persistence };
    try {
      const total = masters * (1 + replicasPerMaster);
      const taken = new Set();
      const pick = async () => {
        for (;;) {
          const p = await freePort();
          if (!taken.has(p)) {
            taken.add(p);
            return p;
          }
        }
      };
      for (let i = 0; i < total; i++) {
        cluster.nodes.push({
          index: i,
          port: await pick(),
          busPort: await pick(),
          dir: mkdtempSync(path.join(os.tmpdir(), `bullmq-worker-cluster-${i}-`)),
        });
      }
      await Promise.all(cluster.nodes.map((n) => cluster.#spawn(n)));
      for (const n of cluster.nodes) n.id = await cluster.command(n, 'CLUSTER', 'MYID');

      // Contiguous slot ranges over the masters.
      const per = Math.floor(SLOTS / masters);
      for (let m = 0; m < masters; m++) {
        const first = m * per;
        const last = m === masters - 1 ? SLOTS - 1 : first + per - 1;
        await cluster.command(cluster.nodes[m], 'CLUSTER', 'ADDSLOTSRANGE', first, last);
      }
      for (const n of cluster.nodes.slice(1)) {
        await cluster.command(cluster.nodes[0], 'CLUSTER', 'MEET', '127.0.0.1', n.port, n.busPort);
      }
      await waitFor(async () => {
        for (const n of cluster.nodes) {
          const lines = (await cluster.command(n, 'CLUSTER', 'NODES')).trim().split('\n');
          if (lines.length !== total || lines.some((l) => /handshake|noaddr|fail/.test(l.split(' ')[2]))) return false;
        }
        return true;
      }, { timeout: 20000, interval: 50, what: 'all cluster nodes to know each other' });

      // Replicas: master k gets nodes masters + k*replicasPerMaster + j.
      for (let k = 0; k < masters; k++) {
        for (let j = 0; j < replicasPerMaster; j++) {
          const replica = cluster.nodes[masters + k * replicasPerMaster + j];
          await waitFor(async () => {
            try {
              return (await cluster.command(replica, 'CLUSTER', 'REPLICATE', cluster.nodes[k].id)) === 'OK';
            } catch (err) {
              if (isReply(err) && /Unknown node/.test(err.message)) return false;
              throw err;
            }
          }, { timeout: 10000, interval: 50, what: `node ${replica.index} to replicate node ${k}` });
        }
      }
      await cluster.waitStable();
      return cluster;
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
  }

  constructor() {
    this.nodes = [];
    this.clients = [];
    this.admins = new Map();
  }

  #args(n) {
    const args = ['--port', String(n.port), '--cluster-port', String(n.busPort), '--bind', '127.0.0.1',
      '--dir', n.dir, '--daemonize', 'no', '--save', '', '--logfile', 'redis.log', '--loglevel', 'notice',
      '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(this.options.nodeTimeoutMs),
      // The topology stays as the tests built it: no replica moves to an orphaned master.
      '--cluster-allow-replica-migration', 'no',
      // A replica that lost its master a while ago may still be promoted.
      '--cluster-replica-validity-factor', '0',
      // Replicas sync at once instead of waiting 5 s for more replicas.
      '--repl-diskless-sync-delay', '0'];
    if (this.options.persistence) args.push('--appendonly', 'yes', '--appendfsync', 'always');
    else args.push('--appendonly', 'no');
    return args;
  }

  async #spawn(n) {
    n.process = spawn('redis-server', this.#args(n), { stdio: 'ignore' });
    n.process.once('exit', () => this.#dropAdmin(n));
    await waitFor(async () => {
      if (n.process.exitCode !== null) throw new Error(`redis-server on port ${n.port} exited: ${this.log(n).slice(-2000)}`);
      return (await this.command(n, 'PING')) === 'PONG';
    }, { timeout: 10000, interval: 30, what: `redis-server (cluster node) on port ${n.port}` });
  }

  // The node's own log file (for failure messages).
  log(n) {
    const file = path.join(n.dir, 'redis.log');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  alive(n) {
    return Boolean(n.process) && n.process.exitCode === null && n.process.signalCode === null;
  }

  #dropAdmin(n) {
    const c = this.admins.get(n.port);
    if (c) {
      this.admins.delete(n.port);
      c.disconnect();
    }
  }

  // One command to one node (no redirection followed). Connection problems
  // drop the cached connection and reject; error replies reject as ReplyError.
  async command(n, ...args) {
    let c = this.admins.get(n.port);
    if (!c) {
      c = new IORedis(n.port, '127.0.0.1', {
        lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null,
        connectTimeout: 2000, commandTimeout: 5000, enableOfflineQueue: true,
      });
      c.on('error', () => {});
      this.admins.set(n.port, c);
    }
    try {
      if (c.status === 'wait') await c.connect();
      return await c.call(...args);
    } catch (err) {
      if (!isReply(err)) this.#dropAdmin(n);
      throw err;
    }
  }

  async info(n, section) {
    return parseInfo(await this.command(n, 'INFO', section));
  }

  nodeByPort(port) {
    return this.nodes.find((n) => n.port === Number(port));
  }

  // A node given as itself or by its index.
  node(x) {
    const n = typeof x === 'number' ? this.nodes[x] : x;
    if (!n || !this.nodes.includes(n)) throw new Error(`no cluster node ${x}`);
    return n;
  }

  // redis+cluster:// URL with the given node(s) as seeds.
  seedUrl(...indices) {
    const list = indices.length ? indices : [0];
    return `redis+cluster://${list.map((i) => `127.0.0.1:${this.nodes[i].port}`).join(',')}`;
  }

  // For Node clients (ioredis Cluster startup nodes).
  startupNodes(...indices) {
    const list = indices.length ? indices : this.nodes.map((n) => n.index);
    return list.map((i) => ({ host: '127.0.0.1', port: this.nodes[i].port }));
  }

  // [{ first, last, master: node, replicas: [node] }] as one live node sees it.
  async slotMap(from) {
    const sources = from ? [from] : this.nodes.filter((n) => this.alive(n));
    let lastErr;
    for (const n of sources) {
      try {
        const raw = await this.command(n, 'CLUSTER', 'SLOTS');
        return raw.map(([first, last, master, ...replicas]) => ({
          first, last, master: this.nodeByPort(master[1]), replicas: replicas.map((r) => this.nodeByPort(r[1])),
        })).sort((a, b) => a.first - b.first);
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr ?? new Error('no live cluster node');
  }

  // The master that owns `slot` (as the live nodes see it).
  async nodeForSlot(slot) {
    const range = (await this.slotMap()).find((r) => r.first <= slot && slot <= r.last);
    return range?.master;
  }

  async nodeForKey(key) {
    return this.nodeForSlot(slotOf(key));
  }

  // A hash-tagged name `{stem-N}` whose slot is owned by `node`, other than
  // the names in `avoid`.
  async tagOn(nodeOrIndex, stem, { avoid = [] } = {}) {
    const node = this.node(nodeOrIndex);
    const map = await this.slotMap();
    const owned = (slot) => map.some((r) => r.master === node && r.first <= slot && slot <= r.last);
    for (let i = 0; i < 100000; i++) {
      const name = `{${stem}-${i}}`;
      if (!avoid.includes(name) && owned(slotOf(name))) return name;
    }
    throw new Error(`no name for node ${node.index}`);
  }

  // Waits until every live node reports cluster_state:ok, all of them report
  // the same masters for the same slot ranges covering all slots, every live
  // replica is in sync with its master, and every live node sees every other
  // live node with its current role and no failure flag.
  async waitStable({ timeout = 30000 } = {}) {
    let detail = '';
    await waitFor(async () => {
      detail = '';
      const live = this.nodes.filter((n) => this.alive(n));
      const masterOf = new Map(); // live replica -> id of its master
      for (const n of live) {
        const repl = await this.info(n, 'replication');
        if (repl.role === 'slave') {
          if (repl.master_link_status !== 'up') {
            detail = `replica ${n.index} link ${repl.master_link_status}`;
            return false;
          }
          masterOf.set(n, this.nodeByPort(repl.master_port)?.id);
        }
      }
      let reference;
      for (const n of live) {
        const info = parseInfo(await this.command(n, 'CLUSTER', 'INFO'));
        if (info.cluster_state !== 'ok') {
          detail = `node ${n.index} cluster_state ${info.cluster_state}`;
          return false;
        }
        const map = await this.slotMap(n);
        const text = map.map((r) => `${r.first}-${r.last}@${r.master?.port}`).join(' ');
        const covered = map.reduce((sum, r) => sum + r.last - r.first + 1, 0);
        if (covered !== SLOTS || map.some((r) => !r.master || !this.alive(r.master))) {
          detail = `node ${n.index} sees ${text}`;
          return false;
        }
        if (reference === undefined) reference = text;
        else if (reference !== text) {
          detail = `node ${n.index} sees ${text}, another ${reference}`;
          return false;
        }
        const view = new Map((await this.command(n, 'CLUSTER', 'NODES')).trim().split('\n')
          .map((line) => line.split(' ')).map((f) => [f[0], { flags: f[2], master: f[3] }]));
        for (const other of live) {
          const seen = view.get(other.id);
          const role = masterOf.has(other) ? 'slave' : 'master';
          if (!seen || /fail|handshake|noaddr/.test(seen.flags) || !seen.flags.split(',').includes(role)
              || (role === 'slave' && seen.master !== masterOf.get(other))) {
            detail = `node ${n.index} sees node ${other.index} as ${seen?.flags} of ${seen?.master}`;
            return false;
          }
        }
      }
      return true;
    }, { timeout, interval: 50, what: 'a stable cluster' }).catch((err) => {
      throw new Error(`${err.message}: ${detail}`);
    });
  }

  // Moves `slot` to `to` the way resharding does: IMPORTING on the target,
  // MIGRATING on the source, keys moved with MIGRATE in batches of
  // `batchSize` with a pause between batches (so clients meet ASK and
  // TRYAGAIN while it runs), then SETSLOT NODE on the target, the source and
  // every other master. With holdBeforeNodeMs, the slot stays MIGRATING /
  // IMPORTING that long after its last key moved (as while an operator's
  // tool moves other slots): every command on it is then answered with ASK.
  // Resolves with { from, to, keys, batches, startedAt, keysMovedAt,
  // finishedAt } once every node agrees on the new owner.
  async migrateSlot(slot, toNode, { pauseBetweenKeysMs = 10, batchSize = 5, holdBeforeNodeMs = 0, onBatch } = {}) {
    const to = this.node(toNode);
    const from = await this.nodeForSlot(slot);
    if (!from) throw new Error(`slot ${slot} has no owner`);
    if (from === to) throw new Error(`slot ${slot} is already on node ${to.index}`);
    const startedAt = Date.now();
    await this.command(to, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
    await this.command(from, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
    let keys = 0;
    let batches = 0;
    for (;;) {
      const batch = await this.command(from, 'CLUSTER', 'GETKEYSINSLOT', slot, batchSize);
      if (batch.length === 0) break;
      // REPLACE: a key that a client recreated on the target (after ASK) is
      // overwritten by the source's copy only if it still exists here, which
      // MIGRATE then deletes; this matches redis-cli --cluster's behaviour.
      await this.command(from, 'MIGRATE', '127.0.0.1', to.port, '', 0, 5000, 'REPLACE', 'KEYS', ...batch);
      keys += batch.length;
      batches += 1;
      if (onBatch) await onBatch({ keys, batches });
      if (pauseBetweenKeysMs > 0) await sleep(pauseBetweenKeysMs); // pacing of the migration itself, not a wait on a condition
    }
    const keysMovedAt = Date.now();
    if (holdBeforeNodeMs > 0) await sleep(holdBeforeNodeMs); // pacing, as above
    await this.command(to, 'CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
    await this.command(from, 'CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
    for (const m of this.nodes) {
      if (m === to || m === from || !this.alive(m)) continue;
      const role = (await this.info(m, 'replication')).role;
      if (role === 'master') await this.command(m, 'CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
    }
    await waitFor(async () => {
      for (const n of this.nodes.filter((x) => this.alive(x))) {
        const map = await this.slotMap(n);
        if (map.find((r) => r.first <= slot && slot <= r.last)?.master !== to) return false;
      }
      return true;
    }, { timeout: 15000, interval: 50, what: `every node to see slot ${slot} on node ${to.index}` });
    return { from, to, keys, batches, startedAt, keysMovedAt, finishedAt: Date.now() };
  }

  async replicasOf(master) {
    const out = [];
    for (const n of this.nodes) {
      if (n === master || !this.alive(n)) continue;
      const repl = await this.info(n, 'replication');
      if (repl.role === 'slave' && Number(repl.master_port) === master.port) out.push({ node: n, repl });
    }
    return out;
  }

  // Fails `master` over to one of its replicas: CLUSTER FAILOVER on the
  // replica (coordinated, no write lost), or with kill: true SIGKILL of the
  // master and promotion by the cluster's own failure detection. Resolves
  // with { oldMaster, newMaster, promotedAt } once the cluster is stable.
  async failoverMaster(masterNode, { kill = false, timeout = 30000 } = {}) {
    const master = this.node(masterNode);
    const replicas = await this.replicasOf(master);
    const ready = replicas.filter((r) => r.repl.master_link_status === 'up');
    if (ready.length === 0) throw new Error(`node ${master.index} has no replica in sync`);
    const replica = ready[0].node;
    if (kill) {
      await this.killNode(master);
    } else {
      await this.command(replica, 'CLUSTER', 'FAILOVER');
    }
    await waitFor(async () => (await this.info(replica, 'replication')).role === 'master',
      { timeout, interval: 20, what: `node ${replica.index} promoted` });
    const promotedAt = Date.now();
    await this.waitStable({ timeout });
    return { oldMaster: master, newMaster: replica, promotedAt };
  }

  // SIGKILL of one node (by its pid).
  async killNode(node) {
    const n = this.node(node);
    if (!this.alive(n)) return;
    n.process.kill('SIGKILL');
    await waitExit(n.process, 10000);
    this.#dropAdmin(n);
  }

  // Starts a killed node again on its ports with its own directory (its
  // nodes.conf, and its data when persistence is on).
  async restartNode(node) {
    const n = this.node(node);
    if (this.alive(n)) throw new Error(`node ${n.index} is running`);
    await this.#spawn(n);
  }

  // An ioredis Cluster client (closed by stop()).
  client(opts = {}) {
    const c = new Cluster(this.startupNodes(), {
      enableReadyCheck: true,
      slotsRefreshTimeout: 2000,
      ...opts,
      redisOptions: { maxRetriesPerRequest: null, ...(opts.redisOptions ?? {}) },
    });
    c.on('error', () => {});
    this.clients.push(c);
    return c;
  }

  async stop() {
    for (const c of this.clients.splice(0)) c.disconnect();
    for (const n of [...this.admins.keys()]) this.admins.get(n)?.disconnect();
    this.admins.clear();
    await Promise.all(this.nodes.map(async (n) => {
      if (this.alive(n)) {
        n.process.kill('SIGKILL');
        await waitExit(n.process, 10000);
      }
    }));
  }

  async destroy() {
    await this.stop();
    for (const n of this.nodes) if (n.dir && existsSync(n.dir)) rmSync(n.dir, { recursive: true, force: true });
  }
}
