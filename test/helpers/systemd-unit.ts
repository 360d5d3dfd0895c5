// `systemd-analyze verify` on a unit file of systemd/, with ExecStart pointed at the built CLI
// (verify checks that the executable exists). Under CI=true a missing systemd-analyze fails.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from './cli.js';
import { tempDir } from './fixtures.js';

export function verifyUnit(name: string, unit: string): void {
  const copy = join(tempDir(), name);
  writeFileSync(copy, unit.replaceAll('/opt/rollgate/bin/rollgate', `${process.execPath} ${CLI}`));
  const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
  if (r.error) {
    if (process.env['CI'] === 'true') throw new Error(`CI=true and systemd-analyze cannot run: ${r.error.message}`);
    process.stderr.write(`\n!!! SKIPPING systemd-analyze verify: ${r.error.message}\n\n`);
    return;
  }
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no warnings');
}
