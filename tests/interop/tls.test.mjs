// Redis over TLS, against real redis-server TLS ports with certificates made
// by tests/interop/lib/tls-certs.mjs: a private CA, mTLS, the insecure
// switch and the environment twins work; an untrusted CA, a wrong host name,
// an expired certificate, a missing or refused client certificate and a
// server that does not speak TLS are refused, each with its own message,
// while the worker keeps retrying and /readyz says 503.
//
// Each redis-server also has a plain port on 127.0.0.1: the producer (the
// official bullmq Queue) and the start-up probe use it, so only the worker
// under test goes through TLS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import IORedis from 'ioredis';
import { freePort, RedisServer, runBinary, waitFor, WorkerProcess } from './lib/harness.mjs';
import { untilListening } from './lib/fixtures.mjs';
import { makeTlsMaterial, WRONG_HOST_NAME } from './lib/tls-certs.mjs';

let dir;
let certs;
const servers = {};
let plainTextServer;
let plainTextPort;

// A redis-server with a TLS port using `certificate`; clients are asked for
// a certificate signed by the test CA when `authClients` is 'yes'.
async function startTlsRedis(certificate, { authClients = 'no', protocols } = {}) {
  const tlsPort = await freePort();
  const server = await RedisServer.start({
    args: ['--tls-port', String(tlsPort), '--tls-cert-file', certificate.cert, '--tls-key-file', certificate.key,
      '--tls-ca-cert-file', certs.ca.cert, '--tls-auth-clients', authClients,
      ...(protocols ? ['--tls-protocols', protocols] : [])],
  });
  server.tlsPort = tlsPort;
  return server;
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'bullmq-worker-tls-'));
  certs = makeTlsMaterial(dir);
  const started = await Promise.all([
    startTlsRedis(certs.server),
    startTlsRedis(certs.wrongCaServer),
    startTlsRedis(certs.wrongHostServer),
    startTlsRedis(certs.expiredServer),
    startTlsRedis(certs.server, { authClients: 'yes' }),
    startTlsRedis(certs.server, { authClients: 'yes', protocols: 'TLSv1.2' }),
    RedisServer.start(),
  ]);
  [servers.good, servers.wrongCa, servers.wrongHost, servers.expired, servers.mtls, servers.mtls12, servers.plain] =
    started;
  // A plain-text server that answers anything with a Redis error, as a
  // non-TLS service that talks back does.
  plainTextServer = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.end('-ERR unknown command\r\n'));
  });
  plainTextPort = await freePort();
  await new Promise((resolve) => plainTextServer.listen(plainTextPort, '127.0.0.1', resolve));
});

after(async () => {
  await Promise.all(Object.values(servers).map((s) => s.destroy()));
  if (plainTextServer) await new Promise((resolve) => plainTextServer.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const tlsUrl = (server, host = '127.0.0.1') => `rediss://${host}:${server.tlsPort}`;

// QueueEvents.waitUntilReady() resolves before its first XREAD: wait until
// it is really reading, or an early `completed` event can be missed.
async function listeningEvents(server, queueName) {
  const events = new QueueEvents(queueName, { connection: { host: '127.0.0.1', port: server.port } });
  await events.waitUntilReady();
  const admin = new IORedis(server.port, '127.0.0.1');
  try {
    await untilListening(admin, queueName);
  } finally {
    admin.disconnect();
  }
  return events;
}

// A job added by the official client on `server` is processed by a worker
// started with `args` (and `env`): the TLS connection works end to end.
async function roundTrip(server, queueName, args, env = {}) {
  const queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: server.port } });
  const events = await listeningEvents(server, queueName);
  const worker = WorkerProcess.start(['run', '--queue', queueName, '--processors', 'conformance', ...args], { env });
  try {
    const job = await queue.add('echo', { over: 'tls', queue: queueName });
    assert.deepEqual(await job.waitUntilFinished(events, 15000), { over: 'tls', queue: queueName });
    assert.equal(worker.events('redis.connect_failed').length, 0, 'no failed connection attempt');
    return worker;
  } finally {
    const { code } = await worker.stop();
    assert.equal(code, 0, worker.stderrText);
    await queue.close();
    await events.close();
  }
}

async function readyzStatus(httpPort) {
  const response = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
  await response.text();
  return response.status;
}

