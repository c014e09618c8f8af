// Tracing: a Node producer using BullMQ's `telemetry` option (bullmq-otel,
// a real OpenTelemetry tracer provider in this process) adds jobs; the worker
// exports one CONSUMER span per job over OTLP/HTTP JSON to a small receiver
// written here. The worker's span must continue the producer's trace exactly
// as BullMQ's Node Worker does (same parent, name, kind and bullmq.*
// attributes, proven against a Node Worker's own span), its job log lines
// carry the span's ids, and a collector that is down, failing or slow never
// holds jobs back nor grows the worker's memory.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import otelNode from '@opentelemetry/sdk-trace-node';
import bullmqOtel from 'bullmq-otel';
import { waitForJobState, setupSuite } from './lib/fixtures.mjs';
import { freePort, runBinary, waitFor, workerArgs } from './lib/harness.mjs';
import { makeTlsMaterial } from './lib/tls-certs.mjs';

const { NodeTracerProvider, SimpleSpanProcessor, InMemorySpanExporter } = otelNode;
const { BullMQOtel } = bullmqOtel;

const s = await setupSuite();

// The producer side: W3C trace context propagation, spans kept in memory.
const producerSpans = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(producerSpans)] });
provider.register();
after(() => provider.shutdown());
const telemetry = new BullMQOtel({ tracerName: 'otel-interop' });

const JS_CONSUMER = 4; // @opentelemetry/api SpanKind.CONSUMER
const OTLP_CONSUMER = 5; // OTLP's SPAN_KIND_CONSUMER
const fast = { OTEL_BSP_SCHEDULE_DELAY: '50' };

// An OTLP/HTTP JSON receiver: `mode` is 'ok', 'error' (500) or 'slow';
// with `tls` ({cert, key} files) it serves https.
async function startCollector({ port = 0, mode = 'ok', slowMs = 3000, tls } = {}) {
  const c = { spans: [], requests: [], mode };
  const handler = (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      c.requests.push({ method: req.method, url: req.url, headers: req.headers });
      if (c.mode === 'error') {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('collector broken');
        return;
      }
      const answer = () => {
        for (const rs of JSON.parse(body).resourceSpans ?? []) {
          for (const ss of rs.scopeSpans ?? []) {
            for (const span of ss.spans ?? []) {
              c.spans.push({ ...span, attrs: attributes(span.attributes), resource: attributes(rs.resource?.attributes), scope: ss.scope });
            }
          }
        }
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      };
      if (c.mode === 'slow') setTimeout(answer, slowMs);
      else answer();
    });
  };
  c.server = tls
    ? https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler)
    : http.createServer(handler);
  await new Promise((resolve, reject) => {
    c.server.once('error', reject);
    c.server.listen(port, '127.0.0.1', resolve);
  });
  c.port = c.server.address().port;
  c.url = tls ? `https://localhost:${c.port}` : `http://127.0.0.1:${c.port}`;
  c.close = () => new Promise((resolve) => { c.server.closeAllConnections?.(); c.server.close(() => resolve()); });
  c.spanOfJob = (id) => c.spans.find((sp) => sp.attrs['bullmq.job.id'] === id);
  return c;
}

function attributes(list = []) {
  const out = {};
  for (const { key, value } of list) {
    out[key] = value.stringValue ?? value.intValue ?? value.doubleValue ?? value.boolValue;
  }
  return out;
}

function producerSpan(queueName, jobName, jobId) {
  return producerSpans
    .getFinishedSpans()
    .find((sp) => sp.name === `add ${queueName}.${jobName}` && sp.attributes['bullmq.job.id'] === jobId);
}

function parentIdOf(jsSpan) {
  return jsSpan.parentSpanContext?.spanId ?? jsSpan.parentSpanId;
}

async function metrics(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name) => {
    const m = text.match(new RegExp(`^${name.replace(/[{}"]/g, (ch) => `\\${ch}`)} (\\d+)$`, 'm'));
    return m ? Number(m[1]) : undefined;
  };
  return {
    exported: value('bullmq_worker_spans_total{outcome="exported"}'),
    dropped: value('bullmq_worker_spans_total{outcome="dropped"}'),
    failed: value('bullmq_worker_spans_total{outcome="failed"}'),
    queued: value('bullmq_worker_spans_queued'),
  };
}

