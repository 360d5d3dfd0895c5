// The worker's Node options: what suits the resident part only (--jitless, a 1 MB young
// generation) is left out for the worker, from its execArgv and from NODE_OPTIONS alike; the rest
// (a loader, a report flag) goes on.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workerExecArgv, workerNodeOptions } from '../../src/agent/worker-runner.js';

test("the worker runs without the resident part's --jitless and semi-space size, keeping the other options", () => {
  assert.deepEqual(workerExecArgv(['--jitless', '--max-semi-space-size=1', '--import', 'x.js']), ['--import', 'x.js']);
  assert.deepEqual(workerExecArgv(['--max_semi_space_size=1', '--report-on-signal']), ['--report-on-signal']);
  assert.deepEqual(workerExecArgv(['--max-semi-space-size', '1', '--trace-warnings']), ['--trace-warnings']);
  assert.deepEqual(workerExecArgv([]), []);
  assert.equal(workerNodeOptions('--jitless --max-semi-space-size=1'), '');
  assert.equal(workerNodeOptions('  --jitless   --enable-source-maps '), '--enable-source-maps');
  assert.equal(workerNodeOptions(undefined), undefined);
});
