// Long run (scripts/bench.sh --scenario long): one bullmq-worker at concurrency 100
// processes a large number of jobs (default one million) whose payloads range from
// 100 B to 1 MiB, while the harness samples the worker's resident memory (VmRSS) and
// open file descriptors (/proc/PID/fd) every 10 s. It prints the curve and the growth
// after warm-up against the target: at most 2 MiB of RSS growth, fds flat.
//
// Payloads (job data {"pad":"xxx…"}, its JSON exactly S bytes; the `echo` processor
// returns it, so the return value has the same size), from a seeded generator
// (mulberry32, --seed), so every run gets the same sequence:
//   90 %  S log-uniform in [100 B, 1 KiB)
//    9 %  S log-uniform in [1 KiB, 64 KiB)
//    1 %  S log-uniform in [64 KiB, 1 MiB]
// mean ≈ 5.2 KiB per job; one job in 400 is over 512 KiB.
// Redis stays small: the harness adds jobs while the worker consumes them, keeping at
// most --backlog (default 1000) jobs waiting or active, in addBulk chunks of 100; jobs
// are added with removeOnComplete: true, and the queue's event stream is capped at
// about 1000 entries (Queue option streams.events.maxLen), so neither the completed
// jobs nor their 'completed' events (which carry the return value) pile up.
// Jobs done = the queue's id counter − LLEN wait − LLEN active, read in one MULTI.
//
// Warm-up: until the first sample at which 10 % of the jobs are done. Growth after
// warm-up (the target's) = median RSS of the last quarter of the samples after warm-up
// − median RSS of the first quarter: payloads in flight move RSS by several MiB from
// one sample to the next, and medians keep one unlucky sample from deciding. The last
// sample (taken as soon as all jobs are done) − the end of warm-up, the peak and a
// least-squares slope are printed too. fds are flat when their max and min after
// warm-up are equal.
//
// Exit status: 0 whatever the figures; 1 if the run broke (the worker died, a job
// failed, or no job completed for 60 s).
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import {
  runScenario, writeResults, PREFIX, blockedIn, bullmqVersion, fmt, judge, logTail, machineLines, median, mulberry32,
  nowMs, openFds, parseInfo, redisCpuS, peakRssKiB, plainConnection, processCpu, sleep, spawnLogged, statusKiB,
  stopChild, targetLine, waitFor, workerCommand, scenarioOptions, startScenario,
} from '../lib.mjs';

const QUEUE = 'long';
const CHUNK = 100;
const STALL_MS = 60000;
const KiB = 1024;
const MiB = 1024 * 1024;
const GROWTH_TARGET_MIB = 2;
const WARMUP_FRACTION = 0.1;

const opts = scenarioOptions(
  process.argv.slice(2),
  {
    '--jobs': 'int', '--concurrency': 'int', '--sample-interval': 'number', '--backlog': 'int', '--seed': 'int',
  },
  { jobs: 1000000, concurrency: 100, sampleInterval: 10, backlog: 1000, seed: 1 },
);
if (!(opts.sampleInterval > 0)) throw new Error('--sample-interval must be positive');
if (opts.backlog < CHUNK) throw new Error(`--backlog must be at least ${CHUNK}`);

const BANDS = [
  { share: 0.9, lo: 100, hi: KiB },
  { share: 0.09, lo: KiB, hi: 64 * KiB },
  { share: 0.01, lo: 64 * KiB, hi: MiB },
];
function payloadSize(rand) {
  let u = rand();
  let band = BANDS[BANDS.length - 1];
  for (const b of BANDS) {
    if (u < b.share) {
      band = b;
      break;
    }
    u -= b.share;
  }
  return Math.min(band.hi, Math.round(band.lo * (band.hi / band.lo) ** rand()));
}
const PAD = 'x'.repeat(MiB);
// {"pad":"…"} is 10 bytes plus the pad: exactly `size` bytes of JSON.
const payload = (size) => ({ pad: PAD.slice(0, size - 10) });

