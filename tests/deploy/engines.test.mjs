// Every package.json of the repository runs on the Node.js of a fresh Debian 12
// (the distribution's nodejs, 18.20, which scripts/install-deps.sh installs):
// it declares the range it supports (engines.node), that range admits Debian
// 12's Node.js, its lockfile is in step with it, and every package the
// lockfile pins admits the lowest Node.js the package.json claims. A
// dependency bump that needs a newer Node.js (playwright-core 1.62 needs
// Node.js 20) fails here instead of on a fresh machine.
//
//   cd tests/deploy && npm ci && node --test engines.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// bookworm's nodejs (18.20.4+dfsg-1~deb12u*).
const DEBIAN_12_NODE = '18.20.4';

// package.json files outside node_modules, build folders and the demo's state.
function packageJsonFiles(dir = root, top = true) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name === '.git') continue;
      if (top && (entry.name.startsWith('build') || entry.name === '.state')) continue;
      out.push(...packageJsonFiles(path.join(dir, entry.name), false));
    } else if (entry.name === 'package.json') {
      out.push(path.join(dir, entry.name));
    }
  }
  return out.sort();
}

// The node range of an engines field: {"node": ">=18"}, or the old array form ["node >= 0.8"].
function nodeRange(engines) {
  if (!engines) return undefined;
  if (Array.isArray(engines)) {
    const e = engines.find((x) => /^\s*node\b/.test(x));
    return e?.replace(/^\s*node\s*/, '');
  }
  return typeof engines === 'object' ? engines.node : undefined;
}

// Problems of one package.json and its lockfile (null when it has none).
function checkPackage(name, pkg, lock) {
  const problems = [];
  const range = pkg.engines?.node;
  if (!range) return [`${name}: no "engines": {"node": ...}`];
  if (!semver.validRange(range)) return [`${name}: engines.node ${JSON.stringify(range)} is not a range`];
  if (!semver.satisfies(DEBIAN_12_NODE, range)) {
    problems.push(`${name}: engines.node ${range} does not admit Debian 12's Node.js ${DEBIAN_12_NODE}`);
  }
  const floor = semver.minVersion(range)?.version;
  const deps = { ...pkg.dependencies, ...pkg.devDependencies, ...pkg.optionalDependencies };
  if (!lock) {
    if (Object.keys(deps).length) problems.push(`${name}: dependencies without a package-lock.json`);
    return problems;
  }
  if (nodeRange(lock.packages?.['']?.engines) !== range) {
    problems.push(`${name}: package-lock.json does not record engines.node ${range} (run npm install)`);
  }
  for (const dep of Object.keys(deps)) {
    if (!lock.packages?.[`node_modules/${dep}`]) problems.push(`${name}: ${dep} is not in package-lock.json (run npm install)`);
  }
  for (const [where, entry] of Object.entries(lock.packages ?? {})) {
    if (where === '') continue;
    const needs = nodeRange(entry.engines);
    if (!needs || needs.trim() === '*') continue;
    const label = `${name}: ${where.replace(/^.*node_modules\//, '')}@${entry.version}`;
    if (!semver.validRange(needs)) problems.push(`${label} has an unreadable engines.node ${JSON.stringify(needs)}`);
    else if (!semver.satisfies(floor, needs)) problems.push(`${label} needs Node.js ${needs}, but the package claims ${range}`);
  }
  return problems;
}

function load(file) {
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  const lockFile = path.join(path.dirname(file), 'package-lock.json');
  const lock = existsSync(lockFile) ? JSON.parse(readFileSync(lockFile, 'utf8')) : null;
  return { name: path.relative(root, file), pkg, lock };
}

test('every package.json and its lockfile run on Debian 12\'s Node.js 18', () => {
  const files = packageJsonFiles();
  for (const expected of ['lua/package.json', 'scripts/node/package.json', 'tests/interop/package.json', 'tests/deploy/package.json']) {
    assert.ok(files.includes(path.join(root, expected)), `${expected} is found`);
  }
  const problems = files.flatMap((f) => { const { name, pkg, lock } = load(f); return checkPackage(name, pkg, lock); });
  assert.deepEqual(problems, []);
});

test('each engines check reports a broken variant', () => {
  const { pkg, lock } = load(path.join(root, 'scripts/node/package.json'));
  const variant = (mutate) => {
    const p = structuredClone(pkg);
    const l = structuredClone(lock);
    mutate(p, l);
    return checkPackage('variant', p, l);
  };
  const cases = {
    'no engines': () => variant((p) => { delete p.engines; }),
    'needs Node 20': () => variant((p, l) => { p.engines.node = '>=20'; l.packages[''].engines.node = '>=20'; }),
    'stale lockfile': () => variant((p) => { p.engines.node = '>=18.17'; }),
    'dependency needs Node 20': () => variant((p, l) => {
      l.packages['node_modules/playwright-core'] = { ...l.packages['node_modules/playwright-core'], version: '1.65.1', engines: { node: '>=20' } };
    }),
    'old array form needs Node 20': () => variant((p, l) => { l.packages['node_modules/yauzl'].engines = ['node >= 20']; }),
    'dependency not locked': () => variant((p) => { p.dependencies['left-pad'] = '1.3.0'; }),
    'no lockfile': () => checkPackage('variant', pkg, null),
  };
  const silent = Object.entries(cases).filter(([, run]) => run().length === 0).map(([name]) => name);
  assert.deepEqual(silent, [], 'broken variants that no check reported');
});
