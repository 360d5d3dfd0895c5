// The README's first quick-start command, `npm run demo`, as a new user runs it on a machine
// without a Docker Engine: the agent on fleet-repo-example's devices, a rollout, a failing commit
// rolled back and refused, the fix rolled out; then a staged rollout over four gateways, aborted on
// the canary, and the fix wave by wave. (test/cli/docker-demo.test.ts runs it with an Engine, without
// the staged rollout, which runs devices only either way.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDemo } from '../helpers/demo.js';

test(
  'npm run demo without a Docker Engine: devices only, said loudly; v1 out, v2 rolled back and refused, the ' +
    'fixed v2 out',
  async () => {
    const r = await runDemo({ DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, 480_000);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /== Devices only, no containers: no Docker Engine at \/nonexistent\/docker\.sock/);
    const runs = [...r.out.matchAll(/The gateway runs: (.*)/g)].map((m) => m[1]);
    assert.deepEqual(
      runs,
      [
        'G13=gateway-v1 R456=rtos-v1 R998=rtos-v1',
        'G13=gateway-v1 R456=rtos-v1 R998=rtos-v1',
        'G13=gateway-v2 R456=rtos-v2 R998=rtos-v2',
      ],
      r.out,
    );
    assert.match(r.out, /health-failed/);
    assert.match(r.out, /it is not applied again until the branch moves/);
    assert.match(r.out, /↩ .* rolled-back /);

    // The staged rollout over four gateways: the bad release reaches the canary alone and is aborted; the
    // fixed one goes wave by wave to everyone.
    assert.match(r.out, /rollout v2-first-try: aborted; [0-9a-f]{12} is bad, every gateway returns to/);
    assert.match(r.out, /Gateways that installed v2: gw-0001 — the canary wave alone\./);
    assert.match(r.out, /gw-0002: wave (half|everyone), not yet: wave/);
    const opened = [...r.out.matchAll(/rollout v2: wave \d of 3 "(\w+)" of fleet opens/g)].map((m) => m[1]);
    assert.deepEqual(opened, ['half', 'everyone'], r.out);
    assert.match(r.out, /rollout v2: complete, every gateway runs [0-9a-f]{12}/);
    const fleet = r.out.slice(r.out.lastIndexOf('The fleet runs:'));
    const lines = [...fleet.matchAll(/ {2}(gw-000\d) \(\w+\): (.*)/g)].map((m) => `${m[1]} ${m[2]}`);
    assert.deepEqual(
      lines,
      ['gw-0001', 'gw-0002', 'gw-0003', 'gw-0004'].map((id) => `${id} G13=gateway-v2 R456=rtos-v2 R998=rtos-v2`),
      r.out,
    );
  },
);
