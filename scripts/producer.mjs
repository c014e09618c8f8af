#!/usr/bin/env node
// The backend's part of the document pipeline, as a tool: takes an upload (a
// ZIP, or a folder of files), creates the batch the way the backend does and
// enqueues the jobs bullmq-worker's `files` processors consume.
//
//   1. checks PostgreSQL (schema migrated by `bullmq-worker migrate`; this
//      script never runs migrations) and Redis;
//   2. extracts the upload into <storage>/<run_id>/, keeping its folders and
//      refusing entries that would escape that folder (absolute paths, `..`,
//      symbolic links) as well as oversized archives;
//   3. in one transaction: one processing_jobs row (new uuid id, batch_id,
//      run_id, zip_path, total_files, status queued) and one file_extractions
//      row per file (doc_id, run_id, file_path relative to the storage root,
//      file_name, status pending);
//   4. enqueues with the official bullmq package (attempts 3, exponential
//      backoff): one `process-file` {doc_id, run_id, file_path, file_name}
//      per file and one `aggregate-batch` {batch_id}; with --flow, as a
//      BullMQ flow whose parent is `aggregate-batch` and whose children are
//      the `process-file` jobs, added with ignoreDependencyOnFailure so a file
//      that fails for good does not block the summary;
//   5. prints one JSON line: {batch_id, run_id, files, jobs, ...}.
//
// Its packages live in scripts/node (install them once with
// `npm ci --prefix scripts/node`). Run `node scripts/producer.mjs --help`.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export { UsageError } from './lib/node-packages.mjs';
import { UsageError, loadPackage as load } from './lib/node-packages.mjs';

const HELP = `Usage: node scripts/producer.mjs (--zip FILE | --dir DIR) --redis URL --database-url URL --storage PATH [options]

Creates a batch of documents the way the backend does and enqueues the jobs
for bullmq-worker (processors "files").

  --zip FILE            the upload: a ZIP archive (folders are kept)
  --dir DIR             or a folder of files (copied; symbolic links are skipped)
  --redis URL           Redis, e.g. redis://127.0.0.1:6379 (env REDIS_URL)
  --database-url URL    PostgreSQL, migrated by \`bullmq-worker migrate\` (env DATABASE_URL)
  --storage PATH        storage root, the worker's --storage-base-path (env STORAGE_BASE_PATH)
  --queue NAME          queue name (default file-processing, env BULLMQ_QUEUE)
  --prefix PREFIX       BullMQ key prefix (default bull, env BULLMQ_PREFIX)
  --flow                enqueue as a flow: parent aggregate-batch, children process-file
  --batch-id ID         batch id (default: a new uuid)
  --run-id ID           run id, also the storage folder name (default: a new uuid)
  --attempts N          attempts per job (default 3)
  --backoff-delay MS    first delay of the exponential backoff (default 1000)
  --max-files N         refuse uploads with more files (default 10000)
  --max-bytes N         refuse uploads larger than this once extracted (default 1 GiB)
  -h, --help            this text

Prints one JSON line: {"batch_id","run_id","files","jobs","queue","flow",
"aggregate_job_id","storage_dir"}. Exit codes: 0 done, 1 failed, 2 usage.`;

