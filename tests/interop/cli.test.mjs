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