test("the worker's span continues the producer's trace, as the Node Worker's span does", async () => {
  const collector = await startCollector();
  after(() => collector.close());
  const name = s.queueName('otel');
  const queue = s.queue(name, { telemetry });
  const qe = await s.events(name);
  const w = await s.readyWorker(name, ['--otel-endpoint', collector.url, '--otel-service-name', 'otel-interop'], { env: fast });

  const ok = await queue.add('echo', { hello: 'world' });
  const bad = await queue.add('fail', { message: 'boom' }, { attempts: 1 });
  assert.deepEqual(await ok.waitUntilFinished(qe, 10000), { hello: 'world' });
  await assert.rejects(bad.waitUntilFinished(qe, 10000), /boom/);

  const okSpan = await waitFor(() => collector.spanOfJob(ok.id), { what: 'span of the completed job' });
  const badSpan = await waitFor(() => collector.spanOfJob(bad.id), { what: 'span of the failed job' });

  // Parent: the producer's "add" span, whose context bullmq-otel stored in the job.
  const addOk = producerSpan(name, 'echo', ok.id);
  assert.ok(addOk, 'the producer made an add span');
  assert.equal(okSpan.traceId, addOk.spanContext().traceId);
  assert.equal(okSpan.parentSpanId, addOk.spanContext().spanId);
  const addBad = producerSpan(name, 'fail', bad.id);
  assert.equal(badSpan.traceId, addBad.spanContext().traceId);
  assert.equal(badSpan.parentSpanId, addBad.spanContext().spanId);
  assert.notEqual(okSpan.spanId, badSpan.spanId);

  assert.equal(okSpan.name, `process ${name}`);
  assert.equal(okSpan.kind, OTLP_CONSUMER);
  assert.equal(okSpan.attrs['bullmq.queue.name'], name);
  assert.equal(okSpan.attrs['bullmq.queue.operation'], 'process');
  assert.equal(okSpan.attrs['bullmq.job.id'], ok.id);
  assert.equal(okSpan.attrs['bullmq.job.name'], 'echo');
  assert.equal(okSpan.attrs['bullmq.job.attempts.made'], '1');
  assert.match(okSpan.attrs['bullmq.worker.id'], /^[0-9a-f-]{36}$/);
  const done = await queue.getJob(ok.id);
  assert.equal(okSpan.attrs['bullmq.job.processed.timestamp'], String(done.processedOn));
  assert.ok(Math.abs(Number(okSpan.attrs['bullmq.job.attempt_finished_timestamp']) - done.finishedOn) < 1000);
  const completedEvent = okSpan.events.find((e) => e.name === 'job completed');
  assert.equal(attributes(completedEvent.attributes)['bullmq.job.result'], JSON.stringify({ hello: 'world' }));
  assert.ok(!okSpan.status?.code, 'a completed job leaves the status unset, as the Node Worker does');
  assert.ok(BigInt(okSpan.endTimeUnixNano) >= BigInt(okSpan.startTimeUnixNano));

  assert.equal(badSpan.status.code, 2, 'ERROR');
  assert.equal(badSpan.status.message, 'boom');
  const failedEvent = badSpan.events.find((e) => e.name === 'job failed');
  assert.equal(attributes(failedEvent.attributes)['bullmq.job.failed.reason'], 'boom');
  const exception = attributes(badSpan.events.find((e) => e.name === 'exception').attributes);
  assert.equal(exception['exception.message'], 'boom');
  assert.match(exception['exception.type'], /runtime_error/);
  assert.match(exception['exception.stacktrace'], /boom/);

  // Resource, scope and transport.
  assert.equal(okSpan.resource['service.name'], 'otel-interop');
  assert.ok(okSpan.resource['service.version']);
  assert.equal(okSpan.scope.name, 'bullmq');
  const request = collector.requests[0];
  assert.equal(request.method, 'POST');
  assert.equal(request.url, '/v1/traces');
  assert.equal(request.headers['content-type'], 'application/json');

  // The job's log lines carry its span's ids.
  const completedLog = await w.waitForLog('job.completed', (l) => l.job_id === ok.id);
  assert.equal(completedLog.trace_id, okSpan.traceId);
  assert.equal(completedLog.span_id, okSpan.spanId);
  const failedLog = await w.waitForLog('job.failed', (l) => l.job_id === bad.id);
  assert.equal(failedLog.trace_id, badSpan.traceId);
  assert.equal(failedLog.span_id, badSpan.spanId);

  // The same jobs through BullMQ's own Node Worker with bullmq-otel: its
  // spans have the same relation to the producer and the same attribute names.
  const nodeName = s.queueName('otel-node');
  const nodeQueue = s.queue(nodeName, { telemetry });
  s.nodeWorker(
    nodeName,
    async (job) => {
      if (job.name === 'fail') throw new Error(job.data.message);
      return job.data;
    },
    { telemetry },
  );
  const nodeOk = await nodeQueue.add('echo', { hello: 'world' });
  const nodeBad = await nodeQueue.add('fail', { message: 'boom' }, { attempts: 1 });
  const nodeSpanOf = (id) =>
    producerSpans
      .getFinishedSpans()
      .find((sp) => sp.name === `process ${nodeName}` && sp.attributes['bullmq.job.id'] === id);
  const nodeOkSpan = await waitFor(() => nodeSpanOf(nodeOk.id), { what: "the Node Worker's span" });
  const nodeBadSpan = await waitFor(() => nodeSpanOf(nodeBad.id), { what: "the Node Worker's failed span" });
  assert.equal(nodeOkSpan.kind, JS_CONSUMER);
  assert.equal(parentIdOf(nodeOkSpan), producerSpan(nodeName, 'echo', nodeOk.id).spanContext().spanId);
  assert.deepEqual(Object.keys(okSpan.attrs).sort(), Object.keys(nodeOkSpan.attributes).sort());
  assert.deepEqual(Object.keys(badSpan.attrs).sort(), Object.keys(nodeBadSpan.attributes).sort());
  assert.deepEqual(okSpan.events.map((e) => e.name), nodeOkSpan.events.map((e) => e.name));
  for (const e of nodeBadSpan.events) assert.ok(badSpan.events.some((ours) => ours.name === e.name), e.name);
  for (const [key, value] of Object.entries(nodeOkSpan.attributes)) {
    if (/worker\.id|timestamp|job\.id|queue\.name/.test(key)) continue;
    assert.equal(okSpan.attrs[key], String(value), key);
  }
});

