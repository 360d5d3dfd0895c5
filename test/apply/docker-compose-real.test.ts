// Real Compose files from public projects (test/fixtures/compose-real), unchanged, run on the
// real Engine: their config files mounted from the repo, their container_names, their volumes
// and interpolated paths; updated new-before-old and rolled back. Their images cannot be pulled
// here, so the fleet target overrides each service's image with a local stand-in that sleeps
// whatever command the file gives — the Compose file itself is not touched.

import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { parse } from 'yaml';
import { DockerApplier, Engine, hostPaths, LABEL } from '../../src/apply/index.js';
import { silentLog } from '../../src/base/log.js';
import { reconcileOnce } from '../../src/gateway/reconcile.js';
import { DirectorySource, loadDesiredState } from '../../src/manifest/index.js';
import type { DesiredState } from '../../src/model/index.js';
import { requireDocker } from '../helpers/docker-tests.js';
import { exec } from '../helpers/container-io.js';
import { cleanup, projectRoot, tempDir } from '../helpers/fixtures.js';

const env = requireDocker();
const FIXTURES = join(projectRoot, 'test/fixtures/compose-real');

describe(
  'real Compose files, unchanged, on the real Engine',
  { skip: env ? false : 'no Docker Engine (see the line above)' },
  () => {
    let engine: Engine;
    let docker: Docker;
    let root: string;
    let stateDir: string;
    const standIn: Record<string, string> = {};

    before(async () => {
      engine = new Engine({ socketPath: env!.socket, reconnectMs: 60_000 });
      docker = engine.docker;
      root = tempDir('rollgate-real-run-');
      stateDir = join(root, 'state');
      mkdirSync(stateDir);
      standIn['1'] = await env!.image('t/stand-in', '1', false, true);
      standIn['2'] = await env!.image('t/stand-in', '2', false, true);
    });
    after(async () => {
      for (const c of await docker.listContainers({ all: true, filters: JSON.stringify({ label: [LABEL.app] }) })) {
        if (['prom', 'tb', 'home'].includes(c.Labels[LABEL.app]!))
          await docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => {});
      }
      cleanup(root);
    });

    /** A fleet repo holding the fixture unchanged under app/, every service's image overridden. */
    async function fleet(
      slug: string,
      app: string,
      image: string,
      variables: Record<string, string> = {},
    ): Promise<DesiredState> {
      const dir = join(root, slug);
      if (!existsSync(dir)) cpSync(join(FIXTURES, slug), join(dir, 'app'), { recursive: true });
      const file = readdirSync(join(dir, 'app')).find((f) => /compose.*\.ya?ml$/.test(f))!;
      const services = Object.keys(
        (parse(readFileSync(join(dir, 'app', file), 'utf8')) as { services: Record<string, unknown> }).services,
      );
      const vars = Object.entries(variables)
        .map(([k, v]) => `      ${k}: ${JSON.stringify(v)}\n`)
        .join('');
      writeFileSync(
        join(dir, 'rollgate.yaml'),
        `apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s:\n    apps:\n      ${app}: app/${file}\ntargets:\n ` +
          ` - name: all\n    match: { any: true }\n    system: s\n` +
          (vars ? `    variables:\n${vars}` : '') +
          `    overrides:\n      apps:\n        ${app}:\n          ` +
          `services:\n${services.map((s) => `            ${s}: { image: ${JSON.stringify(image)} }\n`).join('')}`,
      );
      return loadDesiredState(new DirectorySource(dir), { id: 'gw', labels: {} });
    }

    const reconcile = (d: DesiredState, confirm?: () => Promise<void>) =>
      reconcileOnce(d, {
        docker: new DockerApplier(engine, { paths: hostPaths(stateDir) }),
        stateDir,
        log: silentLog,
        ...(confirm ? { confirm } : {}),
      });
    const fixture = (slug: string, path: string) => readFileSync(join(FIXTURES, slug, path), 'utf8').trim();

    test(
      'awesome-compose prometheus-grafana: container_names, config directories from the repo, a named ' +
        'volume; updated, then a failed release rolled back',
      async () => {
        const v1 = await reconcile(await fleet('ac-prometheus-grafana', 'prom', standIn['1']!));
        assert.equal(v1.outcome?.status, 'applied', v1.outcome?.error);
        const prom1 = await docker.getContainer('prometheus').inspect();
        const graf1 = await docker.getContainer('grafana').inspect();
        assert.ok(prom1.State.Running && graf1.State.Running);
        assert.equal(
          await exec(docker, prom1.Id, ['cat', '/etc/prometheus/prometheus.yml']),
          fixture('ac-prometheus-grafana', 'prometheus/prometheus.yml'),
        );
        assert.equal(
          await exec(docker, graf1.Id, ['cat', '/etc/grafana/provisioning/datasources/datasource.yml']),
          fixture('ac-prometheus-grafana', 'grafana/datasource.yml'),
        );
        assert.ok(
          prom1.Mounts.some(
            (m) => m.Type === 'volume' && m.Name === 'prom_prom_data' && m.Destination === '/prometheus',
          ),
        );
        assert.deepEqual(
          prom1.Config.Cmd,
          ['--config.file=/etc/prometheus/prometheus.yml'],
          'the command as the file gives it',
        );
        await exec(docker, prom1.Id, ['sh', '-c', 'echo tsdb > /prometheus/wal']);

        const v2 = await reconcile(await fleet('ac-prometheus-grafana', 'prom', standIn['2']!));
        assert.equal(v2.outcome?.status, 'applied', v2.outcome?.error);
        const prom2 = await docker.getContainer('prometheus').inspect();
        assert.notEqual(prom2.Id, prom1.Id);
        assert.equal(prom2.Config.Image, standIn['2']);
        assert.equal(
          await exec(docker, prom2.Id, ['cat', '/prometheus/wal']),
          'tsdb',
          'the named volume keeps its data',
        );

        const failed = await reconcile(await fleet('ac-prometheus-grafana', 'prom', standIn['1']!), () =>
          Promise.reject(new Error('health window failed')),
        );
        assert.equal(failed.outcome?.status, 'rolled-back');
        const back = await docker.getContainer('prometheus').inspect();
        assert.equal(back.Id, prom2.Id, 'the name is back on the running release');
        assert.ok(back.State.Running && (await docker.getContainer('grafana').inspect()).State.Running);
        assert.equal(
          (await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.app}=prom`] }) }))
            .length,
          2,
          'nothing left aside',
        );
      },
    );

    test("ThingsBoard's mosquitto: its mosquitto.conf mounted from the repo, a published port", async () => {
      const r = await reconcile(await fleet('thingsboard-mosquitto', 'tb', standIn['1']!));
      assert.equal(r.outcome?.status, 'applied', r.outcome?.error);
      const [c] = await docker.listContainers({ filters: JSON.stringify({ label: [`${LABEL.app}=tb`] }) });
      assert.equal(
        await exec(docker, c!.Id, ['cat', '/mosquitto/config/mosquitto.conf']),
        fixture('thingsboard-mosquitto', 'mosquitto/mosquitto.conf'),
      );
      assert.ok(
        c!.Ports.some((p) => p.PrivatePort === 1883 && p.PublicPort !== undefined),
        'port 1883 published',
      );
    });

    test(
      "home-monitoring-grafana: ${DATA_DIR} from the target's variables, config files beside it, build " +
        'beside an image',
      async () => {
        const data = join(root, 'data');
        const d = await fleet('home-monitoring-grafana', 'home', standIn['1']!, { DATA_DIR: data });
        assert.ok(d.warnings?.some((w) => /"build" is accepted and has no effect/.test(w)));
        const r = await reconcile(d);
        assert.equal(r.outcome?.status, 'applied', r.outcome?.error);
        const mosquitto = await docker.getContainer('mosquitto').inspect();
        assert.equal(
          await exec(docker, mosquitto.Id, ['cat', '/mosquitto/config/mosquitto.conf']),
          fixture('home-monitoring-grafana', '01-mosquitto/mosquitto.conf'),
        );
        assert.equal(
          await exec(docker, mosquitto.Id, ['cat', '/mosquitto/config/users']),
          fixture('home-monitoring-grafana', '01-mosquitto/users'),
        );
        assert.ok(
          mosquitto.Mounts.some(
            (m) => m.Source === join(data, 'mosquitto/data') && m.Destination === '/mosquitto/data',
          ),
          'the interpolated host path',
        );
        assert.ok(existsSync(join(data, 'influxdb')), 'created as Compose creates a missing bind source');
        for (const name of ['influxdb', 'grafana', 'mqttbridge'])
          assert.ok((await docker.getContainer(name).inspect()).State.Running, `${name} runs`);
      },
    );
  },
);
