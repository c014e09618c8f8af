#!/usr/bin/env node
// The chaos suite's driver (run it through tests/chaos/run.sh). Runs the
// scenarios one after the other, prints a table of their figures and the list
// of checks, writes .out/report.json, and exits non-zero when a check failed.
//
//   node chaos.mjs [--short|--full] [--scenario conformance|pipeline|sentinel|all]
//                  [--seed N] [--out DIR] [--bin PATH]
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runConformance } from './scenarios/conformance.mjs';
import { runPipeline } from './scenarios/pipeline.mjs';
import { runSentinel } from './scenarios/sentinel.mjs';
import { run } from './lib/servers.mjs';
import { abortRun, fmtMs, setPidFile, stopAll } from './lib/util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

const { values: v } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
    scenario: { type: 'string', default: 'all' },
    seed: { type: 'string' },
    out: { type: 'string', default: path.join(here, '.out') },
    bin: { type: 'string', default: process.env.BULLMQ_WORKER_BIN ?? path.join(repoRoot, 'build', 'bullmq-worker') },
  },
});
const mode = v.full ? 'full' : 'short';
const seed = v.seed !== undefined ? Number(v.seed) : Math.floor(Math.random() * 1e6);
const scenarios = v.scenario === 'all' ? ['conformance', 'pipeline', 'sentinel'] : v.scenario.split(',');
const outDir = path.resolve(v.out);
const sourceBinary = path.resolve(v.bin);

