// End to end: the backend's producer (scripts/producer.mjs, official bullmq)
// creates two batches of mixed documents, plainly and as a flow, and
// `bullmq-worker run --processors files` turns them into the rows of
// processing_jobs, file_extractions and run_summaries in a real PostgreSQL 15,
// with a real Redis. Every server and process started here is stopped by pid
// in after(); every wait is bounded.
//
// Needs: build/bullmq-worker, `npm ci` in scripts/node and tests/interop,
// redis-server and postgresql 15 (scripts/install-deps.sh).
// Run: node --test tests/e2e/pipeline.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { WorkerProcess, runCommand, waitFor } from '../interop/lib/harness.mjs';
import { mixedUpload } from '../../scripts/lib/documents.mjs';
import { buildZip } from '../../scripts/lib/zip.mjs';
import { repoRoot, startPipelineEnv } from './lib/pipeline-env.mjs';

const producerScript = path.join(repoRoot, 'scripts', 'producer.mjs');

const FINAL = ['completed', 'completed_with_errors', 'failed'];

// Runs the producer CLI to completion (bounded).
function runProducer(args, { timeout = 30000 } = {}) {
  return runCommand(process.execPath, [producerScript, ...args], { timeout });
}

function wordsOf(text) {
  return text.split(/\s+/).filter(Boolean).length;
}

