// Command processors (--command NAME=PROGRAM): a Python and a Node program
// (fixtures/commands/handler.py and handler.mjs, which play the steps listed
// in the job's data) driven through the worker with Node's bullmq: the job on
// stdin, the return value on stdout, requests on fd 3, outcomes by exit
// status, the limits, and termination on a lost lock or the shutdown
// deadline. The README's ten-line handlers (hello.py, hello.mjs) run too.
//
// Job API calls that the worker core does not serve yet in this branch reply
// "not built yet": their tests skip, saying so, and pass once it does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupSuite, recordEvents, waitForReady, waitForJobState, Job } from './lib/fixtures.mjs';
import { waitFor, runBinary } from './lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, 'fixtures', 'commands');
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const quote = (word) => `'${word}'`;
const program = {
  python: (file) => `${quote(python)} ${quote(path.join(fixtures, file))}`,
  node: (file) => `${quote(process.execPath)} ${quote(path.join(fixtures, file))}`,
};
// Job name -> command line of the scripted handlers.
const commands = [`py=${program.python('handler.py')}`, `js=${program.node('handler.mjs')}`];
const languages = [
  ['Python', 'py'],
  ['Node', 'js'],
];

const s = await setupSuite();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bullmq-worker-commands-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let fileCount = 0;
const tmpFile = (tag) => path.join(tmp, `${tag}-${++fileCount}`);

function commandArgs(queue, extra = []) {
  return ['run', '--queue', queue, '--redis', s.redis.url, ...commands.flatMap((c) => ['--command', c]), ...extra];
}

async function commandWorker(queue, extra = [], opts = {}) {
  const worker = s.workerWith(commandArgs(queue, extra), opts);
  await waitForReady(worker);
  return worker;
}