test('jobs a processor adds carry the trace on: add span under the parent\'s span, the children\'s spans under it', async () => {
  const collector = await startCollector();
  after(() => collector.close());
  const name = s.queueName('otel-kids');
  const queue = s.queue(name, { telemetry });
  await s.readyWorker(name, ['--concurrency', '4', '--otel-endpoint', collector.url], { env: fast });
  const parent = await queue.add('spawn-children', { count: 2 });
  await waitForJobState(queue, parent.id, 'completed', 15000);
  const root = producerSpan(name, 'spawn-children', parent.id);
  assert.ok(root, 'the producer made an add span');
  const traceId = root.spanContext().traceId;
  // The parent runs once, or twice when its children were still pending as it
  // moved to waiting-children; the two children once each.
  const parentRunsOf = (list) => list.filter((sp) => sp.attrs['bullmq.job.id'] === parent.id && sp.kind === OTLP_CONSUMER);
  const spans = await waitFor(() => {
    const mine = collector.spans.filter((sp) => sp.traceId === traceId);
    const kids = mine.filter((sp) => sp.kind === OTLP_CONSUMER && sp.attrs['bullmq.job.name'] === 'echo');
    const done = parentRunsOf(mine).some((sp) => sp.events?.some((e) => e.name === 'job completed'));
    return kids.length >= 2 && done ? mine : null;
  }, { what: 'spans of the parent and its children', timeout: 10000 });
  const parentRuns = parentRunsOf(spans);
  assert.ok(parentRuns.length >= 1 && parentRuns.length <= 2, `the parent ran once or twice: ${parentRuns.length}`);
  for (const run of parentRuns) assert.equal(run.parentSpanId, root.spanContext().spanId);
  const adds = spans.filter((sp) => sp.name === `add ${name}.echo`);
  assert.equal(adds.length, 2, `one add span per child: ${spans.map((sp) => sp.name)}`);
  const firstRun = parentRuns.find((run) => adds.every((a) => a.parentSpanId === run.spanId));
  assert.ok(firstRun, 'the add spans are children of the run that added them');
  const children = spans.filter((sp) => sp.kind === OTLP_CONSUMER && sp.attrs['bullmq.job.name'] === 'echo');
  assert.equal(children.length, 2);
  for (const child of children) {
    assert.ok(adds.some((a) => a.spanId === child.parentSpanId), 'a child span continues its add span');
    const add = adds.find((a) => a.spanId === child.parentSpanId);
    assert.equal(add.attrs['bullmq.job.id'], child.attrs['bullmq.job.id'], 'the add span names the job it added');
  }
});

