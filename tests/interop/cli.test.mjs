// Command line: --version, and bad flags / values exit 2 with a clear
// message before touching Redis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runBinary, repoRoot } from './lib/harness.mjs';

test('--version prints the pinned BullMQ version', async () => {
  const pinned = JSON.parse(readFileSync(path.join(repoRoot, 'lua', 'package.json'), 'utf8')).dependencies.bullmq;
  assert.equal(pinned, '6.7.0');
  const { code, stdout } = await runBinary(['--version']);
  assert.equal(code, 0);
  assert.match(stdout, /^bullmq-worker \S+/);
  assert.ok(stdout.includes(pinned), `--version output names BullMQ ${pinned}: ${stdout}`);
});

// No Redis is listening on port 1: a run that got past validation would
// hang retrying instead of exiting 2 at once.
const base = ['run', '--queue', 'q', '--redis', 'redis://127.0.0.1:1', '--processors', 'conformance'];
const cases = [
  ['an unknown flag', [...base, '--bogus'], /bogus/],
  ['a missing --queue', ['run', '--redis', 'redis://127.0.0.1:1', '--processors', 'conformance'], /--queue/],
  ['concurrency 0', [...base, '--concurrency', '0'], /concurrency/],
  ['a non-numeric concurrency', [...base, '--concurrency', 'many'], /concurrency/],
  ['a negative lock duration', [...base, '--lock-duration', '-5'], /lock-duration/],
  ['an unknown processor set', ['run', '--queue', 'q', '--processors', 'magic'], /processors/],
  ['a queue with a bad concurrency suffix', ['run', '--queue', 'a:b', '--redis', 'redis://127.0.0.1:1', '--processors', 'conformance'], /--queue a:b: expected NAME or NAME:CONCURRENCY/],
  ['a bad Redis URL', ['run', '--queue', 'q', '--redis', 'http://nope', '--processors', 'conformance'], /--redis/],
  ['--limiter-max without --limiter-duration', [...base, '--limiter-max', '5'], /--limiter-max and --limiter-duration/],
  ['a bad --remove-on-complete', [...base, '--remove-on-complete', 'sometimes'], /--remove-on-complete/],
  ['a worker name with a space', [...base, '--name', 'two words'], /may not contain spaces/],
  ['a worker name Redis refuses as a client name', [...base, '--name', 'wörker'], /worker name 'wörker'/],
  ['a zero drain delay', [...base, '--drain-delay', '0'], /drain-delay/],
  ['a bad --log-level', [...base, '--log-level', 'loud'], /--log-level/],
  ['no subcommand', [], /Usage|run/],
  ['a negative --max-stalled-count', [...base, '--max-stalled-count', '-1'], /--max-stalled-count: Value -1 not in range 0 to/],
  ['a non-numeric --shutdown-timeout', [...base, '--shutdown-timeout', 'soon'], /--shutdown-timeout: Value soon/],
  ['a negative --max-started-attempts', [...base, '--max-started-attempts', '-2'], /--max-started-attempts/],
  ['a lock renew time below 2 ms', [...base, '--lock-renew-time', '1'], /lock renew time must be at least 2 ms/],
  ['a bad value in an environment twin', base, /--concurrency/, { BULLMQ_CONCURRENCY: '0' }],
  ['a bad BULLMQ_LIMITER_DURATION', [...base, '--limiter-max', '3'], /limiter/, { BULLMQ_LIMITER_DURATION: '-1' }],
  ['a TLS flag with a redis:// URL', [...base, '--redis-tls-ca', '/etc/ssl/certs/ca-certificates.crt'],
    /--redis-tls-ca needs a TLS connection, but --redis redis:\/\/127\.0\.0\.1:1\/0 is not one: use rediss:\/\//],
  ['a TLS environment twin with a redis:// URL', base, /--redis-tls-server-name needs a TLS connection.*rediss:\/\//,
    { REDIS_TLS_SERVER_NAME: 'redis.example' }],
  ['--redis-tls-insecure with a unix:// URL', ['run', '--queue', 'q', '--redis', 'unix:///tmp/none.sock',
    '--processors', 'conformance', '--redis-tls-insecure'], /--redis-tls-insecure needs a TLS connection/],
  ['a TLS flag with --redis-host but no --redis-tls', ['run', '--queue', 'q', '--redis-host', '127.0.0.1',
    '--redis-port', '1', '--processors', 'conformance', '--redis-tls-cert', '/c.pem'], /--redis-tls-cert needs TLS: add --redis-tls/],
  ['a missing --redis-tls-ca file', ['run', '--queue', 'q', '--redis', 'rediss://127.0.0.1:1', '--processors',
    'conformance', '--redis-tls-ca', '/nonexistent/ca.pem'], /\(--redis-tls-ca\) \/nonexistent\/ca\.pem: no such file/],
  ['a missing REDIS_TLS_CA file with REDIS_TLS', ['run', '--queue', 'q', '--redis-port', '1', '--processors', 'conformance'],
    /\(--redis-tls-ca\) \/nonexistent\/ca\.pem: no such file/, { REDIS_TLS: 'true', REDIS_TLS_CA: '/nonexistent/ca.pem' }],
  ['a client certificate without its key', ['run', '--queue', 'q', '--redis', 'rediss://127.0.0.1:1', '--processors',
    'conformance', '--redis-tls-cert', '/nonexistent/client.pem'], /without its private key: add --redis-tls-key/],
  ['a negative --redis-timeout', [...base, '--redis-timeout', '-1'], /--redis-timeout: Value -1 not in range 0 to 3600000/],
  ['a --redis-timeout over an hour', [...base, '--redis-timeout', '3600001'], /--redis-timeout/],
  ['a --redis-keepalive over two hours', [...base, '--redis-keepalive', '7201'], /--redis-keepalive: Value 7201 not in range 0 to 7200/],
  ['a bad REDIS_KEEPALIVE', base, /--redis-keepalive/, { REDIS_KEEPALIVE: 'often' }],
];

for (const [what, args, message, env = {}] of cases) {
  test(`${what}: exit code 2 with a clear message`, async () => {
    const { code, stderr } = await runBinary(args, { timeout: 5000, env });
    assert.equal(code, 2, `exit code for ${args.join(' ')}: stderr ${stderr}`);
    assert.match(stderr, message);
    // Short and readable: one or two lines, no DBL_MAX printed in full.
    assert.doesNotMatch(stderr, /\d{16}/, `unreadable message: ${stderr}`);
  });
}

test('run --help lists every Redis URL form and the TLS and deadline flags with their environment twins', async () => {
  const { code, stdout } = await runBinary(['run', '--help']);
  assert.equal(code, 0);
  for (const form of ['redis://[user:pass@]host:port', 'rediss://', 'unix:///',
    'redis+sentinel://[user:pass@]host:port[,host:port…]/MASTER[?db=N&sentinel_password=…]', 'rediss+sentinel://',
    'redis+cluster://[user:pass@]host:port[,host:port…]', 'rediss+cluster://']) {
    assert.ok(stdout.includes(form), `--help names ${form}`);
  }
  for (const [flag, env] of [['--redis-tls', 'REDIS_TLS'], ['--redis-tls-ca FILE', 'REDIS_TLS_CA'],
    ['--redis-tls-cert FILE', 'REDIS_TLS_CERT'], ['--redis-tls-key FILE', 'REDIS_TLS_KEY'],
    ['--redis-tls-server-name NAME', 'REDIS_TLS_SERVER_NAME'], ['--redis-tls-insecure', 'REDIS_TLS_INSECURE'],
    ['--redis-timeout MS', 'REDIS_TIMEOUT'], ['--redis-keepalive SECONDS', 'REDIS_KEEPALIVE']]) {
    assert.match(stdout, new RegExp(`^  ${flag}\\b.*\\(Env:${env}\\)`, 'm'), `${flag} with ${env}`);
  }
});

test('--print-config shows the TLS settings (paths, not contents), the deadline and keepalive; flags beat the URL', async () => {
  const url = 'rediss://127.0.0.1:6390?tls_ca=/url/ca.pem&tls_server_name=url.example&tls_cert=/url/c.pem&tls_key=/url/k.pem';
  const { code, stdout, stderr } = await runBinary(['run', '--queue', 'q', '--processors', 'conformance', '--redis', url,
    '--redis-tls-ca', '/flag/ca.pem', '--redis-tls-server-name', 'flag.example', '--redis-tls-insecure',
    '--redis-timeout', '2500', '--print-config'], { env: { REDIS_KEEPALIVE: '30' } });
  assert.equal(code, 0, stderr);
  const config = JSON.parse(stdout);
  assert.equal(config.redis, 'rediss://127.0.0.1:6390/0');
  assert.deepEqual(config.redis_tls, { verify: false, ca_file: '/flag/ca.pem', cert_file: '/url/c.pem',
    key_file: '/url/k.pem', server_name: 'flag.example' });
  assert.equal(config.redis_timeout_ms, 2500);
  assert.equal(config.redis_keepalive_s, 30);

  const plain = JSON.parse((await runBinary(['run', '--queue', 'q', '--processors', 'conformance', '--redis',
    'redis://127.0.0.1:6390', '--print-config'])).stdout);
  assert.equal(plain.redis_tls, null);
  assert.equal(plain.redis_timeout_ms, 10000);
  assert.equal(plain.redis_keepalive_s, 15);

  const twins = JSON.parse((await runBinary(['run', '--queue', 'q', '--processors', 'conformance', '--print-config'], {
    env: { REDIS_URL: '', REDIS_HOST: 'redis.internal', REDIS_PORT: '6380', REDIS_TLS: 'true',
      REDIS_TLS_CA: '/env/ca.pem', REDIS_TLS_CERT: '/env/c.pem', REDIS_TLS_KEY: '/env/k.pem',
      REDIS_TLS_SERVER_NAME: 'env.example', REDIS_TIMEOUT: '0', REDIS_KEEPALIVE: '0' },
  })).stdout);
  assert.equal(twins.redis, 'rediss://redis.internal:6380/0');
  assert.deepEqual(twins.redis_tls, { verify: true, ca_file: '/env/ca.pem', cert_file: '/env/c.pem',
    key_file: '/env/k.pem', server_name: 'env.example' });
  assert.equal(twins.redis_timeout_ms, 0);
  assert.equal(twins.redis_keepalive_s, 0);
});