function log(msg) {
  process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${msg}\n`);
}

const cleanup = [];
async function runCleanup() {
  for (const fn of cleanup.splice(0).reverse()) {
    try {
      await Promise.race([fn(), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    } catch {
      // best effort: the processes below are stopped by pid regardless
    }
  }
  await stopAll();
}

// A chaos loop that fails after its scenario moved on must not kill the
// driver before it has stopped what it started: record it, fail the run.
const internalErrors = [];
process.on('unhandledRejection', (err) => {
  internalErrors.push(String(err?.stack ?? err));
  log(`internal error (the run will fail): ${err?.stack ?? err}`);
});

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    if (interrupted) return;
    interrupted = true;
    abortRun();
    log(`${sig}: stopping every process this run started`);
    await runCleanup();
    process.exit(130);
  });
}

const FIGURE_LABELS = [
  ['jobs_added', 'jobs added'],
  ['batches', 'batches'],
  ['documents', 'documents'],
  ['jobs', 'jobs'],
  ['completed', 'completed'],
  ['failed', 'failed'],
  ['failed_planned', '  planned failures (fail, fail-unrecoverable)'],
  ['failed_corrupt_planned', '  planned failures (corrupt documents)'],
  ['failed_stall_limit', '  failed: stalled more than maxStalledCount'],
  ['failed_unexpected', '  other failures'],
  ['failed_database_unavailable', '  failed with database_unavailable'],
  ['lost', 'LOST'],
  ['completed_twice', 'COMPLETED TWICE'],
  ['finished_twice', 'finished twice (completed/failed)'],
  ['stuck', 'STUCK'],
  ['wrong_results', 'wrong results'],
  ['attempts_spent', 'ATTEMPTS SPENT BY A FAILOVER'],
  ['outcome_lines_missing', 'OUTCOME LOG LINES MISSING'],
  ['outcome_lines_retracted', 'outcome lines retracted (job.outcome_rejected)'],
  ['duplicate_rows', 'DUPLICATE ROWS'],
  ['missing_rows', 'MISSING ROWS'],
  ['files_with_wrong_outcome', 'files with a wrong outcome'],
  ['batches_not_final', 'batches not final'],
  ['batches_without_summary', 'BATCHES WITHOUT SUMMARY'],
  ['summaries_with_wrong_counts', 'summaries with wrong counts'],
  ['failovers', 'Sentinel failovers'],
  ['failovers_coordinated', '  coordinated (SENTINEL FAILOVER)'],
  ['failovers_after_master_kill', '  automatic, after a SIGKILL of the master'],
  ['failovers_unplanned', '  started by the sentinels on their own'],
  ['first_completion_after_promotion_median_ms', '  first completion on the new master after the promotion (median)'],
  ['first_completion_after_promotion_max_ms', '  first completion on the new master after the promotion (max)'],
  ['workers_on_new_master_max_ms', '  every live worker on the new master after the promotion (max)'],
  ['workers_not_following', 'WORKERS NOT ON THE NEW MASTER'],
  ['adds_lost_in_failover', 'producer adds thrown away by a demoted master (re-added)'],
  ['jobs_started_twice', 'jobs started twice (an attempt claimed again)'],
  ['jobs_recovered_after_stall', 'jobs recovered after a stall'],
  ['stalled_events', 'stalled events'],
  ['lock_lost_lines', 'job.lock_lost(_finishing) log lines'],
  ['frozen_jobs', 'jobs held by the frozen worker'],
  ['frozen_jobs_taken_over', '  taken over by the others'],
  ['frozen_jobs_noticed', '  lock loss logged by it after SIGCONT'],
  ['jobs_with_more_than_one_attempt', 'jobs with more than one attempt'],
  ['max_attempts_made', 'max attemptsMade'],
  ['worker_kills', 'worker SIGKILLs'],
  ['worker_processes', 'worker processes (incl. restarts)'],
  ['redis_restarts', 'Redis kills + restarts'],
  ['sentinel_kills', 'sentinel SIGKILLs + restarts'],
  ['freezes', 'worker SIGSTOP freezes'],
  ['postgres_outage_ms', 'PostgreSQL outage'],
  ['jobs_deferred_lines', 'job.deferred log lines'],
  ['claims_during_outage', 'claims in the outage (after its first 5 s)'],
  ['queue_at_outage_end', 'queue at the end of the outage'],
  ['readyz_503_during_outage', '/readyz 503 during outage (answers)'],
  ['unexpected_worker_exits', 'workers that exited on their own'],
  ['unclean_sigterm_stops', 'unclean SIGTERM stops'],
  ['events_read', 'events in the stream'],
  ['events_trimmed', 'events trimmed'],
  ['settle_ms', 'settle time after the chaos'],
  ['processing_ms', 'time until the workers stopped'],
  ['wall_ms', 'wall time'],
];

function printTable(results) {
  const cols = results.map((r) => r.name);
  const rows = [];
  for (const [key, label] of FIGURE_LABELS) {
    if (!results.some((r) => r.figures && key in r.figures)) continue;
    rows.push([label, ...results.map((r) => {
      const x = r.figures?.[key];
      if (x === undefined || x === null) return '-';
      return /_ms$/.test(key) ? fmtMs(x) : String(x);
    })]);
  }
  const width = [Math.max(...rows.map((r) => r[0].length), 6), ...cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i + 1].length)))];
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ');
  process.stdout.write(`\n${line(['', ...cols])}\n${width.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
}

async function main() {
  if (!existsSync(sourceBinary)) {
    process.stderr.write(`chaos: no worker binary at ${sourceBinary} (build it, or pass --bin / BULLMQ_WORKER_BIN)\n`);
    return 2;
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  setPidFile(path.join(outDir, 'pids'));
  // Run a copy (with its files plugin beside it): a rebuild of the build
  // folder during a long run must not swap the binary between restarts.
  const binDir = path.join(outDir, 'bin');
  mkdirSync(binDir);
  const binary = path.join(binDir, 'bullmq-worker');
  copyFileSync(sourceBinary, binary);
  chmodSync(binary, 0o755);
  const plugin = path.join(path.dirname(sourceBinary), 'bullmq-worker-files.so');
  if (existsSync(plugin)) copyFileSync(plugin, path.join(binDir, 'bullmq-worker-files.so'));
  const probe = await run([binary, '--version']).catch((err) => ({ code: 1, output: err.message }));
  if (probe.code !== 0) {
    process.stderr.write(`chaos: ${sourceBinary} --version failed (a build in progress?): ${probe.output}\n`);
    return 2;
  }
  const version = probe.output.trim().replace(/\s+/g, ' ');
  const built = statSync(sourceBinary).mtime.toISOString();
  log(`chaos suite: ${mode}, seed ${seed}, scenarios ${scenarios.join(', ')}, Node ${process.version}`);
  log(`worker: ${sourceBinary} (${version}, built ${built}), run from a copy in ${binDir}`);
  const started = Date.now();
  const results = [];
  for (const name of scenarios) {
    const fn = { conformance: runConformance, pipeline: runPipeline, sentinel: runSentinel }[name];
    if (!fn) {
      process.stderr.write(`chaos: unknown scenario ${name}\n`);
      return 2;
    }
    const scenarioStart = Date.now();
    try {
      results.push(await fn({ mode, binary, outDir, seed, log, cleanup }));
    } catch (err) {
      log(`${name}: the scenario could not run to its end: ${err.stack}`);
      results.push({
        name,
        figures: { wall_ms: Date.now() - scenarioStart },
        checks: [[`${name}: the scenario ran to its end`, false, err.message]],
        details: { error: err.stack },
      });
    }
    await runCleanup();
  }

  printTable(results);
  const checks = results.flatMap((r) => r.checks);
  checks.push(['the driver had no internal error', internalErrors.length === 0, internalErrors.slice(0, 3).join(' | ')]);
  process.stdout.write('\n');
  for (const [label, ok, detail] of checks) {
    process.stdout.write(`${ok ? 'PASS' : 'FAIL'}  ${label}${ok ? '' : `  (${detail})`}\n`);
  }
  const failed = checks.filter(([, ok]) => !ok).length;
  const passed = checks.length - failed;
  const report = {
    mode, seed, node: process.version, binary: sourceBinary, binary_version: version, binary_built: built, started_at: new Date(started).toISOString(),
    wall_ms: Date.now() - started,
    checks: checks.map(([label, ok, detail]) => ({ label, ok, detail })),
    scenarios: results,
  };
  const reportFile = path.join(outDir, 'report.json');
  writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\nreport: ${path.relative(process.cwd(), reportFile) || reportFile}; worker logs under ${outDir}\n`);
  process.stdout.write(`total wall time ${fmtMs(report.wall_ms)}\n`);
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  process.stderr.write(`chaos: ${err.stack}\n`);
} finally {
  abortRun();
  await runCleanup();
}
process.exit(code);
