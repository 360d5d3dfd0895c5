// pull_policy on the real Engine and registry: a tag that moved in the registry replaces its service
// (pulled first), and an unmoved one changes nothing.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DockerApplier, Engine, hostPaths, LABEL } from '../../src/apply/index.js';
import { silentLog } from '../../src/base/log.js';
import { reconcileOnce } from '../../src/gateway/reconcile.js';
import { AppRepo } from '../helpers/app-repo.js';
import { requireDocker } from '../helpers/docker-tests.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { httpText } from '../helpers/container-io.js';

const env = requireDocker();

describe(
  'pull_policy on the real Engine and registry',
  { skip: env ? false : 'no Docker Engine (see the line above)' },
  () => {
    test(
      'always: a tag that moved in the registry replaces its service (pulled first); unmoved, nothing ' + 'changes',
      async () => {
        const engine = new Engine({ socketPath: env!.socket, reconnectMs: 60_000 });
        const docker = engine.docker;
        const stateDir = tempDir('rollgate-state-');
        const r = new AppRepo();
        const push = async (ref: string) => {
          const stream = await docker.getImage(ref).push({ authconfig: { serveraddress: env!.registry } });
          await new Promise((done) => docker.modem.followProgress(stream, done));
        };
        try {
          const a = await env!.image('t/mut', 'a', true);
          const b = await env!.image('t/mut', 'b', true);
          const latest = `${env!.registry}/t/mut:latest`;
          await docker.getImage(a).tag({ repo: `${env!.registry}/t/mut`, tag: 'latest' });
          await push(latest);
          const d = await r.set({
            mut:
              `services:\n  web:\n    image: ${latest}\n    pull_policy: always\n    command: ["httpd", "-f", ` +
              `"-p", "8080", "-h", "/www"]\n    init: true\n    stop_grace_period: 2s\n    ports: ` +
              `["127.0.0.1:18305:8080"]\n`,
          });
          const reconcile = () =>
            reconcileOnce(d, {
              docker: new DockerApplier(engine, { paths: hostPaths(stateDir) }),
              stateDir,
              log: silentLog,
              refreshImages: [latest],
            });
          assert.equal((await reconcile()).outcome?.status, 'applied');
          assert.equal(await httpText(18305), 'version t/mut:a');
          const unmoved = await reconcile();
          assert.equal(unmoved.plan.changes.length, 0, 'the registry still names what runs');

          await docker.getImage(b).tag({ repo: `${env!.registry}/t/mut`, tag: 'latest' });
          await push(latest);
          const moved = await reconcile();
          assert.equal(moved.outcome?.status, 'applied');
          assert.deepEqual(
            moved.plan.changes.map((c) => [c.action, c.cause, c.reason]),
            [['change', 'registry', `${latest} moved in the registry (pull_policy)`]],
          );
          assert.ok(
            moved.plan.prepare.some((s) => s.kind === 'pull'),
            'pulled first',
          );
          assert.equal(await httpText(18305), 'version t/mut:b');
          assert.equal((await reconcile()).plan.changes.length, 0, 'and then it is what the registry names');
        } finally {
          for (const c of await docker.listContainers({
            all: true,
            filters: JSON.stringify({ label: [`${LABEL.app}=mut`] }),
          }))
            await docker.getContainer(c.Id).remove({ force: true });
          cleanup(r.dir);
          cleanup(stateDir);
        }
      },
    );
  },
);
