// Bull Board in a real browser: jobs processed by `bullmq-worker run
// --processors conformance` render in Bull Board (scripts/bull-board.mjs,
// @bull-board/api's BullMQAdapter) with their data, return value, progress,
// logs, attempts, failed reason and stacktrace, and the worker shows in the
// queue's worker count. Headless Debian Chromium (/usr/bin/chromium) is
// driven by playwright-core; no browser is downloaded. A screenshot of the
// failed job's detail view is saved as a screenshot (BULL_BOARD_SCREENSHOT, e.g.
// docs/bull-board.png to refresh the README's; a temporary file otherwise).
//
// Needs: build/bullmq-worker, `npm ci` in scripts/node and tests/interop,
// redis-server and chromium (scripts/install-deps.sh). Skipped, with a
// message, only when /usr/bin/chromium is missing.
// Run: cd tests/e2e && node --test --test-concurrency=1 bull-board.test.mjs
//
// Every server and process started here is stopped by pid; every wait is
// bounded.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { RedisServer, WorkerProcess, freePort, waitFor } from '../interop/lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const boardScript = path.join(repoRoot, 'scripts', 'bull-board.mjs');
const screenshotPath = process.env.BULL_BOARD_SCREENSHOT ?? path.join(os.tmpdir(), `bull-board-${process.pid}.png`);
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: install Debian's chromium package (scripts/install-deps.sh) to run the Bull Board browser test`;

// The board's and the browser's packages are scripts/node's.
const requireScripts = createRequire(path.join(repoRoot, 'scripts', 'node', 'package.json'));

