// What `docker compose` (v2) sends to the Engine for a Compose key, and what rollgate sends for the
// same file: the findings of the comparison in test/apply/docker-compose-fidelity.test.ts, each
// pinned here without an Engine (the Compose side of each was read from compose 2.26's requests).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { ContainerCreateOptions } from 'dockerode';
import { containerSpec, hostPaths } from '../../src/apply/index.js';
import { plan } from '../../src/plan/index.js';
import { FleetRepoError } from '../../src/manifest/index.js';
import { emptyObservedState, type DesiredApp, type DesiredState } from '../../src/model/index.js';
import { AppRepo } from '../helpers/app-repo.js';
import { cleanup } from '../helpers/fixtures.js';

const repo = new AppRepo();
after(() => cleanup(repo.dir));
const STATE = '/var/lib/rollgate';
const paths = hostPaths(STATE);

async function app(yaml: string, files: Record<string, string> = {}): Promise<DesiredApp> {
  const d: DesiredState = await repo.set({ edge: yaml }, { files });
  return d.apps[0]!;
}

function spec(a: DesiredApp, service: string): ContainerCreateOptions {
  const s = a.services.find((x) => x.name === service)!;
  return containerSpec({ app: a.name, service, configHash: s.configHash, txn: 't' }, s.config, 'c', paths);
}

async function problems(yaml: string, files: Record<string, string> = {}): Promise<string[]> {
  try {
    await repo.set({ edge: yaml }, { files });
  } catch (err) {
    if (err instanceof FleetRepoError) return err.problems.map((p) => p.message);
    throw err;
  }
  assert.fail('the file loaded');
}

