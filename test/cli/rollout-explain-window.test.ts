// `rollgate rollout explain` says the gateway's maintenance window: the built command, as a
// process, on a git repository of fleet-repo-example whose gateways' target has a window that opens
// on New Year's night only — closed now (but in that one hour), so a change waits for it.

import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { rollgate } from '../helpers/cli.js';
import { projectRoot, run, tempDir } from '../helpers/fixtures.js';

test('rollout explain names the window and when a change may start; none for a target without one', async () => {
  const work = tempDir('rollgate-explain-window-');
  cpSync(join(projectRoot, 'fleet-repo-example'), work, { recursive: true });
  const fleet = join(work, 'rollgate.yaml');
  writeFileSync(
    fleet,
    readFileSync(fleet, 'utf8').replace(
      '    system: gateway-system\n    # A maintenance window',
      '    system: gateway-system\n    window:\n      time_zone: UTC\n' +
        '      open: [{ cron: "0 0 1 1 *", duration: 1h }]\n' +
        '    # A maintenance window',
    ),
  );
  run('git', ['init', '-q', '-b', 'main', work]);
  run('git', ['-C', work, 'add', '-A']);
  run('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'v']);
  const newYear = new Date().getUTCMonth() === 0 && new Date().getUTCDate() === 1 && new Date().getUTCHours() === 0;

  const human = await rollgate('rollout', 'explain', '--repo', work, '--id', 'gw-0042', '--label', 'role=gateway');
  assert.equal(human.code, 0, human.err);
  if (!newYear)
    assert.match(
      human.out,
      /\n {2}window {4}targets\[1\]\.window: closed; a change waits for the window that opens at \d{4}-01-01 00:00 UTC/,
    );
  const json = await rollgate(
    'rollout',
    'explain',
    '--output',
    'json',
    '--repo',
    work,
    '--id',
    'gw-0042',
    '--label',
    'role=gateway',
  );
  const w = (JSON.parse(json.out) as { window: { from: string; zone: string; startsAt: string } | null }).window;
  assert.equal(w?.from, 'targets[1].window');
  assert.equal(w?.zone, 'UTC');
  assert.match(w?.startsAt ?? '', newYear ? /Z$/ : /^\d{4}-01-01T00:00:00\.000Z$/);

  const canary = await rollgate('rollout', 'explain', '--repo', work, '--id', 'gw-0001');
  assert.equal(canary.code, 0, canary.err);
  assert.match(canary.out, /\n {2}window {4}none: it changes as soon as it may run a commit\n/);
});
