// The agent's systemd unit: systemd-analyze verify accepts it, and it says what the README promises.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { verifyUnit } from '../helpers/systemd-unit.js';
import { projectRoot } from '../helpers/fixtures.js';

describe('the systemd unit', () => {
  test(
    'systemd-analyze verify accepts it, and it restarts, orders after network and Docker, notifies and is ' +
      'hardened',
    () => {
      const unit = readFileSync(join(projectRoot, 'systemd/rollgate.service'), 'utf8');
      for (const line of [
        'Type=notify',
        'Restart=on-failure',
        'StateDirectory=rollgate',
        'WatchdogSec=',
        'NoNewPrivileges=yes',
        'ProtectHome=read-only',
        'PrivateTmp=yes',
      ])
        assert.ok(unit.includes(line), `has ${line}`);
      assert.match(unit, /^After=.*network-online\.target.*docker\.service/m);
      assert.match(unit, /^ExecStart=\/opt\/rollgate\/bin\/rollgate agent /m);
      // The resident part's Node options (its worker runs without them).
      assert.match(unit, /^Environment="NODE_OPTIONS=--jitless --max-semi-space-size=1"$/m);
      verifyUnit('rollgate.service', unit);
    },
  );
});