export function parseOptions(argv, env = process.env) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        zip: { type: 'string' },
        dir: { type: 'string' },
        redis: { type: 'string' },
        'database-url': { type: 'string' },
        storage: { type: 'string' },
        queue: { type: 'string' },
        prefix: { type: 'string' },
        flow: { type: 'boolean', default: false },
        'batch-id': { type: 'string' },
        'run-id': { type: 'string' },
        attempts: { type: 'string' },
        'backoff-delay': { type: 'string' },
        'max-files': { type: 'string' },
        'max-bytes': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError(err.message);
  }
  const v = parsed.values;
  if (v.help) return { help: true };
  const int = (name, fallback, min) => {
    if (v[name] === undefined) return fallback;
    if (!/^\d+$/.test(v[name]) || Number(v[name]) < min) {
      throw new UsageError(`--${name}: expected an integer >= ${min}, got '${v[name]}'`);
    }
    return Number(v[name]);
  };
  const opts = {
    zip: v.zip,
    dir: v.dir,
    redis: v.redis ?? env.REDIS_URL,
    databaseUrl: v['database-url'] ?? env.DATABASE_URL,
    storage: v.storage ?? env.STORAGE_BASE_PATH,
    queue: v.queue ?? env.BULLMQ_QUEUE ?? 'file-processing',
    prefix: v.prefix ?? env.BULLMQ_PREFIX ?? 'bull',
    flow: v.flow,
    batchId: v['batch-id'] ?? randomUUID(),
    runId: v['run-id'] ?? randomUUID(),
    attempts: int('attempts', 3, 1),
    backoffDelay: int('backoff-delay', 1000, 0),
    maxFiles: int('max-files', 10000, 1),
    maxBytes: int('max-bytes', 1024 ** 3, 1),
  };
  if (!opts.zip === !opts.dir) throw new UsageError('give exactly one of --zip FILE or --dir DIR');
  for (const [flag, value] of [['--redis', opts.redis], ['--database-url', opts.databaseUrl], ['--storage', opts.storage]]) {
    if (!value) throw new UsageError(`${flag} is required`);
  }
  if (!opts.queue || opts.queue.includes(':')) throw new UsageError(`--queue: invalid queue name '${opts.queue}'`);
  for (const [flag, value] of [['--batch-id', opts.batchId], ['--run-id', opts.runId]]) {
    // The run id names a folder; both end up in job ids.
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(value)) {
      throw new UsageError(`${flag}: use letters, digits, '.', '_' and '-' only (got '${value}')`);
    }
  }
  return opts;
}

// Validates an archive entry's name and returns its path relative to the
// batch folder, with forward slashes; throws when it would escape the folder.
export function safeRelativePath(name) {
  const normalized = name.replace(/\\/g, '/');
  if (normalized.includes('\0')) throw new Error(`refusing entry with a NUL in its name: ${JSON.stringify(name)}`);
  if (normalized.startsWith('/') || /^[A-Za-z]:/.test(normalized)) {
    throw new Error(`refusing entry with an absolute path: ${JSON.stringify(name)}`);
  }
  const parts = normalized.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new Error(`refusing entry that escapes the upload folder: ${JSON.stringify(name)}`);
  return parts.join('/');
}

// Entries a backend ignores: folders and macOS resource forks.
function ignoredEntry(rel) {
  return rel === '' || rel.split('/')[0] === '__MACOSX';
}

