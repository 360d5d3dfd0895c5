// The hub's systemd unit: systemd-analyze verify accepts it, and it runs unprivileged with its
// own state directory, which is where the hub's embedded database lives by default.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_HUB_DATA_DIR } from '../../src/cli/hub-command.js';
import { CLI } from '../helpers/cli.js';
import { projectRoot, tempDir } from '../helpers/fixtures.js';

test('the hub unit verifies, runs as a dynamic user and keeps its database in its state directory', () => {
  const unit = readFileSync(join(projectRoot, 'systemd/rollgate-hub.service'), 'utf8');
  for (const line of ['DynamicUser=yes', 'StateDirectory=rollgate-hub', 'NoNewPrivileges=yes', 'Restart=on-failure'])
    assert.ok(unit.includes(line), `has ${line}`);
  assert.equal(DEFAULT_HUB_DATA_DIR, '/var/lib/rollgate-hub');
  assert.match(unit, new RegExp(`^ExecStart=/usr/local/bin/rollgate hub .*--data-dir ${DEFAULT_HUB_DATA_DIR}$`, 'm'));
  const copy = join(tempDir(), 'rollgate-hub.service');
  writeFileSync(copy, unit.replace('/usr/local/bin/rollgate', `${process.execPath} ${CLI}`));
  const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
  if (r.error) {
    if (process.env['CI'] === 'true') throw new Error(`CI=true and systemd-analyze cannot run: ${r.error.message}`);
    process.stderr.write(`\n!!! SKIPPING systemd-analyze verify: ${r.error.message}\n\n`);
    return;
  }
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no warnings');
});
