// Maintenance windows a commit may write to make gateways (and the hub's rollout pages, and the
// promoter, which count a wave's timeout in open time) wait forever or spin: a cron that never
// fires, and one that fires again before its opening is over — joining those overlapping openings
// took seconds of CPU per window at every poll and page (`* * * * * *` for 15m: 20,000 openings
// joined). Each is a problem of the fleet file at its key, as any broken window is.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectorySource, FleetRepoError, formatProblem, readFleet, windowOfTarget } from '../../src/manifest/index.js';
import { tempDir } from '../helpers/fixtures.js';

const TARGET = 'systems:\n  s: {}\ntargets:\n  - { name: all, match: { any: true }, system: s }\n';

async function problems(window: string): Promise<string> {
  const dir = tempDir('rollgate-window-hostile-');
  writeFileSync(join(dir, 'rollgate.yaml'), `apiVersion: rollgate/v1\nkind: Fleet\n${window}${TARGET}`);
  const err = await readFleet(new DirectorySource(dir)).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof FleetRepoError, 'the fleet file is refused');
  return err.problems.map(formatProblem).join('\n');
}

const cron = (c: string, duration: string) =>
  `window:\n  time_zone: Europe/Berlin\n  open:\n    - cron: "${c}"\n      duration: ${duration}\n`;

test('a cron that never fires (30 February) is a problem at its key', async () => {
  assert.match(
    await problems(cron('0 0 30 2 *', '1h')),
    /rollgate\.yaml:6:13: .*cron "0 0 30 2 \*" never fires \(no such date\): the window never opens/,
  );
});

test('a cron that fires again before its opening is over is a problem at its key', async () => {
  assert.match(
    await problems(cron('* * * * * *', '15m')),
    /rollgate\.yaml:6:13: .*cron "\* \* \* \* \* \*" fires again 1s after it fires, before its duration 15m is over/,
  );
  assert.match(await problems(cron('*/10 * * * *', '1h')), /fires again 10m after it fires, before its duration 1h/);
  // Irregular gaps: the closest two count (02:00 and 02:30 on Sundays, for 45m).
  assert.match(await problems(cron('0,30 2 * * 0', '45m')), /fires again 30m after it fires/);
});

test('openings that do not overlap themselves are as they were', async () => {
  const dir = tempDir('rollgate-window-hostile-');
  writeFileSync(
    join(dir, 'rollgate.yaml'),
    `apiVersion: rollgate/v1\nkind: Fleet\n${cron('0 * * * *', '1h')}${TARGET}`,
  );
  const { fleet } = await readFleet(new DirectorySource(dir));
  assert.deepEqual(windowOfTarget(fleet, 0)?.openings, [{ kind: 'cron', cron: '0 * * * *', durationMs: 3_600_000 }]);
});
