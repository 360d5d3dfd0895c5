// The hub's systemd unit: systemd-analyze verify accepts it, and it runs unprivileged with its
// own state directory, which is where the hub's embedded database lives by default, and gets its
// settings from root's /etc/rollgate as a credential.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_HUB_DATA_DIR } from '../../src/cli/hub-command.js';
import { projectRoot } from '../helpers/fixtures.js';
import { verifyUnit } from '../helpers/systemd-unit.js';

test('the hub unit verifies, runs as a dynamic user and keeps its database in its state directory', () => {
  const unit = readFileSync(join(projectRoot, 'systemd/rollgate-hub.service'), 'utf8');
  for (const line of ['DynamicUser=yes', 'StateDirectory=rollgate-hub', 'NoNewPrivileges=yes', 'Restart=on-failure'])
    assert.ok(unit.includes(line), `has ${line}`);
  assert.equal(DEFAULT_HUB_DATA_DIR, '/var/lib/rollgate-hub');
  assert.match(
    unit.replace(/\\\n\s*/g, ''),
    new RegExp(`^ExecStart=/opt/rollgate/bin/rollgate hub .*--data-dir ${DEFAULT_HUB_DATA_DIR}$`, 'm'),
  );
  verifyUnit('rollgate-hub.service', unit);
});

test("the hub reads its settings from root's /etc/rollgate (0700) as a credential, not as its dynamic user", () => {
  const unit = readFileSync(join(projectRoot, 'systemd/rollgate-hub.service'), 'utf8');
  assert.match(unit, /^LoadCredential=hub\.yaml:\/etc\/rollgate\/hub\.yaml$/m);
  // The credentials directory of a system service, the same from systemd 247 on (%d came in 251).
  assert.match(unit, /^ExecStart=.* --config \/run\/credentials\/rollgate-hub\.service\/hub\.yaml /m);
  assert.doesNotMatch(unit, /^ConfigurationDirectory=/m, "/etc/rollgate stays as the agent's unit makes it");
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  assert.ok(
    readme.includes("install -d -m 0700 /etc/rollgate && echo 'listen: 0.0.0.0:9480' > /etc/rollgate/hub.yaml"),
  );
});
