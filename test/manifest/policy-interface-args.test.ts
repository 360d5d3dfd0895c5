// Update interfaces run as root, and the fleet repo writes their command lines: topology
// interface_args, a 2024 manifest's args and component id. Under `interfaces: [rtos]` alone, a
// commit giving the example's simulated device `args: [/etc/cron.d]` made it write `slot-b` there,
// as root (found attacking the hardened policy, rollgate issue 21). Under a policy every argument
// must be named in policy.interfaceArgs, and a component id must be a plain name.

import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  DirectorySource,
  FleetRepoError,
  interfaceArgsBreaches,
  loadDesiredState,
  type GatewayPolicy,
  type Problem,
} from '../../src/manifest/index.js';
import { rollgate } from '../helpers/cli.js';
import { ExampleCopy, GATEWAY, MANIFEST } from '../helpers/example-copy.js';
import { cleanup, projectRoot, tempDir } from '../helpers/fixtures.js';

const EXAMPLE_ARGS = ['G13', 'R456', 'R998'].map((id) =>
  id === 'G13' ? `gateway-rootfs=/var/lib/rollgate-example/${id}` : `rtos=/var/lib/rollgate-example/${id}`,
);
// The example's app publishes a fixed host port; allowed, so that only the components are judged.
const BASE: GatewayPolicy = { interfaces: ['gateway-rootfs', 'rtos'], hostPorts: ['18080'] };

async function problems(dir: string, policy: GatewayPolicy): Promise<Problem[]> {
  return loadDesiredState(new DirectorySource(dir), GATEWAY, { policy }).then(
    () => [],
    (e: unknown) => {
      assert.ok(e instanceof FleetRepoError, String(e));
      return e.problems;
    },
  );
}

describe('policy.interfaceArgs: the arguments a commit gives a root interface', () => {
  const ex = new ExampleCopy();
  after(() => cleanup(ex.dir));

  test('the example as shipped: refused until its three arguments are named, then loaded', async () => {
    const refused = await problems(ex.dir, BASE);
    assert.deepEqual(
      refused.map((p) => p.rule),
      ['policy.interfaceArgs', 'policy.interfaceArgs', 'policy.interfaceArgs'],
    );
    assert.match(refused[0]!.message, /add "gateway-rootfs=\/var\/lib\/rollgate-example\/G13"/);
    assert.deepEqual(await problems(ex.dir, { ...BASE, interfaceArgs: EXAMPLE_ARGS }), []);
    // Without a policy nothing is asked.
    await loadDesiredState(new DirectorySource(ex.dir), GATEWAY);
  });

  test('a commit that points an allowed interface at /etc is refused at its line', async () => {
    const text = ex.read(MANIFEST);
    ex.write(MANIFEST, text.replace('args: [/var/lib/rollgate-example/R998]', 'args: [/etc/cron.d]'));
    try {
      const refused = await problems(ex.dir, { ...BASE, interfaceArgs: EXAMPLE_ARGS });
      assert.equal(refused.length, 1);
      assert.equal(refused[0]!.rule, 'policy.interfaceArgs');
      assert.match(refused[0]!.message, /argument "\/etc\/cron\.d" of interface rtos is not allowed/);
      // Another interface's argument does not count for this one.
      const swapped = await problems(ex.dir, {
        ...BASE,
        interfaceArgs: [...EXAMPLE_ARGS, 'gateway-rootfs=/etc/cron.d'],
      });
      assert.equal(swapped.length, 1);
    } finally {
      ex.write(MANIFEST, text);
    }
  });

  test('a 2024 component id, passed as an argument, must be a plain name under a policy', async () => {
    const text = ex.read(MANIFEST);
    ex.write(MANIFEST, text.replace('id: R998, args: [/var/lib/rollgate-example/R998]', 'id: /etc/cron.d'));
    try {
      const refused = await problems(ex.dir, { ...BASE, interfaceArgs: EXAMPLE_ARGS });
      assert.equal(refused.length, 1);
      assert.match(refused[0]!.message, /component id "\/etc\/cron\.d" is passed to interface rtos/);
      for (const id of ['--help', '../x', 'a/b', '.hidden', 'x y'])
        assert.equal(interfaceArgsBreaches({ interface: 'rtos', interfaceArgs: [], id }, {}).length, 1, id);
      for (const id of ['R456', 'gw_1', 'node-2.a', 'x:1'])
        assert.deepEqual(interfaceArgsBreaches({ interface: 'rtos', interfaceArgs: [], id }, {}), [], id);
    } finally {
      ex.write(MANIFEST, text);
    }
  });

  test("the current form's topology interface_args (Mender's own demo, unchanged)", async () => {
    const root = tempDir('rollgate-iface-args-');
    try {
      const demo = join(projectRoot, 'test/fixtures/mender-orchestrator-support');
      cpSync(join(demo, 'premade-artifacts'), join(root, 'artifacts'), { recursive: true });
      cpSync(join(demo, 'mock-env/topology.yaml'), join(root, 'topology.yaml'));
      cpSync(join(demo, 'premade-artifacts/manifest-v1.yaml'), join(root, 'manifest.yaml'));
      writeFileSync(
        join(root, 'rollgate.yaml'),
        'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s:\n    manifest: manifest.yaml\n    topology: ' +
          'topology.yaml\ntargets:\n  - name: all\n    match: { any: true }\n    system: s\n',
      );
      const policy: GatewayPolicy = { interfaces: ['rootfs-image', 'rtos-interface'] };
      // The demo ships no gateway artifact (its gateway is a real device): only the policy's problems count here.
      const ruled = async (p: GatewayPolicy) => (await problems(root, p)).filter((x) => x.rule !== undefined);
      const refused = await ruled(policy);
      assert.deepEqual(
        refused.map((p) => `${p.file} ${p.rule}`),
        ['topology.yaml policy.interfaceArgs', 'topology.yaml policy.interfaceArgs'],
      );
      assert.match(refused[0]!.message, /add "rtos-interface=1"/);
      assert.deepEqual(await ruled({ ...policy, interfaceArgs: ['rtos-interface=1', 'rtos-interface=2'] }), []);
    } finally {
      cleanup(root);
    }
  });

  test('rollgate validate --policy-file names the rule and the line; the flag adds arguments', async () => {
    const file = join(ex.dir, '..', `policy-${process.pid}.yaml`);
    writeFileSync(file, `policy:\n  interfaces: [gateway-rootfs, rtos]\n  hostPorts: ["18080"]\n`);
    try {
      const r = await rollgate('validate', '--repo', ex.dir, '--policy-file', file);
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.out + r.err, /manifest\.yaml:16:\d+: forbidden by this gateway's policy\.interfaceArgs/);
      writeFileSync(
        file,
        `policy:\n  interfaces: [gateway-rootfs, rtos]\n  hostPorts: ["18080"]\n  interfaceArgs:\n` +
          EXAMPLE_ARGS.map((a) => `    - ${a}\n`).join(''),
      );
      const ok = await rollgate('validate', '--repo', ex.dir, '--policy-file', file);
      assert.equal(ok.code, 0, ok.out + ok.err);
    } finally {
      cleanup(file);
    }
  });
});
