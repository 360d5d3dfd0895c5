// The planner on Compose files as people write them: networks and volumes whose definition
// changed, depends_on restart, recreate_volumes, service_healthy on an image's healthcheck.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { plan } from '../../src/plan/index.js';
import { emptyObservedState, type Plan } from '../../src/model/index.js';
import { app, desired, running, svc } from '../helpers/builders.js';

describe('planner: Compose files as people write them', () => {
  const files = {
    hash: 'a'.repeat(64),
    kind: 'file' as const,
    entries: [{ path: 'mosquitto.conf', mode: 0o644, base64: '' }],
  };
  const broker = (conf: string) => {
    const s = svc('broker', 'mosquitto:2', {
      volumes: [
        {
          type: 'bind',
          repo: { hash: conf, name: 'mosquitto.conf' },
          target: '/mosquitto/config/mosquitto.conf',
          readOnly: true,
        },
      ],
      files: [conf],
    });
    return s;
  };

  test('repo files are written in prepare, only for containers that are created', () => {
    const d = desired([], [app('home', 30, [broker(files.hash), svc('ui', 'ui:1')], { files: [files] })]);
    const fresh = plan(d, emptyObservedState());
    assert.deepEqual(
      fresh.prepare.filter((s) => s.kind === 'write-files').map((s) => s.target),
      [{ kind: 'files', app: 'home', hash: files.hash }],
    );
    assert.deepEqual(plan(d, running(d)).prepare, [], 'nothing is written when nothing is created');
  });

  test('pull_policy: never does not pull; always pulls a present image for a new container', () => {
    const never = desired([], [app('a', 30, [{ ...svc('x', 'x:1'), pullPolicy: 'never' }])]);
    assert.deepEqual(plan(never, emptyObservedState()).prepare, []);
    const always = desired([], [app('a', 30, [{ ...svc('x', 'x:1'), pullPolicy: 'always' }])]);
    assert.deepEqual(
      plan(always, { ...emptyObservedState(), images: ['x:1'] }).prepare.map((s) => s.kind),
      ['pull'],
    );
    const missing = desired([], [app('a', 30, [svc('x', 'x:1')])]);
    assert.deepEqual(plan(missing, { ...emptyObservedState(), images: ['x:1'] }).prepare, []);
  });

  test(
    'start-first: create, start and wait until ready, then stop the old; with a host port it stays ' + 'new-before-old',
    () => {
      const v1 = desired([], [app('a', 30, [svc('web', 'web:1')])]);
      const sf = (image: string, hostPort = false) =>
        desired(
          [],
          [
            app('a', 30, [
              {
                ...svc(
                  'web',
                  image,
                  hostPort ? { ports: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }] } : {},
                ),
                updateOrder: 'start-first',
              },
            ]),
          ],
        );
      const steps = (p: Plan) => p.stages.flatMap((s) => s.steps);
      const p = plan(sf('web:2'), running(v1));
      assert.deepEqual(
        steps(p).map((s) => s.kind),
        ['create', 'start', 'stop'],
      );
      const [, start, stop] = steps(p);
      assert.deepEqual(start!.waitFor, [{ service: 'web', condition: 'ready' }]);
      assert.deepEqual(stop!.dependsOn, [start!.id]);
      const withPort = plan(sf('web:2', true), running(v1));
      assert.deepEqual(
        steps(withPort).map((s) => s.kind),
        ['create', 'stop', 'start'],
        'the old container holds the host port until it stops',
      );
    },
  );

  test('container_name travels on create and start; external networks and volumes are never created', () => {
    const d = desired(
      [],
      [
        app('home', 30, [svc('mqtt', 'm:1', { containerName: 'mosquitto', networks: ['iot'] })], {
          networks: [{ name: 'iot', driver: 'bridge', internal: false, external: true, engineName: 'iot' }],
          volumes: [
            { name: 'db', driver: 'local', external: true, engineName: 'db' },
            { name: 'cache', driver: 'local', engineName: 'home_cache' },
          ],
        }),
      ],
    );
    const p = plan(d, emptyObservedState());
    const all = p.stages.flatMap((s) => s.steps);
    assert.deepEqual(
      all.filter((s) => s.kind === 'create' || s.kind === 'start').map((s) => s.containerName),
      ['mosquitto', 'mosquitto'],
    );
    assert.ok(!all.some((s) => s.kind === 'create-network'));
    assert.deepEqual(
      all
        .filter((s) => s.kind === 'create-volume')
        .map((s) => [s.target.kind === 'volume' && s.target.name, s.engineName]),
      [['cache', 'home_cache']],
    );
  });
});

