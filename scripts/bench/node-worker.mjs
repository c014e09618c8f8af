// The Node.js side of the benchmark: the official bullmq Worker with a no-op
// processor that returns the job's data, as the native `echo` processor does.
// Usage: node node-worker.mjs QUEUE REDIS_URL CONCURRENCY [NAME]
// NAME, if given, is the Worker's name (stored on the jobs it processes as processedBy).
// REDIS_URL redis://host:port, or redis+cluster://host:port[,host:port…] for an
// ioredis Cluster on those seed nodes (the queue name must then be hash-tagged).
import { Worker } from 'bullmq';

const [queueName, redisUrl, concurrencyText, workerName] = process.argv.slice(2);
if (!queueName || !redisUrl || !concurrencyText) {
  console.error('usage: node node-worker.mjs QUEUE REDIS_URL CONCURRENCY [NAME]');
  process.exit(2);
}
let connection;
const clusterUrl = /^rediss?\+cluster:\/\/(?:[^@/]*@)?([^/?#]+)/.exec(redisUrl);
if (clusterUrl) {
  const nodes = clusterUrl[1].split(',').filter(Boolean).map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: (i > 0 ? hp.slice(0, i) : hp).replace(/^\[(.*)\]$/, '$1'), port: i > 0 ? Number(hp.slice(i + 1)) : 6379 };
  });
  const { Cluster } = await import('ioredis'); // only here: the plain path loads what it always did
  connection = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: null } });
} else {
  const url = new URL(redisUrl);
  connection = {
    host: url.hostname,
    port: Number(url.port || 6379),
    maxRetriesPerRequest: null,
  };
}

const worker = new Worker(queueName, async (job) => job.data, {
  connection,
  concurrency: Number(concurrencyText),
  ...(workerName ? { name: workerName } : {}),
});
worker.on('error', (err) => console.error(`node-worker: ${err.message}`));

let closing = false;
async function stop() {
  if (closing) return;
  closing = true;
  try {
    await worker.close();
    if (clusterUrl) await connection.quit(); // passed in, so not closed by the Worker
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
