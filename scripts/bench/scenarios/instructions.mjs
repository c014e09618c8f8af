// User-space instructions per job (scripts/bench.sh --scenario instructions): the
// native worker runs under valgrind's callgrind at each concurrency; after a warm-up
// batch its counters are zeroed (callgrind_control -z), N no-op jobs run, and the
// counters are dumped (callgrind_control -d). An instruction count repeats to the
// instruction from run to run where CPU times on a shared VM move by ±20 %: it is the
// figure to compare two builds of the worker by (--binary), not a comparison with
// Node (a JIT under valgrind measures valgrind), so `all` does not run it.
//
// Prints per concurrency the instructions per job over all threads and the functions
// with the most instructions of their own; writes OUT/bench-instructions.json and keeps
// the callgrind dumps in the logs folder (callgrind_annotate reads them).
//
// Exit status: 0 whatever the figures; 1 if a run broke (the worker died, jobs failed,
// it was not ready within the bound, or the dump did not appear).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import {
  runScenario, writeResults, PREFIX, blockedIn, fmt, logTail, machineLines, plainConnection, sleep,
  spawnLogged, stopChild, waitFor, workerCommand, scenarioOptions, startScenario,
} from '../lib.mjs';

const QUEUE = 'bench';
// Under callgrind the worker runs some 50 times slower: generous bounds.
const READY_TIMEOUT_MS = 120000;
const DUMP_TIMEOUT_MS = 60000;

const opts = scenarioOptions(
  process.argv.slice(2),
  { '--jobs': 'int', '--warmup-jobs': 'int', '--concurrency': 'list', '--top': 'int' },
  { jobs: 2000, warmupJobs: 200, concurrency: [1, 10], top: 12 },
);

async function addJobs(queue, n) {
  for (let i = 0; i < n; i += 1000) {
    const size = Math.min(1000, n - i);
    await queue.addBulk(Array.from({ length: size }, () => ({ name: 'echo', data: {} })));
  }
}

// Waits until `total` jobs are completed; throws when one failed, the worker died or
// the bound passed.
async function waitCompleted(admin, worker, total, label) {
  const boundMs = 60000 + total * 50;
  const started = Date.now();
  for (;;) {
    const [[, completed], [, failed]] = await admin.multi()
      .zcard(`${PREFIX}:${QUEUE}:completed`).zcard(`${PREFIX}:${QUEUE}:failed`).exec();
    if (failed > 0) throw new Error(`${label}: ${failed} job(s) failed`);
    if (completed >= total) return;
    if (worker.exited) throw new Error(`${label}: the worker exited (code ${worker.exited.code}, signal ${worker.exited.signal}) after ${completed}/${total} jobs\n${logTail(worker.logPath)}`);
    if (Date.now() - started > boundMs) throw new Error(`${label}: only ${completed}/${total} jobs completed within ${Math.round(boundMs / 1000)} s`);
    await sleep(50);
  }
}

// A function's name as callgrind_annotate prints it, shortened for a table: the usual
// std::string spellings, and the argument list dropped.
function shortName(fn) {
  const anon = '(anonymous namespace)';
  let s = fn
    .replaceAll('std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >', 'std::string')
    .replaceAll('std::basic_string_view<char, std::char_traits<char> >', 'std::string_view')
    .replaceAll(anon, '{anon}');
  const open = s.indexOf('(');
  if (open > 0) {
    let depth = 0;
    let close = open;
    for (; close < s.length; close++) {
      if (s[close] === '(') depth++;
      else if (s[close] === ')' && --depth === 0) break;
    }
    s = `${s.slice(0, open)}(…)${s.slice(close + 1)}`;
  }
  return s.replaceAll('{anon}', anon).slice(0, 110);
}

// The functions with the most instructions of their own in a dump, per job (a
// function's inlined library code, which callgrind files under the library's
// header, counts as the function's own).
function topFunctions(dumpPath, total, jobs, count) {
  const text = execFileSync('callgrind_annotate', ['--auto=no', '--inclusive=no', '--threshold=100', dumpPath],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const byName = new Map();
  for (const line of text.split('\n')) {
    const m = line.match(/^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/);
    if (!m) continue;
    const ir = Number(m[1].replace(/,/g, ''));
    // The entries with the whole total are the frames every cost sits under (main,
    // the event loop), not code of their own.
    if (m[2].includes('PROGRAM TOTALS') || ir >= total * 0.995) continue;
    // The object callgrind names last in brackets is a path ("[clone .isra.0]" is not).
    const bracket = m[2].lastIndexOf(' [/');
    const where = bracket >= 0 ? m[2].slice(0, bracket) : m[2];
    const object = bracket >= 0 ? path.basename(m[2].slice(bracket + 2).replace(/\]$/, '')) : '';
    const colon = where.indexOf(':');
    const name = shortName(colon >= 0 ? where.slice(colon + 1) : where);
    const row = byName.get(name) || { name, ir: 0, object: '' };
    row.ir += ir;
    row.object ||= object;
    byName.set(name, row);
  }
  return [...byName.values()]
    .sort((a, b) => b.ir - a.ir)
    .slice(0, count)
    .map((r) => ({ perJob: r.ir / jobs, share: r.ir / total, function: r.name, object: r.object }));
}

