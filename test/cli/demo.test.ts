// The README's first quick-start command, `npm run demo`, as a new user runs it on a machine
// without a Docker Engine: the agent on fleet-repo-example's devices, a rollout, a failing commit
// rolled back and refused, the fix rolled out. (test/cli/docker-demo.test.ts runs it with an Engine.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDemo } from '../helpers/demo.js';

test(
  'npm run demo without a Docker Engine: devices only, said loudly; v1 out, v2 rolled back and refused, the ' +
    'fixed v2 out',
  async () => {
    const r = await runDemo({ DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
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
  },
);
