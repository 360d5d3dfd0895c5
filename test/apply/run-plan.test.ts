// Pure logic of src/apply, without an Engine: the container request built from a Compose
// service, the reading of Engine answers and errors, and the plan runner's transaction rules
// (with a recording applier; the real appliers are tested against the real Engine).

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  applyPlan,
  containerSpec,
  DockerError,
  Journal,
  JournalError,
  LABEL,
  resumeJournal,
  type Applier,
  type StepRecord,
} from '../../src/apply/index.js';
import { silentLog } from '../../src/base/log.js';
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
import { plan as makePlan } from '../../src/plan/index.js';
import { emptyObservedState, type Step } from '../../src/model/index.js';
import { app, desired, running, svc } from '../helpers/builders.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

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

/** An applier that records what it is asked to do, and fails where told (`away`: as if the Engine were gone). */
class Recording implements Applier {
  readonly name = 'recording';
  calls: string[] = [];
  constructor(
    private readonly failOn = new Set<string>(),
    readonly away = new Set<string>(),
  ) {}
  handles(step: Step): boolean {
    return step.target.kind !== 'component';
  }
  async run(step: Step): Promise<Omit<StepRecord, 'status'>> {
    this.calls.push(`run ${step.id}`);
    this.gone(step.id);
    if (this.failOn.has(step.id)) throw new Error(`told to fail ${step.id}`);
    return {};
  }
  async undo(step: Step): Promise<void> {
    this.calls.push(`undo ${step.id}`);
    this.gone(`undo ${step.id}`);
    if (this.failOn.has(`undo ${step.id}`)) throw new Error('undo refused');
  }
  private gone(id: string): void {
    if (this.away.delete(id))
      throw new DockerError('engine-unreachable', 'Docker Engine unreachable at unix:///x.sock: connection refused');
  }
}

