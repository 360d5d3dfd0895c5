#!/usr/bin/env node
// Runs every compiled test file with Node's test runner (Node 20 takes no globs).
//
// Test files named docker*.test.js (in any folder) need a real Docker Engine and registry: this script starts
// one private environment for them (test/helpers/docker-env.ts), runs them one file at a time
// (one of them restarts the Engine), and stops it afterwards. Under CI=true an environment that
// cannot start fails the run; elsewhere those tests skip with a loud line saying why.
//
// The plain files run two at a time (ROLLGATE_TEST_CONCURRENCY=<n> changes it; 1 runs them one by one): most
// of them wait on processes they start (agents polling, a git server, a hub), so on a 2-core machine two at a
// time took the plain part from about 1,824 s to 1,137 s (BENCHMARKS.md, "The test suite"). Node 20's runner
// would take os.availableParallelism() - 1 files at a time, which is one on two cores.
//
// ROLLGATE_TEST_PARALLEL=1 also runs the Docker part beside the plain part; its report is then kept in a file
// and printed whole when it ends. Not the default: a few timing-sensitive tests (a hub's 3 s silence window)
// have failed beside it on a loaded machine.
//
// Files under test/soak/ (long runs: tens of thousands of polls) run only with ROLLGATE_SOAK=1.
//
// Each part prints Node's summary; the run ends on one line with the totals of both parts, skipped suites included
// (scripts/test-totals.mjs counts them). `--dir=<dir>` runs the test files of another directory.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const started = process.hrtime.bigint();
// test/ mirrors src/: test/<stage>/<name>.test.ts; an argument matches a file's path under test/
// (`lifecycle`, `plan`, `apply/docker`).
const args = process.argv.slice(2);
// The soaks (test/soak/) run for half an hour or more: only when asked, never in the default run.
const soak = process.env.ROLLGATE_SOAK === '1';
const dir = args.find((a) => a.startsWith('--dir='))?.slice('--dir='.length) ?? 'dist/test';
const only = args.filter((a) => !a.startsWith('--dir='));
const files = readdirSync(dir, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.js') && !f.startsWith('helpers'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .filter((f) => soak || !f.startsWith('soak/'))
  .sort();
const plain = files.filter((f) => !basename(f).startsWith('docker'));
const docker = files.filter((f) => basename(f).startsWith('docker'));
const ci = process.env.CI === 'true';

const reporter = fileURLToPath(new URL('./test-totals.mjs', import.meta.url));
const totalsDir = mkdtempSync(join(tmpdir(), 'rollgate-test-totals-'));
const parts = [];
/** One part in Node's runner; `report` names a file for its spec report (stdout when absent). */
const run = (list, { extra = [], env = process.env, report } = {}) => {
  if (list.length === 0) return Promise.resolve(0);
  const totals = join(totalsDir, `${parts.length}.json`);
  parts.push(totals);
  const reporters = ['--test-reporter=spec', `--test-reporter-destination=${report ?? 'stdout'}`];
  reporters.push(`--test-reporter=${reporter}`, `--test-reporter-destination=${totals}`);
  const argv = ['--test', ...reporters, ...extra, ...list.map((f) => join(dir, f))];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', report ? 'ignore' : 'inherit', 'inherit'], env });
  return new Promise((resolve) => {
    child.on('error', () => resolve(1));
    child.on('close', (code) => resolve(code ?? 1));
  });
};

/** The totals of every part; a part whose runner died before its report counts as one failure. */
function closingLine() {
  const sum = { tests: 0, passed: 0, failed: 0, cancelled: 0, skipped: 0, skippedSuites: 0, todo: 0 };
  const failures = [];
  for (const file of parts) {
    let t;
    try {
      t = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      t = { tests: 1, failed: 1, failures: [{ name: 'a part of the run', file, error: 'its runner died first' }] };
    }
    for (const k of Object.keys(sum)) sum[k] += t[k] ?? 0;
    failures.push(...(t.failures ?? []));
  }
  rmSync(totalsDir, { recursive: true, force: true });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const where = (f) =>
    f.file ? ` (${relative(process.cwd(), f.file.replace(/^file:\/\//, ''))}${f.line ? `:${f.line}` : ''})` : '';
  const failed = failures.map((f) => `✖ ${f.name}${where(f)}\n${f.error.replace(/^/gm, '    ')}\n`).join('');
  return (
    (failed ? `\n== what failed, again (each test's whole output is above):\n${failed}` : '') +
    `== all tests: ${plural(sum.tests, 'test')}, ${sum.passed} passed, ${sum.failed} failed` +
    (sum.cancelled ? ` (${sum.cancelled} cancelled)` : '') +
    `, ${sum.skipped} skipped` +
    (sum.skippedSuites ? ` (${plural(sum.skippedSuites, 'whole suite')})` : '') +
    `, ${sum.todo} todo; ${plural(files.length, 'file')} in ${seconds.toFixed(1)} s\n`
  );
}
const finish = (status) => {
  process.stdout.write(closingLine());
  process.exit(status);
};

const serial = process.env.ROLLGATE_TEST_PARALLEL !== '1';
const concurrency = process.env.ROLLGATE_TEST_CONCURRENCY ?? '2';
if (!/^[1-9][0-9]*$/.test(concurrency)) {
  process.stderr.write(`ROLLGATE_TEST_CONCURRENCY must be a whole number of files at a time, not "${concurrency}"\n`);
  process.exit(2);
}
const plainPart = run(plain, { extra: [`--test-concurrency=${concurrency}`] });
let status = serial ? await plainPart : 0;

if (docker.length > 0) {
  const { startDockerEnv, stopDockerEnv } = await import('../dist/test/helpers/docker-env.js');
  let info;
  const env = { ...process.env };
  try {
    process.stderr.write('Starting a private Docker Engine and registry for the Docker tests...\n');
    info = await startDockerEnv();
    env.ROLLGATE_TEST_DOCKER = join(info.root, 'env.json');
    process.stderr.write(`  dockerd at unix://${info.socket}, registry at ${info.registry}\n`);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (ci) {
      process.stderr.write(`CI=true and the Docker environment could not start, so the run fails:\n${why}\n`);
      await plainPart;
      finish(1);
    }
    process.stderr.write(
      `\n!!! SKIPPING the Docker tests (${docker.join(', ')}): ${why}\n!!! Install docker.io, docker-registry ` +
        `and busybox-static and run as root to include them.\n\n`,
    );
    env.ROLLGATE_TEST_DOCKER_ERROR = why;
  }
  const stop = async () =>
    info &&
    (await stopDockerEnv(join(info.root, 'env.json')).catch((e) =>
      process.stderr.write(`could not stop the test Docker environment: ${e}\n`),
    ));
  process.on('SIGINT', () => stop().then(() => finish(130)));
  const report = serial ? undefined : join(totalsDir, 'docker-report.txt');
  try {
    const s = await run(docker, { extra: ['--test-concurrency=1'], env, ...(report ? { report } : {}) });
    if (s !== 0) status = s;
  } finally {
    await stop();
  }
  if (report) {
    let text = '';
    try {
      text = readFileSync(report, 'utf8');
    } catch {
      text = '(the Docker part wrote no report)\n';
    }
    process.stdout.write(`\n==== the Docker part (${docker.length} files, run beside the plain part) ====\n${text}`);
    process.stdout.write('==== end of the Docker part ====\n\n');
  }
}
const plainStatus = await plainPart;
if (plainStatus !== 0) status = plainStatus;
finish(status);
