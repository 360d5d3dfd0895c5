import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  FleetRepoError,
  GitObjectSource,
  loadDesiredState,
  validateFleetRepo,
  DirectorySource,
} from '../../src/manifest/index.js';
import {
  CANARY,
  COMPOSE,
  CONSTRAINTS,
  ExampleCopy,
  FLEET,
  GATEWAY,
  HEALTH,
  MANIFEST,
} from '../helpers/example-copy.js';
import { cleanup, exampleBareRepo, tempDir } from '../helpers/fixtures.js';

function hasProblem(
  problems: { file: string; line?: number; column?: number; message: string }[],
  file: string,
  line: number | undefined,
  re: RegExp,
): void {
  const hit = problems.find((p) => p.file === file && (line === undefined || p.line === line) && re.test(p.message));
  assert.ok(
    hit,
    `expected a problem in ${file}${line ? ':' + line : ''} matching ${re}; ` +
      `got:\n${problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`).join('\n')}`,
  );
}

describe('the example fleet repo', () => {
  test('loads for a label-targeted gateway: components, app, health, constraints', async () => {
    const d = await new ExampleCopy().load(GATEWAY);
    assert.equal(d.target, 'gateways');
    assert.deepEqual(
      d.components.map((c) => [c.key, c.type, c.version, c.order, c.interface]),
      [
        ['G13', 'gateway', 'gateway-v2', 10, 'gateway-rootfs'],
        ['R456', 'rtos', 'rtos-v2', 20, 'rtos'],
        ['R998', 'rtos', 'rtos-v2', 20, 'rtos'],
      ],
    );
    const edge = d.apps[0]!;
    assert.equal(edge.order, 30);
    assert.deepEqual(
      edge.services.map((s) => s.name),
      ['api', 'broker', 'collector'],
    );
    const collector = edge.services.find((s) => s.name === 'collector')!;
    assert.equal(collector.config.environment['LOG_LEVEL'], 'info', 'from env_file');
    assert.equal(collector.config.environment['BROKER_URL'], 'http://broker:18083/');
    assert.deepEqual(collector.config.dependsOn, { broker: { condition: 'service_healthy', required: true } });
    assert.equal(d.health.checks.length, 4);
    assert.equal(d.health.checks.find((c) => c.name === 'uplink')!.required, false);
    assert.equal(d.constraints.order[0]!.name, 'gateway-before-rtos');
  });

  test('first matching target wins, and its overrides apply', async () => {
    const copy = new ExampleCopy();
    const canary = await copy.load({ id: 'gw-0001', labels: { role: 'gateway' } });
    assert.equal(canary.target, 'canary');
    const env = canary.apps[0]!.services.find((s) => s.name === 'collector')!.config.environment;
    assert.equal(env['LOG_LEVEL'], 'debug');
    const other = await copy.load(GATEWAY);
    const hashOf = (d: typeof canary) => d.apps[0]!.services.find((s) => s.name === 'collector')!.configHash;
    assert.notEqual(hashOf(canary), hashOf(other), 'the override changes the configuration hash');
  });

  test('a gateway no target matches is an error, not an empty state', async () => {
    const problems = await new ExampleCopy().problems({ id: 'gw-9999', labels: { role: 'sensor' } });
    hasProblem(problems, FLEET, 1, /no target matches gateway "gw-9999".*role=sensor/);
  });

  test('loads the same from git objects as from the working tree', async () => {
    const root = tempDir();
    try {
      const { gitdir, commits } = exampleBareRepo(root);
      const fromGit = await loadDesiredState(new GitObjectSource(gitdir, commits[1]!), CANARY);
      const fromDir = await new ExampleCopy().load(CANARY);
      assert.deepEqual({ ...fromGit, source: {} }, { ...fromDir, source: {} });
      const v1 = await loadDesiredState(new GitObjectSource(gitdir, commits[0]!), CANARY);
      assert.deepEqual(
        v1.components.map((c) => c.version),
        ['gateway-v1', 'rtos-v1', 'rtos-v1'],
      );
    } finally {
      cleanup(root);
    }
  });
});

describe('the current Mender form: kind manifest + kind topology', () => {
  const topologyCopy = () =>
    new ExampleCopy()
      .write(
        MANIFEST,
        [
          'api_version: mender/v1',
          'kind: manifest',
          'name: system-core-v2',
          'system_types_compatible: [gateway-system]',
          'component_types:',
          '  gateway:',
          '    artifact_name: gateway-v2',
          '    artifact_path: ../../artifacts/gateway-v2.mender',
          '    update_strategy: { order: 10 }',
          '  rtos:',
          '    artifact_path: ../../artifacts/rtos-v2.mender',
          '    update_strategy: { order: 20 }',
          '',
        ].join('\n'),
      )
      .write(
        'systems/gateway/topology.yaml',
        [
          'api_version: mender/v1',
          'kind: topology',
          'system_type: gateway-system',
          'components:',
          '  - { component_type: gateway, interface: gateway-rootfs }',
          '  - { component_type: rtos, interface_args: [--port, /dev/ttyS1] }',
          '  - { component_type: rtos, interface_args: [--port, /dev/ttyS2] }',
          '',
        ].join('\n'),
      )
      .edit(
        FLEET,
        'manifest: systems/gateway/manifest.yaml',
        'manifest: systems/gateway/manifest.yaml\n    topology: systems/gateway/topology.yaml',
      )
      .edit(CONSTRAINTS, / {2}- name: system-v1\n.*\n/, '');

  test('components come from the topology; the interface defaults to the type; ids are answered later', async () => {
    const d = await topologyCopy().load();
    assert.deepEqual(
      d.components.map((c) => [c.key, c.interface, c.interfaceArgs, c.version, c.protocol, c.id]),
      [
        ['gateway#1', 'gateway-rootfs', [], 'gateway-v2', 'manifest', undefined],
        ['rtos#1', 'rtos', ['--port', '/dev/ttyS1'], 'rtos-v2', 'manifest', undefined],
        ['rtos#2', 'rtos', ['--port', '/dev/ttyS2'], 'rtos-v2', 'manifest', undefined],
      ],
    );
  });

  test('a topology component without a manifest entry, an incompatible system type, a missing topology', async () => {
    const problems = await topologyCopy()
      .edit('systems/gateway/topology.yaml', 'system_type: gateway-system', 'system_type: router')
      .edit(
        'systems/gateway/topology.yaml',
        '{ component_type: rtos, interface_args: [--port, /dev/ttyS2] }',
        '{ component_type: modem }',
      )
      .problems();
    hasProblem(
      problems,
      'systems/gateway/topology.yaml',
      3,
      /system type "router" is not in the manifest's system_types_compatible/,
    );
    hasProblem(
      problems,
      'systems/gateway/topology.yaml',
      7,
      /component type "modem" has no entry in systems\/gateway\/manifest\.yaml/,
    );
    const noTopology = await topologyCopy().edit(FLEET, '\n    topology: systems/gateway/topology.yaml', '').problems();
    hasProblem(noTopology, MANIFEST, 2, /kind "manifest" needs a topology file/);
  });
});

describe('validation: every problem names file:line:column', () => {
  test('a key that is not Compose names file, line and key, and the key meant', async () => {
    const problems = await new ExampleCopy()
      .edit(
        COMPOSE,
        '    init: true\n    restart: unless-stopped\n    stop_grace_period',
        '    init: true\n    restrat: always\n    restart: unless-stopped\n    stop_grace_period',
      )
      .problems();
    hasProblem(problems, COMPOSE, 10, /unsupported key "restrat" in service "broker" \(did you mean "restart"\?\)/);
    assert.equal(problems[0]!.column, 5);
  });

  test('a Compose key a gateway cannot do is refused with its reason, never ignored', async () => {
    const problems = await new ExampleCopy()
      .edit(COMPOSE, 'volumes:\n  collector-data:\n', 'volumes:\n  collector-data:\ninclude:\n  - other.yaml\n')
      .problems();
    hasProblem(problems, COMPOSE, undefined, /"include" pulls in other Compose projects/);
  });

  test('build: with an image uses the image; build: alone is one clear sentence', async () => {
    const both = await new ExampleCopy()
      .edit(
        COMPOSE,
        '    init: true\n    restart: unless-stopped\n    stop_grace_period',
        '    init: true\n    build: .\n    restart: unless-stopped\n    stop_grace_period',
      )
      .load();
    assert.equal(
      both.apps[0]!.services.find((s) => s.name === 'broker')!.config.image,
      '127.0.0.1:5000/rollgate-example/broker:1.0',
    );
    const only = await new ExampleCopy()
      .edit(COMPOSE, / {4}image: 127.0.0.1:5000\/rollgate-example\/broker:1.0\n/, '    build: ./broker\n')
      .problems();
    hasProblem(
      only,
      COMPOSE,
      undefined,
      /service "broker" is built from source \("build:"\), and a gateway pulls released images from a registry/,
    );
    assert.equal(only.length, 1, only.map((p) => p.message).join('\n'));
  });

  test('all problems are reported in one run, across files', async () => {
    const copy = new ExampleCopy()
      .edit(
        COMPOSE,
        'restart: unless-stopped\n    stop_grace_period: 5s',
        'restart: sometimes\n    stop_grace_period: 5s',
      )
      .edit(HEALTH, 'window: 30s', 'window: soon')
      .edit(MANIFEST, 'update_interface: rtos', 'update_interface: rtos\n    colour: blue');
    const problems = await copy.problems();
    hasProblem(
      problems,
      COMPOSE,
      10,
      new RegExp(
        String.raw`restart: expected "no", "always", "on-failure", "on-failure:<retries>" or "unless-st` +
          String.raw`opped", got string "sometimes"`,
      ),
    );
    hasProblem(problems, HEALTH, 4, /expected a duration/);
    hasProblem(problems, MANIFEST, undefined, /unsupported key "colour"/);
    assert.ok(
      !problems.some((p) => p.file === 'systems/gateway/constraints.yaml'),
      'no follow-on noise from files that depend on a broken one',
    );
  });

  test('malformed YAML points at the line', async () => {
    const problems = await new ExampleCopy()
      .write(HEALTH, 'apiVersion: rollgate/v1\nkind: Health\nchecks: [\n  {name: a\n')
      .problems();
    assert.equal(problems[0]!.file, HEALTH);
    assert.match(problems[0]!.message, /invalid YAML/);
    assert.ok(problems[0]!.line! >= 3);
  });

  test('YAML alias bombs are rejected', async () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 8; i++)
      bomb.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
          .fill('*' + String.fromCharCode(97 + i))
          .join(',')}]`,
      );
    const problems = await new ExampleCopy().write(HEALTH, bomb.join('\n') + '\n').problems();
    hasProblem(problems, HEALTH, undefined, /alias/i);
  });

  test('health durations beyond what a timer can hold are refused where they are written', async () => {
    const problems = await new ExampleCopy()
      .edit(HEALTH, 'window: 30s', 'window: 1000h')
      .edit(HEALTH, 'defaults: { interval: 5s,', 'defaults: { interval: 0s,')
      .problems();
    hasProblem(problems, HEALTH, 4, /window: 1000h is longer than 24h, the most a health gate waits/);
    hasProblem(problems, HEALTH, 6, /defaults\.interval: must be longer than 0/);
  });

  test('a structure nested thousands of levels deep is one clear problem, not a stack overflow', async () => {
    const problems = await new ExampleCopy()
      .write(HEALTH, `x-deep: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`)
      .problems();
    assert.equal(problems.filter((p) => p.file === HEALTH).length, 1);
    hasProblem(problems, HEALTH, 1, /nested too deeply to read/);
  });

  test('oversized files are rejected before parsing', async () => {
    const problems = await new ExampleCopy().write(HEALTH, '# ' + 'x'.repeat(1024 * 1024 + 10) + '\n').problems();
    hasProblem(problems, FLEET, 10, /systems\/gateway\/health\.yaml is 1048589 bytes; the limit is 1048576 bytes/);
  });

  test('paths that escape the repo are rejected: ../, absolute, symlinks', async () => {
    hasProblem(
      await new ExampleCopy().edit(MANIFEST, '../../artifacts/gateway-v2.mender', '../../../../etc/passwd').problems(),
      MANIFEST,
      8,
      /leaves the repository/,
    );
    hasProblem(
      await new ExampleCopy().edit(MANIFEST, '../../artifacts/gateway-v2.mender', '/etc/passwd').problems(),
      MANIFEST,
      8,
      /is absolute/,
    );
    hasProblem(
      await new ExampleCopy()
        .edit(COMPOSE, 'env_file: collector.env', 'env_file: ../../../../../../etc/shadow')
        .problems(),
      COMPOSE,
      undefined,
      /leaves the repository/,
    );
    const linked = new ExampleCopy()
      .symlink('/etc/hostname', 'systems/gateway/apps/edge/host.env')
      .edit(COMPOSE, 'env_file: collector.env', 'env_file: host.env');
    hasProblem(await linked.problems(), COMPOSE, undefined, /is a symlink/);
  });

  test('unknown component type and duplicate ids in the 2024 form', async () => {
    const problems = await new ExampleCopy()
      .edit(MANIFEST, '{ component_type: rtos, id: R998', '{ component_type: modem, id: R998')
      .edit(MANIFEST, 'id: R456', 'id: G13')
      .problems();
    hasProblem(problems, MANIFEST, 18, /unknown component type "modem"/);
    hasProblem(problems, MANIFEST, 17, /component id "G13" is used twice/);
  });

  test('interface names must be plain file names', async () => {
    hasProblem(
      await new ExampleCopy().edit(MANIFEST, 'update_interface: rtos', 'update_interface: ../bin/sh').problems(),
      MANIFEST,
      13,
      /plain file name/,
    );
  });

  test('a missing artifact, a wrong artifact_name and a bad sha256 are reported where they are named', async () => {
    hasProblem(
      await new ExampleCopy().edit(MANIFEST, 'rtos-v2.mender', 'rtos-v3.mender').problems(),
      MANIFEST,
      12,
      /rtos-v3\.mender does not exist/,
    );
    hasProblem(
      await new ExampleCopy()
        .edit(MANIFEST, 'update_interface: rtos', 'update_interface: rtos\n    artifact_name: rtos-v9')
        .problems(),
      MANIFEST,
      undefined,
      /artifact_name is "rtos-v9", but .* is artifact "rtos-v2"/,
    );
    hasProblem(
      await new ExampleCopy()
        .edit(MANIFEST, 'update_interface: rtos', `update_interface: rtos\n    artifact_sha256: "${'0'.repeat(64)}"`)
        .problems(),
      MANIFEST,
      12,
      /has sha256 [0-9a-f]{64}, but artifact_sha256 says 0{64}/,
    );
    hasProblem(
      await new ExampleCopy()
        .edit(
          MANIFEST,
          'artifact_path: ../../artifacts/rtos-v2.mender',
          'artifact_path: https://ci:s3cr3t@store.example.com/rtos-v2.mender',
        )
        .problems(),
      MANIFEST,
      12,
      /the artifact URL carries credentials \(user:password@\)/,
    );
    hasProblem(
      await new ExampleCopy().write('artifacts/rtos-v2.mender', 'not a tar').problems(),
      MANIFEST,
      12,
      /not a Mender artifact/,
    );
  });

  test('URL artifacts need a sha256 and a name', async () => {
    const copy = new ExampleCopy().edit(
      MANIFEST,
      'artifact_path: ../../artifacts/rtos-v2.mender',
      'artifact_path: https://artifacts.example.com/rtos-v2.mender',
    );
    hasProblem(await copy.problems(), MANIFEST, 12, /needs artifact_name and artifact_sha256/);
    copy.edit(
      MANIFEST,
      'update_interface: rtos',
      `update_interface: rtos\n    artifact_name: rtos-v2\n    artifact_sha256: ${'a'.repeat(64)}`,
    );
    const d = await copy.load();
    assert.deepEqual(d.components.find((c) => c.key === 'R456')!.artifact, {
      kind: 'url',
      url: 'https://artifacts.example.com/rtos-v2.mender',
      sha256: 'a'.repeat(64),
    });
  });

  test('depends_on: unknown service, cycle', async () => {
    hasProblem(
      await new ExampleCopy().edit(COMPOSE, 'depends_on: [collector]', 'depends_on: [database]').problems(),
      COMPOSE,
      undefined,
      /depends on "database", which this file does not define/,
    );
    const cyc = new ExampleCopy()
      .edit(
        COMPOSE,
        '    env_file: collector.env',
        '    env_file: collector.env\n    healthcheck: {test: ["CMD", "true"]}',
      )
      .edit(
        COMPOSE,
        '      broker: { condition: service_healthy }',
        '      broker: { condition: service_healthy }\n      api: { condition: service_started }',
      );
    hasProblem(await cyc.problems(), COMPOSE, undefined, /depends_on cycle: /);
  });

  test(
    'compose: undeclared volumes, binds that leave the repo, required variables and reserved labels are ' + 'refused',
    async () => {
      hasProblem(
        await new ExampleCopy()
          .edit(COMPOSE, 'BROKER_URL: http://broker:18083/', 'BROKER_URL: ${BROKER:?set BROKER to the broker URL}')
          .problems(),
        COMPOSE,
        24,
        /required variable BROKER is not set: set BROKER to the broker URL/,
      );
      hasProblem(
        await new ExampleCopy().edit(COMPOSE, '- collector-data:/data', '- logs:/data').problems(),
        COMPOSE,
        undefined,
        /volume "logs" is not declared/,
      );
      hasProblem(
        await new ExampleCopy().edit(COMPOSE, '- collector-data:/data', '- ../../../../../etc:/data').problems(),
        COMPOSE,
        undefined,
        /leaves the repository/,
      );
      hasProblem(
        await new ExampleCopy()
          .edit(
            COMPOSE,
            '    init: true\n    restart: unless-stopped\n    ports',
            '    init: true\n    labels: {io.rollgate.app: x}\n    restart: unless-stopped\n    ports',
          )
          .problems(),
        COMPOSE,
        undefined,
        /reserved/,
      );
      const ok = await new ExampleCopy()
        .edit(COMPOSE, 'BROKER_URL: http://broker:18083/', 'BROKER_URL: "cost$$5"')
        .load();
      assert.equal(
        ok.apps[0]!.services.find((s) => s.name === 'collector')!.config.environment['BROKER_URL'],
        'cost$5',
      );
    },
  );

  test('compose short and long syntax normalise to the same configuration', async () => {
    const short = await new ExampleCopy().load();
    const long = await new ExampleCopy()
      .edit(
        COMPOSE,
        '- "127.0.0.1:18080:18080"',
        '- {target: 18080, published: 18080, host_ip: 127.0.0.1, protocol: tcp}',
      )
      .edit(COMPOSE, '- collector-data:/data', '- {type: volume, source: collector-data, target: /data}')
      .load();
    const hashes = (d: typeof short) => d.apps[0]!.services.map((s) => s.configHash);
    assert.deepEqual(hashes(long), hashes(short));
  });

  test(
    'health: a container check naming an unknown service, a check with two kinds, deadline shorter than ' + 'window',
    async () => {
      const problems = await new ExampleCopy()
        .edit(HEALTH, 'service: collector }', 'service: collecter }')
        .edit(
          HEALTH,
          'tcp: { host: 127.0.0.1, port: 18083 }',
          'tcp: { host: 127.0.0.1, port: 18083 }\n    command: { argv: [/bin/true] }',
        )
        .edit(HEALTH, 'deadline: 3m', 'deadline: 10s')
        .problems();
      hasProblem(problems, HEALTH, undefined, /names service "collecter", which app "edge" does not define/);
      hasProblem(
        problems,
        HEALTH,
        undefined,
        /exactly one of http, tcp, command, container; "uplink" has tcp and command/,
      );
      hasProblem(problems, HEALTH, 5, /deadline \(10s\) is shorter than the window/);
    },
  );

  test('constraints: unknown names, order cycles, and a desired state that is no acceptable end state', async () => {
    hasProblem(
      await new ExampleCopy().edit(CONSTRAINTS, 'after: rtos', 'after: modem').problems(),
      CONSTRAINTS,
      undefined,
      /names "modem", which is neither/,
    );
    hasProblem(
      await new ExampleCopy()
        .edit(CONSTRAINTS, 'order:\n', 'order:\n  - {name: back, before: rtos, after: gateway}\n')
        .problems(),
      CONSTRAINTS,
      undefined,
      /order rules form a cycle/,
    );
    hasProblem(
      await new ExampleCopy()
        .edit(
          CONSTRAINTS,
          'versions: { gateway: gateway-v2, rtos: rtos-v2 }',
          'versions: { gateway: gateway-v2, rtos: rtos-v3 }',
        )
        .problems(),
      CONSTRAINTS,
      undefined,
      /is not an acceptable end state/,
    );
  });

  test('fleet file: unknown system, duplicate target names, overrides of things that do not exist', async () => {
    const problems = await new ExampleCopy()
      .edit(FLEET, 'system: gateway-system\nEOF'.replace('\nEOF', ''), 'system: gateway-systen')
      .edit(FLEET, 'name: gateways', 'name: canary')
      .edit(FLEET, 'collector:\n              environment', 'collecter:\n              environment')
      .problems(CANARY)
      .catch(() => []);
    const v = await validateFleetRepo(
      new DirectorySource(new ExampleCopy().edit(FLEET, 'name: gateways', 'name: canary').dir),
    );
    hasProblem(v.problems, FLEET, undefined, /target name "canary" is used twice/);
    hasProblem(
      problems,
      FLEET,
      undefined,
      /system "gateway-systen", which is not under "systems"|override for service "collecter"/,
    );
  });

  test('validateFleetRepo reports every target of a valid repo with its desired state', async () => {
    const v = await validateFleetRepo(new DirectorySource(new ExampleCopy().dir));
    assert.deepEqual(v.problems, []);
    assert.deepEqual(
      v.targets.map((t) => [t.target, t.device.id, t.desired?.target]),
      [
        ['canary', 'gw-0001', 'canary'],
        ['gateways', 'example-of-gateways', 'gateways'],
      ],
    );
  });

  test('a FleetRepoError message lists every problem', async () => {
    try {
      await new ExampleCopy().write(HEALTH, 'kind: Health\n').load();
      assert.fail('expected rejection');
    } catch (err) {
      assert.ok(err instanceof FleetRepoError);
      assert.match(err.message, /systems\/gateway\/health\.yaml:1:1: missing required key "apiVersion"/);
    }
  });
});
