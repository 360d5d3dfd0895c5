#!/usr/bin/env node
// Runs every compiled test file with Node's test runner (Node 20 takes no globs).
//
// Test files named docker*.test.js (in any folder) need a real Docker Engine and registry: this script starts
// one private environment for them (test/helpers/docker-env.ts), runs them one file at a time
// (one of them restarts the Engine), and stops it afterwards. Under CI=true an environment that
// cannot start fails the run; elsewhere those tests skip with a loud line saying why.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

// test/ mirrors src/: test/<stage>/<name>.test.ts; an argument matches a file's path under test/
// (`rollback`, `plan`, `apply/docker`).
const dir = 'dist/test';
const only = process.argv.slice(2);
const files = readdirSync(dir, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.js') && !f.startsWith('helpers'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
const plain = files.filter((f) => !basename(f).startsWith('docker'));
const docker = files.filter((f) => basename(f).startsWith('docker'));
const ci = process.env.CI === 'true';

const run = (list, extra = [], env = process.env) =>
  list.length === 0
    ? 0
    : (spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...extra, ...list.map((f) => join(dir, f))], {
        stdio: 'inherit',
        env,
      }).status ?? 1);

let status = run(plain);

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
      process.exit(1);
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
  process.on('SIGINT', () => stop().then(() => process.exit(130)));
  try {
    const s = run(docker, ['--test-concurrency=1'], env);
    if (s !== 0) status = s;
  } finally {
    await stop();
  }
}
process.exit(status);
