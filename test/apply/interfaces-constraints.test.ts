// The update-interface applier end to end under explicit constraints (order rules that split a
// group, end states, transitions): `rollgate apply` as a separate process, real `.mender`
// artifacts, the simulated A/B devices of fleet-repo-example.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DeviceLab } from '../helpers/devices.js';
import { before_, repoArtifact, skip, v } from '../helpers/interface-lab.js';

describe('update interfaces: explicit constraints', { skip }, () => {
  /** A lab of these components whose system has this constraints file. */
  const constrained = (
    components: { id: string; type: string; iface: string; order: number }[],
    constraints: string,
  ) => {
    const l = new DeviceLab(components);
    l.seed(v(1));
    l.writeRepo(repoArtifact(2));
    writeFileSync(join(l.repo, 'constraints.yaml'), constraints);
    writeFileSync(
      join(l.repo, 'rollgate.yaml'),
      readFileSync(join(l.repo, 'rollgate.yaml'), 'utf8').replace(
        '    manifest: manifest.yaml\n',
        '    manifest: manifest.yaml\n    constraints: constraints.yaml\n',
      ),
    );
    return l;
  };

  test(
    'an order rule splits a shared group: the gateway installs and verifies before the RTOS starts, and ' +
      'rolls back after it',
    async () => {
      const l = constrained(
        [
          { id: 'G13', type: 'gateway', iface: 'gateway-rootfs', order: 10 },
          { id: 'R456', type: 'rtos', iface: 'rtos', order: 10 },
        ],
        'apiVersion: rollgate/v1\nkind: Constraints\norder:\n  - { name: gateway-before-rtos, before: gateway, ' +
          'after: rtos }\n',
      );
      try {
        l.set('G13', 'reboot', 'Yes');
        const ok = await l.apply();
        assert.equal(ok.code, 0, ok.err);
        assert.deepEqual(l.running(), { G13: 'gateway-v2', R456: 'rtos-v2' });
        before_(l.calls(), 'G13 ArtifactVerifyReboot', 'R456 ArtifactInstall');

        l.seed(v(1));
        l.set('G13', 'reboot', 'Yes');
        l.set('R456', 'misbehave/ArtifactInstall', 'fail');
        const failed = await l.apply();
        assert.equal(failed.code, 3, failed.out + failed.err);
        assert.deepEqual(l.running(), { G13: 'gateway-v1', R456: 'rtos-v1' });
        before_(l.calls(), 'R456 ArtifactRollback', 'G13 ArtifactRollback');
      } finally {
        l.close();
      }
    },
  );

  test(
    'a declared order that would pass through a forbidden combination runs backwards: the interfaces are called ' +
      'in the order that avoids it',
    async () => {
      // The RTOS in a lower group than the gateway would run rtos-v2 on gateway-v1 for a while.
      const l = constrained(
        [
          { id: 'G13', type: 'gateway', iface: 'gateway-rootfs', order: 20 },
          { id: 'R456', type: 'rtos', iface: 'rtos', order: 10 },
        ],
        'apiVersion: rollgate/v1\nkind: Constraints\ntransitions:\n  forbidden:\n    - name: ' +
          'new-rtos-on-old-gateway\n      versions: { gateway: gateway-v1, rtos: rtos-v2 }\n',
      );
      try {
        const r = await l.apply();
        assert.equal(r.code, 0, r.out + r.err);
        assert.match(
          r.out + r.err,
          /order: reversed: gateway \(group 20\) → rtos \(group 10\), the declared order backwards/,
        );
        assert.deepEqual(l.running(), { G13: 'gateway-v2', R456: 'rtos-v2' });
        before_(l.calls(), 'G13 ArtifactInstall', 'R456 ArtifactInstall');
        before_(l.calls(), 'G13 ArtifactCommit', 'R456 ArtifactCommit');
      } finally {
        l.close();
      }
    },
  );

  test('when no order passes the constraints, the apply is refused before any interface is called', async () => {
    // The RTOS first would run rtos-v2 on gateway-v1 for a while; the gateway first, rtos-v1 on gateway-v2.
    const l = constrained(
      [
        { id: 'G13', type: 'gateway', iface: 'gateway-rootfs', order: 20 },
        { id: 'R456', type: 'rtos', iface: 'rtos', order: 10 },
      ],
      'apiVersion: rollgate/v1\nkind: Constraints\ntransitions:\n  forbidden:\n    - name: ' +
        'new-rtos-on-old-gateway\n      versions: { gateway: gateway-v1, rtos: rtos-v2 }\n    - name: ' +
        'old-rtos-on-new-gateway\n      versions: { gateway: gateway-v2, rtos: rtos-v1 }\n',
    );
    try {
      const r = await l.apply();
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(
        r.err,
        new RegExp(
          'forbidden combination "new-rtos-on-old-gateway" \\(R456=rtos-v2, G13=gateway-v1\\); reversed, through ' +
            'the forbidden combination "old-rtos-on-new-gateway" \\(R456=rtos-v1, G13=gateway-v2\\)',
        ),
      );
      assert.ok(
        !l.calls().some((c) => !/ (Provides|Inventory|Identity)$/.test(c)),
        `only observation:\n${l.calls().join('\n')}`,
      );
      assert.deepEqual(l.running(), { G13: 'gateway-v1', R456: 'rtos-v1' });
    } finally {
      l.close();
    }
  });
});