// A worker started with `args` (and `env`) cannot connect: it logs
// redis.connect_failed whose error is `message`, keeps running (retrying),
// and /readyz answers 503.
async function refused(queueName, args, message, { env = {}, timeout = 15000 } = {}) {
  const httpPort = await freePort();
  const worker = WorkerProcess.start(['run', '--queue', queueName, '--processors', 'conformance',
    '--http-port', String(httpPort), '--http-host', '127.0.0.1', ...args], { env });
  try {
    const failure = await worker.waitForLog('redis.connect_failed', () => true, timeout);
    assert.match(failure.error, /^TLS handshake with 127\.0\.0\.1:\d+ failed: /);
    assert.match(failure.error, message);
    assert.equal(worker.events('redis.connected').length, 0, 'no connection was made');
    const status = await waitFor(async () => {
      try {
        return await readyzStatus(httpPort);
      } catch {
        return undefined; // the HTTP endpoint is not listening yet
      }
    }, { timeout: 10000, what: '/readyz to answer' });
    assert.equal(status, 503, '/readyz while Redis is unreachable');
    assert.equal(worker.process.exitCode, null, 'the worker keeps running and retrying');
    return failure.error;
  } finally {
    const { code } = await worker.stop();
    assert.equal(code, 0, worker.stderrText);
  }
}

const UNKNOWN_CA = /signed by a CA this worker does not trust; give its CA with --redis-tls-ca/;
const NEEDS_CLIENT_CERT = /requires a client certificate and none was given; give one with --redis-tls-cert FILE and its key with --redis-tls-key FILE/;
// A TLS 1.3 server refuses after the handshake: with an alert, or (when the
// reset overtakes it) by resetting the connection.
const NEEDS_CLIENT_CERT_13 = /(requires a client certificate and none was given|reset the connection after asking for a client certificate, and none was given).*--redis-tls-cert FILE/;

test('a private CA given with --redis-tls-ca: jobs round-trip', async () => {
  await roundTrip(servers.good, 'tls-private-ca', ['--redis', tlsUrl(servers.good), '--redis-tls-ca', certs.ca.cert]);
});

test('the CA as the URL option tls_ca still works', async () => {
  await roundTrip(servers.good, 'tls-url-ca', ['--redis', `${tlsUrl(servers.good)}?tls_ca=${encodeURIComponent(certs.ca.cert)}`]);
});

test('a server whose CA is not trusted is refused with the unknown-CA message', async () => {
  const error = await refused('tls-unknown-ca', ['--redis', tlsUrl(servers.wrongCa), '--redis-tls-ca', certs.ca.cert],
    UNKNOWN_CA);
  assert.match(error, /issued by 'CN=bullmq-worker untrusted CA'/);
  // Without any CA of ours, the test CA is unknown too.
  await refused('tls-no-ca', ['--redis', tlsUrl(servers.good)], UNKNOWN_CA);
});

test('--redis-tls-insecure accepts the untrusted server, and warns at start', async () => {
  const worker = await roundTrip(servers.wrongCa, 'tls-insecure', ['--redis', tlsUrl(servers.wrongCa), '--redis-tls-insecure']);
  const [warning] = worker.events('redis.tls_insecure');
  assert.ok(warning, 'a redis.tls_insecure warning is logged');
  assert.equal(warning.level, 'warn');
  assert.match(warning.msg, /not checked/);
});

test('a certificate for another name is refused with the mismatch message, naming the expected name', async () => {
  const byIp = await refused('tls-wrong-ip', ['--redis', tlsUrl(servers.wrongHost), '--redis-tls-ca', certs.ca.cert],
    /not valid for the IP address '127\.0\.0\.1' \(it is valid for: redis\.wrong-name\.test\).*--redis-tls-server-name/);
  assert.doesNotMatch(byIp, /does not trust/);
  const httpPort = await freePort();
  const byName = WorkerProcess.start(['run', '--queue', 'tls-wrong-name', '--processors', 'conformance',
    '--redis', tlsUrl(servers.wrongHost, 'localhost'), '--redis-tls-ca', certs.ca.cert, '--http-port', String(httpPort)]);
  try {
    const failure = await byName.waitForLog('redis.connect_failed', () => true, 15000);
    assert.match(failure.error, new RegExp(`^TLS handshake with localhost:${servers.wrongHost.tlsPort} failed: `));
    assert.match(failure.error, /not valid for the name 'localhost' \(it is valid for: redis\.wrong-name\.test\); .*--redis-tls-server-name/);
  } finally {
    assert.equal((await byName.stop()).code, 0, byName.stderrText);
  }
});

test('--redis-tls-server-name set to the name in the certificate is accepted', async () => {
  await roundTrip(servers.wrongHost, 'tls-server-name', ['--redis', tlsUrl(servers.wrongHost), '--redis-tls-ca', certs.ca.cert,
    '--redis-tls-server-name', WRONG_HOST_NAME]);
});

