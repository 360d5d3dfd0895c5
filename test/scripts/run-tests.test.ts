// scripts/run-tests.mjs, the runner behind `npm test`, run as a process on a directory of small test files
// written here: its last line is the totals of the whole run, skipped suites and failing suites included.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cleanup, projectRoot, tempDir } from '../helpers/fixtures.js';

const FILES: Record<string, string> = {
  'mixed.test.js': `import { describe, test } from 'node:test';
test('passes', () => {});
test('fails', () => { throw new Error('expected failure'); });
test('skipped', { skip: 'not here' }, () => {});
test('todo', { todo: 'later' }, () => {});
describe('a skipped suite', { skip: 'no engine' }, () => { test('one', () => {}); test('two', () => {}); });
describe('a suite', () => { test('inside', () => {}); });
`,
  // The second file's summary is the one Node prints last; the closing line must still count the first.
  'other.test.js': `import { describe, test } from 'node:test';
test('also passes', () => {});
describe('a suite whose own code throws', () => { throw new Error('broken suite'); });
`,
  'clean.test.js': `import { test } from 'node:test';
test('passes cleanly', () => {});
`,
};

let dir: string;
before(() => {
  dir = tempDir('rollgate-runner-');
  for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), text);
});
after(() => cleanup(dir));

function runner(...args: string[]) {
  // Without NODE_TEST_CONTEXT, which would make the runner's own runs report to this one instead.
  const env: NodeJS.ProcessEnv = { ...process.env, CI: '' };
  delete env['NODE_TEST_CONTEXT'];
  const r = spawnSync(process.execPath, [join(projectRoot, 'scripts/run-tests.mjs'), `--dir=${dir}`, ...args], {
    cwd: projectRoot,
    encoding: 'utf8',
    env,
  });
  return { code: r.status, lines: r.stdout.trimEnd().split('\n') };
}

test('the run ends on one line with the totals of every file: skipped suites and broken suites counted', () => {
  const r = runner();
  assert.equal(r.code, 1, 'a failing test fails the run');
  assert.match(
    r.lines.at(-1)!,
    /^== all tests: 9 tests, 4 passed, 2 failed, 2 skipped \(1 whole suite\), 1 todo; 3 files in \d+\.\d s$/,
  );
});

test('a filter narrows the files, and the totals with them', () => {
  const r = runner('other');
  assert.equal(r.code, 1);
  assert.match(r.lines.at(-1)!, /^== all tests: 2 tests, 1 passed, 1 failed, 0 skipped, 0 todo; 1 file in /);
});

test('the failures are named again just above the totals, each with its file and the first lines of its error', () => {
  const r = runner();
  const at = r.lines.indexOf("== what failed, again (each test's whole output is above):");
  assert.ok(at > 0, r.lines.join('\n'));
  const tail = r.lines.slice(at + 1, -1).join('\n');
  assert.match(tail, /^✖ fails \(.*mixed\.test\.js:3\)\n {4}expected failure$/m);
  assert.match(tail, /^✖ a suite whose own code throws \(.*other\.test\.js:3\)\n {4}broken suite$/m);
  assert.doesNotMatch(tail, /✖ (passes|skipped|todo|a skipped suite)\b/);
  assert.equal(r.lines.filter((l) => l.startsWith('✖ ')).length >= 2, true);
});

test('a clean run prints no list of failures', () => {
  const r = runner('clean');
  assert.equal(r.code, 0);
  assert.match(r.lines.at(-1)!, /^== all tests: 1 test, 1 passed, 0 failed/);
  assert.equal(
    r.lines.some((l) => l.startsWith('== what failed')),
    false,
  );
});
