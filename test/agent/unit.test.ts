// The agent's systemd unit and the README that installs it agree: ExecStart is where the README's
// install puts rollgate, /etc/rollgate has the mode the README makes it with, and the README's
// table of what the sandbox leaves an update interface is the unit's sandbox, row by row, each
// with a drop-in line systemd accepts. No setting closes the device policy, which systemd 245-251
// do for ProtectClock= (A/B partition writes would fail with EPERM there).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { projectRoot } from '../helpers/fixtures.js';
import { verifyUnit } from '../helpers/systemd-unit.js';

const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
const unitText = readFileSync(join(projectRoot, 'systemd/rollgate.service'), 'utf8');
const hubText = readFileSync(join(projectRoot, 'systemd/rollgate-hub.service'), 'utf8');

/** The unit's settings, continuation lines joined, comments dropped. */
function settings(unit: string): string[] {
  return unit
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l));
}

/** Settings of the sandbox: what the agent and its interfaces may not do. */
const SANDBOX = new RegExp(
  `^(${[
    'Protect\\w+',
    'Private\\w+',
    'Restrict\\w+',
    'Device\\w+',
    'NoNewPrivileges',
    'LockPersonality',
    'SystemCallArchitectures',
    'SystemCallFilter',
    'CapabilityBoundingSet',
    'MemoryDenyWriteExecute',
    'ReadOnlyPaths',
    'InaccessiblePaths',
    'UMask',
  ].join('|')})=`,
);

/** The README's table under "What the sandbox leaves an update interface": setting, what it stops, drop-in line. */
function sandboxTable(): { setting: string; stops: string; dropIn: string }[] {
  const from = readme.indexOf('**What the sandbox leaves an update interface.**');
  assert.ok(from > 0, 'the README has the section');
  const lines = readme.slice(from).split('\n');
  const start = lines.findIndex((l) => l.startsWith('| setting in the unit |'));
  const end = lines.findIndex((l, i) => i > start && !l.startsWith('|'));
  const table = lines.slice(start + 2, end);
  return table.map((row) => {
    const cells = row.split(' | ').map((c) => c.replace(/^\| |\s*\|$/g, ''));
    const code = (c: string) => /^`([^`]+)`/.exec(c)?.[1] ?? '';
    return { setting: code(cells[0]!), stops: cells[1]!, dropIn: code(cells[2]!) };
  });
}

describe("the agent's unit and the README", () => {
  test('ExecStart is the bin of the prefix the README installs to, in both units', () => {
    const prefix = /npm install -g --prefix (\S+) \.\/rollgate-[\d.]+\.tgz/.exec(readme)?.[1];
    assert.ok(prefix, 'the README installs with npm install -g --prefix');
    for (const unit of [unitText, hubText]) {
      const exec = settings(unit).find((l) => l.startsWith('ExecStart='))!;
      assert.ok(exec.startsWith(`ExecStart=${prefix}/bin/rollgate `), exec);
    }
    // The README installs the units from where the tarball puts them under that prefix.
    for (const name of ['rollgate.service', 'rollgate-hub.service'])
      assert.ok(readme.includes(`install -m 0644 ${prefix}/lib/node_modules/rollgate/systemd/${name} `), name);
  });

  test('/etc/rollgate is 0700 in the unit as in the README, so systemd does not warn at every start', () => {
    assert.ok(settings(unitText).includes('ConfigurationDirectory=rollgate'));
    assert.ok(settings(unitText).includes('ConfigurationDirectoryMode=0700'));
    assert.ok(readme.includes('install -d -m 0700 /etc/rollgate && $EDITOR /etc/rollgate/config.yaml'));
  });

  test('no setting closes the device policy; the clock is kept by the bounding set', () => {
    const s = settings(unitText);
    for (const closing of ['ProtectClock=', 'PrivateDevices=', 'DevicePolicy=', 'DeviceAllow='])
      assert.equal(
        s.find((l) => l.startsWith(closing)),
        undefined,
        `${closing} would close the device policy (ProtectClock on systemd 245-251)`,
      );
    assert.ok(s.includes('CapabilityBoundingSet=~CAP_SYS_TIME CAP_WAKE_ALARM'));
  });

  test("the README's sandbox table is the unit's sandbox, row by row, and each drop-in line is accepted", () => {
    const table = sandboxTable();
    const sandbox = settings(unitText).filter((l) => SANDBOX.test(l));
    assert.deepEqual(
      table.map((r) => r.setting).sort(),
      [...sandbox].sort(),
      'every sandbox setting of the unit has its row, and every row is in the unit',
    );
    for (const row of table) {
      assert.ok(row.stops.length > 10, `${row.setting}: says what it stops`);
      const key = row.setting.split('=')[0]!;
      assert.ok(row.dropIn.startsWith(`${key}=`), `${row.setting}: the drop-in sets ${key}`);
      assert.notEqual(row.dropIn, row.setting, `${row.setting}: the drop-in changes it`);
      verifyUnit('rollgate.service', `${unitText}\n[Service]\n${row.dropIn}\n`);
    }
    // The README's drop-in example uses lines of the table.
    const example = /```ini\n\[Service\]\n(?:#.*\n)*((?:\w+=.*\n)+)```/.exec(
      readme.slice(readme.indexOf('**What the sandbox leaves an update interface.**')),
    );
    assert.ok(example, 'the README gives a drop-in');
    for (const line of example[1]!.trim().split('\n'))
      assert.ok(
        table.some((r) => line.startsWith(r.dropIn.split('=')[0]!) && r.dropIn.includes(line.split('=')[1]!)),
        line,
      );
  });
});