describe('Compose fidelity: what reaches the Engine is what docker compose sends', () => {
  test('top-level name: containers attach to <name>_<network>, where the network is made', async () => {
    const a = await app(
      'name: edgex\nservices:\n  core:\n    image: x:1\n    networks: [edgex-network]\n' +
        'networks:\n  edgex-network:\n    driver: bridge\n',
    );
    const s = spec(a, 'core');
    assert.equal(s.HostConfig?.NetworkMode, 'edgex_edgex-network');
    assert.deepEqual(Object.keys(s.NetworkingConfig?.EndpointsConfig ?? {}), ['edgex_edgex-network']);
    assert.equal(a.networks.find((n) => n.name === 'edgex-network')?.engineName, 'edgex_edgex-network');
  });

  test('a port published twice with the same binding is one binding, as Compose merges it', async () => {
    const a = await app(
      'services:\n  broker:\n    image: x:1\n    ports:\n      - "1883:1883"\n      - "9001:9001"\n' +
        '      - "1883:1883"\n      - "1883:1883/udp"\n',
    );
    assert.deepEqual(spec(a, 'broker').HostConfig?.PortBindings, {
      '1883/tcp': [{ HostPort: '1883' }],
      '9001/tcp': [{ HostPort: '9001' }],
      '1883/udp': [{ HostPort: '1883' }],
    });
  });

  test('${PWD} is the project folder: ${PWD}/x binds what ./x binds', async () => {
    const a = await app(
      'services:\n  broker:\n    image: x:1\n    environment:\n      HERE: ${PWD}\n    volumes:\n' +
        '      - ${PWD}/mosquitto/config:/mosquitto/config\n      - ${PWD}/mqtt:/mqtt\n      - ./mqtt:/mqtt2\n',
      { 'apps/edge/mosquitto/config/mosquitto.conf': 'listener 1883\n' },
    );
    const mounts = spec(a, 'broker').HostConfig?.Mounts ?? [];
    const src = (target: string) => mounts.find((m) => m.Target === target)?.Source;
    assert.equal(src('/mqtt'), `${STATE}/data/edge/apps/edge/mqtt`, 'not the host /mqtt');
    assert.equal(src('/mqtt'), src('/mqtt2'));
    const config = a.services[0]!.config.volumes.find((v) => v.target === '/mosquitto/config');
    assert.ok(config?.repo, 'the folder of the repo, as ./mosquitto/config');
    assert.equal(src('/mosquitto/config'), `${STATE}/files/edge/${config.repo.hash}`);
    assert.equal(a.services[0]!.config.environment['HERE'], `${STATE}/data/edge/apps/edge`);
  });

  test('${PWD} set by the fleet is taken as it is', async () => {
    const d = await repo.set(
      { edge: 'services:\n  broker:\n    image: x:1\n    volumes:\n      - ${PWD}/mqtt:/mqtt\n' },
      { variables: { PWD: '/opt/edge' } },
    );
    assert.equal(d.apps[0]!.services[0]!.config.volumes[0]!.source, '/opt/edge/mqtt');
  });

  test('environment: a name without a value, unset on the gateway, is sent bare (no image default)', async () => {
    const a = await app(
      'services:\n  api:\n    image: x:1\n    environment:\n      - TZ\n      - LEVEL=debug\n      - SITE\n',
    );
    const env = spec(a, 'api').Env ?? [];
    assert.deepEqual([...env].sort(), ['LEVEL=debug', 'SITE', 'TZ']);
    const set = await repo.set(
      { edge: 'services:\n  api:\n    image: x:1\n    environment: [TZ]\n' },
      { variables: { TZ: 'Europe/Berlin' } },
    );
    const s = set.apps[0]!.services[0]!;
    assert.deepEqual(containerSpec({ app: 'edge', service: 'api', configHash: s.configHash, txn: 't' }, s.config).Env, [
      'TZ=Europe/Berlin',
    ]);
  });

  test('a bare environment name the fleet target overrides is sent with its value only', async () => {
    await repo.set({ edge: 'services:\n  api:\n    image: x:1\n    environment: [TZ, SITE]\n' });
    writeFileSync(
      join(repo.dir, 'rollgate.yaml'),
      'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  sys:\n    apps:\n      edge: apps/edge/compose.yaml\n' +
        'targets:\n  - name: all\n    match: { any: true }\n    system: sys\n    overrides:\n      apps:\n' +
        '        edge:\n          services:\n            api: { environment: { TZ: UTC } }\n',
    );
    const d = await repo.load();
    const s = d.apps[0]!.services[0]!;
    const env = containerSpec({ app: 'edge', service: 'api', configHash: s.configHash, txn: 't' }, s.config).Env;
    assert.deepEqual([...(env ?? [])].sort(), ['SITE', 'TZ=UTC']);
  });

  test('links: Engine links on the endpoints, not aliases of the linked service; a dependency too', async () => {
    const a = await app(
      'services:\n  web:\n    image: x:1\n    links: ["db:database", db, "db:database"]\n  db:\n    image: x:1\n',
    );
    const web = spec(a, 'web');
    assert.deepEqual(web.HostConfig?.Links, ['db:database', 'db:db']);
    assert.deepEqual(web.NetworkingConfig?.EndpointsConfig?.['edge_default']?.Links, ['db:database', 'db:db']);
    assert.deepEqual(spec(a, 'db').NetworkingConfig?.EndpointsConfig?.['edge_default']?.Aliases, ['db']);
    assert.deepEqual(a.services.find((s) => s.name === 'web')!.config.dependsOn, {
      db: { condition: 'service_started', required: true, restart: true },
    });
  });

  test('init is left to the Engine unless the file sets it', async () => {
    const a = await app(
      'services:\n  a:\n    image: x:1\n  b:\n    image: x:1\n    init: false\n  c:\n    image: x:1\n    init: true\n',
    );
    assert.equal('Init' in (spec(a, 'a').HostConfig ?? {}), false);
    assert.equal(spec(a, 'b').HostConfig?.Init, false);
    assert.equal(spec(a, 'c').HostConfig?.Init, true);
  });

  test('SELinux relabel options on binds are accepted and sent as Compose sends them', async () => {
    const d = await repo.set({
      edge:
        'services:\n  a:\n    image: x:1\n    volumes:\n      - /srv/media:/media:z\n      - /srv/cfg:/cfg:ro,Z\n' +
        '      - type: bind\n        source: /srv/a\n        target: /a\n' +
        '        bind: { selinux: z, create_host_path: true }\n' +
        '      - type: bind\n        source: /srv/b\n        target: /b\n        bind: { selinux: Z }\n',
    });
    const s = spec(d.apps[0]!, 'a');
    assert.deepEqual(s.HostConfig?.Binds, ['/srv/media:/media:rw,z', '/srv/cfg:/cfg:ro,Z', '/srv/a:/a:rw,z']);
    assert.deepEqual(
      s.HostConfig?.Mounts?.map((m) => m.Target),
      ['/b'],
      'without create_host_path Compose mounts it through the mount API, which has no relabel',
    );
    assert.ok(d.warnings?.some((w) => /bind\.selinux.*create_host_path/.test(w)));
  });

  test('SELinux options on a named volume are accepted, and sent as Compose sends them: not at all', async () => {
    const d = await repo.set({
      edge: 'services:\n  db:\n    image: x:1\n    volumes: ["data:/var/lib/db:Z"]\nvolumes:\n  data: {}\n',
    });
    const s = spec(d.apps[0]!, 'db');
    assert.equal(s.HostConfig?.Binds, undefined);
    assert.deepEqual(
      s.HostConfig?.Mounts?.map((m) => [m.Type, m.Source, m.Target]),
      [['volume', 'edge_data', '/var/lib/db']],
    );
    assert.ok(d.warnings?.some((w) => /"Z" is accepted and has no effect on the named volume "data"/.test(w)));
  });

  test('a .env that is a directory is not an env file, as for Compose', async () => {
    const d = await repo.set(
      { edge: 'services:\n  db:\n    image: x:1\n    volumes: [".env/data:/data"]\n' },
      { files: { 'apps/edge/.env/data/.gitkeep': '' } },
    );
    assert.equal(d.apps[0]!.services[0]!.config.volumes[0]!.data, 'apps/edge/.env/data');
  });

  test('the path in the container is cleaned, as Compose cleans it', async () => {
    const a = await app(
      'services:\n  grafana:\n    image: x:1\n    volumes:\n      - ./provisioning/:/etc/grafana/provisioning/\n' +
        '      - type: volume\n        source: data\n        target: /var//lib/grafana/\nvolumes:\n  data: {}\n',
    );
    assert.deepEqual(
      spec(a, 'grafana').HostConfig?.Mounts?.map((m) => m.Target),
      ['/etc/grafana/provisioning', '/var/lib/grafana'],
    );
  });

  test('networks and volumes no service uses are not made, as with Compose', async () => {
    const d = await repo.set({
      edge:
        'services:\n  a:\n    image: x:1\n    networks: [front]\n    volumes: [data:/data]\n' +
        'networks:\n  front: {}\n  spare: {}\nvolumes:\n  data: {}\n  logs: { driver_opts: { type: none } }\n',
    });
    assert.deepEqual(
      d.apps[0]!.networks.map((n) => n.name),
      ['front'],
    );
    assert.deepEqual(
      d.apps[0]!.volumes.map((v) => v.name),
      ['data'],
    );
    assert.ok(d.warnings?.some((w) => /volume "logs" is used by no service/.test(w)));
  });

  test('volumes_from: the source is a dependency, made before the container that takes from it', async () => {
    const d = await repo.set({
      edge:
        'services:\n  web:\n    image: x:1\n    volumes: [html:/var/www]\n  ws:\n    image: x:1\n' +
        '    volumes_from: [web]\nvolumes:\n  html: {}\n',
    });
    const ws = d.apps[0]!.services.find((s) => s.name === 'ws')!;
    assert.deepEqual(ws.config.dependsOn, { web: { condition: 'service_started', required: true } });
    const steps = plan(d, emptyObservedState()).stages.flatMap((s) => s.steps);
    const create = steps.find((s) => s.kind === 'create' && s.target.kind === 'service' && s.target.service === 'ws');
    const source = steps.find((s) => s.kind === 'create' && s.target.kind === 'service' && s.target.service === 'web');
    assert.ok(create && source);
    assert.ok(create.dependsOn.includes(source.id), `${create.id} waits for ${source.id}`);
  });

  test('a volume made empty by an unset variable: the error names the variable', async () => {
    const msgs = await problems('services:\n  a:\n    image: x:1\n    volumes:\n      - "${MEDIA_DIR}:/media/"\n');
    assert.ok(
      msgs.some((m) => m.includes('":/media/"') && m.includes('variable MEDIA_DIR is not set')),
      msgs.join('\n'),
    );
  });

  test('a secret whose file is missing: the file is missing, and the secret is declared', async () => {
    const msgs = await problems(
      'services:\n  a:\n    image: x:1\n    secrets: [token]\nsecrets:\n  token:\n    file: ./token.txt\n',
    );
    assert.ok(
      msgs.some((m) => /token\.txt does not exist/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(!msgs.some((m) => /not declared/.test(m)), msgs.join('\n'));
  });
});