describe('the plan runner', () => {
  const dir = tempDir('rollgate-runner-');
  after(() => cleanup(dir));
  const v1 = desired(
    [],
    [
      app('edge', 30, [
        svc('db', 'db:1'),
        svc('api', 'api:1', { dependsOn: { db: { condition: 'service_started', required: true } } }),
      ]),
    ],
  );
  const v2 = desired(
    [],
    [
      app('edge', 30, [
        svc('db', 'db:2'),
        svc('api', 'api:2', { dependsOn: { db: { condition: 'service_started', required: true } } }),
      ]),
    ],
  );
  const update = makePlan(v2, running(v1));
  let n = 0;
  const journal = () => new Journal(join(dir, `journal-${++n}.json`));

  test('prepare, stages in dependency order, then finalize; the journal is cleared', async () => {
    const a = new Recording();
    const j = journal();
    const out = await applyPlan(update, { appliers: [a], desired: v2, log: silentLog, journal: j });
    assert.equal(out.status, 'applied');
    const runs = a.calls.map((c) => c.replace(/^run /, ''));
    const at = (prefix: string) => runs.findIndex((r) => r.startsWith(prefix));
    assert.ok(
      at('pull image/api:2') < at('create service/edge/db') && at('pull image/db:2') < at('create service/edge/db'),
      runs.join('\n'),
    );
    assert.ok(
      at('start service/edge/db') < at('create service/edge/api') ||
        at('start service/edge/db') < at('start service/edge/api'),
    );
    assert.ok(at('remove service/edge/db') > at('start service/edge/api'), 'old containers go only after every stage');
    assert.equal(existsSync(j.path), false);
  });

  test('a failed pull: no stage step runs; only prepare steps get their undo (a download its Cleanup)', async () => {
    const a = new Recording(new Set(['pull image/db:2']));
    const out = await applyPlan(update, { appliers: [a], desired: v2, log: silentLog, journal: journal() });
    assert.equal(out.status, 'prepare-failed');
    assert.equal(out.failedStep, 'pull image/db:2');
    assert.ok(
      a.calls.every((c) => c.startsWith('run pull') || c.startsWith('undo pull')),
      a.calls.join('\n'),
    );
    assert.ok(a.calls.some((c) => c.startsWith('run pull')));
  });

  test(
    'a failed step: every step that ran is undone, each after the steps that depended on it, prepare last; ' +
      'the outcome says rolled back',
    async () => {
      const a = new Recording(new Set(['start service/edge/api']));
      const out = await applyPlan(update, {
        appliers: [a],
        desired: v2,
        log: silentLog,
        journal: journal(),
        concurrency: 1,
      });
      assert.equal(out.status, 'rolled-back');
      assert.match(out.error!, /^start service\/edge\/api: told to fail/);
      const ran = a.calls.filter((c) => c.startsWith('run')).map((c) => c.slice(4));
      const undone = a.calls.filter((c) => c.startsWith('undo')).map((c) => c.slice(5));
      assert.deepEqual([...undone].sort(), [...ran].sort(), 'the failed step too: it may have half happened');
      const steps = [...update.prepare, ...update.stages.flatMap((st) => st.steps)];
      for (const st of steps)
        for (const d of st.dependsOn.filter((x) => undone.includes(x) && undone.includes(st.id)))
          assert.ok(
            undone.indexOf(st.id) < undone.indexOf(d),
            `${st.id} is undone before ${d}, which it depended on:\n${undone.join('\n')}`,
          );
      const firstPull = undone.findIndex((u) => u.startsWith('pull '));
      assert.ok(
        undone.slice(firstPull).every((u) => u.startsWith('pull ')),
        `prepare steps are undone last:\n${undone.join('\n')}`,
      );
      assert.ok(!a.calls.some((c) => c.startsWith('run remove')), 'finalize never runs');
    },
  );

  test('steps that ran side by side are undone side by side, up to the concurrency', async () => {
    const apps = (tag: string) => [0, 1, 2, 3].map((i) => app(`a${i}`, 30, [svc('s', `s${i}:${tag}`)]));
    const from = desired([], apps('1'));
    const to = desired([], apps('2'));
    class Slow extends Recording {
      now = 0;
      most = 0;
      override async undo(step: Step): Promise<void> {
        this.most = Math.max(this.most, ++this.now);
        await new Promise((r) => setTimeout(r, 20));
        this.now--;
        return super.undo(step);
      }
    }
    const a = new Slow();
    const out = await applyPlan(makePlan(to, running(from)), {
      appliers: [a],
      desired: to,
      log: silentLog,
      journal: journal(),
      concurrency: 4,
      confirm: async () => Promise.reject(new Error('unhealthy')),
    });
    assert.equal(out.status, 'rolled-back');
    assert.equal(a.most, 4, 'four independent apps are put back four at a time');
  });

  test('a failed health gate rolls back like a failed step', async () => {
    const a = new Recording();
    const out = await applyPlan(update, {
      appliers: [a],
      desired: v2,
      log: silentLog,
      journal: journal(),
      confirm: async () => Promise.reject(new Error('api-http failed 3 times')),
    });
    assert.equal(out.status, 'rolled-back');
    assert.equal(out.error, 'api-http failed 3 times');
    assert.ok(a.calls.some((c) => c === 'undo create service/edge/db'));
  });

  test('an undo that fails is reported as an incomplete rollback, never as rolled back', async () => {
    const a = new Recording(new Set(['start service/edge/api', 'undo create service/edge/db']));
    const out = await applyPlan(update, { appliers: [a], desired: v2, log: silentLog, journal: journal() });
    assert.equal(out.status, 'rollback-incomplete');
    assert.deepEqual(out.undoErrors, ['create service/edge/db: undo refused']);
  });

  test('a step the Engine was away for pauses the transaction with its journal; it then goes on forward', async () => {
    const j = journal();
    const a = new Recording(new Set(), new Set(['start service/edge/api']));
    await assert.rejects(
      applyPlan(update, { appliers: [a], desired: v2, log: silentLog, journal: j }),
      (e: unknown) => (e as Error).name === 'TransactionSuspendedError' && /paused in its stages phase/.test(`${e}`),
    );
    assert.equal(existsSync(j.path), true, 'the journal is kept');
    assert.ok(!a.calls.some((c) => c.startsWith('undo')), 'nothing is put back');
    const b = new Recording();
    const r = await resumeJournal(new Journal(j.path), [b], silentLog);
    assert.equal(r?.action, 'continued');
    assert.equal(r?.outcome?.status, 'applied');
    assert.ok(b.calls.includes('run start service/edge/api'), 'the step runs again');
    assert.ok(!b.calls.some((c) => c.startsWith('undo') || c === 'run create service/edge/db'), b.calls.join());
    assert.equal(existsSync(j.path), false);
  });

  test('an undo the Engine was away for pauses the rollback (never rollback-incomplete); then it ends', async () => {
    const j = journal();
    const a = new Recording(new Set(['start service/edge/api']), new Set(['undo create service/edge/db']));
    await assert.rejects(applyPlan(update, { appliers: [a], desired: v2, log: silentLog, journal: j }), (e: unknown) =>
      /paused in its rolling-back phase/.test(`${e}`),
    );
    assert.equal(existsSync(j.path), true);
    const r = await resumeJournal(new Journal(j.path), [new Recording()], silentLog);
    assert.equal(r?.action, 'rolled-back');
    assert.equal(r?.failure, 'start service/edge/api: told to fail start service/edge/api');
    assert.deepEqual(r?.undoErrors, []);
    assert.equal(existsSync(j.path), false);
  });

  test('the rollback of a failure, resumed, that falls short is reported and its journal cleared', async () => {
    const j = journal();
    await j.begin('tx-c', update);
    await j.phase('stages');
    await j.step('create service/edge/db', { status: 'done', containerId: 'c1' });
    await j.phase('rolling-back', 'health check failed: api down');
    const r = await resumeJournal(
      new Journal(j.path),
      [new Recording(new Set(['undo create service/edge/db']))],
      silentLog,
    );
    assert.equal(r?.failure, 'health check failed: api down');
    assert.deepEqual(r?.undoErrors, ['create service/edge/db: undo refused']);
    // Resumed again and again, it would fail the same way for ever: the next reconcile plans afresh.
    assert.equal(existsSync(j.path), false);
  });

  test('steps no applier executes are refused before anything runs', async () => {
    const withComponent = desired(
      [
        {
          key: 'G',
          type: 'gw',
          interface: 'gw',
          interfaceArgs: [],
          protocol: 'update_manifest',
          version: '2',
          artifact: { kind: 'repo', path: 'a', size: 1 },
          order: 10,
        },
      ],
      [],
    );
    const a = new Recording();
    await assert.rejects(
      applyPlan(makePlan(withComponent, emptyObservedState()), {
        appliers: [a],
        desired: withComponent,
        log: silentLog,
        journal: journal(),
      }),
      /no applier in this build executes "download" steps/,
    );
    assert.deepEqual(a.calls, []);
  });

  test('resume: before finalize the interrupted steps are undone; in finalize the rest is finished', async () => {
    const j = journal();
    await j.begin('tx-a', update);
    await j.phase('stages');
    await j.step('create service/edge/db', { status: 'done', containerId: 'c1' });
    await j.step(update.stages[0]!.steps.find((s) => s.kind === 'stop')!.id, { status: 'started' });
    const a = new Recording();
    const r = await resumeJournal(new Journal(j.path), [a], silentLog);
    assert.equal(r?.action, 'rolled-back');
    assert.deepEqual(a.calls, [
      `undo ${update.stages[0]!.steps.find((s) => s.kind === 'stop')!.id}`,
      'undo create service/edge/db',
    ]);
    assert.equal(existsSync(j.path), false);

    const k = journal();
    await k.begin('tx-b', update);
    await k.phase('finalize');
    await k.step(update.finalize[0]!.id, { status: 'done' });
    const b = new Recording();
    const f = await resumeJournal(new Journal(k.path), [b], silentLog);
    assert.equal(f?.action, 'finished');
    assert.deepEqual(
      b.calls,
      update.finalize.slice(1).map((s) => `run ${s.id}`),
    );
  });

  test('a damaged journal is an error that says what to do, never ignored', async () => {
    const path = join(dir, 'damaged.json');
    writeFileSync(path, '{"schema": "rollgate.journal/v1", "txn"');
    await assert.rejects(
      resumeJournal(new Journal(path), [], silentLog),
      (e: unknown) => e instanceof JournalError && /not valid JSON.*move it aside to continue/.test(e.message),
    );
    assert.ok(readFileSync(path, 'utf8').length > 0, 'the damaged journal is left for inspection');
  });
});
