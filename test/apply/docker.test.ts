// The Docker applier against a real Engine and a real registry (started by run-tests.mjs): an
// install, updates, depends_on, drift and orphans.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { DockerApplier, Engine, LABEL } from '../../src/apply/index.js';
import { JOURNAL_FILE, reconcileOnce, type ReconcileResult } from '../../src/gateway/reconcile.js';
import { plan as makePlan } from '../../src/plan/index.js';
import { observeGateway } from '../../src/apply/index.js';
import type { DesiredState } from '../../src/model/index.js';
import { AppRepo } from '../helpers/app-repo.js';
import { requireDocker } from '../helpers/docker-tests.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { httpText } from '../helpers/container-io.js';
import { appContainers, Recorder } from '../helpers/docker-applier.js';

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

    test(
      'fresh install: images pulled first, containers labelled and running, then a no-op reconcile costs ' +
        'four Engine calls',
      async () => {
        const r = repo();
        const d = await r.set({
          fresh:
            webApp('fresh', img['web1']!, 18101) +
            `  worker:
    image: ${img['worker1']}
    command: ["sh", "-c", "echo started >> /data/log; exec sleep 3600"]
    init: true
    environment: { MODE: batch }
    volumes: ["store:/data"]
volumes:
  store:
`,
        });
        const res = await reconcile(d);
        assert.equal(res.outcome?.status, 'applied', res.outcome?.error);
        // Safety rule 1: both pulls ran before the first container was created.
        const lastPull = Math.max(...res.outcome!.ran.map((id, i) => (id.startsWith('pull') ? i : -1)));
        const firstCreate = res.outcome!.ran.findIndex((id) => id.startsWith('create '));
        assert.ok(lastPull >= 0 && lastPull < firstCreate, `pulls before creates: ${res.outcome!.ran.join(', ')}`);
        assert.match(log.text(), /pulling 127\.0\.0\.1:\d+\/t\/web:1/);

        const cs = await byService('fresh');
        assert.deepEqual(Object.keys(cs).sort(), ['web', 'worker']);
        for (const [name, c] of Object.entries(cs)) {
          assert.equal(c.State, 'running', name);
          assert.equal(c.Labels[LABEL.configHash], d.apps[0]!.services.find((s) => s.name === name)!.configHash);
        }
        assert.equal(await httpText(18101), 'version t/web:1');
        const inspected = await docker.getContainer(cs['worker']!.Id).inspect();
        assert.ok(inspected.Config.Env.includes('MODE=batch'));
        assert.equal(inspected.HostConfig.Init, true);
        assert.equal(inspected.Mounts[0]?.Name, 'fresh_store');
        assert.ok(Object.keys(inspected.NetworkSettings.Networks).includes('fresh_default'));
        assert.equal(existsSync(join(stateDir, JOURNAL_FILE)), false, 'the journal is cleared after a finished apply');

        // A fresh applier (a restarted agent) knows what runs from the labels alone.
        const fresh = new Engine({ socketPath: env!.socket });
        const again = await reconcileOnce(d, { docker: new DockerApplier(fresh), stateDir, log });
        assert.equal(again.plan.changes.length, 0, JSON.stringify(again.plan.changes));
        assert.equal(again.outcome, undefined);
        assert.equal(fresh.calls, 4, 'observation is four list calls, not one call per container');
        assert.deepEqual(again.plan.unchanged.services, ['fresh/web', 'fresh/worker']);
      },
    );

    test('release update of one service: the other keeps its container, the old image is pruned', async () => {
      const r = repo();
      const worker = `  worker:
    image: ${img['worker1']}
    init: true
`;
      await r.set({ rel: webApp('rel', img['web1']!, 18102) + worker });
      assert.equal((await reconcile(await r.load())).outcome?.status, 'applied');
      const before = await byService('rel');
      const d2 = await r.set({ rel: webApp('rel', img['web2']!, 18102) + worker });
      const res = await reconcile(d2);
      assert.equal(res.outcome?.status, 'applied', res.outcome?.error);
      const after = await byService('rel');
      assert.equal(after['worker']!.Id, before['worker']!.Id, 'the unchanged service keeps its container');
      assert.notEqual(after['web']!.Id, before['web']!.Id);
      assert.equal(
        (await appContainers(docker, 'rel')).length,
        2,
        'the replaced container is removed once the change is confirmed',
      );
      assert.equal(await httpText(18102), 'version t/web:2');
      // New before old, on a service holding a host port: create, stop the old, start the new.
      const order = res.outcome!.ran.filter((id) => id.includes('rel/web'));
      assert.deepEqual(
        order.map((id) => id.split(' ')[0]),
        ['create', 'stop', 'start', 'remove'],
      );
      const images = (await docker.listImages()).flatMap((i) => i.RepoTags ?? []);
      assert.ok(!images.includes(img['web1']!), 'the image nothing uses any more is pruned');
      assert.ok(images.includes(img['web2']!) && images.includes(img['worker1']!));
    });

    test('depends_on: service_started orders starts, service_healthy waits for the healthcheck', async () => {
      const r = repo();
      apps.push('deps');
      const d = await r.set({
        deps: `services:
  db:
    image: ${img['db1']}
    command: ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 3600"]
    init: true
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 300ms
      timeout: 1s
      retries: 20
  app:
    image: ${img['worker1']}
    init: true
    depends_on:
      db: { condition: service_healthy }
  side:
    image: ${img['worker1']}
    init: true
    depends_on: [app]
`,
      });
      const res = await reconcile(d);
      assert.equal(res.outcome?.status, 'applied', res.outcome?.error);
      const cs = await byService('deps');
      const db = await docker.getContainer(cs['db']!.Id).inspect();
      const app = await docker.getContainer(cs['app']!.Id).inspect();
      const side = await docker.getContainer(cs['side']!.Id).inspect();
      // db cannot be healthy before its `sleep 1` is over (the Engine keeps only the last five
      // probes, so the first passing one may be gone from its log by now).
      const readyAt = new Date(db.State.StartedAt).getTime() + 1000;
      assert.equal(db.State.Health?.Status, 'healthy');
      assert.ok(
        new Date(app.State.StartedAt).getTime() >= readyAt,
        `app started ${app.State.StartedAt}, db started ${db.State.StartedAt} and is ready a second later`,
      );
      assert.ok(new Date(side.State.StartedAt) >= new Date(app.State.StartedAt));
      assert.match(log.text(), /deps\/app waits for db \(service_healthy\)/);
    });

    test('a dependency that turns unhealthy fails the apply with both services named, and it is put back', async () => {
      const r = repo();
      apps.push('sick');
      const d = await r.set({
        sick: `services:
  db:
    image: ${img['db1']}
    init: true
    healthcheck:
      test: ["CMD", "false"]
      interval: 200ms
      timeout: 1s
      retries: 2
  app:
    image: ${img['worker1']}
    init: true
    depends_on:
      db: { condition: service_healthy }
`,
      });
      const res = await reconcile(d);
      assert.equal(res.outcome?.status, 'rolled-back');
      assert.match(res.outcome!.error!, /sick\/db is unhealthy, and sick\/app waits for it/);
      assert.equal((await appContainers(docker, 'sick')).length, 0, 'nothing of the failed install is left');
    });

    test('drift: a container stopped, removed or replaced by hand is planned back', async () => {
      const r = repo();
      const d = await r.set({
        drift:
          webApp('drift', img['web1']!, 18104) +
          `  worker:\n    image: ${img['worker1']}\n    init: true\n  extra:\n    image: ${img['worker1']}\n    ` +
          `init: true\n`,
      });
      assert.equal((await reconcile(d)).outcome?.status, 'applied');
      const before = await byService('drift');
      await docker.getContainer(before['web']!.Id).stop({ t: 1 });
      await docker.getContainer(before['worker']!.Id).remove({ force: true });
      // Replaced by hand: same labels, other configuration.
      await docker.getContainer(before['extra']!.Id).remove({ force: true });
      const hand = await docker.createContainer({
        Image: img['worker1']!,
        Cmd: ['sleep', '3600'],
        Labels: { [LABEL.app]: 'drift', [LABEL.service]: 'extra', [LABEL.configHash]: 'by-hand' },
        HostConfig: { Init: true },
      });
      await hand.start();

      const observed = await observeGateway({ docker: applier() });
      const p = makePlan(d, observed);
      const actions = Object.fromEntries(
        p.changes
          .filter((c) => c.target.kind === 'service')
          .map((c) => [c.target.kind === 'service' ? c.target.service : '', c.action]),
      );
      assert.deepEqual(actions, { web: 'repair', worker: 'add', extra: 'change' });

      const res = await reconcile(d);
      assert.equal(res.outcome?.status, 'applied', res.outcome?.error);
      const after = await byService('drift');
      assert.equal(after['web']!.Id, before['web']!.Id, 'a stopped container is started again, not replaced');
      assert.equal(after['web']!.State, 'running');
      assert.equal(after['worker']!.State, 'running');
      assert.equal(
        after['extra']!.Labels[LABEL.configHash],
        d.apps[0]!.services.find((s) => s.name === 'extra')!.configHash,
      );
      assert.equal((await appContainers(docker, 'drift')).length, 3);
      assert.equal((await reconcile(d)).plan.changes.length, 0);
    });

    test(
      'orphans: a service dropped from the file and an app dropped from the fleet are removed; named volumes ' + 'stay',
      async () => {
        const r = repo();
        apps.push('keep', 'gone');
        const gone =
          `services:\n  s:\n    image: ${img['worker1']}\n    init: true\n    volumes: ` +
          `["vault:/data"]\nvolumes:\n  vault:\n`;
        await r.set({
          keep:
            `services:\n  a:\n    image: ${img['worker1']}\n    init: true\n  b:\n    ` +
            `image: ${img['worker1']}\n    init: true\n`,
          gone,
        });
        const first = await reconcile(await r.load());
        assert.equal(first.outcome?.status, 'applied', `${first.outcome?.error}\n${log.text()}`);
        const d = await r.set({ keep: `services:\n  a:\n    image: ${img['worker1']}\n    init: true\n` });
        const res = await reconcile(d);
        assert.equal(res.outcome?.status, 'applied', res.outcome?.error);
        assert.deepEqual(Object.keys(await byService('keep')), ['a']);
        assert.equal((await appContainers(docker, 'gone')).length, 0);
        const nets = await docker.listNetworks({ filters: JSON.stringify({ label: [`${LABEL.app}=gone`] }) });
        assert.equal(nets.length, 0, 'the network of the removed app is removed');
        const vols = await docker.listVolumes({ filters: JSON.stringify({ label: [`${LABEL.app}=gone`] }) });
        assert.deepEqual(
          (vols.Volumes ?? []).map((v) => v.Name),
          ['gone_vault'],
          'named volumes are never removed unless the app opts in',
        );
      },
    );
  },
);