async function main() {
  const { admin, redisInfo, startedAt, loadavgAtStart } = await startScenario(opts);
  console.log(`bench long: ${opts.jobs} jobs, payloads 100 B–1 MiB (90 % < 1 KiB, 9 % < 64 KiB, 1 % ≤ 1 MiB; seed ${opts.seed}), ` +
    `concurrency ${opts.concurrency}, at most ${opts.backlog} jobs waiting or active, a sample every ${opts.sampleInterval} s`);
  for (const line of machineLines(redisInfo.redis_version, opts.redis)) console.log(`bench long: ${line}`);
  console.log(`bench long: native ${[process.env.BENCH_BINARY_SOURCE || opts.binary, ...opts.nativeArgs].join(' ')}; Node bullmq ${bullmqVersion()}`);
  await admin.flushall('SYNC');

  const queue = new Queue(QUEUE, { connection: plainConnection(opts.redis), prefix: PREFIX, streams: { events: { maxLen: 1000 } } });
  await queue.waitUntilReady();
  const keys = { id: `${PREFIX}:${QUEUE}:id`, wait: `${PREFIX}:${QUEUE}:wait`, active: `${PREFIX}:${QUEUE}:active`, failed: `${PREFIX}:${QUEUE}:failed` };
  const progress = async () => {
    const [[, id], [, wait], [, active], [, failed]] = await admin.multi().get(keys.id).llen(keys.wait).llen(keys.active).zcard(keys.failed).exec();
    const added = Number(id || 0);
    return { added, outstanding: wait + active, done: added - wait - active - failed, failed };
  };

  const cmd = workerCommand('native', { queue: QUEUE, redis: opts.redis, binary: opts.binary, concurrency: opts.concurrency, nativeArgs: opts.nativeArgs });
  const worker = spawnLogged(cmd, path.join(opts.logs, 'long-native.log'));
  const { pid } = worker.child;
  const samples = [];
  let broken = null;
  let startMs = null;
  let sampler = null;
  const gen = { count: 0, bytes: 0, max: 0, over512KiB: 0 };
  const take = async () => {
    const p = await progress();
    const cpu = processCpu(pid);
    const info = parseInfo(await admin.info('everything'));
    const s = {
      tS: (nowMs() - startMs) / 1000,
      done: p.done,
      added: p.added,
      rssMiB: statusKiB(pid, 'VmRSS') / 1024,
      fds: openFds(pid),
      threads: cpu.threads,
      cpuS: cpu.ns / 1e9,
      redisUsedMiB: Number(info.used_memory) / MiB,
      redisCpuS: redisCpuS(info),
      harnessCpuS: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    };
    samples.push(s);
    return s;
  };

  try {
    const ready = await waitFor(async () => worker.exited || (await blockedIn(admin)) >= 1, 30000);
    if (worker.exited || !ready) throw new Error('the worker did not become idle on the queue within 30 s');
    startMs = nowMs();
    await take(); // t = 0: idle, before the first job
    let sampling = Promise.resolve();
    sampler = setInterval(() => {
      sampling = sampling.then(take).catch((err) => {
        broken ??= err;
      });
    }, opts.sampleInterval * 1000);

    const rand = mulberry32(opts.seed);
    let lastDone = 0;
    let lastProgressMs = nowMs();
    const check = (p) => {
      if (worker.exited) throw new Error(`the worker exited (code ${worker.exited.code}, signal ${worker.exited.signal}) after ${p.done} jobs`);
      if (p.failed > 0) throw new Error(`${p.failed} job(s) failed`);
      if (broken) throw broken;
      const t = nowMs();
      if (p.done > lastDone) {
        lastDone = p.done;
        lastProgressMs = t;
      } else if (p.outstanding > 0 && t - lastProgressMs > STALL_MS) {
        throw new Error(`no job completed for ${STALL_MS / 1000} s (${p.done} done, ${p.outstanding} waiting or active)`);
      }
    };
    let added = 0;
    while (added < opts.jobs) {
      const p = await progress();
      check(p);
      if (p.outstanding > opts.backlog - CHUNK) {
        await sleep(5);
        continue;
      }
      const jobs = [];
      for (let k = Math.min(CHUNK, opts.jobs - added); k > 0; k--) {
        const size = payloadSize(rand);
        gen.count++;
        gen.bytes += size;
        gen.max = Math.max(gen.max, size);
        if (size > 512 * KiB) gen.over512KiB++;
        jobs.push({ name: 'echo', data: payload(size), opts: { removeOnComplete: true } });
      }
      await queue.addBulk(jobs);
      added += jobs.length;
    }
    for (;;) {
      const p = await progress();
      check(p);
      if (p.done >= opts.jobs) break;
      await sleep(20);
    }
    clearInterval(sampler);
    sampler = null;
    await sampling;
    if (broken) throw broken;
    await take(); // the last sample: all jobs done
  } catch (err) {
    broken = err;
    console.error(`bench long: BROKEN: ${err.message}\n--- worker log (${worker.logPath}) ---\n${logTail(worker.logPath)}`);
  }
  if (sampler) clearInterval(sampler);
  const peakKiB = peakRssKiB(pid);
  await stopChild(worker.child);

  // The curve.
  const lines = ['', `== long run: ${fmt(samples.at(-1)?.done ?? 0, 0)} jobs, concurrency ${opts.concurrency}: bullmq-worker's VmRSS and open fds`];
  lines.push(`${'t s'.padStart(8)}${'jobs done'.padStart(12)}${'jobs/s'.padStart(9)}${'RSS MiB'.padStart(10)}${'fds'.padStart(6)}` +
    `${'threads'.padStart(9)}${'CPU s'.padStart(9)}${'Redis MiB'.padStart(11)}`);
  const warmupJobs = Math.ceil(opts.jobs * WARMUP_FRACTION);
  const w = samples.findIndex((s) => s.done >= warmupJobs);
  samples.forEach((s, i) => {
    const prev = samples[i - 1];
    const rate = prev ? (s.done - prev.done) / Math.max(s.tS - prev.tS, 1e-9) : null;
    lines.push(`${fmt(s.tS, 1).padStart(8)}${fmt(s.done, 0).padStart(12)}${fmt(rate, 0).padStart(9)}${fmt(s.rssMiB, 2).padStart(10)}` +
      `${fmt(s.fds, 0).padStart(6)}${fmt(s.threads, 0).padStart(9)}${fmt(s.cpuS, 1).padStart(9)}${fmt(s.redisUsedMiB, 1).padStart(11)}` +
      `${i === w ? '   <- end of warm-up' : ''}${i === samples.length - 1 && !broken ? '   (all done)' : ''}`);
  });

  let summary = null;
  let targets = [];
  const after = w >= 0 ? samples.slice(w) : [];
  if (!broken && after.length >= 2) {
    const base = after[0];
    const last = after.at(-1);
    const rss = after.map((s) => s.rssMiB);
    const fds = after.map((s) => s.fds);
    // Least-squares slope of RSS over jobs done, after warm-up, MiB per 100k jobs.
    const mx = after.reduce((a, s) => a + s.done, 0) / after.length;
    const my = rss.reduce((a, b) => a + b, 0) / rss.length;
    const sxx = after.reduce((a, s) => a + (s.done - mx) ** 2, 0);
    const sxy = after.reduce((a, s) => a + (s.done - mx) * (s.rssMiB - my), 0);
    const first = samples[0];
    const q = Math.ceil(after.length / 4); // a quarter, rounded up: at least 1
    const firstQuarter = median(rss.slice(0, q));
    const lastQuarter = median(rss.slice(-q));
    summary = {
      jobs: last.done,
      seconds: last.tS,
      jobsPerSec: last.done / last.tS,
      payload: { jobs: gen.count, meanBytes: gen.bytes / gen.count, maxBytes: gen.max, over512KiB: gen.over512KiB, totalMiB: gen.bytes / MiB },
      idleAtStart: { rssMiB: first.rssMiB, fds: first.fds, threads: first.threads },
      warmup: { definition: `the first ${WARMUP_FRACTION * 100} % of the jobs (${warmupJobs}), to the first sample at or past it`, endSample: w, tS: base.tS, done: base.done, rssMiB: base.rssMiB, fds: base.fds },
      rssGrowthMiB: lastQuarter - firstQuarter,
      rssGrowthDefinition: `median RSS of the last ${q} sample(s) after warm-up − median RSS of the first ${q}`,
      rssFirstQuarterMedianMiB: firstQuarter,
      rssLastQuarterMedianMiB: lastQuarter,
      rssLastMinusWarmupEndMiB: last.rssMiB - base.rssMiB,
      rssPeakAfterWarmupMiB: Math.max(...rss),
      rssPeakGrowthMiB: Math.max(...rss) - base.rssMiB,
      rssMinAfterWarmupMiB: Math.min(...rss),
      rssSlopeMiBPer100kJobs: sxx > 0 ? (sxy / sxx) * 100000 : null,
      fdsMin: Math.min(...fds),
      fdsMax: Math.max(...fds),
      peakRssMiB: peakKiB / 1024,
      samplesAfterWarmup: after.length,
    };
    lines.push(
      `payloads: ${fmt(gen.count, 0)} jobs, mean ${fmt(summary.payload.meanBytes / KiB, 1)} KiB, largest ${fmt(gen.max / KiB, 0)} KiB, ` +
        `${gen.over512KiB} over 512 KiB, ${fmt(summary.payload.totalMiB, 0)} MiB in all (and as much back as return values); ` +
        `${fmt(summary.jobsPerSec, 0)} jobs/s overall`,
    );
    const busy = (k) => (last[k] - first[k]) / last.tS;
    summary.cpuShare = { worker: busy('cpuS'), redis: busy('redisCpuS'), harness: busy('harnessCpuS') };
    lines.push(
      `CPU over the run, in cores: worker ${fmt(summary.cpuShare.worker, 2)}, Redis ${fmt(summary.cpuShare.redis, 2)}, ` +
        `harness (producer and sampler) ${fmt(summary.cpuShare.harness, 2)}, of ${os.cpus().length} CPUs shared with whatever else runs`,
    );
    lines.push(
      `idle before the first job: RSS ${fmt(first.rssMiB, 2)} MiB, ${first.fds} fds, ${first.threads} threads; ` +
        `warm-up (${summary.warmup.definition}) ended at t=${fmt(base.tS, 1)} s, ${fmt(base.done, 0)} jobs: RSS ${fmt(base.rssMiB, 2)} MiB, ${base.fds} fds`,
    );
    const signed = (v) => `${v >= 0 ? '+' : ''}${fmt(v, 2)}`;
    lines.push(
      `after warm-up (${after.length} samples): RSS median of the first ${q} ${fmt(firstQuarter, 2)} MiB, of the last ${q} ` +
        `${fmt(lastQuarter, 2)} MiB: growth ${signed(summary.rssGrowthMiB)} MiB; ` +
        `last sample ${fmt(last.rssMiB, 2)} MiB (${signed(summary.rssLastMinusWarmupEndMiB)} from the end of warm-up), ` +
        `peak ${fmt(summary.rssPeakAfterWarmupMiB, 2)} MiB (+${fmt(summary.rssPeakGrowthMiB, 2)}), min ${fmt(summary.rssMinAfterWarmupMiB, 2)} MiB, ` +
        (after.length >= 10 ? `slope ${fmt(summary.rssSlopeMiBPer100kJobs, 3)} MiB per 100k jobs; ` : '') +
        `fds ${summary.fdsMin}–${summary.fdsMax}; VmHWM ${fmt(summary.peakRssMiB, 2)} MiB`,
    );
    targets = [
      judge({ name: `RSS growth after warm-up ≤ ${GROWTH_TARGET_MIB} MiB`, value: summary.rssGrowthMiB, target: GROWTH_TARGET_MIB, op: '<=', unit: 'MiB', digits: 2 }),
      judge({ name: 'open fds flat after warm-up (max − min)', value: summary.fdsMax - summary.fdsMin, target: 0, op: '<=', unit: 'fds', digits: 0 }),
    ];
    lines.push('targets (native):');
    for (const t of targets) lines.push(targetLine(t));
    lines.push(`  growth ÷ allowance: ${fmt(summary.rssGrowthMiB / GROWTH_TARGET_MIB, 2)} (peak growth ÷ allowance: ${fmt(summary.rssPeakGrowthMiB / GROWTH_TARGET_MIB, 2)})`);
  } else if (!broken) {
    lines.push(`fewer than 2 samples after warm-up (${after.length}): no growth figure; run more jobs or sample more often (--sample-interval)`);
  }
  console.log(lines.join('\n'));

  const resultsPath = writeResults(opts.out, 'long', {
    redisVersion: redisInfo.redis_version,
    loadavgAtStart: loadavgAtStart,
    binary: opts.binary,
    startedAt,
    config: {
      jobs: opts.jobs, concurrency: opts.concurrency, sampleIntervalS: opts.sampleInterval, backlog: opts.backlog, chunk: CHUNK,
      seed: opts.seed, payloadBands: BANDS, eventsMaxLen: 1000, removeOnComplete: true, warmupFraction: WARMUP_FRACTION,
      binary: opts.binary, nativeArgs: opts.nativeArgs,
    },
    summary,
    targets,
    samples,
    broken: broken ? String(broken.message) : null,
  });
  console.log(`bench long: results written to ${resultsPath}; worker log in ${worker.logPath}`);
  await queue.close();
  await admin.quit();
  process.exit(broken ? 1 : 0);
}

runScenario('long', main);
