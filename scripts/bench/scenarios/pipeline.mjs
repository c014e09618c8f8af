// The document pipeline (scripts/bench.sh --scenario pipeline): documents per second per
// core on a fixed mixed corpus, end to end, with the time of each document split into
// database, sandbox start, extraction and sandbox finish; PDF extraction against poppler's
// own pdftotext on the same files; and the sandbox's per-document overhead. Two worker
// configurations, alternated per repeat: `spawn`, a new extraction child per document (the
// default), and `pool`, children kept for --pool-documents documents
// (--documents-per-extractor); --no-pool runs only the first.
//
// End to end, per repeat: FLUSHALL and empty tables; pause the queue; the backend's own
// producer (scripts/producer.mjs, --flow) copies the corpus into storage, creates the
// batch and one file_extractions row per document, and adds one process-file job per
// document under one aggregate-batch parent; start `bullmq-worker run --processors files`
// at concurrency = cores (--concurrency) and wait, bounded, until it is idle on the queue;
// resume; wait until every job is finished. docs/s = N / (last finishedOn − first
// processedOn) over the process-file jobs. The split comes from each completed job's
// return value (timing_us: the processor's own measurements, see README "The document
// pipeline"). CPU: the worker with its reaped extraction children, PostgreSQL (postmaster
// and backends) and Redis, from the resume to the last document.
//
// Extraction, with build/extract-bench (bench/extract_bench.cpp; every figure from the
// same launcher the sandbox uses, the items of a round run one after another, rounds
// repeated, medians): on a one-line text file, in process, in the sandboxed child, in a
// pooled child, and the bare process starts (/bin/true, `bullmq-worker --version`); on PDFs
// of the corpus (picked by page count) plus a minimal and a 200-page one: our extractor in
// process, in a pooled child, our `bullmq-worker extract-file` child, and
// `pdftotext -layout FILE -`.
//
// Exit status: 0 whatever the figures; 1 if a run broke (the worker died, a document
// ended otherwise than the corpus says, the rows in PostgreSQL disagree, a tool failed,
// or not everything finished within the bound).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { loadPackage } from '../../lib/node-packages.mjs';
import { parseOptions as producerOptions, produce } from '../../producer.mjs';
import { writeCorpus, writeFixedFiles } from '../corpus.mjs';
import {
  runScenario, writeResults, PREFIX, blockedIn, familyCpuNs, fmt, judge, liveChildrenCpuNs, logTail, machineLines,
  median, nowMs, parseInfo, parseOptions, peakRssKiB, processCpu, redisCpuS, sleep, spawnLogged, statCpuNs,
  stopChild, targetLine, waitFor, scenarioOptions, startScenario,
} from '../lib.mjs';

const QUEUE = 'pipeline';
const READY_TIMEOUT_MS = 30000;
const PDF_TARGET = 1.2; // issue 12: PDF extraction at most 1.2× pdftotext's time
const SANDBOX_SHARE_LIMIT = 0.5; // above it, spawning dominates (issue 12: then a pre-started pool)

const opts = scenarioOptions(
  process.argv.slice(2),
  {
    '--extract-bench': 'string', '--database-url': 'string',
    '--postmaster-pid': 'int', '--documents': 'int',
    '--repeats': 'int', '--concurrency': 'list', '--seed': 'int', '--pdf-files': 'int', '--extract-repeats': 'int',
    '--pdftotext': 'string', '--pool-documents': 'int', '--no-pool': 'flag',
  },
  { documents: 2000, repeats: 3, concurrency: [os.cpus().length], seed: 1, pdfFiles: 6, extractRepeats: 15, pdftotext: 'pdftotext',
    poolDocuments: 100, noPool: false },
  ['--extract-bench', '--database-url', '--postmaster-pid'],
);
// The launcher does no PATH lookup: pdftotext by its path.
if (!opts.pdftotext.includes('/')) {
  const found = spawnSync('sh', ['-c', `command -v ${opts.pdftotext}`], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error(`${opts.pdftotext} not found (poppler-utils; scripts/install-deps.sh installs it)`);
  opts.pdftotext = found;
}
const CORES = os.cpus().length;
// The worker's two ways to run extraction children, alternated per repeat: a new child
// per document (the default), and children that stay (--documents-per-extractor).
const CONFIGS = [
  { name: 'spawn', title: 'a new extraction child per document (the default)', args: [] },
  ...(opts.noPool ? [] : [{
    name: 'pool', title: `extraction children kept for ${opts.poolDocuments} documents (--documents-per-extractor ${opts.poolDocuments})`,
    args: ['--documents-per-extractor', String(opts.poolDocuments)],
  }]),
];
const CONCURRENCY = opts.concurrency[0];
const pg = loadPackage('pg');

// ---------------------------------------------------------------- helpers
const mean = (v) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : null);
const sum = (v) => v.reduce((a, b) => a + b, 0);
const ratio = (a, b) => (a != null && b ? a / b : null);
const ms = (us) => (us == null ? null : us / 1000);