test('jobs without a producer context get a root span; no tracing flag = no span, no ids in logs', async () => {
  const collector = await startCollector();
  after(() => collector.close());
  const name = s.queueName('otel-root');
  const queue = s.queue(name); // no telemetry on this producer
  const qe = await s.events(name);
  await s.readyWorker(name, ['--otel-endpoint', collector.url], { env: fast });
  const job = await queue.add('echo', { n: 1 });
  await job.waitUntilFinished(qe, 10000);
  const span = await waitFor(() => collector.spanOfJob(job.id), { what: 'root span' });
  assert.equal(span.parentSpanId ?? '', '');
  assert.match(span.traceId, /^[0-9a-f]{32}$/);
  assert.equal(span.resource['service.name'], 'bullmq-worker');

  const plain = s.queueName('otel-off');
  const plainQueue = s.queue(plain, { telemetry });
  const plainEvents = await s.events(plain);
  const w = await s.readyWorker(plain, [], { env: { OTEL_EXPORTER_OTLP_ENDPOINT: '' } });
  const plainJob = await plainQueue.add('echo', { n: 2 });
  await plainJob.waitUntilFinished(plainEvents, 10000);
  const line = await w.waitForLog('job.completed', (l) => l.job_id === plainJob.id);
  assert.equal(line.trace_id, undefined);
  assert.equal(line.span_id, undefined);
  assert.equal(w.events('otel.enabled').length, 0);
});

test('collector down: jobs complete, the span queue stays bounded, spans are dropped and counted; a collector that comes back gets spans', async () => {
  const port = await freePort(); // nothing listens here yet
  const metricsPort = await freePort();
  const name = s.queueName('otel-down');
  const queue = s.queue(name, { telemetry });
  const w = await s.readyWorker(name, ['--otel-endpoint', `http://127.0.0.1:${port}`, '--http-port', String(metricsPort), '--concurrency', '8'], {
    env: { ...fast, OTEL_BSP_MAX_QUEUE_SIZE: '20', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10' },
  });
  const total = 400;
  await queue.addBulk(Array.from({ length: total }, (_, i) => ({ name: 'echo', data: { i } })));
  await waitFor(async () => (await queue.getJobCounts('completed')).completed === total, {
    timeout: 30000,
    what: `${total} jobs completed with the collector down`,
  });
  await w.waitForLog('otel.export_failed');
  const down = await metrics(metricsPort);
  assert.equal(down.exported, 0);
  assert.ok(down.queued <= 20, `queued ${down.queued} within the bound`);
  // At most the queue and one batch in flight are held; the rest is dropped.
  assert.ok(down.dropped >= total - 20 - 10, `dropped ${down.dropped}`);

  const collector = await startCollector({ port });
  after(() => collector.close());
  // What was kept (the queue, the batch being retried) arrives once it is back…
  await waitFor(() => collector.spans.length > 0, { timeout: 40000, what: 'spans at the collector once it is back' });
  await w.waitForLog('otel.export_recovered');
  await waitFor(async () => (await metrics(metricsPort)).queued === 0, { what: 'the span queue drained' });
  const back = await metrics(metricsPort);
  assert.equal(back.exported, collector.spans.length);
  assert.ok(back.exported <= 20 + 10, `exported ${back.exported}: only what was kept`);
  // …and new jobs' spans follow.
  const late = await queue.add('echo', { late: true });
  await waitFor(() => collector.spanOfJob(late.id), { what: 'the span of a job added after the collector came back' });
});

test('a collector that answers 500 or too slowly holds no job back; its spans are counted as failed', async () => {
  const broken = await startCollector({ mode: 'error' });
  after(() => broken.close());
  const metricsPort = await freePort();
  const name = s.queueName('otel-500');
  const queue = s.queue(name, { telemetry });
  const qe = await s.events(name);
  const w = await s.readyWorker(name, ['--otel-endpoint', broken.url, '--http-port', String(metricsPort)], { env: fast });
  const jobs = await queue.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 'echo', data: { i } })));
  for (const job of jobs) await job.waitUntilFinished(qe, 10000);
  const refused = await w.waitForLog('otel.export_failed');
  assert.match(refused.error, /HTTP 500/);
  await waitFor(async () => (await metrics(metricsPort)).failed >= 5, { what: 'failed spans counted' });

  const slow = await startCollector({ mode: 'slow', slowMs: 5000 });
  after(() => slow.close());
  const slowName = s.queueName('otel-slow');
  const slowQueue = s.queue(slowName, { telemetry });
  const slowEvents = await s.events(slowName);
  const ws = await s.readyWorker(slowName, ['--otel-endpoint', slow.url], {
    env: { ...fast, OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '300' },
  });
  const started = Date.now();
  const slowJobs = await slowQueue.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 'echo', data: { i } })));
  for (const job of slowJobs) await job.waitUntilFinished(slowEvents, 10000);
  assert.ok(Date.now() - started < 3000, `jobs finished in ${Date.now() - started} ms despite the slow collector`);
  const timedOut = await ws.waitForLog('otel.export_failed');
  assert.match(timedOut.error, /timed out/);
  // A stop flushes within its bound even while the collector hangs.
  const stopStarted = Date.now();
  const { code } = await ws.stop();
  assert.equal(code, 0);
  assert.ok(Date.now() - stopStarted < 9000, `stopped in ${Date.now() - stopStarted} ms`);
});

