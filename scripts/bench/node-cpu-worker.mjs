// The Node.js side of the CPU-heavy scenario (scenarios/cpu.mjs): the official bullmq
// Worker with a processor that burns job.data.ms (default 300) ms of CPU in a synchronous
// loop, as a Node user would write CPU-bound work, and returns { burnedMs }, as the native
// `burn-cpu` conformance processor does. CPU time is process.cpuUsage() (the whole process:
// Node 20 has no per-thread clock; while the loop runs, the main thread is nearly all of it).
//
// Usage: node node-cpu-worker.mjs QUEUE REDIS_URL CONCURRENCY LOCK_DURATION_MS STALLED_INTERVAL_MS
// Writes one JSON line per event to stdout, for the harness to count: every processor
// start (`processor.start`, with the job id), lock renewals that failed (`lockRenewalFailed`,
// the job ids), jobs its stalled check recovered (`stalled`), failed jobs (`failed`) and
// errors (`error`: e.g. a result refused because the job's lock is gone).
import { Worker } from 'bullmq';

const [queueName, redisUrl, concurrencyText, lockText, stalledText] = process.argv.slice(2);
if (!queueName || !redisUrl || !concurrencyText || !lockText || !stalledText) {
  console.error('usage: node node-cpu-worker.mjs QUEUE REDIS_URL CONCURRENCY LOCK_DURATION_MS STALLED_INTERVAL_MS');
  process.exit(2);
}

// stdout is a file (the harness's log): writes are synchronous, so no line is lost on exit.
const emit = (fields) => process.stdout.write(`${JSON.stringify({ t: Date.now(), ...fields })}\n`);

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

// Integer arithmetic (xorshift-multiply) until `ms` ms of CPU time have gone by.
function burn(ms) {
  const start = cpuMs();
  let x = 0x9e3779b9 | 0;
  let burned = 0;
  while (burned < ms) {
    for (let i = 0; i < 10000; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      x = Math.imul(x, 0x2545f491);
    }
    burned = cpuMs() - start;
  }
  return { burnedMs: Math.floor(burned), x };
}

const url = new URL(redisUrl);
const worker = new Worker(
  queueName,
  async (job) => {
    emit({ event: 'processor.start', jobId: job.id });
    const { burnedMs, x } = burn(job.data.ms ?? 300);
    if (x === 0.5) console.log('unreachable'); // keeps x used
    return { burnedMs };
  },
  {
    connection: { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null },
    concurrency: Number(concurrencyText),
    lockDuration: Number(lockText),
    stalledInterval: Number(stalledText),
  },
);
worker.on('lockRenewalFailed', (jobIds) => emit({ event: 'lockRenewalFailed', jobIds }));
worker.on('stalled', (jobId) => emit({ event: 'stalled', jobId }));
worker.on('failed', (job, err) => emit({ event: 'failed', jobId: job?.id, reason: err?.message }));
worker.on('error', (err) => emit({ event: 'error', message: err?.message }));

let closing = false;
async function stop() {
  if (closing) return;
  closing = true;
  try {
    await worker.close();
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