function run(cmd, args, { timeout = 120000, input } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout, input, maxBuffer: 256 << 20 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} … exited ${r.status ?? r.signal}: ${(r.stderr || '').slice(0, 2000)}`);
  return r.stdout;
}

// extract-bench in the background (killed with the driver), its plan on stdin.
function extractBench(plan) {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.extractBench, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20 * 60 * 1000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`extract-bench exited ${code ?? signal}: ${err.slice(0, 2000)}`));
      else resolve(JSON.parse(out));
    });
    child.stdin.end(JSON.stringify(plan));
  });
}

// ---------------------------------------------------------------- end to end
async function resetState(admin, db, storage) {
  await admin.flushall('SYNC');
  await db.query('TRUNCATE run_summaries, file_extractions, processing_jobs CASCADE');
  for (const entry of readdirSync(storage)) if (entry.startsWith('run-')) rmSync(path.join(storage, entry), { recursive: true, force: true });
}

async function runOnce({ admin, db, corpusDir, corpus, storage, repeat, config }) {
  const n = corpus.length;
  const expectFailed = corpus.filter((d) => d.kind === 'corrupt').length;
  const label = `pipeline-r${repeat}-${config.name}`;
  await resetState(admin, db, storage);
  const queue = new Queue(QUEUE, { connection: { host: new URL(opts.redis).hostname, port: Number(new URL(opts.redis).port), maxRetriesPerRequest: null }, prefix: PREFIX });
  await queue.pause();
  const runId = `run-${repeat}-${config.name}`;
  const t0 = nowMs();
  const produced = await produce(producerOptions([
    '--dir', corpusDir, '--redis', opts.redis, '--database-url', opts.databaseUrl, '--storage', storage,
    '--queue', QUEUE, '--flow', '--run-id', runId, '--batch-id', `batch-${repeat}-${config.name}`,
  ]));
  const produceMs = nowMs() - t0;
  if (produced.files !== n) throw new Error(`${label}: the producer enqueued ${produced.files} files, the corpus has ${n}`);

  const logPath = path.join(opts.logs, `${label}.log`);
  const worker = spawnLogged({
    cmd: opts.binary,
    args: ['run', '--queue', QUEUE, '--redis', opts.redis, '--processors', 'files', '--database-url', opts.databaseUrl,
      '--storage-base-path', storage, '--concurrency', String(CONCURRENCY), '--name', label, ...config.args, ...opts.nativeArgs],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  }, logPath);
  let failure = null;
  const ready = await waitFor(async () => worker.exited || (await blockedIn(admin)) >= 1, READY_TIMEOUT_MS);
  if (worker.exited) failure = `the worker exited before the queue was resumed (${JSON.stringify(worker.exited)})`;
  else if (!ready) failure = `the worker was not idle on the queue within ${READY_TIMEOUT_MS / 1000} s`;

  let cpu0;
  let cpu1;
  let resumeMs;
  let filesDoneMs;
  let doneMs;
  const keyCompleted = `${PREFIX}:${QUEUE}:completed`;
  const keyFailed = `${PREFIX}:${QUEUE}:failed`;
  // The extraction children: those reaped (one per document) and those alive (pooled).
  const snapshot = async () => ({
    worker: processCpu(worker.child.pid).ns,
    workerChildren: statCpuNs(worker.child.pid).childrenNs + liveChildrenCpuNs(worker.child.pid),
    postgres: familyCpuNs(opts.postmasterPid),
    redis: redisCpuS(parseInfo(await admin.info('cpu'))) * 1e9,
  });
  if (!failure) {
    cpu0 = await snapshot();
    resumeMs = nowMs();
    await queue.resume();
    const boundMs = 60000 + n * 250;
    for (;;) {
      const [[, completed], [, failed]] = await admin.multi().zcard(keyCompleted).zcard(keyFailed).exec();
      const t = nowMs();
      if (failed > expectFailed) {
        failure = `${failed} job(s) failed, the corpus has ${expectFailed} corrupt document(s)`;
        break;
      }
      if (!filesDoneMs && completed + failed >= n) {
        filesDoneMs = t;
        cpu1 = await snapshot();
      }
      if (completed + failed >= n + 1) {
        doneMs = t;
        break;
      }
      if (worker.exited) {
        failure = `the worker exited early (${JSON.stringify(worker.exited)}) after ${completed + failed}/${n + 1} jobs`;
        break;
      }
      if (t - resumeMs > boundMs) {
        failure = `only ${completed + failed}/${n + 1} jobs finished within ${Math.round(boundMs / 1000)} s`;
        break;
      }
      await sleep(20);
    }
  }
  const rssKiB = peakRssKiB(worker.child.pid);
  await stopChild(worker.child);
  await queue.close();
  if (failure) throw new Error(`${label}: ${failure}\n--- worker log (${logPath}) ---\n${logTail(logPath, 15)}`);

  // The jobs: timestamps, outcome and the processor's timing.
  const ids = [...(await admin.zrange(keyCompleted, 0, -1)), ...(await admin.zrange(keyFailed, 0, -1))];
  const pipe = admin.pipeline();
  for (const id of ids) pipe.hmget(`${PREFIX}:${QUEUE}:${id}`, 'name', 'data', 'processedOn', 'finishedOn', 'returnvalue', 'failedReason');
  const kindOf = new Map(corpus.map((d) => [`${runId}/${d.path}`, d.kind]));
  const docs = [];
  let aggregate = null;
  for (const [, [name, data, processedOn, finishedOn, returnvalue, failedReason]] of await pipe.exec()) {
    const job = { processedOn: Number(processedOn), finishedOn: Number(finishedOn) };
    if (name === 'aggregate-batch') {
      aggregate = { ...job, returnvalue: JSON.parse(returnvalue || 'null') };
      continue;
    }
    const d = JSON.parse(data);
    const kind = kindOf.get(d.file_path);
    const rv = returnvalue ? JSON.parse(returnvalue) : null;
    docs.push({ ...job, kind, ok: !failedReason, timing: rv?.timing_us ?? null, failedReason: failedReason || null });
  }
  if (docs.length !== n) throw new Error(`${label}: ${docs.length} process-file jobs finished, expected ${n}`);
  const wrong = docs.filter((d) => (d.kind === 'corrupt') === d.ok || (d.ok && !d.timing));
  if (wrong.length) throw new Error(`${label}: ${wrong.length} document(s) ended otherwise than expected, e.g. ${JSON.stringify(wrong[0])}`);
  if (!aggregate || aggregate.returnvalue?.status !== (expectFailed ? 'completed_with_errors' : 'completed')) {
    throw new Error(`${label}: aggregate-batch ended with ${JSON.stringify(aggregate)}`);
  }
  // The rows agree.
  const rows = (await db.query(
    "SELECT status, error_type, count(*)::int AS n FROM file_extractions WHERE run_id = $1 GROUP BY 1, 2 ORDER BY 1, 2", [runId])).rows;
  const count = (status, type = null) => rows.filter((r) => r.status === status && (type === null || r.error_type === type)).reduce((a, r) => a + r.n, 0);
  if (count('completed') !== n - expectFailed || count('failed', 'corrupt') !== expectFailed || count('failed') !== expectFailed) {
    throw new Error(`${label}: file_extractions rows ${JSON.stringify(rows)}, expected ${n - expectFailed} completed and ${expectFailed} failed (corrupt)`);
  }
  const summary = (await db.query('SELECT file_count, success_count, error_count FROM run_summaries WHERE run_id = $1', [runId])).rows[0];
  if (!summary || summary.file_count !== n) throw new Error(`${label}: run_summaries ${JSON.stringify(summary)}`);

  const firstProcessed = Math.min(...docs.map((d) => d.processedOn));
  const lastFinished = Math.max(...docs.map((d) => d.finishedOn));
  const spanMs = Math.max(lastFinished - firstProcessed, 1);
  const docsPerSec = (n * 1000) / spanMs;
  const cpuMsPerDoc = (k) => (cpu1[k] - cpu0[k]) / 1e6 / n;
  return {
    config: config.name,
    repeat,
    documents: n,
    concurrency: CONCURRENCY,
    docsPerSec,
    docsPerSecPerCore: docsPerSec / CORES,
    spanMs,
    produceMs,
    cpuMsPerDoc: {
      worker: cpuMsPerDoc('worker'),
      extractionChildren: cpuMsPerDoc('workerChildren'),
      postgres: cpuMsPerDoc('postgres'),
      redis: cpuMsPerDoc('redis'),
    },
    wallFromResumeMs: filesDoneMs - resumeMs,
    aggregate: { ms: aggregate.finishedOn - aggregate.processedOn, afterLastFileMs: aggregate.finishedOn - lastFinished },
    peakRssMiB: rssKiB / 1024,
    loadavg: os.loadavg(),
    docs,
    raw: { resumeMs, filesDoneMs, doneMs, firstProcessed, lastFinished, cpuAtResume: cpu0, cpuAtFilesDone: cpu1 },
  };
}

// The split of a set of completed documents: mean µs per phase and the shares of the
// job's time in the worker (processedOn → finishedOn).
const PHASES = [
  ['claim', 'database: claim (find/create + mark processing)'],
  ['sandbox_start', 'sandbox start (spawn → child begins extracting)'],
  ['extract', 'extraction (in the child)'],
  ['sandbox_finish', 'sandbox finish (result out, exit, reap, decode)'],
  ['save', 'database: save (completed + raw_extraction)'],
  ['processorOther', 'processor, rest (progress, job log, JSON)'],
  ['workerOther', 'worker around the processor (claim/finish in Redis)'],
];
function split(docs) {
  const ok = docs.filter((d) => d.ok && d.timing);
  if (!ok.length) return null;
  const per = (f) => mean(ok.map(f));
  const phases = {
    claim: per((d) => d.timing.claim),
    sandbox_start: per((d) => d.timing.sandbox_start),
    extract: per((d) => d.timing.extract),
    sandbox_finish: per((d) => d.timing.sandbox_finish),
    save: per((d) => d.timing.save),
    processorOther: per((d) => d.timing.total - d.timing.claim - d.timing.sandbox_start - d.timing.extract - d.timing.sandbox_finish - d.timing.save),
    workerOther: per((d) => (d.finishedOn - d.processedOn) * 1000 - d.timing.total),
  };
  const jobUs = per((d) => (d.finishedOn - d.processedOn) * 1000);
  const medians = {
    sandbox_start: median(ok.map((d) => d.timing.sandbox_start)),
    extract: median(ok.map((d) => d.timing.extract)),
    total: median(ok.map((d) => d.timing.total)),
  };
  const sandbox = phases.sandbox_start + phases.sandbox_finish;
  return { documents: ok.length, phasesUs: phases, jobUs, medians, databaseUs: phases.claim + phases.save, sandboxUs: sandbox, sandboxShare: sandbox / (sandbox + phases.extract) };
}

// ---------------------------------------------------------------- extraction measurements
function pickPdfs(corpus, runId, k) {
  const pdfs = corpus.filter((d) => d.kind === 'pdf').sort((a, b) => a.pages - b.pages || a.bytes - b.bytes);
  if (!pdfs.length) return [];
  const picked = new Set();
  for (let i = 0; i < k; i++) picked.add(pdfs[Math.round((i * (pdfs.length - 1)) / Math.max(k - 1, 1))]);
  return [...picked].map((d) => ({ label: path.basename(d.path), path: `${runId}/${d.path}`, pages: d.pages, bytes: d.bytes }));
}

async function measureExtraction({ storage, fixed, pdfs }) {
  const items = [];
  const ours = (rel) => [opts.binary, 'extract-file', '--root', storage, '--path', rel];
  // The sandbox on a trivial file.
  items.push({ label: 'trivial:inprocess', mode: 'inprocess', path: fixed.trivial });
  items.push({ label: 'trivial:isolated', mode: 'isolated', path: fixed.trivial });
  items.push({ label: 'trivial:pooled', mode: 'pooled', path: fixed.trivial });
  items.push({ label: 'trivial:extract-file', mode: 'command', argv: ours(fixed.trivial) });
  items.push({ label: 'spawn:true', mode: 'command', argv: ['/bin/true'] });
  items.push({ label: 'spawn:version', mode: 'command', argv: [opts.binary, '--version'] });
  // PDFs: ours in process, ours as a process, pdftotext as a process.
  for (const f of pdfs) {
    items.push({ label: `pdf:${f.label}:inprocess`, mode: 'inprocess', path: f.path });
    items.push({ label: `pdf:${f.label}:pooled`, mode: 'pooled', path: f.path });
    items.push({ label: `pdf:${f.label}:extract-file`, mode: 'command', argv: ours(f.path) });
    items.push({ label: `pdf:${f.label}:pdftotext`, mode: 'command', argv: [opts.pdftotext, '-layout', '-enc', 'UTF-8', path.join(storage, f.path), '-'] });
  }
  const result = await extractBench({ root: storage, worker: opts.binary, repeats: opts.extractRepeats, warmup: 1, items });
  const byLabel = Object.fromEntries(result.items.map((it) => [it.label, it]));
  const med = (label, key = 'wall_us') => median(byLabel[label][key]);
  const trivial = {
    inprocessUs: med('trivial:inprocess'),
    isolatedUs: med('trivial:isolated'),
    pooledUs: med('trivial:pooled'),
    pooledStartUs: med('trivial:pooled', 'sandbox_start_us'),
    pooledExtractUs: med('trivial:pooled', 'extract_us'),
    pooledFinishUs: med('trivial:pooled', 'sandbox_finish_us'),
    extractFileUs: med('trivial:extract-file'),
    sandboxStartUs: med('trivial:isolated', 'sandbox_start_us'),
    extractInChildUs: med('trivial:isolated', 'extract_us'),
    sandboxFinishUs: med('trivial:isolated', 'sandbox_finish_us'),
    spawnTrueUs: med('spawn:true'),
    spawnVersionUs: med('spawn:version'),
    isolatedCpuUs: med('trivial:isolated', 'cpu_us'),
    inprocessCpuUs: med('trivial:inprocess', 'cpu_us'),
  };
  trivial.overheadUs = trivial.isolatedUs - trivial.inprocessUs;
  // What the child's extraction takes beyond a warm one: first-use costs a long-lived
  // extractor pays once (libmagic's database, poppler's globals).
  trivial.childFirstUseUs = trivial.extractInChildUs - trivial.inprocessUs;
  const pdfRows = pdfs.map((f) => ({
    ...f,
    inprocessUs: med(`pdf:${f.label}:inprocess`),
    pooledUs: med(`pdf:${f.label}:pooled`),
    extractFileUs: med(`pdf:${f.label}:extract-file`),
    pdftotextUs: med(`pdf:${f.label}:pdftotext`),
    inprocessCpuUs: med(`pdf:${f.label}:inprocess`, 'cpu_us'),
    extractFileCpuUs: med(`pdf:${f.label}:extract-file`, 'cpu_us'),
    pdftotextCpuUs: med(`pdf:${f.label}:pdftotext`, 'cpu_us'),
  }));
  return { trivial, pdfRows, raw: result };
}

// ---------------------------------------------------------------- output
function printRuns(runs) {
  console.log(`\n== end to end: ${opts.documents} documents, concurrency ${CONCURRENCY} on ${CORES} CPUs, ${opts.repeats} repeat(s) of each: ` +
    CONFIGS.map((c) => `${c.name} = ${c.title}`).join('; '));
  console.log(`${'repeat'.padEnd(13)}${'docs/s'.padStart(9)}${'/core'.padStart(9)}${'span s'.padStart(9)}` +
    `${'CPU ms/doc: worker'.padStart(20)}${'children'.padStart(10)}${'postgres'.padStart(10)}${'redis'.padStart(8)}${'total'.padStart(8)}${'RSS MiB'.padStart(9)}${'aggregate ms'.padStart(14)}`);
  for (const r of runs) {
    const c = r.cpuMsPerDoc;
    console.log(`${`${r.repeat} ${r.config}`.padEnd(13)}${fmt(r.docsPerSec, 1).padStart(9)}${fmt(r.docsPerSecPerCore, 1).padStart(9)}${fmt(r.spanMs / 1000, 2).padStart(9)}` +
      `${fmt(c.worker, 2).padStart(20)}${fmt(c.extractionChildren, 2).padStart(10)}${fmt(c.postgres, 2).padStart(10)}${fmt(c.redis, 2).padStart(8)}` +
      `${fmt(c.worker + c.extractionChildren + c.postgres + c.redis, 2).padStart(8)}${fmt(r.peakRssMiB, 1).padStart(9)}${fmt(r.aggregate.ms, 0).padStart(14)}`);
  }
}

function printSplit(s, byKind, config) {
  console.log(`\n== ${config.name}: time per completed document (mean over ${s.documents} documents of all repeats; the job's time in the worker ${fmt(ms(s.jobUs), 2)} ms)`);
  for (const [key, label] of PHASES) {
    const us = s.phasesUs[key];
    console.log(`  ${label.padEnd(54)} ${fmt(ms(us), 2).padStart(8)} ms  ${fmt((100 * us) / s.jobUs, 0).padStart(3)} %`);
  }
  console.log(`  ${'database (claim + save)'.padEnd(54)} ${fmt(ms(s.databaseUs), 2).padStart(8)} ms  ${fmt((100 * s.databaseUs) / s.jobUs, 0).padStart(3)} %`);
  console.log(`  ${'sandbox (start + finish)'.padEnd(54)} ${fmt(ms(s.sandboxUs), 2).padStart(8)} ms  ${fmt((100 * s.sandboxUs) / s.jobUs, 0).padStart(3)} %`);
  console.log('  by kind (mean ms):     docs   claim   start  extract  finish    save   total');
  for (const [kind, k] of Object.entries(byKind)) {
    const p = k.phasesUs;
    console.log(`    ${kind.padEnd(18)} ${String(k.documents).padStart(7)}${[p.claim, p.sandbox_start, p.extract, p.sandbox_finish, p.save].map((v) => fmt(ms(v), 2).padStart(8)).join('')}${fmt(ms(k.jobUs), 2).padStart(8)}`);
  }
}

