// The README's configuration reference is generated from the binary's
// `run --help` (scripts/config-reference.mjs); it must not drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const binary = process.env.BULLMQ_WORKER_BIN ?? path.join(root, 'build', 'bullmq-worker');

test('README configuration reference matches bullmq-worker run --help', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'config-reference.mjs'), '--check', '--binary', binary],
    { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr || r.stdout);
});

test('the reference lists every flag with its environment twin', () => {
  const help = spawnSync(binary, ['run', '--help'], { encoding: 'utf8' }).stdout;
  const table = spawnSync(process.execPath, [path.join(root, 'scripts', 'config-reference.mjs'), '--binary', binary],
    { encoding: 'utf8' }).stdout;
  for (const [, flag, env] of help.matchAll(/^ {2}(--[a-z0-9-]+)[^\n]*?\(Env:([A-Z0-9_]+)\)/gm)) {
    assert.match(table, new RegExp(`\\| \`${flag}\` \\| \`${env}\` \\|`), `${flag} / ${env}`);
  }
});