describe('document pipeline end to end', { timeout: 90000 }, () => {
  let redis;
  let postgres;
  let databaseUrl;
  let db;
  let queue;
  let worker;
  let workerLines; // kept for E2E_WORKER_LOG=file (debugging)
  let work;
  let storage;
  let zipFile;
  const queueName = `e2e-files-${randomBytes(4).toString('hex')}`;
  const upload = mixedUpload();
  const batches = {}; // plain / flow -> producer output

  const query = async (sql, params = []) => (await db.query(sql, params)).rows;

  function producerArgs(extra) {
    return ['--zip', zipFile, '--redis', redis.url, '--database-url', databaseUrl, '--storage', storage,
      '--queue', queueName, ...extra];
  }

  function workerDiagnostics() {
    if (!worker) return '';
    const tail = worker.lines.slice(-40).map((l) => JSON.stringify(l)).join('\n');
    return `\n--- last worker log lines:\n${tail}`;
  }

  let env;

  before(async () => {
    env = await startPipelineEnv({ tag: 'e2e', queueName, upload });
    ({ redis, postgres, databaseUrl, db, queue, work, storage, zipFile } = env);
  });

  after(async () => {
    await env?.stop([
      () => worker?.stop(15000),
      () => {
        if (process.env.E2E_WORKER_LOG && workerLines) {
          writeFileSync(process.env.E2E_WORKER_LOG, workerLines.map((l) => JSON.stringify(l)).join('\n'));
        }
      },
    ]);
  });

  test('the producer refuses an upload whose entries escape the storage folder', async () => {
    const evil = path.join(work, 'evil.zip');
    writeFileSync(evil, buildZip([
      { name: 'ok.txt', data: 'fine' },
      { name: '../../escaped.txt', data: 'should never be written' },
    ]));
    const runId = `evil-${randomBytes(4).toString('hex')}`;
    const r = await runProducer(['--zip', evil, '--redis', redis.url, '--database-url', databaseUrl,
      '--storage', storage, '--queue', queueName, '--run-id', runId]);
    assert.equal(r.code, 1, `expected a refusal, got ${r.code}: ${r.stdout} ${r.stderr}`);
    assert.match(r.stderr, /invalid relative path|escapes the upload folder/);
    assert.equal(existsSync(path.join(storage, runId)), false, 'the partial extraction is removed');
    assert.equal(existsSync(path.join(work, 'escaped.txt')), false);
    assert.equal(existsSync(path.join(path.dirname(work), 'escaped.txt')), false);
    assert.deepEqual(await query('SELECT * FROM processing_jobs WHERE run_id = $1', [runId]), []);
    assert.equal(await queue.count(), 0, 'nothing was enqueued');
  });

  test('the producer needs a migrated database and says so', async () => {
    const bare = await postgres.createDatabase('bare');
    const r = await runProducer(['--zip', zipFile, '--redis', redis.url, '--database-url', bare,
      '--storage', storage, '--queue', queueName]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bullmq-worker migrate/);
    assert.equal(await queue.count(), 0);
  });

  test('the producer creates the batches and enqueues plain jobs and a flow', async () => {
    for (const mode of ['plain', 'flow']) {
      const r = await runProducer(producerArgs(mode === 'flow' ? ['--flow'] : []));
      assert.equal(r.code, 0, `producer (${mode}) failed: ${r.stderr}`);
      const out = JSON.parse(r.stdout.trim());
      assert.equal(out.files, upload.length);
      assert.equal(out.jobs, upload.length + 1);
      assert.equal(out.flow, mode === 'flow');
      batches[mode] = out;

      const [batch] = await query('SELECT * FROM processing_jobs WHERE batch_id = $1', [out.batch_id]);
      assert.equal(batch.run_id, out.run_id);
      assert.equal(batch.status, 'queued');
      assert.equal(batch.total_files, upload.length);
      assert.equal(batch.zip_path, zipFile);
      assert.match(batch.id, /^[0-9a-f-]{36}$/);

      const rows = await query('SELECT * FROM file_extractions WHERE run_id = $1 ORDER BY file_path', [out.run_id]);
      assert.deepEqual(rows.map((r) => r.file_path), upload.map((f) => `${out.run_id}/${f.path}`).sort());
      for (const row of rows) {
        assert.equal(row.status, 'pending');
        assert.equal(row.file_name, path.basename(row.file_path));
        const original = upload.find((f) => `${out.run_id}/${f.path}` === row.file_path);
        assert.deepEqual(readFileSync(path.join(storage, row.file_path)), original.data, `${row.file_path} extracted intact`);
        const job = await queue.getJob(`file-${row.doc_id}`);
        assert.ok(job, `process-file job for ${row.file_path}`);
        assert.equal(job.name, 'process-file');
        assert.equal(job.data.doc_id, row.doc_id);
        assert.equal(job.opts.attempts, 3);
        assert.deepEqual(job.opts.backoff, { type: 'exponential', delay: 1000 });
        if (mode === 'flow') {
          assert.equal(job.opts.ignoreDependencyOnFailure, true);
          assert.equal(job.parent?.id, out.aggregate_job_id);
        }
      }
      const aggregate = await queue.getJob(out.aggregate_job_id);
      assert.equal(aggregate.name, 'aggregate-batch');
      assert.deepEqual(aggregate.data, { batch_id: out.batch_id });
      assert.equal(await aggregate.getState(), mode === 'flow' ? 'waiting-children' : 'waiting');
    }
  });

  test('bullmq-worker processes both batches into the three tables', async () => {
    assert.ok(batches.plain && batches.flow, 'the producer test ran first');
    worker = WorkerProcess.start([
      'run', '--processors', 'files', '--queue', queueName, '--concurrency', '4',
      '--redis', redis.url, '--database-url', databaseUrl, '--storage-base-path', storage,
    ], { env: { LOG_LEVEL: 'info' } });
    workerLines = worker.lines;

    const runIds = [batches.plain.run_id, batches.flow.run_id];
    await waitFor(async () => {
      if (worker.process.exitCode !== null) throw new Error(`worker exited: ${worker.stderrText.slice(-2000)}`);
      const rows = await query('SELECT status FROM processing_jobs WHERE run_id = ANY($1)', [runIds]);
      return rows.length === 2 && rows.every((r) => FINAL.includes(r.status));
    }, { timeout: 45000, interval: 250, what: 'both batches to finish' }).catch((err) => {
      err.message += workerDiagnostics();
      throw err;
    });

    for (const mode of ['plain', 'flow']) {
      const out = batches[mode];
      const [batch] = await query('SELECT *, completed_at >= created_at AS ordered FROM processing_jobs WHERE batch_id = $1', [out.batch_id]);
      assert.equal(batch.status, 'completed_with_errors', `${mode} batch status`);
      assert.ok(batch.completed_at instanceof Date, `${mode} batch completed_at`);
      assert.equal(batch.ordered, true);
      assert.equal(batch.error_message, `1 of ${upload.length} files failed`);

      const rows = await query('SELECT * FROM file_extractions WHERE run_id = $1', [out.run_id]);
      assert.equal(rows.length, upload.length);
      for (const file of upload) {
        const row = rows.find((r) => r.file_path === `${out.run_id}/${file.path}`);
        const where = `${mode} ${file.path}`;
        const { expect } = file;
        assert.equal(row.status, expect.status, `${where}: ${row.error_type} ${row.error_message}`);
        assert.ok(row.retry_count >= 0 && row.retry_count <= 2, `${where} retry_count ${row.retry_count}`);
        assert.ok(row.processing_started_at instanceof Date, `${where} processing_started_at`);
        if (expect.status === 'failed') {
          assert.equal(row.error_type, expect.error_type, where);
          assert.match(row.error_message, /damaged|unreadable|corrupt/i, where);
          assert.equal(row.retry_count, 0, `${where}: a permanent error is not retried`);
          assert.equal(row.raw_extraction, null);
          continue;
        }
        assert.equal(row.error_type, null, where);
        assert.ok(row.processing_completed_at instanceof Date, where);
        assert.ok(row.processing_duration_ms >= 0, where);
        const raw = row.raw_extraction;
        assert.equal(raw.kind, expect.kind, where);
        assert.equal(raw.size_bytes, file.data.length, where);
        assert.match(raw.sha256, /^[0-9a-f]{64}$/, where);
        assert.equal(raw.truncated, false, where);
        assert.ok(raw.extractor?.name && raw.extractor?.version, `${where} extractor name and version`);
        if (expect.kind === 'pdf') {
          assert.equal(raw.mime_type, 'application/pdf');
          assert.equal(raw.pages, expect.pages, where);
          assert.equal(raw.page_texts.length, expect.pages, where);
          assert.match(raw.page_texts[0], new RegExp(expect.contains));
          assert.equal(raw.metadata?.title, 'E2E fixture');
        } else if (expect.kind === 'docx') {
          assert.equal(raw.paragraph_count, expect.paragraphs, where);
          assert.ok(raw.paragraphs.includes(expect.contains), where);
        } else if (expect.kind === 'xlsx') {
          assert.deepEqual(raw.sheets.map((s) => s.name), expect.sheets, where);
          const sales = raw.sheets[0];
          assert.equal(sales.rows, 3);
          assert.equal(sales.columns, 2);
          assert.deepEqual(sales.preview[1], ['North', '120']);
        } else {
          const text = file.data.toString('utf8');
          assert.equal(raw.format, expect.format, where);
          assert.equal(raw.text, text, where);
          assert.equal(raw.words, wordsOf(text), where);
          if (expect.contains) assert.ok(raw.text.includes(expect.contains), where);
          if (expect.format === 'csv') assert.deepEqual(raw.csv.header, ['id', 'name', 'city']);
        }
      }

      const [summary] = await query('SELECT * FROM run_summaries WHERE run_id = $1', [out.run_id]);
      assert.ok(summary, `${mode} run_summaries row`);
      assert.equal(summary.file_count, upload.length);
      assert.equal(summary.success_count, upload.length - 1);
      assert.equal(summary.error_count, 1);
      const ui = summary.ui_json;
      assert.equal(ui.batch.batch_id, out.batch_id);
      assert.equal(ui.batch.status, 'completed_with_errors');
      assert.equal(ui.files.length, upload.length);
      const corrupt = ui.files.find((f) => f.name === 'truncated.pdf');
      assert.equal(corrupt.status, 'failed');
      assert.equal(corrupt.error_type, 'corrupt');
      assert.equal(corrupt.folder, 'broken', 'folders are relative to the batch');
      assert.equal(corrupt.path, `${out.run_id}/broken/truncated.pdf`);
      const pdfRow = ui.files.find((f) => f.name === 'q1-report.pdf');
      assert.equal(pdfRow.type, 'pdf');
      assert.equal(pdfRow.pages, 2);
      if (mode === 'flow') {
        assert.equal(ui.flow?.children_completed, upload.length - 1, 'flow parent saw its children');
        assert.equal(ui.flow?.children_failed, 1);
        assert.match(ui.flow.failures[0].reason, /corrupt/);
      }

      // The batch's folder tree (its storage folder <run_id>/ is the root):
      // reports/2024, data, notes/deep/nested, broken.
      const tree = summary.nested_summary.tree;
      assert.equal(tree.file_count, upload.length);
      assert.equal(tree.by_status.completed, upload.length - 1);
      assert.equal(tree.by_status.failed, 1);
      const folder = (node, name) => node.folders.find((f) => f.name === name);
      assert.deepEqual(tree.folders.map((f) => f.name).sort(), ['broken', 'data', 'notes', 'reports']);
      assert.equal(folder(tree, 'reports').file_count, 2);
      assert.equal(folder(folder(tree, 'reports'), '2024').files[0].name, 'q1-report.pdf');
      assert.equal(folder(tree, 'data').by_type.xlsx, 1);
      assert.equal(folder(tree, 'broken').by_status.failed, 1);
      const nested = folder(folder(folder(tree, 'notes'), 'deep'), 'nested');
      assert.equal(nested.path, 'notes/deep/nested');
      assert.equal(nested.files[0].name, 'plan.md');

      // BullMQ's view of the same batch.
      const aggregate = await queue.getJob(out.aggregate_job_id);
      assert.equal(await aggregate.getState(), 'completed', `${mode} aggregate job`);
      assert.equal(aggregate.returnvalue.status, 'completed_with_errors');
      assert.equal(aggregate.returnvalue.error_count, 1);
      // Waiting for unfinished files (moved back to delayed) spends no attempt.
      assert.ok(aggregate.attemptsMade <= 1, `${mode} aggregate attemptsMade ${aggregate.attemptsMade}`);
      assert.equal(aggregate.failedReason ?? '', '');
      const corruptRow = rows.find((r) => r.file_name === 'truncated.pdf');
      const corruptJob = await queue.getJob(`file-${corruptRow.doc_id}`);
      assert.equal(await corruptJob.getState(), 'failed');
      assert.equal(corruptJob.attemptsMade, 1, 'unrecoverable: no retries');
      assert.match(corruptJob.failedReason, /corrupt/);
      if (mode === 'flow') {
        const ignored = await aggregate.getIgnoredChildrenFailures();
        assert.equal(Object.keys(ignored).length, 1);
      }
    }
  });

  test('re-enqueueing the aggregation gives the same summary', async () => {
    assert.ok(worker, 'the worker runs');
    const summaryOf = async (runId) => {
      const [s] = await query(
        `SELECT s.ui_json, s.nested_summary, s.file_count, s.success_count, s.error_count,
                j.status, j.completed_at, j.error_message
           FROM run_summaries s JOIN processing_jobs j USING (run_id) WHERE run_id = $1`, [runId]);
      return s;
    };
    for (const mode of ['plain', 'flow']) {
      const out = batches[mode];
      const before = await summaryOf(out.run_id);
      assert.ok(before, `${mode} has a summary`);
      const job = await queue.add('aggregate-batch', { batch_id: out.batch_id }, { jobId: `again-${out.batch_id}` });
      await waitFor(async () => ['completed', 'failed'].includes(await job.getState()),
        { timeout: 15000, interval: 100, what: `re-run of ${mode} aggregation` });
      const done = await queue.getJob(job.id);
      assert.equal(await done.getState(), 'completed', done.failedReason);
      assert.equal(done.returnvalue.status, 'completed_with_errors');
      const again = await summaryOf(out.run_id);
      if (mode === 'flow') {
        // A plain re-run has no children to read: the flow section (a record
        // of what the flow parent saw) is the only part that may differ.
        delete before.ui_json.flow;
        delete again.ui_json.flow;
      }
      assert.deepEqual(again, before, `${mode}: the summary is unchanged`);
    }
  });

  test('a path that escapes the storage root fails at once with path_escape', async () => {
    assert.ok(worker, 'the worker runs');
    const runId = `escape-${randomBytes(4).toString('hex')}`;
    const docs = { up: randomUUID(), absolute: randomUUID() };
    await query(`INSERT INTO processing_jobs (id, batch_id, run_id, total_files, status)
                 VALUES ($1, $2, $3, 2, 'queued')`, [randomUUID(), `batch-${runId}`, runId]);
    await query(`INSERT INTO file_extractions (doc_id, run_id, file_path, file_name) VALUES
                 ($1, $3, '../../etc/passwd', 'passwd'), ($2, $3, '/etc/passwd', 'passwd')`,
    [docs.up, docs.absolute, runId]);
    const jobs = await Promise.all(Object.values(docs).map((docId) => queue.add('process-file', { doc_id: docId },
      { jobId: `escape-${docId}`, attempts: 3, backoff: { type: 'exponential', delay: 1000 } })));
    for (const job of jobs) {
      await waitFor(async () => (await job.getState()) === 'failed',
        { timeout: 15000, interval: 100, what: `path-escape job ${job.id} to fail` });
      const failed = await queue.getJob(job.id);
      assert.equal(failed.attemptsMade, 1, 'no retries');
      assert.match(failed.failedReason, /path_escape/);
    }
    const rows = await query('SELECT * FROM file_extractions WHERE run_id = $1', [runId]);
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.equal(row.status, 'failed', row.file_path);
      assert.equal(row.error_type, 'path_escape', row.file_path);
      assert.equal(row.retry_count, 0);
      assert.equal(row.raw_extraction, null);
    }
  });

  test('a file job for a document already completed does not process it again', async () => {
    assert.ok(worker, 'the worker runs');
    const [row] = await query(
      "SELECT * FROM file_extractions WHERE run_id = $1 AND file_name = 'summary.docx'", [batches.plain.run_id]);
    assert.equal(row.status, 'completed');
    const job = await queue.add('process-file', { doc_id: row.doc_id }, { jobId: `again-${row.doc_id}` });
    await waitFor(async () => ['completed', 'failed'].includes(await job.getState()),
      { timeout: 15000, interval: 100, what: 'the repeated process-file job' });
    const done = await queue.getJob(job.id);
    assert.equal(await done.getState(), 'completed', done.failedReason);
    assert.match(done.returnvalue.note, /already completed/);
    assert.equal(done.returnvalue.type, 'docx');
    const [after] = await query('SELECT * FROM file_extractions WHERE doc_id = $1', [row.doc_id]);
    assert.deepEqual(after, row, 'the row is untouched');
  });

  test('an aggregation whose files never finish waits without spending attempts, then times out', async () => {
    assert.ok(worker, 'the worker runs');
    // Created 1797 s ago: the default BATCH_PROCESSING_TIMEOUT (1800 s) passes
    // after a few rounds of waiting; the file's job is never enqueued.
    const runId = `stuck-${randomBytes(4).toString('hex')}`;
    const batchId = `batch-${runId}`;
    await query(`INSERT INTO processing_jobs (id, batch_id, run_id, total_files, status, created_at)
                 VALUES ($1, $2, $3, 2, 'queued', now() - interval '1797 seconds')`, [randomUUID(), batchId, runId]);
    await query(`INSERT INTO file_extractions (doc_id, run_id, file_path, file_name)
                 VALUES ($1, $2, $3, 'never.txt')`, [randomUUID(), runId, `${runId}/never.txt`]);
    const job = await queue.add('aggregate-batch', { batch_id: batchId },
      { jobId: `stuck-${batchId}`, attempts: 3, backoff: { type: 'exponential', delay: 1000 } });
    await waitFor(async () => ['completed', 'failed'].includes(await job.getState()),
      { timeout: 20000, interval: 100, what: 'the stuck aggregation to time out' });
    const done = await queue.getJob(job.id);
    assert.equal(await done.getState(), 'failed');
    assert.match(done.failedReason, /batch_timeout/);
    assert.equal(done.attemptsMade, 1, 'waiting spent no attempt; the timeout is not retried');
    assert.ok(done.data.wait_rounds >= 1, `it waited before giving up (wait_rounds ${done.data.wait_rounds})`);
    const [batch] = await query('SELECT * FROM processing_jobs WHERE batch_id = $1', [batchId]);
    assert.equal(batch.status, 'failed');
    assert.match(batch.error_message, /timed out/);
    assert.match(batch.error_message, /2 files unfinished|of 2 files/);
    assert.ok(batch.completed_at instanceof Date);
    const [summary] = await query('SELECT * FROM run_summaries WHERE run_id = $1', [runId]);
    assert.equal(summary?.file_count, 1);
    assert.equal(summary.success_count, 0);
    assert.equal(summary.ui_json.batch.unfinished_count, 2, 'one pending row and one missing row');
  });

  test('the worker logged no crash and stops cleanly on SIGTERM', async () => {
    assert.ok(worker, 'the worker runs');
    const result = await worker.stop(15000);
    assert.deepEqual(result, { code: 0, signal: null }, worker.stderrText.slice(-2000));
    const fatal = worker.lines.filter((l) => l.level === 'fatal' || /panic|terminate called/i.test(l.raw ?? ''));
    assert.deepEqual(fatal, []);
    worker = undefined;
  });
});