test('an expired server certificate is refused with its message', async () => {
  await refused('tls-expired', ['--redis', tlsUrl(servers.expired), '--redis-tls-ca', certs.ca.cert],
    /the server's certificate expired on 2020-01-02 00:00:00 UTC; the server needs a renewed certificate/);
});

test('mTLS: a client certificate signed by the CA is accepted', async () => {
  await roundTrip(servers.mtls, 'tls-mtls', ['--redis', tlsUrl(servers.mtls), '--redis-tls-ca', certs.ca.cert,
    '--redis-tls-cert', certs.client.cert, '--redis-tls-key', certs.client.key]);
});

test('mTLS (TLS 1.2 server): no client certificate is refused with the client-certificate message', async () => {
  await refused('tls-mtls12-none', ['--redis', tlsUrl(servers.mtls12), '--redis-tls-ca', certs.ca.cert], NEEDS_CLIENT_CERT);
});

test('mTLS (TLS 1.2 server): a client certificate from another CA is refused, naming --redis-tls-cert', async () => {
  await refused('tls-mtls12-wrong', ['--redis', tlsUrl(servers.mtls12), '--redis-tls-ca', certs.ca.cert,
    '--redis-tls-cert', certs.wrongCaClient.cert, '--redis-tls-key', certs.wrongCaClient.key],
  /the server refused the client certificate from --redis-tls-cert.*\(server alert: unknown CA\)/);
});

// A TLS 1.3 server judges the client certificate after the client's side of
// the handshake is complete: its refusal arrives with the first reply, which
// src/bullmq/redis_connection.cpp reads and reports itself (today with
// OpenSSL's bare reason, "tlsv13 alert certificate required"). Passing that
// error to describe_tls_failure is for the connection rewrite.
test('mTLS (TLS 1.3 server): no client certificate is refused with the client-certificate message', async () => {
  await refused('tls-mtls13-none', ['--redis', tlsUrl(servers.mtls), '--redis-tls-ca', certs.ca.cert], NEEDS_CLIENT_CERT_13);
});

test('a plain-text server reached with rediss:// is not a TLS server', async () => {
  await refused('tls-plain-text', ['--redis', `rediss://127.0.0.1:${plainTextPort}`],
    /the server's answer is not TLS \(.+\): it is probably not a TLS server but a plain Redis port; use redis:\/\//);
});

test('a plain Redis port reached with rediss:// is not a TLS server (it stays silent until the connect deadline)', async () => {
  // Redis waits for a newline that a ClientHello does not have; the
  // worker's connect deadline (10 s) ends the attempt.
  await refused('tls-plain-redis', ['--redis', `rediss://127.0.0.1:${servers.plain.port}`],
    /no TLS answer before the connect deadline: it is probably not a TLS server/, { timeout: 30000 });
});

test('environment twins: REDIS_TLS with REDIS_HOST/PORT, REDIS_TLS_CA, REDIS_TLS_CERT, REDIS_TLS_KEY', async () => {
  await roundTrip(servers.mtls, 'tls-env-mtls', [], {
    REDIS_URL: '', REDIS_HOST: '127.0.0.1', REDIS_PORT: String(servers.mtls.tlsPort), REDIS_TLS: 'true',
    REDIS_TLS_CA: certs.ca.cert, REDIS_TLS_CERT: certs.client.cert, REDIS_TLS_KEY: certs.client.key,
  });
});

test('environment twins: REDIS_TLS_SERVER_NAME and REDIS_TLS_INSECURE', async () => {
  await roundTrip(servers.wrongHost, 'tls-env-name', [], {
    REDIS_URL: tlsUrl(servers.wrongHost), REDIS_TLS_CA: certs.ca.cert, REDIS_TLS_SERVER_NAME: WRONG_HOST_NAME,
  });
  await roundTrip(servers.wrongCa, 'tls-env-insecure', [], { REDIS_URL: tlsUrl(servers.wrongCa), REDIS_TLS_INSECURE: 'true' });
  // ...and the twins are really read: without the server name, refused.
  await refused('tls-env-name-missing', [], /not valid for the IP address '127\.0\.0\.1'/, {
    env: { REDIS_URL: tlsUrl(servers.wrongHost), REDIS_TLS_CA: certs.ca.cert },
  });
});

test('bad certificate files stop the start with exit code 2, naming the file', async () => {
  const url = tlsUrl(servers.mtls);
  const mismatched = await runBinary(['run', '--queue', 'q', '--processors', 'conformance', '--redis', url,
    '--redis-tls-cert', certs.client.cert, '--redis-tls-key', certs.wrongCaClient.key], { timeout: 5000 });
  assert.equal(mismatched.code, 2, mismatched.stderr);
  assert.match(mismatched.stderr, new RegExp(`${certs.wrongCaClient.key.replace(/[.]/g, '\\.')} does not match the certificate in`));

  const keyAsCa = await runBinary(['run', '--queue', 'q', '--processors', 'conformance', '--redis', url,
    '--redis-tls-ca', certs.client.key], { timeout: 5000 });
  assert.equal(keyAsCa.code, 2, keyAsCa.stderr);
  assert.match(keyAsCa.stderr, /\(--redis-tls-ca\) .*client\.key: holds no certificate/);
});
