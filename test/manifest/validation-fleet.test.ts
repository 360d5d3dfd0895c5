// A fleet repo's components, artifacts, constraints and fleet file, wrong: every problem names
// file:line:column; a valid repo validates target by target.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FleetRepoError, validateFleetRepo, DirectorySource } from '../../src/manifest/index.js';
import { CANARY, CONSTRAINTS, ExampleCopy, FLEET, HEALTH, MANIFEST } from '../helpers/example-copy.js';
import { hasProblem } from '../helpers/problems.js';

describe('validation: every problem names file:line:column', () => {
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
