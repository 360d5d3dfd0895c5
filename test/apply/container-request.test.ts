// Pure logic of the Docker applier, without an Engine: the container request built from a Compose
// service, and the reading of Engine answers and errors.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { containerSpec, LABEL } from '../../src/apply/index.js';
import { socketFromHost } from '../../src/apply/docker/engine.js';
import {
  engineMessage,
  isConnectionError,
  isEngineGoingAway,
  isStuckContainer,
  portInUse,
} from '../../src/apply/docker/errors.js';
import { healthFromStatus, imageRefs } from '../../src/apply/docker/observe.js';
import { classifyPullError, registryOf } from '../../src/apply/docker/pull.js';
import { healthyDeadlineMs } from '../../src/apply/docker/wait.js';
import { svc } from '../helpers/builders.js';

describe('container request from a Compose service', () => {
  const s = svc('api', 'reg:5000/api:2', {
    command: ['httpd', '-f'],
    environment: { A: '1', B: 'x=y' },
    ports: [
      { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { containerPort: 53, protocol: 'udp' },
    ],
    volumes: [
      { type: 'volume', source: 'data', target: '/data', readOnly: false },
      { type: 'bind', source: '/etc/gw', target: '/cfg', readOnly: true },
      { type: 'volume', target: '/anon', readOnly: false },
    ],
    networks: ['back', 'front'],
    restart: 'unless-stopped',
    labels: { team: 'edge' },
    healthcheck: { test: ['CMD', 'true'], intervalMs: 5000, timeoutMs: 2000, retries: 3, startPeriodMs: 1000 },
    stopGracePeriodMs: 2500,
    devices: ['/dev/ttyUSB0:/dev/ttyS0'],
    tmpfs: ['/run:size=1m'],
    logging: { driver: 'json-file', options: { 'max-size': '1m' } },
  });
  const spec = containerSpec(
    { app: 'edge', service: 'api', configHash: s.configHash, txn: 'tx1', commit: 'abc' },
    s.config,
  );

  test('Compose keys beyond the first release: repo files, data directories, ~, limits, names, endpoints', () => {
    const x = svc('mqtt', 'eclipse-mosquitto:2', {
      volumes: [
        {
          type: 'bind',
          repo: { hash: 'f'.repeat(64), name: 'mosquitto.conf' },
          target: '/mosquitto/config/mosquitto.conf',
          readOnly: true,
        },
        {
          type: 'bind',
          data: 'apps/home/mosquitto/data',
          target: '/mosquitto/data',
          readOnly: false,
          propagation: 'rslave',
        },
        { type: 'bind', source: '~/certs', target: '/certs', readOnly: true },
        { type: 'volume', source: 'db', target: '/db', readOnly: false, noCopy: true },
        { type: 'tmpfs', target: '/scratch', readOnly: false, tmpfsSize: 1048576 },
      ],
      restart: 'on-failure',
      restartMaxRetries: 5,
      containerName: 'mosquitto',
      engineNames: { networks: { default: 'home_default' }, volumes: { db: 'influx-data' } },
      networks: ['default'],
      networkEndpoints: { default: { aliases: ['broker'], ipv4Address: '172.28.0.2' } },
      expose: ['9001/tcp'],
      resources: { memoryBytes: 64 * 1024 * 1024, nanoCpus: 5e8, pidsLimit: 100 },
      ulimits: { nofile: { soft: 1024, hard: 2048 } },
      sysctls: { 'net.core.somaxconn': '1024' },
      tty: true,
      shmSizeBytes: 1024,
    });
    const sp = containerSpec(
      { app: 'home', service: 'mqtt', configHash: x.configHash, txn: 't' },
      x.config,
      'mosquitto',
      { files: '/state/files', data: '/state/data', home: '/root' },
    );
    const h = sp.HostConfig!;
    assert.equal(sp.name, 'mosquitto');
    assert.deepEqual(
      h.Mounts!.map((m) => [m.Type, m.Source]),
      [
        ['bind', `/state/files/home/${'f'.repeat(64)}/mosquitto.conf`],
        ['bind', '/state/data/home/apps/home/mosquitto/data'],
        ['bind', '/root/certs'],
        ['volume', 'influx-data'],
        ['tmpfs', ''],
      ],
    );
    assert.deepEqual(h.Mounts![1]!.BindOptions, { Propagation: 'rslave' });
    assert.deepEqual(h.Mounts![3]!.VolumeOptions, { NoCopy: true });
    assert.deepEqual(h.Mounts![4]!.TmpfsOptions, { SizeBytes: 1048576 });
    assert.deepEqual(h.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 5 });
    assert.equal(h.NetworkMode, 'home_default');
    assert.deepEqual(sp.NetworkingConfig, {
      EndpointsConfig: { home_default: { Aliases: ['mqtt', 'broker'], IPAMConfig: { IPv4Address: '172.28.0.2' } } },
    });
    assert.deepEqual(sp.ExposedPorts, { '9001/tcp': {} });
    assert.equal(h.Memory, 64 * 1024 * 1024);
    assert.equal(h.NanoCpus, 5e8);
    assert.equal(h.PidsLimit, 100);
    assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
    assert.deepEqual(h.Sysctls, { 'net.core.somaxconn': '1024' });
    assert.equal(h.ShmSize, 1024);
    assert.equal(sp.Tty, true);
  });

  test('names, labels and environment', () => {
    assert.equal(spec.name, `edge-api-${s.configHash.slice(0, 8)}`);
    assert.deepEqual(spec.Labels, {
      team: 'edge',
      [LABEL.app]: 'edge',
      [LABEL.service]: 'api',
      [LABEL.configHash]: s.configHash,
      [LABEL.txn]: 'tx1',
      [LABEL.commit]: 'abc',
    });
    assert.deepEqual(spec.Env, ['A=1', 'B=x=y']);
    assert.deepEqual(spec.Cmd, ['httpd', '-f']);
  });

  test('ports, mounts, networks, restart, healthcheck in nanoseconds, stop timeout in whole seconds', () => {
    const h = spec.HostConfig!;
    assert.deepEqual(h.PortBindings, {
      '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
      '53/udp': [{ HostPort: '' }],
    });
    assert.deepEqual(spec.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
    assert.deepEqual(h.Mounts, [
      { Type: 'volume', Target: '/data', ReadOnly: false, Source: 'edge_data' },
      { Type: 'bind', Target: '/cfg', ReadOnly: true, Source: '/etc/gw' },
      { Type: 'volume', Target: '/anon', ReadOnly: false, Source: '' },
    ]);
    assert.equal(h.NetworkMode, 'edge_back');
    assert.deepEqual(spec.NetworkingConfig, { EndpointsConfig: { edge_back: { Aliases: ['api'] } } });
    assert.deepEqual(h.RestartPolicy, { Name: 'unless-stopped' });
    assert.deepEqual(spec.Healthcheck, {
      Test: ['CMD', 'true'],
      Interval: 5e9,
      Timeout: 2e9,
      Retries: 3,
      StartPeriod: 1e9,
    });
    assert.equal(spec.StopTimeout, 3);
    assert.deepEqual(h.Devices, [
      { PathOnHost: '/dev/ttyUSB0', PathInContainer: '/dev/ttyS0', CgroupPermissions: 'rwm' },
    ]);
    assert.deepEqual(h.Tmpfs, { '/run': 'size=1m' });
    assert.deepEqual(h.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m' } });
  });

  test('network_mode host: no networks, no aliases; restart "no" is the Engine\'s empty policy', () => {
    const h = svc('x', 'img', { networks: [], networkMode: 'host' });
    const sp = containerSpec({ app: 'a', service: 'x', configHash: h.configHash, txn: 't' }, h.config);
    assert.equal(sp.HostConfig!.NetworkMode, 'host');
    assert.equal(sp.NetworkingConfig, undefined);
    assert.deepEqual(sp.HostConfig!.RestartPolicy, { Name: '' });
  });

  test("a disabled healthcheck overrides the image's", () => {
    const h = svc('x', 'img', { healthcheck: { test: [], disable: true } });
    assert.deepEqual(
      containerSpec({ app: 'a', service: 'x', configHash: h.configHash, txn: 't' }, h.config).Healthcheck,
      { Test: ['NONE'] },
    );
  });
});

describe('reading the Engine', () => {
  test("health from the list call's status text", () => {
    assert.equal(healthFromStatus('Up 5 seconds (healthy)'), 'healthy');
    assert.equal(healthFromStatus('Up 1 second (health: starting)'), 'starting');
    assert.equal(healthFromStatus('Up 2 minutes (unhealthy)'), 'unhealthy');
    assert.equal(healthFromStatus('Exited (0) 3 seconds ago'), undefined);
  });

  test('image references: untagged spelling of :latest, digests, no <none>', () => {
    assert.deepEqual(
      imageRefs(['reg:5000/a:1', 'localhost/b:latest', '<none>:<none>'], ['reg:5000/a@sha256:00', '<none>@<none>']),
      ['reg:5000/a:1', 'localhost/b:latest', 'localhost/b', 'reg:5000/a@sha256:00'],
    );
    assert.deepEqual(imageRefs(null, undefined), []);
  });

  test('image references: a Docker Hub image is present under every spelling a Compose file may use', () => {
    const refs = imageRefs(['busybox:latest', 'eclipse/ditto-ui:3'], ['eclipse/ditto-ui@sha256:00']);
    for (const r of [
      'busybox',
      'busybox:latest',
      'library/busybox',
      'docker.io/library/busybox:latest',
      'docker.io/busybox',
      'eclipse/ditto-ui:3',
      'docker.io/eclipse/ditto-ui:3',
      'docker.io/eclipse/ditto-ui@sha256:00',
    ])
      assert.ok(refs.includes(r), `${r} in ${refs.join(' ')}`);
  });

  test("port clashes in both of Docker's wordings", () => {
    assert.equal(
      portInUse(
        'driver failed programming external connectivity on endpoint x: Error starting userland proxy: listen ' +
          'tcp4 127.0.0.1:18111: bind: address already in use',
      ),
      '127.0.0.1:18111',
    );
    assert.equal(portInUse('Bind for 0.0.0.0:8080 failed: port is already allocated'), '0.0.0.0:8080');
    assert.equal(portInUse('no such image'), undefined);
  });

  test('pull failures: not found and refused credentials are final, an unreachable registry is retried', () => {
    assert.equal(
      classifyPullError('manifest for 127.0.0.1:5000/t/x:9 not found: manifest unknown: manifest unknown'),
      'not-found',
    );
    assert.equal(
      classifyPullError("pull access denied for foo, repository does not exist or may require 'docker login'"),
      'not-found',
    );
    assert.equal(classifyPullError('Head "https://r/v2/a/manifests/1": unauthorized: authentication required'), 'auth');
    assert.equal(
      classifyPullError('Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused'),
      'unreachable',
    );
    assert.equal(classifyPullError('something else'), 'other');
  });

  test("registry of an image reference, by Docker's rule", () => {
    assert.equal(registryOf('127.0.0.1:5000/t/web:1'), '127.0.0.1:5000');
    assert.equal(registryOf('registry.example.com/a/b'), 'registry.example.com');
    assert.equal(registryOf('localhost/a'), 'localhost');
    assert.equal(registryOf('library/busybox'), 'docker.io');
    assert.equal(registryOf('busybox:1'), 'docker.io');
  });

  test("Engine errors: connection failures told apart, messages without dockerode's prefix", () => {
    assert.equal(isConnectionError({ code: 'ECONNREFUSED' }), true);
    assert.equal(isConnectionError({ message: 'socket hang up' }), true);
    assert.equal(
      isConnectionError({ statusCode: 404, message: '(HTTP code 404) no such container - No such container: x' }),
      false,
    );
    assert.equal(
      engineMessage({ statusCode: 404, message: '(HTTP code 404) no such container - No such container: x' }),
      'No such container: x',
    );
    assert.equal(engineMessage({ statusCode: 500, json: { message: 'boom' } }), 'boom');
  });

  test('an Engine going away, in the words a real dockerd 20.10 used while stopped with SIGTERM mid-call', () => {
    const e500 = (message: string) => ({ statusCode: 500, json: { message }, message: `(HTTP code 500) - ${message}` });
    for (const away of [
      { code: 'ENOENT', message: 'connect ENOENT /run/docker.sock' },
      { code: 'ECONNRESET', message: 'socket hang up' },
      { code: 'EPIPE', message: 'write EPIPE' },
      e500('create v1: database not open'),
      e500('failed to update store for object type *libnetwork.endpoint: open : no such file or directory'),
      e500('transport is closing: unavailable'),
    ])
      assert.equal(isEngineGoingAway(away), true, away.message);
    for (const own of [
      e500('driver failed programming external connectivity: Bind for 127.0.0.1:80 failed: port is already allocated'),
      { statusCode: 404, message: '(HTTP code 404) no such container - No such container: x' },
      { statusCode: 409, message: 'database not open' },
    ])
      assert.equal(isEngineGoingAway(own), false, own.message);
    assert.equal(
      isStuckContainer('task 5fae4f53562770f3674733a57ad066992d7a82dd1ba68a7f692f9529eea287fb: already exists'),
      true,
    );
    assert.equal(isStuckContainer('id already in use'), true);
    assert.equal(isStuckContainer('Conflict. The container name "/web" is already in use by container "abc"'), false);
  });

  test('Docker host: unix sockets only, with a clear error otherwise', () => {
    assert.equal(socketFromHost(undefined), '/var/run/docker.sock');
    assert.equal(socketFromHost('unix:///run/d.sock'), '/run/d.sock');
    assert.throws(() => socketFromHost('tcp://10.0.0.1:2375'), /not supported: give the Engine's unix socket/);
  });

  test('a depends_on wait lasts long enough for the healthcheck to decide', () => {
    const dep = svc('db', 'img', {
      healthcheck: { test: ['CMD', 'true'], intervalMs: 1000, timeoutMs: 500, retries: 3, startPeriodMs: 2000 },
    });
    assert.equal(healthyDeadlineMs(dep), 2000 + 4 * 1500 + 5000);
  });
});
