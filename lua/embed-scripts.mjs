// Build step: reads the flattened Lua scripts that the pinned `bullmq` npm
// package publishes (dist/cjs/scripts/<name>-<numKeys>.js, field `content`)
// and writes a C++ source embedding the ones the worker calls, with their
// SHA1 and key count. Nothing of BullMQ is committed; this runs on every build.
//
// usage: node embed-scripts.mjs <node_modules dir> <output .cpp>
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [modulesDir, outFile] = process.argv.slice(2);
if (!modulesDir || !outFile) {
  console.error('usage: node embed-scripts.mjs <node_modules dir> <output .cpp>');
  process.exit(2);
}

// The scripts a worker sends (see the protocol reference, section 3).
// Order matters: it is the order of bullmq::ScriptId.
//
// A `{ file, ifLocked: true }` entry embeds a lock-guarded form of the script
// (named <name>IfLocked-<keys+1>): BullMQ's updateProgress, addLog, updateData,
// removeUnprocessedChildren and add*Job do not look at the job's lock, but a
// processor's writes must land only while its run still holds the lock.
// Checking with a GET first leaves a window (a worker frozen between the GET
// and the write overwrites a job that was finished meanwhile), so the check
// goes inside the script: one more KEY (the job's lock) and one more ARGV
// (this run's token); the script returns -2 (no lock) or -6 (another token)
// without writing anything, as BullMQ's own finishing scripts do.
const wanted = [
  'moveToActive-11', 'moveToFinished-14', 'moveToDelayed-11', 'retryJob-11',
  'moveJobFromActiveToWait-9', 'moveToWaitingChildren-7', 'moveStalledJobsToWait-9',
  'extendLocks-1', 'extendLock-2',
  { file: 'updateProgress-3', ifLocked: true }, { file: 'addLog-2', ifLocked: true },
  { file: 'updateData-1', ifLocked: true },
  'updateJobScheduler-12', 'getDependencyCounts-4',
  // The Job API of processors (JobContext::add_job, remove_unprocessed_children).
  'addStandardJob-9', 'addDelayedJob-6', 'addPrioritizedJob-9',
  { file: 'removeUnprocessedChildren-2', ifLocked: true },
  // Children of the running job join its dependencies only while it is ours.
  { file: 'addStandardJob-9', ifLocked: true }, { file: 'addDelayedJob-6', ifLocked: true },
  { file: 'addPrioritizedJob-9', ifLocked: true },
];

// The highest KEYS[n] / ARGV[n] index a script body uses; a body that counts
// its keys or arguments (#KEYS, #ARGV) cannot take a guard appended to them.
function highestIndex(body, table, file) {
  if (new RegExp(`#${table}\\b`).test(body)) {
    throw new Error(`${file} uses #${table}: no lock guard can be appended to its ${table}`);
  }
  let max = 0;
  for (const m of body.matchAll(new RegExp(`${table}\\[(\\d+)\\]`, 'g'))) max = Math.max(max, Number(m[1]));
  return max;
}

function lockGuarded(script, file) {
  const keys = script.keys + 1;
  if (highestIndex(script.content, 'KEYS', file) >= keys) {
    throw new Error(`${file} reads KEYS beyond its declared ${script.keys}`);
  }
  const tokenArg = highestIndex(script.content, 'ARGV', file) + 1;
  const guard = [
    `-- bullmq-worker: runs only while KEYS[${keys}] (the job's lock) holds ARGV[${tokenArg}]`,
    `-- (this run's token); -2: no lock, -6: another token. BullMQ's script follows unchanged.`,
    'do',
    `  local heldBy = redis.call("GET", KEYS[${keys}])`,
    `  if heldBy ~= ARGV[${tokenArg}] then`,
    '    if heldBy then return -6 end',
    '    return -2',
    '  end',
    'end',
    '',
  ].join('\n');
  const name = `${script.name}IfLocked`;
  return { name, file: `${name}-${keys}`, keys, content: guard + script.content, tokenArg };
}

const bullmqDir = path.join(modulesDir, 'bullmq');
const pkg = JSON.parse(readFileSync(path.join(bullmqDir, 'package.json'), 'utf8'));
const require = createRequire(path.join(bullmqDir, 'package.json'));

function cString(text) {
  // Split into chunks so no single literal gets unwieldy; escape everything
  // that is not plain printable ASCII.
  const parts = [];
  let cur = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (byte === 0x5c) cur += '\\\\';
    else if (byte === 0x22) cur += '\\"';
    else if (byte === 0x0a) { cur += '\\n'; parts.push(cur); cur = ''; continue; }
    else if (byte >= 0x20 && byte < 0x7f && ch !== '?') cur += ch;
    else cur += '\\' + byte.toString(8).padStart(3, '0');
  }
  if (cur) parts.push(cur);
  return parts.map((p) => `    "${p}"`).join('\n');
}

const entries = wanted.map((entry) => {
  const { file, ifLocked = false } = typeof entry === 'string' ? { file: entry } : entry;
  const mod = require(`./dist/cjs/scripts/${file}.js`);
  const script = Object.values(mod)[0];
  if (!script || typeof script.content !== 'string') {
    throw new Error(`bullmq ${pkg.version}: script ${file} not found or has no content`);
  }
  const expectedKeys = Number(file.split('-').pop());
  if (script.keys !== expectedKeys) {
    throw new Error(`bullmq ${pkg.version}: ${file} declares ${script.keys} keys`);
  }
  const embedded = ifLocked
    ? lockGuarded(script, file)
    : { name: script.name, file, keys: script.keys, content: script.content };
  const sha1 = createHash('sha1').update(embedded.content, 'utf8').digest('hex');
  return { ...embedded, sha1 };
});

let out = `// Generated by lua/embed-scripts.mjs from npm bullmq@${pkg.version}. Do not edit.\n`;
out += '#include "bullmq/script_catalog.hpp"\n\nnamespace bullmq {\nnamespace {\n';
for (const [i, e] of entries.entries()) {
  out += `constexpr char kBody${i}[] =\n${cString(e.content)};\n`;
}
out += '}  // namespace\n\n';
out += `const char* const kBullmqVersion = "${pkg.version}";\n\n`;
out += 'const ScriptInfo kScripts[kScriptCount] = {\n';
for (const [i, e] of entries.entries()) {
  out += `    {"${e.name}", "${e.file}", ${e.keys}, "${e.sha1}", std::string_view(kBody${i}, sizeof(kBody${i}) - 1)},\n`;
}
out += '};\n\n}  // namespace bullmq\n';
mkdirSync(path.dirname(outFile), { recursive: true });
writeFileSync(outFile, out);
console.log(`embedded ${entries.length} scripts from bullmq ${pkg.version}`);
