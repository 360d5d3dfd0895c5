// The Docker applier against a real Engine and a real registry (started by run-tests.mjs), when
// something fails: a rollback keeps volume data; a registry down, an image missing, a host port
// taken, the Engine restarted mid-apply.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { DockerApplier, Engine, LABEL } from '../../src/apply/index.js';
import { reconcileOnce, type ReconcileResult } from '../../src/gateway/reconcile.js';
import type { DesiredState } from '../../src/model/index.js';
import { AppRepo } from '../helpers/app-repo.js';
import { requireDocker } from '../helpers/docker-tests.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { exec, httpText } from '../helpers/container-io.js';
import { appContainers, listening, Recorder } from '../helpers/docker-applier.js';

const env = requireDocker();

describe(
  'Docker applier (real Engine, real registry)',
  { skip: env ? false : 'no Docker Engine (see the line above)' },
  () => {
    let engine: Engine;
    let stateDir: string;
    const repos: AppRepo[] = [];
    const apps: string[] = [];
    let log: Recorder;
    let docker: Docker;
    const img: Record<string, string> = {};

    const applier = (opts: ConstructorParameters<typeof DockerApplier>[1] = {}) =>
      new DockerApplier(engine, { pullBackoffMs: 100, ...opts });
    const reconcile = (d: DesiredState, a = applier()): Promise<ReconcileResult> =>
      reconcileOnce(d, { docker: a, stateDir, log });
    const repo = () => {
      const r = new AppRepo();
      repos.push(r);
      return r;
    };
    const byService = async (app: string) =>
      Object.fromEntries((await appContainers(docker, app)).map((c) => [c.Labels[LABEL.service]!, c]));

    before(async () => {
      engine = new Engine({ socketPath: env!.socket, reconnectMs: 60_000 });
      docker = engine.docker;
      stateDir = tempDir('rollgate-state-');
      for (const [k, name, tag] of [
        ['web1', 't/web', '1'],
        ['web2', 't/web', '2'],
        ['worker1', 't/worker', '1'],
        ['db1', 't/db', '1'],
      ] as const) {
        img[k] = await env!.image(name, tag);
      }
    });
    test.beforeEach(() => {
      log = new Recorder();
    });
    after(async () => {
      for (const a of apps)
        for (const c of await appContainers(docker, a))
          await docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => {});
      for (const r of repos) cleanup(r.dir);
      cleanup(stateDir);
    });

    const webApp = (name: string, image: string, port: number, extra = '') => {
      apps.push(name);
      return `services:
  web:
    image: ${image}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    restart: unless-stopped
    stop_grace_period: 2s
    ports: ["127.0.0.1:${port}:8080"]
${extra}`;
    };

    test('volume data survives an update that is rolled back, and the update that follows', async () => {
      const r = repo();
      apps.push('vol');
      const compose = (image: string, port: number) => `services:
  web:
    image: ${image}
    command: ["sh", "-c", "test -f /data/first || date > /data/first; exec httpd -f -p 8080 -h /www"]
    init: true
    stop_grace_period: 1s
    ports: ["127.0.0.1:${port}:8080"]
    volumes: ["data:/data"]
volumes:
  data:
`;
      await r.set({ vol: compose(img['web1']!, 18106) });
      assert.equal((await reconcile(await r.load())).outcome?.status, 'applied');
      const first = await exec(docker, (await byService('vol'))['web']!.Id, ['cat', '/data/first']);
      assert.ok(first.length > 0);

      const blocker = await listening(18107);
      try {
        const res = await reconcile(await r.set({ vol: compose(img['web2']!, 18107) }));
        assert.equal(res.outcome?.status, 'rolled-back');
      } finally {
        blocker.close();
      }
      assert.equal(await exec(docker, (await byService('vol'))['web']!.Id, ['cat', '/data/first']), first);
      assert.equal((await reconcile(await r.load())).outcome?.status, 'applied');
      const web = (await byService('vol'))['web']!;
      assert.equal(web.Image, img['web2']);
      assert.equal(
        await exec(docker, web.Id, ['cat', '/data/first']),
        first,
        'the new container sees the data the old one wrote',
      );
    });

    test(
      'registry down before the apply: nothing running is touched, and the error names image and ' + 'registry',
      async () => {
        const r = repo();
        await r.set({ down: webApp('down', img['web1']!, 18108) });
        assert.equal((await reconcile(await r.load())).outcome?.status, 'applied');
        const before = (await byService('down'))['web']!;
        const d = await r.set({ down: webApp('down', '127.0.0.1:5999/t/web:2', 18108) });
        const res = await reconcile(d, applier({ pullAttempts: 2 }));
        assert.equal(res.outcome?.status, 'prepare-failed');
        assert.match(
          res.outcome!.error!,
          new RegExp(
            String.raw`could not pull 127\.0\.0\.1:5999\/t\/web:2 from registry 127\.0\.0\.1:5999 after 2` +
              String.raw` attempts: .*connection refused`,
          ),
        );
        assert.match(log.text(), /retrying/);
        const after = (await byService('down'))['web']!;
        assert.equal(after.Id, before.Id);
        assert.equal(after.State, 'running');
        assert.equal(
          (await docker.getContainer(after.Id).inspect()).State.StartedAt,
          (await docker.getContainer(before.Id).inspect()).State.StartedAt,
          'not even restarted',
        );
        assert.equal(await httpText(18108), 'version t/web:1');
      },
    );

    test('an image that does not exist: one attempt, a clear error, nothing touched', async () => {
      const r = repo();
      await r.set({ nope: webApp('nope', img['web1']!, 18109) });
      assert.equal((await reconcile(await r.load())).outcome?.status, 'applied');
      const before = (await byService('nope'))['web']!.Id;
      const missing = `${env!.registry}/t/does-not-exist:9`;
      const res = await reconcile(await r.set({ nope: webApp('nope', missing, 18109) }));
      assert.equal(res.outcome?.status, 'prepare-failed');
      assert.match(
        res.outcome!.error!,
        new RegExp(`image ${missing.replace(/[.:/]/g, '\\$&')} was not found in registry`),
      );
      assert.doesNotMatch(log.text(), /retrying/);
      assert.equal((await byService('nope'))['web']!.Id, before);
    });

    test(
      'a host port taken when the new container starts: the error names the port and the app is put ' + 'back',
      async () => {
        const r = repo();
        await r.set({
          port: webApp('port', img['web1']!, 18110) + `  worker:\n    image: ${img['worker1']}\n    init: true\n`,
        });
        assert.equal((await reconcile(await r.load())).outcome?.status, 'applied');
        const before = await byService('port');
        const blocker = await listening(18111);
        let res: ReconcileResult;
        try {
          res = await reconcile(
            await r.set({
              port:
                webApp('port', img['web2']!, 18111) +
                `  worker:\n    image: ${img['worker1']}\n    init: true\n    environment: { V: "2" }\n`,
            }),
          );
        } finally {
          blocker.close();
        }
        assert.equal(res.outcome?.status, 'rolled-back');
        assert.match(
          res.outcome!.error!,
          /port 127\.0\.0\.1:18111 is already in use on the gateway, so port\/web cannot start/,
        );
        const after = await byService('port');
        assert.deepEqual(
          Object.fromEntries(Object.entries(after).map(([k, c]) => [k, [c.Id, c.State]])),
          Object.fromEntries(Object.entries(before).map(([k, c]) => [k, [c.Id, 'running']])),
        );
        assert.equal((await appContainers(docker, 'port')).length, 2, 'no container of the failed apply is left');
        assert.equal(await httpText(18110), 'version t/web:1');
      },
    );

    test(
      'the Engine restarted during an apply: the apply ends applied or put back, and the next reconcile ' + 'converges',
      async () => {
        const r = repo();
        apps.push('restart');
        const compose = (v: string) => `services:
  db:
    image: ${img['db1']}
    command: ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 3600"]
    init: true
    restart: unless-stopped
    environment: { V: "${v}" }
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 300ms
      timeout: 1s
      retries: 30
  app:
    image: ${img['worker1']}
    init: true
    restart: unless-stopped
    environment: { V: "${v}" }
    depends_on:
      db: { condition: service_healthy }
`;
        await r.set({ restart: compose('1') });
        assert.equal((await reconcile(await r.load())).outcome?.status, 'applied');
        const d2 = await r.set({ restart: compose('2') });
        let restarting: Promise<void> | undefined;
        log.onLine = (msg) => {
          if (!restarting && /waits for db/.test(msg)) restarting = env!.restartEngine(500);
        };
        const res = await reconcile(d2);
        await restarting;
        assert.ok(restarting, 'the Engine was restarted in the middle of the apply');
        assert.ok(
          res.outcome && ['applied', 'rolled-back'].includes(res.outcome.status),
          `${res.outcome?.status}: ${res.outcome?.error} / ${res.outcome?.undoErrors.join('; ')}`,
        );
        log.onLine = undefined;
        const final = await reconcile(d2);
        assert.ok(!final.outcome || final.outcome.status === 'applied', final.outcome?.error);
        const cs = await appContainers(docker, 'restart');
        assert.equal(cs.length, 2, `one container per service, no orphans: ${cs.map((c) => c.Names[0]).join(', ')}`);
        for (const c of cs) {
          assert.equal(c.State, 'running');
          assert.equal(
            c.Labels[LABEL.configHash],
            d2.apps[0]!.services.find((s) => s.name === c.Labels[LABEL.service])!.configHash,
          );
        }
      },
    );
  },
);
