// What a document-pipeline test file runs against: a real Redis and a real
// PostgreSQL (database `e2e`, migrated by the binary), a work folder holding
// the storage root and the upload ZIP, a pg client and a bullmq Queue to read
// the outcome. stop() ends everything start() began, by pid, whatever failed
// on the way, and reports the first error.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { RedisServer, runBinary, workerBinary } from '../../interop/lib/harness.mjs';
import { PostgresServer } from './postgres.mjs';
import { uploadZip } from '../../../scripts/lib/documents.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
// The producer's packages (scripts/node) serve the tests too.
const requireScripts = createRequire(path.join(repoRoot, 'scripts', 'node', 'package.json'));
export const { Queue } = requireScripts('bullmq');
export const pg = requireScripts('pg');

export async function startPipelineEnv({ tag, queueName, upload }) {
  assert.ok(existsSync(workerBinary), `build the worker first: ${workerBinary}`);
  const env = {};
  env.work = mkdtempSync(path.join(os.tmpdir(), `bullmq-${tag}-`));
  env.storage = path.join(env.work, 'storage');
  mkdirSync(env.storage);
  env.zipFile = path.join(env.work, 'upload.zip');
  writeFileSync(env.zipFile, uploadZip(upload));

  // A (new) pg client; a test that stops PostgreSQL connects again after it.
  env.connectDb = async () => {
    env.db = new pg.Client({ connectionString: env.databaseUrl });
    env.db.on('error', () => {}); // a stopped server drops the connection; queries then fail
    await env.db.connect();
  };
  env.query = async (sql, params = []) => (await env.db.query(sql, params)).rows;

  // Everything that has to be stopped, in the order stop() runs it.
  const stops = [];
  env.stop = async (first = []) => {
    const errors = [];
    for (const fn of [...first, ...stops]) {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    }
    rmSync(env.work, { recursive: true, force: true });
    if (errors.length) throw errors[0];
  };
  try {
    // Assigned one by one so that stop() ends whichever did start.
    const starting = [RedisServer.start().then((r) => (env.redis = r)), PostgresServer.start().then((p) => (env.postgres = p))];
    const results = await Promise.allSettled(starting);
    stops.push(() => env.queue?.close(), () => env.db?.end(), () => env.redis?.destroy(), () => env.postgres?.destroy());
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    env.databaseUrl = await env.postgres.createDatabase('e2e');
    const migrated = await runBinary(['migrate', '--database-url', env.databaseUrl], { timeout: 30000 });
    assert.equal(migrated.code, 0, `migrate failed: ${migrated.stderr}`);
    await env.connectDb();
    env.queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: env.redis.port } });
  } catch (err) {
    await env.stop().catch(() => {});
    throw err;
  }
  return env;
}
