// The hub's systemd unit: systemd-analyze verify accepts it, and it runs unprivileged with its
// own state directory, which is where the hub's embedded database lives by default.

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
  assert.match(unit, new RegExp(`^ExecStart=/usr/local/bin/rollgate hub .*--data-dir ${DEFAULT_HUB_DATA_DIR}$`, 'm'));
  verifyUnit('rollgate-hub.service', unit);
});