function insideOf(root, candidate) {
  const rel = path.relative(root, candidate);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

async function writeEntryFile(dest, rel, readable) {
  const target = path.join(dest, ...rel.split('/'));
  if (!insideOf(dest, target)) throw new Error(`refusing entry outside the upload folder: ${rel}`);
  await fsp.mkdir(path.dirname(target), { recursive: true });
  // Refuse to write through a symbolic link that something else placed.
  await pipeline(readable, fs.createWriteStream(target, { flags: 'wx' }));
  return target;
}

// Extracts `zipFile` into `dest`; returns [{rel, size}] in archive order.
export function extractZip(zipFile, dest, { maxFiles, maxBytes }) {
  const yauzl = load('yauzl');
  return new Promise((resolve, reject) => {
    yauzl.open(zipFile, { lazyEntries: true, autoClose: true, validateEntrySizes: true, strictFileNames: false }, (err, zip) => {
      if (err) return reject(new Error(`cannot read ${zipFile} as a ZIP: ${err.message}`));
      const files = [];
      const seen = new Set();
      let total = 0;
      let failed = false;
      const fail = (e) => {
        if (failed) return;
        failed = true;
        zip.close();
        reject(e);
      };
      zip.on('error', (e) => fail(new Error(`refusing ${zipFile}: ${e.message}`)));
      zip.on('end', () => {
        if (!failed) resolve(files);
      });
      zip.on('entry', async (entry) => {
        try {
          const rel = safeRelativePath(entry.fileName);
          const unixMode = (entry.externalFileAttributes >>> 16) & 0o170000;
          const isDir = entry.fileName.endsWith('/') || unixMode === 0o040000;
          if (isDir || ignoredEntry(rel)) return zip.readEntry();
          if (unixMode === 0o120000) throw new Error(`refusing symbolic link entry: ${entry.fileName}`);
          if (seen.has(rel)) throw new Error(`refusing duplicate entry: ${entry.fileName}`);
          seen.add(rel);
          if (files.length + 1 > maxFiles) throw new Error(`the upload has more than ${maxFiles} files`);
          total += entry.uncompressedSize;
          if (total > maxBytes) throw new Error(`the upload is larger than ${maxBytes} bytes once extracted`);
          const stream = await new Promise((res, rej) => zip.openReadStream(entry, (e, s) => (e ? rej(e) : res(s))));
          await writeEntryFile(dest, rel, stream);
          files.push({ rel, size: entry.uncompressedSize });
          zip.readEntry();
        } catch (e) {
          fail(e);
        }
      });
      zip.readEntry();
    });
  });
}

// Copies the regular files under `src` into `dest`; returns [{rel, size}].
export async function copyDir(src, dest, { maxFiles, maxBytes }) {
  const files = [];
  let total = 0;
  async function walk(rel) {
    const entries = await fsp.readdir(path.join(src, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!ignoredEntry(childRel)) await walk(childRel);
      } else if (e.isFile()) {
        const size = (await fsp.stat(path.join(src, childRel))).size;
        if (files.length + 1 > maxFiles) throw new Error(`the upload has more than ${maxFiles} files`);
        total += size;
        if (total > maxBytes) throw new Error(`the upload is larger than ${maxBytes} bytes`);
        await writeEntryFile(dest, childRel, fs.createReadStream(path.join(src, childRel)));
        files.push({ rel: childRel, size });
      } else {
        process.stderr.write(`producer: skipping ${childRel} (not a regular file)\n`);
      }
    }
  }
  await walk('');
  return files;
}

function redisConnection(url) {
  const IORedis = load('ioredis');
  return new IORedis(url, {
    maxRetriesPerRequest: null,
    connectTimeout: 5000,
    // A tool, not a daemon: give up after a few tries instead of hanging.
    retryStrategy: (times) => (times > 5 ? null : Math.min(times * 200, 1000)),
  });
}

async function checkSchema(client) {
  const { rows } = await client.query(
    "SELECT to_regclass('processing_jobs') IS NOT NULL AS a, to_regclass('file_extractions') IS NOT NULL AS b",
  );
  if (!rows[0].a || !rows[0].b) {
    throw new Error('the database has no pipeline tables: run `bullmq-worker migrate --database-url …` first');
  }
}