test('https collector: the certificate is checked (OTEL_EXPORTER_OTLP_CERTIFICATE); headers from OTEL_EXPORTER_OTLP_HEADERS are sent, not logged', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bullmq-worker-otel-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const certs = makeTlsMaterial(dir);
  const good = await startCollector({ tls: certs.server });
  after(() => good.close());
  const name = s.queueName('otel-tls');
  const queue = s.queue(name, { telemetry });
  const qe = await s.events(name);
  const w = await s.readyWorker(name, ['--otel-endpoint', good.url], {
    env: { ...fast, OTEL_EXPORTER_OTLP_CERTIFICATE: certs.ca.cert, OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cret,x-tenant=t1' },
  });
  const job = await queue.add('echo', { tls: true });
  await job.waitUntilFinished(qe, 10000);
  const span = await waitFor(() => good.spanOfJob(job.id), { what: 'span over https' });
  assert.equal(span.traceId, producerSpan(name, 'echo', job.id).spanContext().traceId);
  assert.equal(good.requests[0].headers.authorization, 'Bearer s3cret');
  assert.equal(good.requests[0].headers['x-tenant'], 't1');
  assert.ok(!w.stderrText.includes('s3cret'), 'the header value is not logged');

  // A collector whose certificate the worker cannot trust gets nothing; jobs still run.
  const untrusted = await startCollector({ tls: certs.wrongCaServer });
  after(() => untrusted.close());
  const other = s.queueName('otel-tls-bad');
  const otherQueue = s.queue(other, { telemetry });
  const otherEvents = await s.events(other);
  const wb = await s.readyWorker(other, ['--otel-endpoint', untrusted.url], {
    env: { ...fast, OTEL_EXPORTER_OTLP_CERTIFICATE: certs.ca.cert },
  });
  const otherJob = await otherQueue.add('echo', { tls: false });
  await otherJob.waitUntilFinished(otherEvents, 10000);
  const refused = await wb.waitForLog('otel.export_failed');
  assert.match(refused.error, /certificate|handshake|verify/i);
  assert.equal(untrusted.spans.length, 0);
});

test('an unusable tracing setting stops the worker at start with a clear message', async () => {
  const bad = await runBinary(workerArgs(s.redis, s.queueName('otel-bad'), ['--otel-endpoint', 'grpc://collector:4317']));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /tracing: OTLP endpoint 'grpc:\/\/collector:4317\/v1\/traces': must start with http:\/\/ or https:\/\//);
  const badSize = await runBinary(workerArgs(s.redis, s.queueName('otel-bad'), ['--otel-endpoint', 'http://127.0.0.1:1']), {
    env: { OTEL_BSP_MAX_QUEUE_SIZE: 'lots' },
  });
  assert.equal(badSize.code, 2);
  assert.match(badSize.stderr, /OTEL_BSP_MAX_QUEUE_SIZE must be a non-negative integer/);
});