describe('planner: networks and volumes whose definition changed', () => {
  const withNet = (internal: boolean, hash: string) =>
    desired(
      [],
      [
        app('a', 30, [svc('x', 'x:1')], {
          networks: [{ name: 'default', driver: 'bridge', internal, configHash: hash }],
          volumes: [{ name: 'data', driver: 'local', configHash: 'v1' }],
        }),
      ],
    );

  test(
    'a changed network is made again: its containers stop first, the network is recreated, then new ' +
      'containers start on it',
    () => {
      const before = withNet(false, 'n1');
      const p = plan(
        withNet(true, 'n2'),
        running(before, (o) => (o.networks = [{ app: 'a', name: 'default', configHash: 'n1' }])),
      );
      const steps = p.stages.flatMap((s) => s.steps);
      assert.deepEqual(
        steps.map((s) => s.kind),
        ['recreate-network', 'stop', 'create', 'start'],
      );
      const [recreate, stop, create] = steps;
      assert.deepEqual(recreate!.dependsOn, [stop!.id], 'the network goes once its container has stopped');
      assert.ok(create!.dependsOn.includes(recreate!.id), 'the new container is made on the new network');
      assert.deepEqual(
        p.changes.map((c) => [c.action, c.target.kind, c.reason]),
        [
          [
            'change',
            'network',
            'its definition changed: it is made again, and the containers on it with it (stop-first)',
          ],
          ['change', 'service', 'its network default is made again'],
        ],
      );
    },
  );

  test('a changed volume is refused: its data is never dropped silently', () => {
    const d = withNet(false, 'n1');
    assert.throws(
      () =>
        plan(
          d,
          running(d, (o) => (o.volumes = [{ app: 'a', name: 'data', configHash: 'v0' }])),
        ),
      /volume "data" of app "a" is defined differently .* would drop its data/,
    );
  });

  test('an unchanged definition, or one made before definitions were labelled, plans as before', () => {
    const d = withNet(false, 'n1');
    assert.equal(
      plan(
        d,
        running(d, (o) => (o.networks = [{ app: 'a', name: 'default', configHash: 'n1' }])),
      ).changes.length,
      0,
    );
    assert.equal(
      plan(
        d,
        running(d, (o) => (o.networks = [{ app: 'a', name: 'default' }])),
      ).changes.length,
      0,
    );
  });
});

describe('planner: depends_on restart', () => {
  test('a service whose dependency is replaced restarts after it, when it asks to; otherwise it is left alone', () => {
    const v = (db: string, restart: boolean) =>
      desired(
        [],
        [
          app('a', 30, [
            svc('db', db),
            svc('api', 'api:1', {
              dependsOn: {
                db: { condition: 'service_started', required: true, ...(restart ? { restart: true } : {}) },
              },
            }),
          ]),
        ],
      );
    const p = plan(v('db:2', true), running(v('db:1', true)));
    const steps = p.stages.flatMap((s) => s.steps);
    const stopApi = steps.find((s) => s.kind === 'stop' && s.target.kind === 'service' && s.target.service === 'api')!;
    const startDb = steps.find((s) => s.kind === 'start' && s.target.kind === 'service' && s.target.service === 'db')!;
    assert.deepEqual(stopApi.dependsOn, [startDb.id], 'api stops only once the new db has started');
    assert.ok(
      steps.some(
        (s) =>
          s.kind === 'start' &&
          s.target.kind === 'service' &&
          s.target.service === 'api' &&
          s.containerId === stopApi.containerId,
      ),
      'and starts again, the same container',
    );
    assert.match(
      p.changes.find((c) => c.target.kind === 'service' && c.target.service === 'api')!.reason,
      /restarted after db is replaced/,
    );
    const plain = plan(v('db:2', false), running(v('db:1', false)));
    assert.deepEqual(plain.unchanged.services, ['a/api']);
  });
});

describe('planner: x-rollgate.recreate_volumes', () => {
  test(
    'a volume whose definition changed is a new volume beside the old one, and its services move to ' + 'it',
    async () => {
      const { DirectorySource, loadDesiredState } = await import('../../src/manifest/index.js');
      const { mkdirSync, writeFileSync } = await import('node:fs');
      const { join } = await import('node:path');
      const { tempDir, cleanup } = await import('../helpers/fixtures.js');
      const dir = tempDir('rollgate-recreate-');
      try {
        mkdirSync(join(dir, 'app'));
        writeFileSync(
          join(dir, 'rollgate.yaml'),
          'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s: { apps: { home: app/compose.yaml } }\ntargets:\n  ' +
            '- { name: all, match: { any: true }, system: s }\n',
        );
        const load = async (opts: string) => {
          writeFileSync(
            join(dir, 'app/compose.yaml'),
            `x-rollgate: { recreate_volumes: true }\nservices:\n  db: { image: "db:1", volumes: ["data:/data"] ` +
              `}\nvolumes:\n  data: { driver_opts: { ${opts} } }\n`,
          );
          return loadDesiredState(new DirectorySource(dir), { id: 'gw', labels: {} });
        };
        const v1 = await load('type: tmpfs, device: tmpfs');
        const v2 = await load('type: tmpfs, device: tmpfs, o: "size=64m"');
        const [n1, n2] = [v1.apps[0]!.volumes[0]!.engineName!, v2.apps[0]!.volumes[0]!.engineName!];
        assert.match(n1, /^home_data-[0-9a-f]{8}$/);
        assert.notEqual(n1, n2, 'the definition is in the name');
        const p = plan(v2, running(v1));
        assert.deepEqual(
          p.stages.flatMap((s) => s.steps).map((s) => [s.kind, s.engineName ?? '']),
          [
            ['create-volume', n2],
            ['create', ''],
            ['stop', ''],
            ['start', ''],
          ],
        );
      } finally {
        cleanup(dir);
      }
    },
  );
});

describe('planner: service_healthy on a healthcheck from the image', () => {
  const d = desired(
    [],
    [
      app('a', 30, [
        svc('db', 'db:1'),
        svc('api', 'api:1', { dependsOn: { db: { condition: 'service_healthy', required: true } } }),
      ]),
    ],
  );

  test('an image without a healthcheck is refused before anything runs, naming both services', () => {
    assert.throws(
      () => plan(d, { ...emptyObservedState(), images: ['db:1'], imagesWithoutHealthcheck: ['db:1'] }),
      new RegExp(
        String.raw`"api" of app "a" waits for "db" to be healthy .* "db" has no healthcheck, neither in` +
          String.raw` the Compose file nor in its image db:1`,
      ),
    );
  });

  test('an image with one (or not yet on the gateway) plans', () => {
    assert.ok(plan(d, { ...emptyObservedState(), images: ['db:1'] }).stages.length > 0);
  });
});
