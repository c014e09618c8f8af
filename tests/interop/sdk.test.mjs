// The processor SDK from a plugin author's side: the SDK is installed from
// the worker's build (cmake --install --component sdk) into a temporary
// prefix, and the example plugin in examples/plugin is built against that
// installation only — once with CMake's find_package, once with pkg-config —
// then loaded with --plugin and driven by Node producers (bullmq 6 and 5).
// A plugin written in plain C shows that only C crosses the boundary; one
// built for another API version, a shared object that is not a plugin, and
// bad --plugin-config values are refused at start with exit 2.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as v5 from 'bullmq5';
import { setupSuite, waitForJobState, waitForReady } from './lib/fixtures.mjs';
import { repoRoot, runBinary, runCommand, waitFor, workerArgs, workerBinary } from './lib/harness.mjs';

const s = await setupSuite();
const raw = s.client();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bullmq-sdk-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const prefix = path.join(tmp, 'sdk');
const plugins = {};

async function run(command, args, options = {}) {
  const r = await runCommand(command, args, { timeout: 240000, ...options });
  assert.equal(r.code, 0, `${command} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

before(async () => {
  // The build directory of the binary under test (build/ or build-asan/).
  await run('cmake', ['--install', path.dirname(workerBinary), '--component', 'sdk', '--prefix', prefix]);
  const example = path.join(repoRoot, 'examples', 'plugin');
  const cmakeBuild = path.join(tmp, 'example-cmake');
  await run('cmake', ['-S', example, '-B', cmakeBuild, `-DCMAKE_PREFIX_PATH=${prefix}`,
    '-DCMAKE_BUILD_TYPE=Release', '-DCMAKE_EXPORT_COMPILE_COMMANDS=ON', '-DCMAKE_CXX_FLAGS=-Werror']);
  await run('cmake', ['--build', cmakeBuild]);
  plugins.cmake = path.join(cmakeBuild, 'libtext_tools.so');
  // Built from the installed headers, never from the source tree.
  const commands = readFileSync(path.join(cmakeBuild, 'compile_commands.json'), 'utf8');
  assert.ok(commands.includes(path.join(prefix, 'include')), 'the installed SDK is on the include path');
  assert.ok(!commands.includes(path.join(repoRoot, 'include')), 'the source tree is not');

  const pkgEnv = { PKG_CONFIG_PATH: path.join(prefix, 'share', 'pkgconfig') };
  const cflags = (await run('pkg-config', ['--cflags', 'bullmq-worker-sdk'], { env: pkgEnv })).stdout.trim().split(/\s+/);
  assert.ok(cflags.some((f) => f.startsWith('-I') && path.resolve(f.slice(2)) === path.join(prefix, 'include')), cflags.join(' '));
  plugins.pkgconfig = path.join(tmp, 'pkgconfig', 'libtext_tools.so');
  await run('mkdir', ['-p', path.dirname(plugins.pkgconfig)]);
  await run('c++', ['-std=c++20', '-O1', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-fvisibility=hidden',
    ...cflags, path.join(example, 'text_tools_plugin.cpp'), '-o', plugins.pkgconfig]);

  const cSource = path.join(repoRoot, 'tests', 'interop', 'fixtures', 'plugins', 'c_plugin.c');
  const cc = (name, defines) => run('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC',
    '-fvisibility=hidden', `-I${path.join(prefix, 'include')}`, ...defines, cSource, '-o', path.join(tmp, name)]);
  await cc('libc_hello.so', []);
  await cc('libc_future.so', ['-DWRONG_API_VERSION']);
  await cc('libc_none.so', ['-DNO_ENTRY']);
  plugins.c = path.join(tmp, 'libc_hello.so');
  plugins.future = path.join(tmp, 'libc_future.so');
  plugins.none = path.join(tmp, 'libc_none.so');
});

// The job once it reached `state` (read back from Redis).
async function settled(queue, id, state, timeout = 10000) {
  await waitForJobState(queue, id, state, timeout);
  return queue.getJob(id);
}

async function pluginWorker(queue, extra) {
  const w = s.worker(queue, extra);
  await waitForReady(w);
  return w;
}

// Delays of the retries the events stream announced: the `delayed` event's
// due time minus the time its entry was written.
async function retryDelays(queue, jobId) {
  const entries = await raw.xrange(`bull:${queue}:events`, '-', '+');
  return entries
    .map(([id, kv]) => ({ at: Number(id.split('-')[0]), ...Object.fromEntries(kv.flatMap((v, i) => (i % 2 ? [] : [[v, kv[i + 1]]]))) }))
    .filter((e) => e.event === 'delayed' && e.jobId === jobId)
    .map((e) => Number(e.delay) - e.at);
}

for (const [version, lib] of [['v6', null], ['v5', v5]]) {
  const queueOf = (name) => (lib ? s.own(new lib.Queue(name, { connection: s.connection })) : s.queue(name));

  test(`${version}: the example plugin built with find_package runs word-count, with progress and log`, async () => {
    const name = s.queueName(`sdk-${version}`);
    const w = await pluginWorker(name, ['--plugin', plugins.cmake]);
    const queue = queueOf(name);
    const job = await queue.add('word-count', { text: 'three small words' });
    const done = await settled(queue, job.id, 'completed');
    assert.deepEqual(done.returnvalue, { words: 3, characters: 17 });
    assert.equal(done.progress, 100);
    assert.deepEqual((await queue.getJobLogs(job.id)).logs, ['counted 3 words']);
    const loaded = w.events('plugin.loaded').find((l) => l.plugin === 'text-tools');
    assert.ok(loaded, 'plugin.loaded logged');
    assert.equal(loaded.version, '1.0.0');
    assert.equal(loaded.processors, 'word-count,fan-out');
    assert.ok(w.events('text_tools.ready').some((l) => l.plugin === 'text-tools'), 'the plugin logs through the worker');

    const bad = await queue.add('word-count', { text: 42 }, { attempts: 3 });
    const failed = await settled(queue, bad.id, 'failed');
    assert.equal(failed.failedReason, "word-count needs a string field 'text'");
    assert.equal(failed.attemptsMade, 1, 'an UnrecoverableError from a plugin is not retried');
  });
}

test('the plugin built with pkg-config loads and runs as well', async () => {
  const name = s.queueName('sdk-pc');
  await pluginWorker(name, ['--plugin', plugins.pkgconfig]);
  const queue = s.queue(name);
  const job = await queue.add('word-count', { text: 'one two' });
  assert.deepEqual((await settled(queue, job.id, 'completed')).returnvalue, { words: 2, characters: 7 });
});

test('a plugin backoff strategy, configured with --plugin-config, sets the retry delays', async () => {
  const name = s.queueName('sdk-backoff');
  await pluginWorker(name, ['--plugin', plugins.cmake, '--plugin-config', 'text-tools:backoff_base_ms=300']);
  const queue = s.queue(name);
  const job = await queue.add('word-count', { text: 'a b', failUntilAttempt: 3 },
    { attempts: 3, backoff: { type: 'text-tools-doubling' } });
  const done = await settled(queue, job.id, 'completed', 15000);
  assert.equal(done.attemptsMade, 3);
  const delays = await retryDelays(name, job.id);
  assert.equal(delays.length, 2, `two retries: ${delays}`);
  assert.ok(Math.abs(delays[0] - 300) <= 60, `first retry after ~300 ms: ${delays}`);
  assert.ok(Math.abs(delays[1] - 600) <= 60, `second retry after ~600 ms: ${delays}`);
});

test('a plugin parent adds children, waits for them and sums their results (fan-out)', async () => {
  const name = s.queueName('sdk-fan');
  await pluginWorker(name, ['--plugin', plugins.cmake]);
  const queue = s.queue(name);
  const job = await queue.add('fan-out', { texts: ['a b c', 'd e', 'f'] });
  const done = await settled(queue, job.id, 'completed', 15000);
  assert.deepEqual(done.returnvalue, { total: 6 });
  const deps = await done.getDependencies();
  assert.equal(Object.keys(deps.processed).length, 3);
  for (const [key, value] of Object.entries(deps.processed)) {
    assert.match(key, new RegExp(`^bull:${name}:`));
    assert.ok(value.words >= 1, JSON.stringify(value));
  }
});

test('a plugin written in C processes jobs; several plugins load side by side', async () => {
  const name = s.queueName('sdk-c');
  await pluginWorker(name, ['--plugin', plugins.c, '--plugin', plugins.cmake]);
  const queue = s.queue(name);
  const a = await queue.add('c-hello', {});
  const b = await queue.add('word-count', { text: 'x' });
  assert.deepEqual((await settled(queue, a.id, 'completed')).returnvalue, { hello: 'c-hello', attempt: 1 });
  assert.deepEqual((await queue.getJobLogs(a.id)).logs, ['hello from C']);
  assert.deepEqual((await settled(queue, b.id, 'completed')).returnvalue, { words: 1, characters: 1 });
});

test('refused at start: another API version, not a plugin, a missing file, bad or unmatched --plugin-config', async () => {
  const base = workerArgs(s.redis, 'never');
  const cases = [
    [[plugins.future], 2, /was built for plugin API version 99; this worker speaks version 1: rebuild it/],
    [[plugins.none], 2, /is not a bullmq-worker plugin: it exports no 'bullmq_worker_plugin' function/],
    [[path.join(tmp, 'absent.so')], 2, /cannot load plugin .*absent\.so/],
    [[plugins.cmake, '--plugin-config', 'text-tools'], 2, /expected NAME:KEY=VALUE or NAME:\{json\}/],
    [[plugins.cmake, '--plugin-config', 'text-tools:{"broken"'], 2, /not a JSON object/],
    [[plugins.cmake, '--plugin-config', 'other:x=1'], 2, /names plugin 'other', but no plugin of that name was loaded/],
    [[plugins.cmake, '--plugin', plugins.pkgconfig], 2, /two plugins are named 'text-tools'/],
    [[plugins.cmake, '--plugin-config', 'text-tools:backoff_base_ms=-5'], 1, /plugin text-tools .* could not set up: backoff_base_ms must be positive/],
  ];
  for (const [rest, code, message] of cases) {
    const r = await runBinary([...base, '--plugin', ...rest]);
    assert.equal(r.code, code, `--plugin ${rest.join(' ')}: exit code\n${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('--plugin-config JSON reaches the plugin; --print-config shows plugins and masks secrets', async () => {
  const name = s.queueName('sdk-json');
  const r = await runBinary([...workerArgs(s.redis, name), '--plugin', plugins.cmake, '--plugin-config',
    'text-tools:{"backoff_base_ms": 250, "api_token": "hunter2", "nested": {"a": 1}}', '--print-config']);
  assert.equal(r.code, 0, r.stderr);
  const config = JSON.parse(r.stdout);
  assert.deepEqual(config.plugins, [plugins.cmake]);
  assert.deepEqual(config.plugin_config['text-tools'], { backoff_base_ms: '250', api_token: '***' });
  assert.equal(config.processors, 'conformance');
  // Environment twins: BULLMQ_PLUGINS (comma-separated), BULLMQ_PLUGIN_CONFIG (one per line).
  const e = await runBinary(['run', '--queue', name, '--redis', s.redis.url, '--print-config'], {
    env: { BULLMQ_PLUGINS: `${plugins.cmake},${plugins.c}`, BULLMQ_PLUGIN_CONFIG: 'text-tools:backoff_base_ms=250\nc-hello:x=1' },
  });
  assert.equal(e.code, 0, e.stderr);
  const fromEnv = JSON.parse(e.stdout);
  assert.deepEqual(fromEnv.plugins, [plugins.cmake, plugins.c]);
  assert.equal(fromEnv.processors, 'none', 'no files plugin by default when plugins are given');
  assert.deepEqual(Object.keys(fromEnv.plugin_config).sort(), ['c-hello', 'text-tools']);
});