function printExtraction(ex) {
  const t = ex.trivial;
  console.log(`\n== the sandbox on a one-line text file (medians of ${opts.extractRepeats} rounds, wall ms)`);
  console.log(`  in process (extract_file, warm)                         ${fmt(ms(t.inprocessUs), 3).padStart(8)}`);
  console.log(`  isolated (extract_file_isolated: the worker's path)     ${fmt(ms(t.isolatedUs), 3).padStart(8)}   = start ${fmt(ms(t.sandboxStartUs), 3)} + extract ${fmt(ms(t.extractInChildUs), 3)} + finish ${fmt(ms(t.sandboxFinishUs), 3)}`);
  console.log(`  pooled (ExtractorPool: a child that stays)              ${fmt(ms(t.pooledUs), 3).padStart(8)}   = start ${fmt(ms(t.pooledStartUs), 3)} + extract ${fmt(ms(t.pooledExtractUs), 3)} + finish ${fmt(ms(t.pooledFinishUs), 3)}`);
  console.log(`  overhead per document (isolated − in process)           ${fmt(ms(t.overheadUs), 3).padStart(8)}   (${fmtX(t.isolatedUs / t.inprocessUs)} the in-process time; CPU ${fmt(ms(t.isolatedCpuUs), 2)} vs ${fmt(ms(t.inprocessCpuUs), 3)} ms)`);
  console.log(`  of the child's extraction, first use (child − in process: libmagic's database…)  ${fmt(ms(t.childFirstUseUs), 3)}`);
  console.log(`  for scale: spawn /bin/true ${fmt(ms(t.spawnTrueUs), 3)}; bullmq-worker --version ${fmt(ms(t.spawnVersionUs), 3)} (exec + the binary's libraries, no plugin)`);

  const rows = ex.pdfRows;
  console.log(`\n== PDF extraction against pdftotext -layout (poppler-utils), the same files, medians of ${opts.extractRepeats} rounds, wall ms`);
  console.log(`  ${'file'.padEnd(22)}${'pages'.padStart(6)}${'KiB'.padStart(7)}${'ours in-proc'.padStart(14)}${'ours pooled'.padStart(13)}${'ours process'.padStart(14)}${'pdftotext'.padStart(11)}${'proc ÷ pdftotext'.padStart(18)}${'CPU ÷'.padStart(8)}`);
  for (const r of rows) {
    console.log(`  ${r.label.padEnd(22)}${String(r.pages ?? '-').padStart(6)}${fmt(r.bytes / 1024, 1).padStart(7)}${fmt(ms(r.inprocessUs), 2).padStart(14)}${fmt(ms(r.pooledUs), 2).padStart(13)}${fmt(ms(r.extractFileUs), 2).padStart(14)}` +
      `${fmt(ms(r.pdftotextUs), 2).padStart(11)}${fmtX(r.extractFileUs / r.pdftotextUs).padStart(18)}${fmtX(r.extractFileCpuUs / r.pdftotextCpuUs).padStart(8)}`);
  }
}
const fmtX = (r) => (r == null || !Number.isFinite(r) ? '-' : `${r.toFixed(2)}x`);