async function insertBatch(client, { batchId, runId, zipPath, documents }) {
  await client.query('BEGIN');
  try {
    await client.query(
      `INSERT INTO processing_jobs (id, batch_id, run_id, zip_path, total_files, status)
       VALUES ($1, $2, $3, $4, $5, 'queued')`,
      [randomUUID(), batchId, runId, zipPath, documents.length],
    );
    for (const d of documents) {
      await client.query(
        `INSERT INTO file_extractions (id, doc_id, run_id, file_path, file_name, status)
         VALUES ($1, $2, $3, $4, $5, 'pending')`,
        [randomUUID(), d.doc_id, runId, d.file_path, d.file_name],
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

// Enqueues the batch's jobs; returns {jobs, aggregateJobId}.
async function enqueue(connection, opts, documents) {
  const { Queue, FlowProducer } = load('bullmq');
  const jobOpts = {
    attempts: opts.attempts,
    backoff: { type: 'exponential', delay: opts.backoffDelay },
  };
  const fileJob = (d) => ({
    name: 'process-file',
    data: { doc_id: d.doc_id, run_id: opts.runId, file_path: d.file_path, file_name: d.file_name },
    // Deterministic ids: enqueueing the same document twice is a no-op.
    opts: { ...jobOpts, jobId: `file-${d.doc_id}` },
  });
  const aggregateJobId = `aggregate-${opts.batchId}`;
  const aggregate = { name: 'aggregate-batch', data: { batch_id: opts.batchId } };
  if (opts.flow) {
    const flow = new FlowProducer({ connection, prefix: opts.prefix });
    try {
      await flow.add({
        ...aggregate,
        queueName: opts.queue,
        opts: { ...jobOpts, jobId: aggregateJobId },
        children: documents.map((d) => {
          const j = fileJob(d);
          return { ...j, queueName: opts.queue, opts: { ...j.opts, ignoreDependencyOnFailure: true } };
        }),
      });
    } finally {
      await flow.close();
    }
  } else {
    const queue = new Queue(opts.queue, { connection, prefix: opts.prefix });
    try {
      if (documents.length) await queue.addBulk(documents.map(fileJob));
      // The aggregation waits (delayed, no attempt spent) until the files finish.
      await queue.add(aggregate.name, aggregate.data, { ...jobOpts, jobId: aggregateJobId });
    } finally {
      await queue.close();
    }
  }
  return { jobs: documents.length + 1, aggregateJobId };
}

export async function produce(opts) {
  const pg = load('pg');
  const storageRoot = path.resolve(opts.storage);
  const source = path.resolve(opts.zip ?? opts.dir);
  if (!fs.existsSync(source)) throw new UsageError(`${opts.zip ? '--zip' : '--dir'}: ${source} does not exist`);
  const runDir = path.join(storageRoot, opts.runId);

  const client = new pg.Client({ connectionString: opts.databaseUrl, connectionTimeoutMillis: 10000 });
  const redis = redisConnection(opts.redis);
  redis.on('error', () => {}); // reported by the ping below
  let created = false;
  try {
    await client.connect().catch((err) => {
      throw new Error(`cannot connect to PostgreSQL: ${err.message}`);
    });
    await checkSchema(client);
    await redis.ping().catch((err) => {
      throw new Error(`Redis at ${opts.redis} is not reachable: ${err.message}`);
    });

    await fsp.mkdir(storageRoot, { recursive: true });
    // Run ids are new: never mix two uploads in one folder.
    await fsp.mkdir(runDir).catch((err) => {
      throw err.code === 'EEXIST' ? new Error(`the run folder ${runDir} already exists (run ids must be new)`) : err;
    });
    created = true;
    const limits = { maxFiles: opts.maxFiles, maxBytes: opts.maxBytes };
    const files = opts.zip ? await extractZip(source, runDir, limits) : await copyDir(source, runDir, limits);
    const documents = files.map((f) => ({
      doc_id: randomUUID(),
      file_path: `${opts.runId}/${f.rel}`,
      file_name: f.rel.split('/').pop(),
      size: f.size,
    }));

    await insertBatch(client, {
      batchId: opts.batchId,
      runId: opts.runId,
      zipPath: opts.zip ? source : null,
      documents,
    });
    let enqueued;
    try {
      enqueued = await enqueue(redis, opts, documents);
    } catch (err) {
      // Rows stay (the upload is in storage); the batch says why nothing runs.
      await client
        .query("UPDATE processing_jobs SET status = 'failed', error_message = $2 WHERE batch_id = $1", [
          opts.batchId,
          `enqueueing failed: ${err.message}`,
        ])
        .catch(() => {});
      created = false;
      throw err;
    }
    created = false;
    return {
      batch_id: opts.batchId,
      run_id: opts.runId,
      files: documents.length,
      jobs: enqueued.jobs,
      queue: opts.queue,
      flow: opts.flow,
      aggregate_job_id: enqueued.aggregateJobId,
      storage_dir: runDir,
    };
  } finally {
    if (created) await fsp.rm(runDir, { recursive: true, force: true }).catch(() => {});
    await client.end().catch(() => {});
    redis.disconnect();
  }
}

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
    if (opts.help) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    const result = await produce(opts);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`producer: ${err.message}\n`);
    if (err instanceof UsageError) {
      process.stderr.write('(see node scripts/producer.mjs --help)\n');
      return 2;
    }
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main();
}