// Bull Board prints "attempt #N" in a job's heading only for ids longer than
// 8 characters (shorter ones are shown inline with the name), so the failing
// job gets a longer custom id.
const FAILING_JOB_ID = 'board-failing-job';
const FAIL_MESSAGE = 'board test: corrupt file';
const LOG_LINES = ['extracting page 1 of 2', 'extracting page 2 of 2'];
const ECHO_DATA = { greeting: 'hello from the board test', n: 7 };

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('Bull Board shows the jobs bullmq-worker processed', { skip, timeout: 60000 }, () => {
  let redis;
  let worker;
  let connection;
  let queue;
  let board; // { process, stdout, stderr, exited }
  let boardUrl;
  let context; // playwright persistent context
  let page;
  let userDataDir;
  const jobs = {};
  const queueName = 'file-processing'; // each run has its own Redis

  // Waits until `locator`'s text matches `pattern`; on timeout the error
  // carries the text last seen.
  async function expectText(locator, pattern, what, timeout = 10000) {
    let seen = '';
    try {
      await waitFor(async () => {
        seen = await locator.innerText({ timeout: 2000 });
        return pattern.test(seen);
      }, { timeout, interval: 100, what });
    } catch (err) {
      err.message += `\n--- text seen ---\n${seen}`;
      throw err;
    }
    return seen;
  }

  async function openJob(id) {
    await page.goto(`${boardUrl}queue/${encodeURIComponent(queueName)}/${encodeURIComponent(id)}`);
    const main = page.locator('main');
    // The job card is there once its timeline names the worker.
    await expectText(main, /by board-worker/, `job ${id}'s card`);
    return main;
  }

  async function openTab(name) {
    const tab = page.getByRole('tab', { name, exact: true });
    await tab.click({ timeout: 5000 });
    await waitFor(async () => (await tab.getAttribute('aria-selected')) === 'true', {
      timeout: 5000, what: `tab ${name} selected`,
    });
  }

  async function openQueueInfo() {
    await page.goto(`${boardUrl}queue/${encodeURIComponent(queueName)}`);
    await page.getByRole('button', { name: 'Queue info' }).click({ timeout: 10000 });
    return page.getByRole('dialog');
  }

  before(async () => {
    const { Queue } = requireScripts('bullmq');
    const { chromium } = requireScripts('playwright-core');

    redis = await RedisServer.start();
    worker = WorkerProcess.start([
      'run', '--queue', queueName, '--redis', redis.url, '--processors', 'conformance', '--name', 'board-worker',
    ]);
    connection = redis.client();
    queue = new Queue(queueName, { connection });

    jobs.echo = await queue.add('echo', ECHO_DATA);
    jobs.log = await queue.add('log', { lines: LOG_LINES });
    jobs.progress = await queue.add('progress', { steps: [17, 42] });
    jobs.fail = await queue.add('fail', { message: FAIL_MESSAGE }, { attempts: 2, jobId: FAILING_JOB_ID });

    const expected = { echo: 'completed', log: 'completed', progress: 'completed', fail: 'failed' };
    try {
      await waitFor(async () => {
        for (const [key, state] of Object.entries(expected)) {
          if ((await queue.getJobState(jobs[key].id)) !== state) return false;
        }
        return true;
      }, { timeout: 20000, interval: 50, what: 'the four jobs to finish' });
    } catch (err) {
      err.message += `\n--- worker log (tail) ---\n${worker.stderrText.slice(-3000)}`;
      throw err;
    }
    // What the board must show, as the official bullmq reads it back.
    const failed = await queue.getJob(FAILING_JOB_ID);
    assert.equal(failed.attemptsMade, 2);
    assert.equal(failed.failedReason, FAIL_MESSAGE);
    assert.equal(failed.stacktrace.length, 2);

    const port = await freePort();
    const child = spawn(process.execPath, [
      boardScript, '--queue', queueName, '--redis', redis.url, '--host', '127.0.0.1', '--port', String(port),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    board = { process: child, stdout: '', stderr: '' };
    board.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stdout.on('data', (c) => (board.stdout += c));
    child.stderr.on('data', (c) => (board.stderr += c));
    const printed = await waitFor(() => board.stdout.match(/Bull Board: (http:\S+)/), {
      timeout: 15000, what: `bull-board.mjs to print its URL (stderr: ${board.stderr})`,
    }).catch((err) => {
      err.message += `\n--- bull-board stderr ---\n${board.stderr}`;
      throw err;
    });
    boardUrl = printed[1];
    assert.equal(boardUrl, `http://127.0.0.1:${port}/`);

    userDataDir = mkdtempSync(path.join(os.tmpdir(), 'bullmq-worker-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 720 },
      timeout: 30000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(10000);
    page.setDefaultNavigationTimeout(15000);
  });

  after(async () => {
    if (context) await context.close().catch(() => {});
    if (board && board.process.exitCode === null && board.process.signalCode === null) {
      board.process.kill('SIGTERM');
      const timer = setTimeout(() => board.process.kill('SIGKILL'), 5000);
      await board.exited;
      clearTimeout(timer);
    }
    if (queue) await queue.close().catch(() => {});
    if (connection) connection.disconnect();
    if (worker) await worker.stop();
    if (redis) await redis.destroy();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  test('the queue lists its jobs and its worker', async () => {
    await page.goto(`${boardUrl}queue/${encodeURIComponent(queueName)}`);
    const main = page.locator('main');
    await expectText(main, /COMPLETED\s*3\b/, 'the completed count');
    await expectText(main, /FAILED\s*1\b/, 'the failed count');

    const info = await openQueueInfo();
    await expectText(info, /Workers\s*1\b/, 'one worker in the queue info');
  });

  test('a completed job shows its data and return value', async () => {
    const main = await openJob(jobs.echo.id);
    await expectText(main, /Finished at/, 'the finished time');
    await openTab('Data');
    const greeting = escapeRegExp(JSON.stringify(ECHO_DATA.greeting));
    await expectText(main, new RegExp(`jobData:\\s*\\{\\s*greeting:\\s*${greeting},\\s*n:\\s*7\\s*\\}`), 'the job data');
    await expectText(main, new RegExp(`returnValue:\\s*\\{\\s*greeting:\\s*${greeting},\\s*n:\\s*7\\s*\\}`), 'the return value');
  });

  test('a job\'s logs are listed', async () => {
    const main = await openJob(jobs.log.id);
    await openTab('Logs');
    await expectText(main, new RegExp(`${escapeRegExp(LOG_LINES[0])}\\s*${escapeRegExp(LOG_LINES[1])}`), 'both log lines in order');
    await openTab('Data');
    await expectText(main, /returnValue:\s*\{\s*logged:\s*2\s*\}/, 'the log job\'s return value');
  });

  test('a job\'s progress is shown', async () => {
    const main = await openJob(jobs.progress.id);
    await expectText(main, /\b42%/, 'the last progress (42%)');
    await openTab('Data');
    await expectText(main, /returnValue:\s*\{\s*steps:\s*2\s*\}/, 'the progress job\'s return value');
  });

  test('a failed job shows its failed reason, stacktrace and attempts', async () => {
    const main = await openJob(FAILING_JOB_ID);
    await expectText(main, /Failed at/, 'the failed time');
    await expectText(main, /attempt #2\b/, 'the attempts made');
    await openTab('Error');
    // One stacktrace entry per attempt, each carrying the failed reason.
    const entry = `std::runtime_error: ${escapeRegExp(FAIL_MESSAGE)}\\s*at processor 'fail' \\(bullmq-worker\\)`;
    await expectText(main, new RegExp(`${entry}\\s*${entry}`), 'two stacktrace entries with the failed reason');
    await openTab('Data');
    await expectText(main, new RegExp(`jobData:\\s*\\{\\s*message:\\s*${escapeRegExp(JSON.stringify(FAIL_MESSAGE))}`), 'the failed job\'s data');

    // The screenshot the README shows: the failed job's detail view.
    await openTab('Error');
    await expectText(main, /at processor 'fail'/, 'the stacktrace again');
    mkdirSync(path.dirname(screenshotPath), { recursive: true });
    await page.screenshot({ path: screenshotPath });
    assert.ok(existsSync(screenshotPath), `${screenshotPath} written`);
  });

  test('the worker count drops to none once the worker stops', async () => {
    const { code } = await worker.stop();
    assert.equal(code, 0, 'the worker exits cleanly on SIGTERM');
    const info = await openQueueInfo();
    await expectText(info, /Workers\s*No workers/, 'no workers in the queue info');
  });

  test('bull-board.mjs stops on SIGTERM', async () => {
    board.process.kill('SIGTERM');
    let timer;
    const result = await Promise.race([
      board.exited,
      new Promise((resolve) => { timer = setTimeout(() => resolve({ timeout: true }), 10000); }),
    ]);
    clearTimeout(timer);
    assert.deepEqual(result, { code: 0, signal: null }, `bull-board.mjs exit (stderr: ${board.stderr})`);
  });
});
