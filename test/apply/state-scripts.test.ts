// Mender state scripts from the fleet repo, run unchanged by `rollgate apply` around real
// interfaces on simulated devices: each script writes its name into the devices' call log, so
// the order of scripts and protocol states is what the log shows. A failing Leave script rolls
// back (Error, ArtifactRollback and ArtifactFailure scripts on the way back, their own failures
// ignored); exit 21 is run again; a hanging script is killed at its deadline; a crash between two
// Leave scripts resumes without running the first again.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { rollgate } from '../helpers/cli.js';
import { DeviceLab, requireMenderTools } from '../helpers/devices.js';

const skip = requireMenderTools();
const v = (n: number) => (type: string) => `${type}-v${n}`;

describe('Mender state scripts through rollgate apply (real scripts, real interfaces)', { skip }, () => {
  const lab = new DeviceLab();
  after(() => lab.close());
  const dir = join(lab.repo, 'state-scripts');

  /** Writes the scripts (name → extra shell after it logs itself) and points the system at them. */
  function scripts(defs: Record<string, string>, version = 2): void {
    lab.writeRepo((t) => lab.artifact(t, `${t}-v${version}`));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [name, rest] of Object.entries(defs)) {
      const file = join(dir, name);
      writeFileSync(file, `#!/bin/sh\necho "script ${name}" >> ${join(lab.devices, 'calls.log')}\n${rest}\n`);
      chmodSync(file, 0o755);
    }
    const fleet = join(lab.repo, 'rollgate.yaml');
    writeFileSync(
      fleet,
      readFileSync(fleet, 'utf8').replace(
        '    manifest: manifest.yaml\n',
        '    manifest: manifest.yaml\n    state_scripts: state-scripts\n',
      ),
    );
  }
  const calls = () =>
    lab.calls().filter((c) => !/ (Identity|Provides|Inventory|NeedsArtifactReboot|SupportsRollback)$/.test(c));
  const first = (cs: string[], re: RegExp) => cs.findIndex((c) => re.test(c));
  const last = (cs: string[], re: RegExp) => cs.length - 1 - [...cs].reverse().findIndex((c) => re.test(c));

  beforeEach(() => lab.seed(v(1)));

  test('a successful update runs each state Enter before it and Leave after it, in name order', async () => {
    const all = [
      'Download_Enter_00',
      'Download_Leave_00',
      'ArtifactInstall_Enter_00_stop-logger',
      'ArtifactInstall_Enter_10',
      'ArtifactReboot_Enter_00',
      'ArtifactReboot_Leave_00',
      'ArtifactInstall_Leave_00',
      'Health_Enter_00',
      'Health_Leave_00',
      'ArtifactCommit_Enter_00',
      'ArtifactCommit_Leave_00_notify',
      'ArtifactRollback_Enter_00',
      'ArtifactFailure_Enter_00',
    ];
    scripts(Object.fromEntries(all.map((n) => [n, 'exit 0'])));
    lab.set('G13', 'reboot', 'Yes'); // the gateway's own component reboots: ArtifactReboot's scripts run around it
    const r = await lab.apply();
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
    const cs = calls();
    const ran = cs.filter((c) => c.startsWith('script ')).map((c) => c.slice(7));
    assert.deepEqual(ran, all.slice(0, 11), 'every forward script once, in stage and name order; no rollback ones');
    const at = (name: string) => cs.indexOf(`script ${name}`);
    assert.ok(at('Download_Enter_00') < first(cs, / Download$/));
    assert.ok(at('Download_Leave_00') > last(cs, / Download$/));
    assert.ok(at('ArtifactInstall_Enter_10') < first(cs, / ArtifactInstall$/));
    assert.ok(at('ArtifactInstall_Leave_00') > last(cs, / ArtifactInstall$/));
    assert.ok(at('ArtifactReboot_Enter_00') < first(cs, / ArtifactReboot$/));
    assert.ok(at('ArtifactReboot_Leave_00') > last(cs, / ArtifactVerifyReboot$/));
    assert.ok(at('ArtifactCommit_Enter_00') < first(cs, / ArtifactCommit$/));
    assert.ok(at('ArtifactCommit_Leave_00_notify') > last(cs, / ArtifactCommit$/));
    assert.ok(at('Health_Leave_00') < at('ArtifactCommit_Enter_00'));
  });

  test('rollgate diff shows the state scripts at their place in the stages', async () => {
    scripts({
      Download_Enter_00: 'exit 0',
      ArtifactInstall_Enter_00: 'exit 0',
      ArtifactCommit_Leave_00: 'exit 0',
      ArtifactInstall_Error_00: 'exit 0',
      ArtifactFailure_Leave_00: 'exit 0',
    });
    const r = await rollgate('diff', '--repo', lab.repo, '--id', 'gw-test', '--against', 'fresh');
    assert.equal(r.code, 2, r.err);
    const lines = r.out.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    assert.ok(at(/^Prepare/) < at(/state scripts Download_Enter: Download_Enter_00/));
    assert.ok(at(/state scripts Download_Enter/) < at(/↓ download/));
    assert.ok(at(/state scripts ArtifactInstall_Enter: ArtifactInstall_Enter_00/) < at(/^Order group/));
    assert.ok(at(/^Finalize/) < at(/state scripts ArtifactCommit_Leave: ArtifactCommit_Leave_00/));
    assert.match(r.out, /State scripts if anything fails: ArtifactFailure_Leave_00, ArtifactInstall_Error_00/);
  });

  test('no component reboots: ArtifactReboot scripts do not run, as in Mender', async () => {
    scripts({
      ArtifactReboot_Enter_00: 'exit 0',
      ArtifactReboot_Leave_00: 'exit 0',
      ArtifactInstall_Leave_00: 'exit 0',
    });
    const r = await lab.apply();
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      calls().filter((c) => c.startsWith('script ')),
      ['script ArtifactInstall_Leave_00'],
    );
  });

  test('a failing Leave script rolls back: its Error scripts, then ArtifactRollback and ArtifactFailure', async () => {
    scripts({
      ArtifactInstall_Leave_00: 'echo "logger would not stop" >&2; exit 1',
      ArtifactInstall_Error_00: 'exit 9',
      ArtifactRollback_Enter_00: 'exit 0',
      ArtifactRollback_Leave_00: 'exit 0',
      ArtifactFailure_Enter_00: 'exit 0',
      ArtifactFailure_Leave_00: 'exit 0',
      ArtifactCommit_Enter_00: 'exit 0',
    });
    const r = await lab.apply();
    assert.equal(r.code, 3, r.out + r.err);
    assert.match(r.err, /state script ArtifactInstall_Leave_00 exited with code 1: logger would not stop/);
    assert.match(
      r.err,
      /state script ArtifactInstall_Error_00 exited with code 9.*an Error script's failure is ignored/,
    );
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
    const cs = calls();
    const ran = cs.filter((c) => c.startsWith('script ')).map((c) => c.slice(7));
    assert.deepEqual(ran, [
      'ArtifactInstall_Leave_00',
      'ArtifactInstall_Error_00',
      'ArtifactRollback_Enter_00',
      'ArtifactRollback_Leave_00',
      'ArtifactFailure_Enter_00',
      'ArtifactFailure_Leave_00',
    ]);
    const at = (name: string) => cs.indexOf(`script ${name}`);
    assert.ok(at('ArtifactRollback_Enter_00') < first(cs, / ArtifactRollback$/));
    assert.ok(at('ArtifactRollback_Leave_00') > last(cs, / ArtifactRollback$/));
  });

  test('exit 21 asks to be run again: the script runs until it succeeds, and the update goes through', async () => {
    const marker = join(lab.root, 'second-time');
    rmSync(marker, { force: true });
    scripts({ ArtifactInstall_Enter_00: `if [ -e ${marker} ]; then exit 0; fi; touch ${marker}; exit 21` });
    const r = await lab.apply({ args: ['--state-script-retry-interval', '100ms'] });
    assert.equal(r.code, 0, r.err);
    assert.equal(calls().filter((c) => c === 'script ArtifactInstall_Enter_00').length, 2);
    assert.match(r.err, /ArtifactInstall_Enter_00 asks to run again later \(exit 21\)/);
  });

  test('a hanging script is killed at its deadline, and the update rolls back', async () => {
    scripts({ ArtifactCommit_Enter_00: 'sleep 30' });
    const r = await lab.apply({ args: ['--state-script-timeout', '500ms'] });
    assert.equal(r.code, 3, r.out + r.err);
    assert.match(r.err, /state script ArtifactCommit_Enter_00 no answer within 500 ms/);
    assert.deepEqual(lab.running(), { G13: 'gateway-v1', R456: 'rtos-v1', R998: 'rtos-v1' });
  });

  test('a crash between two Leave scripts resumes without running the first one again', async () => {
    scripts({ ArtifactCommit_Leave_00: 'exit 0', ArtifactCommit_Leave_10: 'exit 0' });
    const crashed = await lab.apply({ env: { ROLLGATE_CRASH_AT: 'script:2' } });
    assert.notEqual(crashed.code, 0);
    assert.deepEqual(
      calls().filter((c) => c.startsWith('script ')),
      ['script ArtifactCommit_Leave_00'],
    );
    const resumed = await lab.apply();
    assert.equal(resumed.code, 0, resumed.err);
    assert.deepEqual(
      calls().filter((c) => c.startsWith('script ')),
      ['script ArtifactCommit_Leave_00', 'script ArtifactCommit_Leave_10'],
      'the second runs after the restart; the first never runs twice',
    );
    assert.deepEqual(lab.running(), { G13: 'gateway-v2', R456: 'rtos-v2', R998: 'rtos-v2' });
  });

  test('a script that is not executable, or not named as one, is refused before anything runs', async () => {
    scripts({
      ArtifactInstall_Enter_00: 'exit 0',
      Artifactinstall_Enter_00: 'exit 0',
      ArtifactRollbackReboot_Enter_00: 'exit 0',
    });
    chmodSync(join(dir, 'ArtifactInstall_Enter_00'), 0o644);
    const r = await lab.apply();
    assert.equal(r.code, 1);
    assert.match(r.err, /state-scripts\/ArtifactInstall_Enter_00 is not executable in the commit/);
    assert.match(r.err, /"Artifactinstall" is not a state scripts run at/);
    assert.match(r.err, /rollgate does not run ArtifactRollbackReboot scripts/);
    assert.deepEqual(calls(), []);
  });
});
