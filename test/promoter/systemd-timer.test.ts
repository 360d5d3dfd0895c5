// The README's systemd timer for the promoter, as written there: both units pass `systemd-analyze
// verify` together (ExecStart pointed at the built CLI), every flag the service gives is one
// `rollgate rollout promote` takes, and the exit codes it treats as success are the documented ones.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, rollgate } from '../helpers/cli.js';
import { projectRoot, tempDir } from '../helpers/fixtures.js';

const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');

/** The ```ini block of the README whose first line names the unit file. */
function unit(name: string): string {
  const m = new RegExp('```ini\\n# /etc/systemd/system/' + name.replace('.', '\\.') + '\\n([\\s\\S]*?)```').exec(
    readme,
  );
  assert.ok(m, `the README shows ${name}`);
  return m[1]!;
}

test("the README's promoter service and timer pass systemd-analyze verify", () => {
  const dir = tempDir();
  const service = unit('rollgate-promote.service').replaceAll(
    '/opt/rollgate/bin/rollgate',
    `${process.execPath} ${CLI}`,
  );
  writeFileSync(join(dir, 'rollgate-promote.service'), service);
  writeFileSync(join(dir, 'rollgate-promote.timer'), unit('rollgate-promote.timer'));
  const r = spawnSync(
    'systemd-analyze',
    ['verify', join(dir, 'rollgate-promote.service'), join(dir, 'rollgate-promote.timer')],
    {
      encoding: 'utf8',
    },
  );
  if (r.error) {
    if (process.env['CI'] === 'true') throw new Error(`CI=true and systemd-analyze cannot run: ${r.error.message}`);
    process.stderr.write(`\n!!! SKIPPING systemd-analyze verify: ${r.error.message}\n\n`);
    return;
  }
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no warnings');
});

test('the service runs rollgate rollout promote with flags it takes; a wave that waits (2) is a success', async () => {
  const service = unit('rollgate-promote.service');
  const exec = /^ExecStart=(.*(?:\\\n.*)*)/m.exec(service)![1]!.replace(/\\\n\s*/g, ' ');
  assert.match(exec, /^\/opt\/rollgate\/bin\/rollgate rollout promote /);
  // commander wraps the help at 80 columns: read it as one line.
  const help = (await rollgate('rollout', 'promote', '--help')).out.replace(/\s+/g, ' ');
  for (const flag of exec.match(/--[a-z-]+/g)!) assert.match(help, new RegExp(` ${flag} `), flag);
  assert.match(service, /^SuccessExitStatus=2$/m);
  assert.match(help, /2 the open wave waits/);
  assert.match(help, /3 the rollout is paused or aborted/);
});