async function runOnce(admin, concurrency) {
  const label = `c=${concurrency}`;
  await admin.flushall('SYNC');
  const queue = new Queue(QUEUE, { connection: plainConnection(opts.redis), prefix: PREFIX });
  const base = workerCommand('native', { queue: QUEUE, redis: opts.redis, binary: opts.binary, concurrency, nativeArgs: opts.nativeArgs });
  const outFile = path.join(opts.logs, `callgrind-c${concurrency}.out`);
  const worker = spawnLogged({
    cmd: 'valgrind',
    args: ['--tool=callgrind', `--callgrind-out-file=${outFile}`, '--collect-atstart=yes', base.cmd, ...base.args],
    env: base.env,
  }, path.join(opts.logs, `instructions-c${concurrency}.log`));
  try {
    const ready = await waitFor(async () => worker.exited || (await blockedIn(admin)) >= 1, READY_TIMEOUT_MS, 100);
    if (worker.exited) throw new Error(`${label}: the worker exited at start (code ${worker.exited.code})\n${logTail(worker.logPath)}`);
    if (!ready) throw new Error(`${label}: the worker was not waiting for jobs within ${READY_TIMEOUT_MS / 1000} s`);

    await addJobs(queue, opts.warmupJobs);
    await waitCompleted(admin, worker, opts.warmupJobs, `${label} warm-up`);
    execFileSync('callgrind_control', ['-z', String(worker.child.pid)], { stdio: 'ignore' });
    await addJobs(queue, opts.jobs);
    await waitCompleted(admin, worker, opts.warmupJobs + opts.jobs, label);
    execFileSync('callgrind_control', ['-d', String(worker.child.pid)], { stdio: 'ignore' });
    // The dump's first part holds what ran since the counters were zeroed; wait until
    // it is written whole (its size stops changing).
    const dumpPath = `${outFile}.1`;
    let lastSize = -1;
    const dumped = await waitFor(() => {
      if (!existsSync(dumpPath)) return false;
      const size = statSync(dumpPath).size;
      const settled = size > 0 && size === lastSize;
      lastSize = size;
      return settled;
    }, DUMP_TIMEOUT_MS, 200);
    if (!dumped) throw new Error(`${label}: no callgrind dump at ${dumpPath} within ${DUMP_TIMEOUT_MS / 1000} s`);
    const totals = readFileSync(dumpPath, 'utf8').match(/^(?:summary|totals):\s+(\d+)/m);
    if (!totals) throw new Error(`${label}: ${dumpPath} has no totals line`);
    const instructions = Number(totals[1]);
    return {
      concurrency,
      jobs: opts.jobs,
      instructions,
      instructionsPerJob: instructions / opts.jobs,
      dump: dumpPath,
      top: topFunctions(dumpPath, instructions, opts.jobs, opts.top),
    };
  } finally {
    await stopChild(worker.child);
    await queue.close();
  }
}

async function main() {
  for (const tool of ['valgrind', 'callgrind_control', 'callgrind_annotate']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} not found: this scenario needs valgrind (apt-get install valgrind)`);
    }
  }
  const { admin, redisInfo, startedAt, loadavgAtStart } = await startScenario(opts);
  for (const line of machineLines(redisInfo.redis_version, opts.redis)) console.log(line);
  console.log(`user-space instructions per job under callgrind: ${opts.warmupJobs} warm-up jobs, then ${opts.jobs} no-op jobs counted, ` +
    `at concurrency ${opts.concurrency.join(', ')}; binary ${opts.binary}`);

  const runs = [];
  let broken = null;
  try {
    for (const c of opts.concurrency) {
      const res = await runOnce(admin, c);
      runs.push(res);
      console.log(`\n== concurrency ${c}: ${fmt(res.instructionsPerJob, 0)} instructions per job (${res.instructions.toLocaleString('en-US')} over ${res.jobs} jobs, all threads)`);
      console.log('   per job   share  function (own instructions)');
      for (const t of res.top) {
        console.log(`  ${fmt(t.perJob, 0).padStart(7)}  ${(100 * t.share).toFixed(1).padStart(5)} %  ${t.function}${t.object ? `  [${t.object}]` : ''}`);
      }
      console.log(`  (callgrind_annotate ${res.dump} for the whole profile)`);
    }
  } catch (err) {
    broken = err;
    console.error(`bench instructions: BROKEN: ${err.message}`);
  }

  const resultsPath = writeResults(opts.out, 'instructions', {
    redisVersion: redisInfo.redis_version,
    loadavgAtStart,
    binary: opts.binary,
    startedAt,
    config: { jobs: opts.jobs, warmupJobs: opts.warmupJobs, concurrency: opts.concurrency, binary: opts.binary, nativeArgs: opts.nativeArgs },
    runs,
    broken: broken ? String(broken.message) : null,
  });
  console.log(`\nbench instructions: results written to ${resultsPath}`);
  await admin.quit();
  process.exit(broken ? 1 : 0);
}

runScenario('instructions', main);
