// A fleet repo's Compose files and YAML, wrong: every problem names file:line:column — keys that
// are not Compose or that a gateway cannot do, malformed and hostile YAML, paths out of the repo,
// depends_on, both Compose syntaxes.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMPOSE, ExampleCopy, FLEET, HEALTH, MANIFEST } from '../helpers/example-copy.js';
import { hasProblem } from '../helpers/problems.js';

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
});
