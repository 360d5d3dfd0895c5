// Maintenance windows in rollgate.yaml: which window a target gets (its own, its system's, the
// fleet's, or none), and every rule a window can break as one row — the problem names the file,
// the line and column of the key, and says why.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DirectorySource, FleetRepoError, formatProblem, readFleet, windowOfTarget } from '../../src/manifest/index.js';
import { projectRoot, tempDir } from '../helpers/fixtures.js';

const FLEET = 'rollgate.yaml';

function fleetDir(text: string): string {
  const dir = tempDir('rollgate-window-');
  writeFileSync(join(dir, FLEET), `apiVersion: rollgate/v1\nkind: Fleet\n${text}`);
  return dir;
}

const SYSTEMS =
  'systems:\n  s: {}\n  t:\n    window: { time_zone: UTC, open: [{ days: [sat], from: "01:00", to: "03:00" }] }\n';

describe('which window a target gets', () => {
  test("its own, else its system's, else the fleet's; none opts out", async () => {
    const dir = fleetDir(
      'window:\n  time_zone: Europe/Berlin\n  open:\n    - cron: "0 2 * * 0"\n      duration: 2h\n' +
        SYSTEMS +
        'targets:\n' +
        '  - name: own\n    match: { ids: [a] }\n    system: s\n' +
        '    window:\n      time_zone: Asia/Tokyo\n      open: [{ from: "22:00", to: "02:00" }]\n' +
        '      expected_duration: 5m\n      rollbacks: in-window\n' +
        '  - { name: sys, match: { ids: [b] }, system: t }\n' +
        '  - { name: fleet, match: { ids: [c] }, system: s }\n' +
        '  - { name: none, match: { any: true }, system: s, window: none }\n',
    );
    const { fleet } = await readFleet(new DirectorySource(dir));
    assert.deepEqual(windowOfTarget(fleet, 0), {
      zone: 'Asia/Tokyo',
      openings: [{ kind: 'range', days: [0, 1, 2, 3, 4, 5, 6], from: '22:00', to: '02:00' }],
      expectedMs: 5 * 60_000,
      rollbacks: 'in-window',
      from: 'targets[0].window',
    });
    assert.equal(windowOfTarget(fleet, 1)?.from, 'systems.t.window');
    assert.deepEqual(windowOfTarget(fleet, 2), {
      zone: 'Europe/Berlin',
      openings: [{ kind: 'cron', cron: '0 2 * * 0', durationMs: 2 * 3_600_000 }],
      expectedMs: 15 * 60_000,
      rollbacks: 'at-once',
      from: 'window',
    });
    assert.equal(windowOfTarget(fleet, 3), undefined);
  });
});

describe('a window that breaks a rule is a problem at its key', () => {
  const target = 'targets:\n  - { name: all, match: { any: true }, system: s }\n';
  const rows: [string, string, RegExp][] = [
    [
      'an unknown time zone',
      'window:\n  time_zone: Europe/Berlinn\n  open: [{ cron: "0 2 * * *", duration: 1h }]\n',
      /rollgate\.yaml:4:14: .*time_zone "Europe\/Berlinn" is not an IANA time zone/,
    ],
    [
      'a cron expression croner refuses',
      'window:\n  time_zone: UTC\n  open:\n    - cron: "0 25 * * *"\n      duration: 1h\n',
      /rollgate\.yaml:6:13: .*cron "0 25 \* \* \*" is not a cron expression/,
    ],
    [
      'a window shorter than the transaction',
      'window:\n  time_zone: UTC\n  expected_duration: 30m\n  open:\n    - cron: "0 2 * * *"\n      duration: 10m\n',
      /rollgate\.yaml:8:17: .*duration 10m is shorter than the window's expected_duration 30m/,
    ],
    [
      'from and to the same',
      'window:\n  time_zone: UTC\n  open:\n    - { from: "02:00", to: "02:00" }\n',
      /rollgate\.yaml:6:\d+: .*a window of no length/,
    ],
    [
      'a time that is not HH:MM (the schema)',
      'window:\n  time_zone: UTC\n  open:\n    - { from: "2am", to: "04:00" }\n',
      /rollgate\.yaml:6:15: expected a time of day as HH:MM/,
    ],
    [
      'an unknown key (the schema)',
      'window:\n  time_zone: UTC\n  open: [{ cron: "0 2 * * *", duration: 1h }]\n  grace: 5m\n',
      /rollgate\.yaml:6:3: .*grace/,
    ],
  ];
  for (const [name, text, want] of rows)
    test(name, async () => {
      const dir = fleetDir(`${text}systems:\n  s: {}\n${target}`);
      const err = await readFleet(new DirectorySource(dir)).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof FleetRepoError, 'the fleet file is refused');
      const text2 = err.problems.map(formatProblem).join('\n');
      assert.match(text2, want);
    });
});

test("the README's window is read as it says: Sundays 02:00 for 2h and weeknights 22:00 to 02:00, Berlin", async () => {
  const readme = readFileSync(`${projectRoot}/README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('## Maintenance windows'));
  const yaml = /```yaml\n([^`]*)```/.exec(section)![1]!;
  const { fleet } = await readFleet(new DirectorySource(fleetDir(`systems:\n  gateway-system: {}\n${yaml}`)));
  assert.deepEqual(windowOfTarget(fleet, 0), {
    zone: 'Europe/Berlin',
    openings: [
      { kind: 'cron', cron: '0 2 * * 0', durationMs: 2 * 3_600_000 },
      { kind: 'range', days: [1, 2, 3, 4, 5], from: '22:00', to: '02:00' },
    ],
    expectedMs: 20 * 60_000,
    rollbacks: 'at-once',
    from: 'targets[0].window',
  });
});

test("fleet-repo-example's commented window, uncommented, is a valid Sunday-night window", async () => {
  const text = readFileSync(`${projectRoot}/fleet-repo-example/rollgate.yaml`, 'utf8');
  const on = text.replace(/^ {4}# (window:| {2}.*)$/gm, '    $1');
  assert.notEqual(on, text, 'the example carries a commented window');
  const dir = tempDir('rollgate-window-example-');
  writeFileSync(join(dir, FLEET), on);
  const { fleet } = await readFleet(new DirectorySource(dir));
  assert.deepEqual(windowOfTarget(fleet, 1)?.openings, [{ kind: 'range', days: [0], from: '02:00', to: '04:00' }]);
  assert.equal(windowOfTarget(fleet, 0), undefined, 'the canary target has none');
});