// A queue, its QueueEvents and a ready worker running the handlers.
async function setup(tag, extra = []) {
  const name = s.queueName(tag);
  const queue = s.queue(name);
  const qe = await s.events(name);
  const worker = await commandWorker(name, extra);
  return { name, queue, qe, worker };
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const readPid = (file) => waitFor(() => existsSync(file) && Number(readFileSync(file, 'utf8')), { what: `pid in ${file}` });

// Skips the test when the worker answered "not built yet" (the Job API work
// merged from another branch); returns true when it did.
function skipIfNotBuilt(t, replies) {
  const stub = replies.find((r) => r && r.ok === false && /not built yet/.test(r.error));
  if (stub) t.skip(`the worker core does not serve this call yet (${stub.error}); run again after merging the Job API branch`);
  return Boolean(stub);
}

for (const [language, jobName] of languages) {
  test(`${language}: stdout is the return value; the job document on stdin has every field`, async () => {
    const { queue, qe } = await setup('echo');
    const returned = await queue.add(jobName, { steps: [{ return: { sum: 3, text: 'ünï' } }] });
    assert.deepEqual(await returned.waitUntilFinished(qe, 10000), { sum: 3, text: 'ünï' });

    const job = await queue.add(jobName, { steps: [{ echo: true }], extra: [1, 'two'] }, { attempts: 4, jobId: 'doc-1' });
    const doc = await job.waitUntilFinished(qe, 10000);
    assert.equal(doc.id, 'doc-1');
    assert.equal(doc.name, jobName);
    assert.equal(doc.queue, queue.name);
    assert.deepEqual(doc.data, { steps: [{ echo: true }], extra: [1, 'two'] });
    assert.equal(doc.opts.attempts, 4);
    assert.equal(doc.attemptsMade, 0);
    assert.equal(doc.attemptsStarted, 1);
    assert.equal(doc.attempt, 1);
    assert.equal(doc.timestamp, job.timestamp);
    assert.ok(doc.processedOn >= job.timestamp);
    assert.equal(doc.parent, null);
    assert.equal(doc.parentKey, null);
    assert.deepEqual(doc.childrenValues, {});
  });

  test(`${language}: empty stdout is null; stdout that is not JSON fails the attempt`, async () => {
    const { queue, qe } = await setup('stdout');
    const empty = await queue.add(jobName, { steps: [{ exit: 0 }] });
    assert.equal(await empty.waitUntilFinished(qe, 10000), null);
    const bad = await queue.add(jobName, { steps: [{ stdout: 'hello world\n' }, { exit: 0 }] });
    await assert.rejects(bad.waitUntilFinished(qe, 10000), /stdout is not JSON.*hello world/);
  });

  test(`${language}: a non-zero exit fails the attempt with stderr's last lines; attempts and backoff apply`, async () => {
    const { queue, qe, worker } = await setup('fail');
    const retried = await queue.add(
      jobName,
      { steps: [{ run: 1, stderr: 'first try broke\n' }, { run: 1, exit: 3 }, { return: 'second try' }] },
      { attempts: 2, backoff: { type: 'fixed', delay: 300 } },
    );
    assert.equal(await retried.waitUntilFinished(qe, 10000), 'second try');
    const done = await Job.fromId(queue, retried.id);
    assert.ok(done.processedOn - done.timestamp >= 300, 'the fixed backoff delayed the second attempt');
    assert.equal(done.attemptsMade, 2);
    // Its stderr lines are logged with the job.
    await worker.waitForLog('command.stderr', (l) => l.job_id === retried.id && l.msg === 'first try broke');

    const failing = await queue.add(jobName, { steps: [{ stderr: 'noise\nstill broken\n' }, { exit: 7 }] }, { attempts: 2 });
    await assert.rejects(failing.waitUntilFinished(qe, 10000), /still broken/);
    const failed = await Job.fromId(queue, failing.id);
    assert.equal(failed.attemptsMade, 2);
    assert.equal(failed.failedReason, 'noise\nstill broken');

    const silent = await queue.add(jobName, { steps: [{ exit: 7 }] });
    await assert.rejects(silent.waitUntilFinished(qe, 10000), /^Error: the command exited with status 7$/);
  });

  test(`${language}: exit 65 and a fail request with unrecoverable:true fail without retrying`, async () => {
    const { queue, qe } = await setup('unrecoverable');
    const byCode = await queue.add(jobName, { steps: [{ stderr: 'input is broken\n' }, { exit: 65 }] }, { attempts: 5 });
    await assert.rejects(byCode.waitUntilFinished(qe, 10000), /input is broken/);
    assert.equal((await Job.fromId(queue, byCode.id)).attemptsMade, 1);

    const byRequest = await queue.add(
      jobName,
      { steps: [{ send: { op: 'fail', message: 'no such customer', unrecoverable: true } }, { exit: 0 }] },
      { attempts: 5 },
    );
    await assert.rejects(byRequest.waitUntilFinished(qe, 10000), /no such customer/);
    const failed = await Job.fromId(queue, byRequest.id);
    assert.equal(failed.attemptsMade, 1);
    assert.equal(failed.failedReason, 'no such customer');

    // Without unrecoverable, the message fails one attempt.
    const retried = await queue.add(
      jobName,
      { steps: [{ run: 1, send: { op: 'fail', message: 'try again' } }, { run: 1, exit: 0 }, { return: 'ok now' }] },
      { attempts: 2 },
    );
    assert.equal(await retried.waitUntilFinished(qe, 10000), 'ok now');
  });

  test(`${language}: progress (any JSON), log rows and update-data reach the job`, async () => {
    const { queue, qe } = await setup('requests');
    const seen = recordEvents(qe, ['progress']);
    const values = [5, { stage: 'parse', pct: 40 }, 'text', [1, 2]];
    const job = await queue.add(
      jobName,
      {
        steps: [
          ...values.map((value) => ({ send: { op: 'progress', value } })),
          { send: { op: 'log', line: 'first row' } },
          { send: { op: 'log', line: 'second: "quoted" ünï' } },
          { send: { op: 'update-data', data: { replaced: true } } },
        ],
      },
      { keepLogs: 10 },
    );
    const result = await job.waitUntilFinished(qe, 10000);
    assert.deepEqual(result.replies, Array(7).fill({ ok: true }));
    await waitFor(() => seen.of('progress', job.id).length === 4, { what: '4 progress events' });
    assert.deepEqual(seen.of('progress', job.id).map((e) => e.data), values);
    assert.deepEqual(await queue.getJobLogs(job.id), { logs: ['first row', 'second: "quoted" ünï'], count: 2 });
    const done = await Job.fromId(queue, job.id);
    assert.deepEqual(done.data, { replaced: true });
    assert.deepEqual(done.progress, [1, 2]);
  });

  test(`${language}: bad requests get an error reply and the run goes on`, async () => {
    const { queue, qe } = await setup('bad-requests');
    const job = await queue.add(jobName, {
      steps: [
        { raw: 'not json' },
        { send: { op: 'nope' } },
        { send: { op: 'delay', ms: -1 } },
        { send: { op: 'log' } },
        { send: { op: 'waiting-children' } },
      ],
    });
    const { replies } = await job.waitUntilFinished(qe, 10000);
    assert.equal(replies.length, 5);
    assert.match(replies[0].error, /one JSON object per line/);
    assert.equal(replies[1].error, 'unknown op "nope"');
    assert.match(replies[2].error, /"ms" must be an integer of at least 0/);
    assert.equal(replies[3].error, 'log needs "line"');
    assert.ok(replies.slice(0, 4).every((r) => r.ok === false));
    assert.deepEqual(replies[4], { ok: true, parked: false }, 'no pending children: the run goes on');
  });

  test(`${language}: delay moves the job to delayed without spending an attempt; it resumes`, async () => {
    const { queue, qe } = await setup('delay');
    const seen = recordEvents(qe, ['delayed', 'failed']);
    const job = await queue.add(
      jobName,
      { steps: [{ run: 1, send: { op: 'delay', ms: 500 } }, { run: 1, exit: 9 }, { return: { resumed: true } }] },
      { attempts: 1 },
    );
    await waitFor(() => seen.of('delayed', job.id)[0], { what: 'delayed event' });
    const parked = await Job.fromId(queue, job.id);
    assert.equal(await parked.getState(), 'delayed');
    assert.equal(parked.attemptsMade, 0, 'the exit status after a delay does not count');
    assert.deepEqual(await job.waitUntilFinished(qe, 10000), { resumed: true });
    const done = await Job.fromId(queue, job.id);
    assert.ok(done.processedOn - done.timestamp >= 450, 'resumed after the delay');
    assert.equal(seen.of('failed', job.id).length, 0);
  });

  test(`${language}: a crash by signal fails the attempt naming the signal`, async () => {
    const { queue, qe } = await setup('signal');
    const job = await queue.add(jobName, { steps: [{ signal: 'SIGSEGV' }] });
    await assert.rejects(job.waitUntilFinished(qe, 10000), /killed by SIGSEGV/);
  });

  test(`${language}: the time limit terminates the program (SIGTERM) and fails the attempt`, async () => {
    const { queue, qe } = await setup('timeout', ['--command-timeout', '1000']);
    const pidFile = tmpFile('pid');
    const termFile = tmpFile('term');
    const job = await queue.add(jobName, { steps: [{ on_term: termFile }, { pidfile: pidFile }, { sleep: 60000 }] });
    const pid = await readPid(pidFile);
    await assert.rejects(job.waitUntilFinished(qe, 10000), /did not finish within its time limit of 1000 ms/);
    assert.equal(readFileSync(termFile, 'utf8'), 'TERM', 'stopped with SIGTERM first');
    assert.equal(pidAlive(pid), false);
  });

  test(`${language}: a program that ignores SIGTERM is killed after the grace period`, async () => {
    const { queue, qe } = await setup('kill', ['--command-timeout', '800', '--command-kill-grace', '300']);
    const pidFile = tmpFile('pid');
    const job = await queue.add(jobName, { steps: [{ ignore_term: true }, { pidfile: pidFile }, { sleep: 60000 }] });
    const pid = await readPid(pidFile);
    const started = Date.now();
    await assert.rejects(job.waitUntilFinished(qe, 10000), /time limit of 800 ms/);
    assert.ok(Date.now() - started < 5000);
    assert.equal(pidAlive(pid), false);
  });

  test(`${language}: a lost lock terminates the program; its outcome is not written`, async () => {
    const { name, queue, worker } = await setup('lock', ['--lock-duration', '600', '--stalled-interval', '60000']);
    const client = s.client();
    const pidFile = tmpFile('pid');
    const termFile = tmpFile('term');
    const job = await queue.add(jobName, { steps: [{ on_term: termFile }, { pidfile: pidFile }, { sleep: 60000 }] });
    const pid = await readPid(pidFile);
    await client.del(`bull:${name}:${job.id}:lock`);
    await worker.waitForLog('job.lock_lost', (l) => l.job_id === job.id, 5000);
    await waitFor(() => existsSync(termFile), { timeout: 5000, what: 'the program got SIGTERM' });
    await waitFor(() => !pidAlive(pid), { timeout: 5000, what: 'the program gone' });
    assert.equal(await queue.getJobState(job.id), 'active', 'nothing was written for the lost job');
  });

  test(`${language}: the shutdown deadline terminates the program and hands the job back`, async () => {
    const name = s.queueName('shutdown');
    const queue = s.queue(name);
    const worker = await commandWorker(name, ['--shutdown-timeout', '500']);
    const pidFile = tmpFile('pid');
    const termFile = tmpFile('term');
    const job = await queue.add(jobName, { steps: [{ on_term: termFile }, { pidfile: pidFile }, { sleep: 60000 }] });
    const pid = await readPid(pidFile);
    worker.kill('SIGTERM');
    const exit = await worker.exited;
    assert.equal(exit.code, 0);
    await waitFor(() => existsSync(termFile), { timeout: 5000, what: 'the program got SIGTERM' });
    await waitFor(() => !pidAlive(pid), { timeout: 5000, what: 'the program gone' });
    assert.equal(await queue.getJobState(job.id), 'waiting');
  });

  test(`${language}: stdout beyond --command-max-output fails the attempt`, async () => {
    const { queue, qe } = await setup('overflow', ['--command-max-output', '1K']);
    const job = await queue.add(jobName, { steps: [{ stdout: 'x'.repeat(5000) }, { sleep: 60000 }] });
    await assert.rejects(job.waitUntilFinished(qe, 10000), /more than 1024 bytes to stdout/);
  });

  test(`${language}: waiting-children with children to wait for parks the job (add-job as child)`, async (t) => {
    const { queue, qe } = await setup('add-child');
    const job = await queue.add(jobName, {
      steps: [
        { run: 1, send: { op: 'add-job', name: jobName, data: { steps: [{ return: 'child done' }] }, opts: { jobId: 'kid' }, child: true } },
        { run: 1, send: { op: 'waiting-children' } },
        { run: 2, echo: true },
      ],
    });
    const doc = await job.waitUntilFinished(qe, 15000);
    if (doc.replies && skipIfNotBuilt(t, doc.replies)) return;
    assert.equal(doc.attemptsStarted, 2, 'ran again once its child completed');
    assert.deepEqual(doc.childrenValues, { [`bull:${queue.name}:kid`]: 'child done' });
  });

  test(`${language}: add-job adds a job to another queue`, async (t) => {
    const { queue, qe } = await setup('add-job');
    const other = s.queue(s.queueName('other'));
    const job = await queue.add(jobName, {
      steps: [{ send: { op: 'add-job', name: 'report', data: { n: 1 }, opts: { jobId: 'r1', delay: 60000 }, queue: other.name } }],
    });
    const { replies } = await job.waitUntilFinished(qe, 10000);
    if (skipIfNotBuilt(t, replies)) return;
    assert.deepEqual(replies, [{ ok: true, id: 'r1' }]);
    const added = await Job.fromId(other, 'r1');
    assert.deepEqual(added.data, { n: 1 });
    assert.equal(await added.getState(), 'delayed');
  });

  test(`${language}: dependencies, dependency-counts and children-values of a flow parent`, async (t) => {
    const name = s.queueName('deps');
    const queue = s.queue(name);
    const qe = await s.events(name);
    await commandWorker(name);
    const flow = s.flowProducer();
    const tree = await flow.add({
      name: jobName,
      queueName: name,
      data: { steps: [{ send: { op: 'children-values' } }, { send: { op: 'dependencies' } }, { send: { op: 'dependency-counts' } }] },
      children: [
        { name: jobName, queueName: name, data: { steps: [{ return: 1 }] }, opts: { jobId: 'a' } },
        { name: jobName, queueName: name, data: { steps: [{ return: { two: 2 } }] }, opts: { jobId: 'b' } },
      ],
    });
    const { replies } = await tree.job.waitUntilFinished(qe, 15000);
    const [a, b] = [`bull:${name}:a`, `bull:${name}:b`];
    assert.deepEqual(replies[0], { ok: true, values: { [a]: 1, [b]: { two: 2 } } });
    if (skipIfNotBuilt(t, replies)) return;
    assert.deepEqual(replies[1].processed, { [a]: 1, [b]: { two: 2 } });
    assert.deepEqual(replies[1].unprocessed, []);
    assert.deepEqual(replies[2], { ok: true, processed: 2, unprocessed: 0, failed: 0, ignored: 0 });
  });

  test(`${language}: remove-unprocessed-children removes a pending child`, async (t) => {
    const { queue, qe } = await setup('remove-children');
    const job = await queue.add(jobName, {
      steps: [
        { send: { op: 'add-job', name: jobName, data: {}, opts: { jobId: 'late', delay: 60000 }, child: true } },
        { send: { op: 'remove-unprocessed-children' } },
        { send: { op: 'dependency-counts' } },
      ],
    });
    const { replies } = await job.waitUntilFinished(qe, 10000);
    if (skipIfNotBuilt(t, replies)) return;
    assert.deepEqual(replies[1], { ok: true });
    assert.equal(replies[2].unprocessed, 0);
    assert.equal(await Job.fromId(queue, 'late'), undefined);
  });

  test(`${language}: wait and rate-limit put the job back to wait without spending an attempt`, async (t) => {
    const { queue, qe } = await setup('wait');
    const seen = recordEvents(qe, ['failed']);
    // After the move the program exits 0 with its replies: the move decides.
    const waited = await queue.add(jobName, { steps: [{ run: 1, send: { op: 'wait' } }, { run: 2, return: 'second run' }] });
    const first = await waited.waitUntilFinished(qe, 10000);
    if (first.replies && skipIfNotBuilt(t, first.replies)) return;
    assert.equal(first, 'second run');
    assert.equal((await Job.fromId(queue, waited.id)).attemptsMade, 1);

    const limited = await queue.add(jobName, { steps: [{ run: 1, send: { op: 'rate-limit', ms: 800 } }, { run: 2, return: 'after the limit' }] });
    const second = await limited.waitUntilFinished(qe, 10000);
    if (second.replies && skipIfNotBuilt(t, second.replies)) return;
    assert.equal(second, 'after the limit');
    const done = await Job.fromId(queue, limited.id);
    assert.equal(done.attemptsMade, 1);
    assert.ok(done.finishedOn - done.timestamp >= 700, 'the queue was rate limited');
    assert.equal(seen.of('failed').length, 0);
  });
}

test('Python: the memory limit makes allocations fail', async () => {
  const { queue, qe } = await setup('memory', ['--command-memory-limit', '256M']);
  const job = await queue.add('py', { steps: [{ allocate_mb: 512 }, { return: 'allocated' }] });
  await assert.rejects(job.waitUntilFinished(qe, 10000), /MemoryError/);
  const small = await queue.add('py', { steps: [{ allocate_mb: 16 }, { return: 'allocated' }] });
  assert.equal(await small.waitUntilFinished(qe, 10000), 'allocated');
});

test('Python: the CPU limit stops a spinning program (SIGXCPU)', async () => {
  const { queue, qe } = await setup('cpu', ['--command-cpu-limit', '1']);
  const job = await queue.add('py', { steps: [{ spin: true }] });
  await assert.rejects(job.waitUntilFinished(qe, 15000), /CPU time limit of 1 s/);
});

for (const [language, file, run] of [
  ['Python', 'hello.py', program.python],
  ['Node', 'hello.mjs', program.node],
]) {
  test(`README: the ten-line ${language} handler`, async () => {
    const name = s.queueName('hello');
    const queue = s.queue(name);
    const qe = await s.events(name);
    const seen = recordEvents(qe, ['progress']);
    const worker = s.workerWith(['run', '--queue', name, '--redis', s.redis.url, '--command', `greet=${run(file)}`]);
    await waitForReady(worker);
    const job = await queue.add('greet', { name: 'Ada' });
    assert.deepEqual(await job.waitUntilFinished(qe, 10000), { greeting: 'hello Ada', attempt: 1 });
    assert.deepEqual(await queue.getJobLogs(job.id), { logs: ['greeting Ada'], count: 1 });
    await waitFor(() => seen.of('progress', job.id).length === 1, { what: 'progress event' });
    assert.deepEqual(seen.of('progress', job.id)[0].data, { stage: 'greeting' });
  });
}

test('BULLMQ_COMMANDS (one per line) is the twin of --command; unknown names still fail', async () => {
  const name = s.queueName('env');
  const queue = s.queue(name);
  const qe = await s.events(name);
  const worker = s.workerWith(['run', '--queue', name, '--redis', s.redis.url], {
    env: { BULLMQ_COMMANDS: `# the handlers\n${commands.join('\n')}\n` },
  });
  await waitForReady(worker);
  const job = await queue.add('js', { steps: [{ return: 'from env' }] });
  assert.equal(await job.waitUntilFinished(qe, 10000), 'from env');
  const unknown = await queue.add('nobody', {});
  await assert.rejects(unknown.waitUntilFinished(qe, 10000), /unknown job name|nobody/);
});

test('start-up errors: missing program, not executable, name given twice, bad quoting (exit 2)', async () => {
  const base = ['run', '--queue', 'q', '--redis', s.redis.url];
  const missing = await runBinary([...base, '--command', 'a=/no/such/program x']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--command a=\/no\/such\/program x: program '\/no\/such\/program' does not exist/);
  const notExecutable = await runBinary([...base, '--command', `a=${path.join(fixtures, '..', '..', 'package.json')}`]);
  assert.equal(notExecutable.code, 2);
  assert.match(notExecutable.stderr, /is not executable/);
  const notOnPath = await runBinary([...base, '--command', 'a=no-such-program-on-path']);
  assert.equal(notOnPath.code, 2);
  assert.match(notOnPath.stderr, /not an executable file in any PATH directory/);
  const twice = await runBinary([...base, '--command', commands[0], '--command', 'py=/bin/true']);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /job name 'py' is given twice/);
  const quoting = await runBinary([...base, '--command', "a=/bin/echo 'open"]);
  assert.equal(quoting.code, 2);
  assert.match(quoting.stderr, /unterminated ' quote/);
  const noName = await runBinary([...base, '--command', '/bin/echo']);
  assert.equal(noName.code, 2);
  assert.match(noName.stderr, /expected NAME=PROGRAM/);
  // A name the conformance set already has.
  const clash = await runBinary([...base, '--processors', 'conformance', '--command', 'echo=/bin/true']);
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /processors 'conformance' or a plugin already handle jobs named 'echo'/);
});

test('--print-config: commands alone select no processor set (no files plugin, no database)', async () => {
  const out = await runBinary(['run', '--queue', 'q', '--redis', s.redis.url, '--command', 'py=/bin/true x', '--command-timeout', '5000', '--print-config']);
  assert.equal(out.code, 0, out.stderr);
  const config = JSON.parse(out.stdout);
  assert.equal(config.processors, 'none');
  assert.deepEqual(config.commands, [{ name: 'py', program: '/bin/true' }]);
  assert.equal(config.command_limits.timeout_ms, 5000);
  const files = await runBinary(['run', '--queue', 'q', '--redis', s.redis.url, '--command', 'py=/bin/true', '--processors', 'files']);
  assert.equal(files.code, 2);
  assert.match(files.stderr, /need --database-url/);
});
