// The fleet repo as a whole: the example repo for a gateway (from the working tree and from git
// objects), and the current Mender form (manifest and topology).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GitObjectSource, loadDesiredState } from '../../src/manifest/index.js';
import { CANARY, CONSTRAINTS, ExampleCopy, FLEET, GATEWAY, MANIFEST } from '../helpers/example-copy.js';
import { cleanup, exampleBareRepo, tempDir } from '../helpers/fixtures.js';
import { hasProblem } from '../helpers/problems.js';

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
