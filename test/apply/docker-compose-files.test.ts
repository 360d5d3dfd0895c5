// Compose files as people write them, run for real on the Engine through apply and rollback:
// a broker with its config file from the repo, interpolated values, a container_name service
// updated new-before-old, and start-first with a probe that never fails during the update.

import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { createServer, type Server } from 'node:net';
import { DockerApplier, Engine, hostPaths, LABEL } from '../../src/apply/index.js';
import { silentLog, type Log } from '../../src/base/log.js';
import { reconcileOnce } from '../../src/gateway/reconcile.js';
import type { DesiredState } from '../../src/model/index.js';
import { AppRepo } from '../helpers/app-repo.js';
import { requireDocker } from '../helpers/docker-tests.js';
import { Lines } from '../helpers/log-lines.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';
import { exec, httpText, probeCommand } from '../helpers/container-io.js';

const env = requireDocker();

describe('Compose files on the real Engine', { skip: env ? false : 'no Docker Engine (see the line above)' }, () => {
  let engine: Engine;
  let docker: Docker;
  let stateDir: string;
  const repos: AppRepo[] = [];
  const apps = new Set<string>();
  const img: Record<string, string> = {};

  const applier = () => new DockerApplier(engine, { pullBackoffMs: 100, paths: hostPaths(stateDir) });
  const reconcile = (d: DesiredState, log: Log = silentLog) => reconcileOnce(d, { docker: applier(), stateDir, log });
  const repo = () => {
    const r = new AppRepo();
    repos.push(r);
    return r;
  };
  const containers = async (app: string) =>
    docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=${app}`] }) });
  const byService = async (app: string) =>
    Object.fromEntries((await containers(app)).map((c) => [c.Labels[LABEL.service]!, c]));

  before(async () => {
    engine = new Engine({ socketPath: env!.socket, reconnectMs: 60_000 });
    docker = engine.docker;
    stateDir = tempDir('rollgate-state-');
    img['web1'] = await env!.image('t/web', '1');
    img['web2'] = await env!.image('t/web', '2');
    img['worker1'] = await env!.image('t/worker', '1');
  });
  after(async () => {
    for (const a of apps)
      for (const c of await containers(a))
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {});
    await docker
      .getContainer('rg-foreign')
      .remove({ force: true })
      .catch(() => {});
    for (const r of repos) cleanup(r.dir);
    cleanup(stateDir);
  });

  test(
    'a broker with its config file: served from the repo, replaced alone when the file changes, data kept, ' +
      'old copy removed',
    async () => {
      apps.add('edge');
      const compose = `services:
  broker:
    image: ${img['web1']}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    stop_grace_period: 2s
    ports: ["127.0.0.1:18301:8080"]
    volumes:
      - ./broker/www:/www:ro
      - ./data:/data
  worker:
    image: ${img['worker1']}
    command: ["sleep", "3600"]
    init: true
    configs: [settings]
configs:
  settings:
    file: ./worker.conf
`;
      const r = repo();
      const files = (page: string) => ({
        'apps/edge/broker/www/index.html': page,
        'apps/edge/worker.conf': 'interval=5\n',
      });
      const v1 = await r.set({ edge: compose }, { files: files('config v1\n') });
      assert.equal((await reconcile(v1)).outcome?.status, 'applied');
      assert.equal(await httpText(18301), 'config v1');
      const first = await byService('edge');
      assert.equal(await exec(docker, first['worker']!.Id, ['cat', '/settings']), 'interval=5');
      await exec(docker, first['broker']!.Id, ['sh', '-c', 'echo kept > /data/readings']);

      const v2 = await r.set({ edge: compose }, { files: files('config v2\n') });
      const res = await reconcile(v2);
      assert.equal(res.outcome?.status, 'applied');
      assert.deepEqual(
        res.plan.changes.map((c) => (c.target.kind === 'service' ? `${c.action} ${c.target.service}` : c.action)),
        ['change broker'],
        'only the service that mounts the file',
      );
      assert.ok(
        res.plan.prepare.some((s) => s.kind === 'write-files'),
        'the new file is written before anything is touched',
      );
      const second = await byService('edge');
      assert.notEqual(second['broker']!.Id, first['broker']!.Id);
      assert.equal(second['worker']!.Id, first['worker']!.Id, 'the worker does not mount it and keeps its container');
      assert.equal(await httpText(18301), 'config v2');
      assert.equal(
        await exec(docker, second['broker']!.Id, ['cat', '/data/readings']),
        'kept',
        'a relative path the repo does not hold is data, kept across updates',
      );
      const copies = readdirSync(join(stateDir, 'files', 'edge')).sort();
      assert.deepEqual(
        copies,
        [...(v2.apps[0]!.files ?? []).map((f) => f.hash)].sort(),
        'the v1 copy is gone, the v2 copies are there',
      );
      assert.equal(statSync(join(stateDir, 'files')).mode & 0o777, 0o700);

      // The default network made internal: it is made again with its containers; a failed release
      // puts the previous network back, with the previous containers on it.
      const net = (await docker.listNetworks({ filters: JSON.stringify({ label: [`${LABEL.app}=edge`] }) }))[0]!;
      assert.match(
        net.Labels?.[LABEL.configHash] ?? '',
        /^[0-9a-f]{64}$/,
        'the network carries the hash of its definition',
      );
      const internal = await r.set(
        { edge: compose + 'networks:\n  default:\n    internal: true\n' },
        { files: files('config v2\n') },
      );
      const failed = await reconcileOnce(internal, {
        docker: applier(),
        stateDir,
        log: silentLog,
        confirm: () => Promise.reject(new Error('health window failed')),
      });
      assert.equal(failed.outcome?.status, 'rolled-back', failed.outcome?.error);
      assert.equal((await docker.getNetwork('edge_default').inspect()).Internal, false, 'the previous network is back');
      const after = await byService('edge');
      assert.deepEqual(
        [after['broker']!.Id, after['worker']!.Id],
        [second['broker']!.Id, second['worker']!.Id],
        'the previous containers, running again on it',
      );
      assert.equal(await httpText(18301), 'config v2');
      const made = await reconcile(internal);
      assert.equal(made.outcome?.status, 'applied', made.outcome?.error);
      assert.equal((await docker.getNetwork('edge_default').inspect()).Internal, true);
      const third = await byService('edge');
      assert.ok(
        third['broker']!.Id !== second['broker']!.Id && third['worker']!.Id !== second['worker']!.Id,
        'every container on it is new',
      );
      assert.equal(third['worker']!.State, 'running');
    },
  );

  test(
    "interpolated values: .env, the target's variables and the gateway's; a secret from a variable is " +
      'mounted and never logged',
    async () => {
      apps.add('vars');
      const compose = `services:
  web:
    image: ${img['web1']}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    stop_grace_period: 2s
    ports: ["127.0.0.1:\${PORT}:8080"]
    environment:
      GREETING: \${GREETING:-hello}
      SITE: \${SITE}
    secrets: [api_token]
secrets:
  api_token:
    environment: TOKEN
`;
      const r = repo();
      const log = new Lines();
      const d = await r.set(
        { vars: compose },
        {
          files: { 'apps/vars/.env': 'PORT=18302\nSITE=lab\nGREETING=from-dotenv\n' },
          variables: { GREETING: 'from-target' },
          gatewayVariables: { TOKEN: 'tok-3f9a71', SITE: 'berlin-7' },
        },
      );
      assert.equal((await reconcile(d, log)).outcome?.status, 'applied');
      assert.equal(await httpText(18302), 'version t/web:1');
      const c = (await byService('vars'))['web']!;
      const envText = await exec(docker, c.Id, ['env']);
      assert.match(envText, /GREETING=from-target/, 'the target beats .env');
      assert.match(envText, /SITE=berlin-7/, 'the gateway beats .env');
      assert.equal(await exec(docker, c.Id, ['cat', '/run/secrets/api_token']), 'tok-3f9a71');
      assert.ok(!log.text.includes('tok-3f9a71'), 'the secret is not in the log');
    },
  );

  test(
    'container_name: the new container takes the name, the old one is removed; a failed update gives the ' +
      'name back',
    async () => {
      apps.add('mq');
      const compose = (image: string, port2 = '') => `services:
  mqtt:
    image: ${image}
    container_name: rg-mosquitto
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    stop_grace_period: 2s
    ports: ["127.0.0.1:18303:8080"${port2}]
`;
      const r = repo();
      assert.equal((await reconcile(await r.set({ mq: compose(img['web1']!) }))).outcome?.status, 'applied');
      const v1 = await docker.getContainer('rg-mosquitto').inspect();
      assert.equal(v1.State.Running, true);

      assert.equal((await reconcile(await r.set({ mq: compose(img['web2']!) }))).outcome?.status, 'applied');
      const v2 = await docker.getContainer('rg-mosquitto').inspect();
      assert.notEqual(v2.Id, v1.Id);
      assert.equal(v2.Config.Image, img['web2']);
      assert.equal(await httpText(18303), 'version t/web:2');
      assert.equal((await containers('mq')).length, 1, 'the replaced container is removed');

      // The next release cannot start (its second port is taken): the name goes back to the v2 container.
      const taken: Server = createServer();
      await new Promise<void>((ok) => taken.listen(18304, '127.0.0.1', () => ok()));
      try {
        const res = await reconcile(await r.set({ mq: compose(img['web1']!, ', "127.0.0.1:18304:8080"') }));
        assert.equal(res.outcome?.status, 'rolled-back');
      } finally {
        taken.close();
      }
      const back = await docker.getContainer('rg-mosquitto').inspect();
      assert.equal(back.Id, v2.Id);
      assert.equal(back.State.Running, true);
      assert.equal(await httpText(18303), 'version t/web:2');
      assert.deepEqual(
        (await containers('mq')).map((c) => c.Names[0]),
        ['/rg-mosquitto'],
        'nothing left aside',
      );
    },
  );

  test(
    'service_healthy on a healthcheck that only the image defines: waited for; an image without one is ' +
      'refused before anything runs',
    async () => {
      apps.add('hc');
      // An image whose configuration carries a healthcheck (docker import cannot set one; a commit keeps it).
      const stream = await docker.pull(img['web1']!);
      await new Promise((done) => docker.modem.followProgress(stream, done));
      const base = await docker.createContainer({
        Image: img['web1'],
        Cmd: ['httpd', '-f', '-p', '8080', '-h', '/www'],
        Healthcheck: {
          Test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/'],
          Interval: 1e9,
          Timeout: 1e9,
          Retries: 3,
        },
      });
      await base.commit({ repo: 't/with-healthcheck', tag: '1' });
      await base.remove();
      const compose = (dbImage: string) => `services:
  db:
    image: ${dbImage}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
  api:
    image: ${img['worker1']}
    command: ["sleep", "3600"]
    init: true
    depends_on: { db: { condition: service_healthy } }
`;
      const r = repo();
      const ok = await reconcile(await r.set({ hc: compose('t/with-healthcheck:1') }));
      assert.equal(ok.outcome?.status, 'applied', ok.outcome?.error);
      assert.equal(
        (await byService('hc'))['api']!.State,
        'running',
        "api started once db was healthy by its image's healthcheck",
      );
      await assert.rejects(
        reconcile(await r.set({ hc: compose(img['web1']!) })),
        new RegExp(
          String.raw`"api" of app "hc" waits for "db" to be healthy .* has no healthcheck, neither in the` +
            String.raw` Compose file nor in its image`,
        ),
      );
    },
  );

  test('container_name held by a container rollgate does not manage: a clear error, and it is left alone', async () => {
    apps.add('foreign');
    const stream = await docker.pull(img['worker1']!);
    await new Promise((done) => docker.modem.followProgress(stream, done));
    await docker.createContainer({
      name: 'rg-foreign',
      Image: img['worker1'],
      Cmd: ['sleep', '3600'],
      Labels: { 'com.docker.compose.project': 'home' },
    });
    const r = repo();
    const res = await reconcile(
      await r.set({
        foreign:
          `services:\n  svc:\n    image: ${img['worker1']}\n    container_name: rg-foreign\n    command: ` +
          `["sleep", "3600"]\n    init: true\n`,
      }),
    );
    assert.notEqual(res.outcome?.status, 'applied');
    assert.match(
      res.outcome && 'error' in res.outcome ? String(res.outcome.error) : '',
      new RegExp(
        String.raw`container_name "rg-foreign" of foreign\/svc is taken by container rg-foreign, which ` +
          String.raw`rollgate does not manage \(docker compose project "home": run "docker compose down" there`,
      ),
    );
    assert.equal(
      (await docker.getContainer('rg-foreign').inspect()).Config.Labels['com.docker.compose.project'],
      'home',
      'left alone',
    );
  });

  test(
    'start-first: the new container is ready before the old one stops, and a probe through the service name ' +
      'never fails',
    async () => {
      apps.add('sf');
      const compose = (v: string) => `services:
  web:
    image: ${img['web1']}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    stop_grace_period: 2s
    environment: { RELEASE: "${v}" }
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 1s
      retries: 3
    deploy:
      update_config:
        order: start-first
  probe:
    image: ${img['worker1']}
    init: true
${probeCommand('web')}`;
      const r = repo();
      assert.equal((await reconcile(await r.set({ sf: compose('1') }))).outcome?.status, 'applied');
      const probeId = (await byService('sf'))['probe']!.Id;
      const before = (await byService('sf'))['web']!.Id;
      const probeLines = async () =>
        (await docker.getContainer(probeId).logs({ stdout: true, stderr: true }))
          .toString()
          .replace(/[^ -~\n]/g, '')
          .split('\n')
          .filter((l) => /ok$|FAIL-/.test(l));
      // The probe may start before the web server listens: only what it sees from its first answer on counts.
      while (!(await probeLines()).some((l) => /ok$/.test(l))) await new Promise((r) => setTimeout(r, 100));
      const settled = (await probeLines()).length;
      for (const v of ['2', '3']) {
        const res = await reconcile(await r.set({ sf: compose(v) }));
        assert.equal(res.outcome?.status, 'applied');
        const kinds = res.plan.stages
          .flatMap((s) => s.steps)
          .filter((s) => s.target.kind === 'service' && s.target.service === 'web')
          .map((s) => s.kind);
        assert.deepEqual(kinds, ['create', 'start', 'stop'], 'start-first: the old container stops last');
      }
      assert.notEqual((await byService('sf'))['web']!.Id, before);
      const during = (await probeLines()).slice(settled);
      const logs = during.join('\n');
      const ok = during.filter((l) => /ok$/.test(l)).length;
      const failed = during.filter((l) => /FAIL/.test(l)).length;
      assert.ok(
        ok > 10,
        `the probe ran (${ok} ` +
          `answers): ${logs.slice(0, 400)} ${JSON.stringify((await docker.getContainer(probeId).inspect()).State)}`,
      );
      assert.equal(
        failed,
        0,
        `no probe failed during two start-first updates (${ok} ` +
          `answered): ${during.filter((l) => /FAIL/.test(l)).join(', ')}`,
      );
    },
  );
});
