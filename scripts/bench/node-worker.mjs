// The Node.js side of the benchmark: the official bullmq Worker with a no-op
// processor that returns the job's data, as the native `echo` processor does.
// Usage: node node-worker.mjs QUEUE REDIS_URL CONCURRENCY
import { Worker } from 'bullmq';

const [queueName, redisUrl, concurrencyText] = process.argv.slice(2);
if (!queueName || !redisUrl || !concurrencyText) {
  console.error('usage: node node-worker.mjs QUEUE REDIS_URL CONCURRENCY');
  process.exit(2);
}
const url = new URL(redisUrl);
const connection = {
  host: url.hostname,
  port: Number(url.port || 6379),
  maxRetriesPerRequest: null,
};

const worker = new Worker(queueName, async (job) => job.data, {
  connection,
  concurrency: Number(concurrencyText),
});
worker.on('error', (err) => console.error(`node-worker: ${err.message}`));

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