// The three comparisons, over the PDFs picked from the corpus (not the fixed minimal and
// large ones): sums of the medians, i.e. the time each tool takes for the set.
function pdfComparisons(ex) {
  const rows = ex.pdfRows.filter((r) => !r.fixed);
  const minimal = ex.pdfRows.find((r) => r.label === 'minimal.pdf');
  const s = (k) => sum(rows.map((r) => r[k]));
  return {
    files: rows.length,
    processBoth: { ours: s('extractFileUs'), pdftotext: s('pdftotextUs'), oursCpu: s('extractFileCpuUs'), pdftotextCpu: s('pdftotextCpuUs') },
    inprocessVsProcess: { ours: s('inprocessUs'), pdftotext: s('pdftotextUs') },
    pooledVsProcess: { ours: s('pooledUs'), pdftotext: s('pdftotextUs') },
    contentOnly: {
      ours: s('inprocessUs') - rows.length * minimal.inprocessUs,
      pdftotext: s('pdftotextUs') - rows.length * minimal.pdftotextUs,
      oursFixedUs: minimal.inprocessUs,
      pdftotextFixedUs: minimal.pdftotextUs,
    },
  };
}

async function main() {
  const { admin, redisInfo, startedAt, loadavgAtStart } = await startScenario(opts);
  console.log(`bench pipeline: ${opts.documents} documents (seed ${opts.seed}) × ${opts.repeats} repeat(s) at concurrency ${CONCURRENCY}; ` +
    `extraction ${opts.extractRepeats} rounds on ${opts.pdfFiles} corpus PDFs + 2 fixed`);
  for (const line of machineLines(redisInfo.redis_version, opts.redis)) console.log(`bench pipeline: ${line}`);
  const pdftotextVersion = (spawnSync(opts.pdftotext, ['-v'], { encoding: 'utf8' }).stderr || '').split('\n')[0];

  const work = mkdtempSync(path.join(os.tmpdir(), 'bullmq-bench-pipeline-'));
  const storage = path.join(work, 'storage');
  const corpusDir = path.join(work, 'corpus');
  mkdirSync(storage);
  const db = new pg.Client({ connectionString: opts.databaseUrl });
  let broken = null;
  const runs = [];
  let corpus = [];
  let extraction = null;
  try {
    const tc = nowMs();
    corpus = writeCorpus(corpusDir, { documents: opts.documents, seed: opts.seed });
    const fixed = writeFixedFiles(path.join(storage, 'fixed'), { seed: opts.seed });
    const kinds = {};
    for (const d of corpus) kinds[d.kind] = (kinds[d.kind] || 0) + 1;
    console.log(`bench pipeline: corpus ${corpus.length} documents, ${fmt(sum(corpus.map((d) => d.bytes)) / 1048576, 1)} MiB ` +
      `(${Object.entries(kinds).map(([k, v]) => `${k} ${v}`).join(', ')}), written in ${fmt((nowMs() - tc) / 1000, 1)} s`);
    run(opts.binary, ['migrate', '--database-url', opts.databaseUrl]);
    await db.connect();
    for (let r = 1; r <= opts.repeats; r++) {
      // Which configuration goes first alternates, so neither always meets a warmer machine.
      for (const config of r % 2 ? CONFIGS : [...CONFIGS].reverse()) {
        const res = await runOnce({ admin, db, corpusDir, corpus, storage, repeat: r, config });
        runs.push(res);
        console.log(`  repeat ${r} ${config.name.padEnd(5)}: ${fmt(res.docsPerSec, 1)} docs/s (${fmt(res.docsPerSecPerCore, 1)} per core) over ${fmt(res.spanMs / 1000, 2)} s; ` +
          `aggregate-batch ${fmt(res.aggregate.ms, 0)} ms; producer ${fmt(res.produceMs / 1000, 1)} s (not counted)`);
      }
    }
    // Extraction measurements, on the last run's copy of the corpus and the fixed files.
    const lastRunId = `run-${opts.repeats}-${(opts.repeats % 2 ? CONFIGS : [...CONFIGS].reverse()).at(-1).name}`;
    const pdfs = [
      ...pickPdfs(corpus, lastRunId, opts.pdfFiles),
      { label: 'large.pdf', path: `fixed/${fixed.largePdf}`, pages: fixed.largePages, bytes: fixed.largeBytes, fixed: true },
      { label: 'minimal.pdf', path: `fixed/${fixed.minimalPdf}`, pages: 1, bytes: fixed.minimalBytes, fixed: true },
    ];
    extraction = await measureExtraction({ storage, fixed: { trivial: `fixed/${fixed.trivial}` }, pdfs });
  } catch (err) {
    broken = err;
    console.error(`bench pipeline: BROKEN: ${err.message}`);
  }

  // ------------------------------------------------------------ figures and targets
  const byConfig = {};
  for (const config of CONFIGS) {
    const rs = runs.filter((r) => r.config === config.name);
    if (!rs.length) continue;
    const docs = rs.flatMap((r) => r.docs);
    const summary = {
      runs: rs.length,
      docsPerSec: median(rs.map((r) => r.docsPerSec)),
      docsPerSecPerCore: median(rs.map((r) => r.docsPerSecPerCore)),
      docsPerSecMin: Math.min(...rs.map((r) => r.docsPerSec)),
      docsPerSecMax: Math.max(...rs.map((r) => r.docsPerSec)),
      cpuMsPerDoc: Object.fromEntries(Object.keys(rs[0].cpuMsPerDoc).map((k) => [k, median(rs.map((r) => r.cpuMsPerDoc[k]))])),
    };
    summary.cpuMsPerDocTotal = sum(Object.values(summary.cpuMsPerDoc));
    summary.docsPerCpuSecond = 1000 / summary.cpuMsPerDocTotal;
    const byKind = {};
    for (const kind of [...new Set(docs.map((d) => d.kind))].sort()) {
      const k = split(docs.filter((d) => d.kind === kind));
      if (k) byKind[kind] = k;
    }
    byConfig[config.name] = { config, summary, split: split(docs), byKind };
  }
  const targets = [];
  const spawn = byConfig.spawn;
  const pool = byConfig.pool;
  if (runs.length) {
    printRuns(runs);
    for (const { config, summary } of Object.values(byConfig)) {
      console.log(`  ${config.name} medians: ${fmt(summary.docsPerSec, 1)} docs/s = ${fmt(summary.docsPerSecPerCore, 1)} per core (÷ ${CORES} CPUs); ` +
        `${fmt(summary.cpuMsPerDocTotal, 2)} CPU ms per document over worker, children, PostgreSQL and Redis = ${fmt(summary.docsPerCpuSecond, 1)} docs per CPU-second`);
    }
    if (spawn && pool) {
      console.log(`  pool ÷ spawn: docs/s ${fmtX(pool.summary.docsPerSec / spawn.summary.docsPerSec)}, CPU per document ${fmtX(pool.summary.cpuMsPerDocTotal / spawn.summary.cpuMsPerDocTotal)}`);
    }
  }
  for (const { config, split: s, byKind } of Object.values(byConfig)) if (s) printSplit(s, byKind, config);
  let pdf = null;
  if (extraction) {
    printExtraction(extraction);
    pdf = pdfComparisons(extraction);
  }

  console.log('\ntargets:');
  for (const { config, summary } of Object.values(byConfig)) {
    console.log(`  [----] ${`${config.name}: documents/s per core (no target in issue 12)`.padEnd(50)} measured ${fmt(summary.docsPerSecPerCore, 1).padStart(10)}   ` +
      `(${fmt(summary.docsPerSec, 1)} docs/s on ${CORES} CPUs)`);
  }
  if (pdf) {
    const p = pdf.processBoth;
    targets.push(judge({ name: 'PDF: ours ÷ pdftotext, process start on both sides', value: p.ours / p.pdftotext, target: PDF_TARGET, op: '<=', unit: 'x' }));
    targets.push(judge({ name: 'PDF: ours ÷ pdftotext, content only (fixed cost off)', value: pdf.contentOnly.ours / pdf.contentOnly.pdftotext, target: PDF_TARGET, op: '<=', unit: 'x' }));
    targets.push(judge({ name: 'PDF: ours in process ÷ pdftotext process', value: pdf.inprocessVsProcess.ours / pdf.inprocessVsProcess.pdftotext, target: PDF_TARGET, op: '<=', unit: 'x' }));
    targets.push(judge({ name: 'PDF: ours pooled (a child that stays) ÷ pdftotext', value: pdf.pooledVsProcess.ours / pdf.pooledVsProcess.pdftotext, target: PDF_TARGET, op: '<=', unit: 'x' }));
  }
  for (const { config, split: s } of Object.values(byConfig)) {
    if (s) targets.push(judge({ name: `${config.name}: sandbox ÷ (sandbox + extraction) per doc`, value: s.sandboxShare, target: SANDBOX_SHARE_LIMIT, op: '<=', unit: 'x' }));
  }
  for (const t of targets) console.log(targetLine(t));
  if (pdf) {
    const c = pdf.contentOnly;
    console.log(`  (PDF sums over ${pdf.files} files, medians: process start on both ${fmt(ms(pdf.processBoth.ours), 1)} vs ${fmt(ms(pdf.processBoth.pdftotext), 1)} ms, ` +
      `CPU ${fmtX(pdf.processBoth.oursCpu / pdf.processBoth.pdftotextCpu)}; content only: each side's time on minimal.pdf (ours ${fmt(ms(c.oursFixedUs), 2)} ms in process, ` +
      `pdftotext ${fmt(ms(c.pdftotextFixedUs), 2)} ms with its start) taken off per file; pooled: our child already running, pdftotext started each time)`);
  }
  let proposal = null;
  const s = spawn?.split;
  if (s && extraction) {
    const summary = spawn.summary;
    const dominates = s.sandboxShare > SANDBOX_SHARE_LIMIT;
    // A pool would save the sandbox's start and finish and the child's first-use cost.
    const saveUs = s.phasesUs.sandbox_start + s.phasesUs.sandbox_finish + Math.max(extraction.trivial.childFirstUseUs, 0);
    proposal = {
      spawningDominates: dominates,
      sandboxUsPerDoc: s.phasesUs.sandbox_start + s.phasesUs.sandbox_finish,
      childFirstUseUs: extraction.trivial.childFirstUseUs,
      savedUsPerDoc: saveUs,
      // Two ceilings: the slots (C documents in flight, each shorter by saveUs) and the
      // CPUs (the extraction children's CPU per document replaced by the extraction's own
      // time in the child less its first-use cost: wall time, so no less than its CPU).
      slotBoundDocsPerSec: (summary.docsPerSec * s.jobUs) / Math.max(s.jobUs - saveUs, 1),
    };
    const pooledExtractMs = ms(Math.max(s.phasesUs.extract - Math.max(extraction.trivial.childFirstUseUs, 0), 0));
    proposal.cpuMsPerDocWithPool = summary.cpuMsPerDocTotal - summary.cpuMsPerDoc.extractionChildren + pooledExtractMs;
    proposal.cpuSavedMsPerDoc = summary.cpuMsPerDocTotal - proposal.cpuMsPerDocWithPool;
    proposal.cpuBoundDocsPerSec = (CORES * 1000) / Math.max(proposal.cpuMsPerDocWithPool, 0.001);
    proposal.estimatedDocsPerSecWithPool = Math.min(proposal.slotBoundDocsPerSec, proposal.cpuBoundDocsPerSec);
    if (pool) {
      proposal.measuredWithPool = { docsPerSec: pool.summary.docsPerSec, cpuMsPerDoc: pool.summary.cpuMsPerDocTotal, sandboxShare: pool.split?.sandboxShare };
    }
    console.log(`\nsandbox (spawn): start + finish ${fmt(ms(proposal.sandboxUsPerDoc), 2)} ms per document against ${fmt(ms(s.phasesUs.extract), 2)} ms of extraction ` +
      `(${fmt(100 * s.sandboxShare, 0)} % of the two); on a trivial file the child costs ${fmt(ms(extraction.trivial.overheadUs), 2)} ms more than extracting in process, ` +
      `a pooled child ${fmt(ms(extraction.trivial.pooledUs - extraction.trivial.inprocessUs), 2)} ms.`);
    console.log(dominates
      ? `spawning dominates. Estimate for children that stay: up to ${fmt(ms(saveUs), 1)} ms and ${fmt(proposal.cpuSavedMsPerDoc, 1)} CPU ms saved per document, ` +
        `at most ~${fmt(proposal.estimatedDocsPerSecWithPool, 0)} docs/s (the lower of the slots' ~${fmt(proposal.slotBoundDocsPerSec, 0)} and the CPUs' ` +
        `~${fmt(proposal.cpuBoundDocsPerSec, 0)}).` +
        (pool ? ` Measured with --documents-per-extractor ${opts.poolDocuments}: ${fmt(pool.summary.docsPerSec, 0)} docs/s against ${fmt(summary.docsPerSec, 0)} ` +
          `(${fmtX(pool.summary.docsPerSec / summary.docsPerSec)}), ${fmt(pool.summary.cpuMsPerDocTotal, 1)} CPU ms per document against ${fmt(summary.cpuMsPerDocTotal, 1)}.`
          : ' (--no-pool: the pool was not measured.)')
      : 'spawning does not dominate the extraction here.');
  }
  console.log('\nnotes: docs/s = N / (last finishedOn − first processedOn) of the process-file jobs; per core = ÷ the CPUs of the machine ' +
    '(worker, its children, PostgreSQL and Redis share them); the split is the processor\'s own timing_us of each completed job ' +
    '(steady clock, µs); CPU from /proc (ticks) and Redis INFO, resume to the last document. The machine is shared: figures move ±20 % and more.');

  const resultsPath = writeResults(opts.out, 'pipeline', {
    redisVersion: redisInfo.redis_version,
    loadavgAtStart,
    binary: opts.binary,
    startedAt,
    config: { documents: opts.documents, seed: opts.seed, repeats: opts.repeats, concurrency: CONCURRENCY, configs: CONFIGS.map((c) => c.name), poolDocuments: opts.poolDocuments, cores: CORES, extractRepeats: opts.extractRepeats, pdfFiles: opts.pdfFiles, binary: opts.binary, nativeArgs: opts.nativeArgs, pdftotext: pdftotextVersion },
    corpus: { documents: corpus.length, bytes: sum(corpus.map((d) => d.bytes)), files: corpus },
    byConfig: Object.fromEntries(Object.entries(byConfig).map(([name, c]) => [name, { title: c.config.title, args: c.config.args, summary: c.summary, split: c.split, splitByKind: c.byKind }])),
    extraction: extraction ? { trivial: extraction.trivial, pdf: extraction.pdfRows, comparisons: pdf, raw: extraction.raw } : null,
    sandboxProposal: proposal,
    targets,
    runs: runs.map(({ docs, ...r }) => ({ ...r, docs })),
    broken: broken ? String(broken.message) : null,
  });
  console.log(`bench pipeline: results written to ${resultsPath}; worker logs in ${opts.logs}`);
  await db.end().catch(() => {});
  await admin.quit();
  rmSync(work, { recursive: true, force: true });
  process.exit(broken ? 1 : 0);
}

runScenario('pipeline', main);
