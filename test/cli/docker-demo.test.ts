// The README's first quick-start command with a Docker Engine there (the private test Engine,
// through DOCKER_HOST): the example's edge app rolls out with the devices, rolls back with them
// when the commit fails its health window, and the demo leaves no container, network, volume or
// image of its own behind.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LABEL } from '../../src/apply/index.js';
import { runDemo } from '../helpers/demo.js';
import { requireDocker } from '../helpers/docker-tests.js';

const env = requireDocker();

describe('npm run demo with a Docker Engine', { skip: env ? false : 'no Docker Engine (see the line above)' }, () => {
  test(
    'the edge app goes out with v1, back to v1 with the devices, then out with the fixed v2; nothing is left ' +
      'behind',
    async () => {
      // The staged rollout runs devices only, the same with or without an Engine: test/cli/demo.test.ts has it.
      const r = await runDemo({ DOCKER_HOST: `unix://${env!.socket}`, ROLLGATE_DEMO_ROLLOUT: 'skip' });
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /the demo runs the edge app too/);
      const runs = [...r.out.matchAll(/The gateway runs: (.*)/g)].map((m) => m[1]);
      const v1 =
        'G13=gateway-v1 R456=rtos-v1 R998=rtos-v1; edge app: api=1.0 (running) broker=1.0 (running) collector=1.0 ' +
        '(running)';
      assert.deepEqual(
        runs,
        [
          v1,
          v1,
          'G13=gateway-v2 R456=rtos-v2 R998=rtos-v2; edge app: api=2.0 (running) broker=1.0 (running) ' +
            'collector=2.0 (running)',
        ],
        r.out,
      );
      const filters = JSON.stringify({ label: [`${LABEL.app}=edge`] });
      assert.deepEqual(await env!.docker.listContainers({ all: true, filters }), []);
      assert.deepEqual(await env!.docker.listNetworks({ filters }), []);
      assert.deepEqual((await env!.docker.listVolumes({ filters })).Volumes ?? [], []);
      const images = (await env!.docker.listImages()).flatMap((i) => i.RepoTags ?? []);
      assert.deepEqual(
        images.filter((t) => t.includes('rollgate-example/')),
        [],
        'the images it made are removed',
      );
    },
  );
});
