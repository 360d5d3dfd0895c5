// The health command probe runs a program as root on the host, so it never runs a file of the
// fleet repo: a bare name is looked up on a fixed system PATH (never the agent's own), every
// symlink is followed, and what lands in the state directory is refused — with or without a
// policy, and whatever the commit's loader said. Real files, real processes.

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { CENSOR, processSecrets } from '../../src/base/redact.js';
import { probe } from '../../src/health/index.js';
import type { HealthCheck } from '../../src/model/index.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

const command = (argv: string[]): HealthCheck => ({
  name: 'c',
  required: true,
  intervalMs: 1000,
  timeoutMs: 5000,
  failureThreshold: 1,
  kind: 'command',
  argv,
});

describe('health command probe', () => {
  const root = tempDir('rollgate-probe-');
  after(() => cleanup(root));
  const stateDir = join(root, 'state');
  const marker = join(root, 'ran');
  /** An executable that leaves a marker when it runs. */
  const script = (path: string) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, `#!/bin/sh\ntouch ${marker}\n`);
    chmodSync(path, 0o755);
    return path;
  };
  // As the Docker applier writes a fleet repo file that a container mounts.
  const shipped = script(join(stateDir, 'files', 'app', '0123abcd', 'check'));
  beforeEach(() => rmSync(marker, { force: true }));

  test('a file of the fleet repo in the state directory is not run', async () => {
    const r = await probe(command([shipped]), { stateDir });
    assert.equal(r.ok, false);
    assert.match(r.detail, /not run: .* is in the state directory/);
    assert.equal(existsSync(marker), false, 'it did not run');
  });

  test('nor through a symlink outside the state directory that points into it', async () => {
    const link = join(root, 'elsewhere', 'check');
    mkdirSync(join(root, 'elsewhere'), { recursive: true });
    symlinkSync(shipped, link);
    const r = await probe(command([link]), { stateDir });
    assert.equal(r.ok, false);
    assert.match(r.detail, /resolves to .*\/files\/app\/0123abcd\/check, in the state directory/);
    assert.equal(existsSync(marker), false, 'it did not run');
  });

  test('a bare name is looked up on the system PATH, never the agent’s own', async () => {
    const evil = join(root, 'evil-bin');
    script(join(evil, 'true'));
    const before = process.env['PATH'];
    process.env['PATH'] = `${evil}:${before}`;
    try {
      const r = await probe(command(['true']), { stateDir });
      assert.equal(r.ok, true, r.detail);
      assert.equal(existsSync(marker), false, 'the true on the agent’s PATH did not run');
    } finally {
      process.env['PATH'] = before;
    }
  });

  test('the command runs with the system PATH; a relative path is refused', async () => {
    const path = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    const r = await probe(command(['sh', '-c', `test "$PATH" = "${path}"`]), { stateDir });
    assert.equal(r.ok, true, r.detail);
    // Nor systemd's notify socket, where any process of the unit may speak for the agent (NotifyAccess=all).
    process.env['NOTIFY_SOCKET'] = '/run/systemd/notify';
    try {
      const quiet = await probe(command(['sh', '-c', 'test -z "$NOTIFY_SOCKET"']), { stateDir });
      assert.equal(quiet.ok, true, quiet.detail);
    } finally {
      delete process.env['NOTIFY_SOCKET'];
    }
    const rel = await probe(command(['./check']), { stateDir });
    assert.equal(rel.ok, false);
    assert.match(rel.detail, /not an absolute path/);
    const missing = await probe(command(['no-such-program-rollgate']), { stateDir });
    assert.match(missing.detail, /not found on the system PATH/);
  });

  test(
    'under a policy it runs as nobody (uid, gid and groups 65534), unless allowRootHealthCommands says root',
    { skip: process.getuid?.() === 0 ? false : 'needs root, as the agent on a gateway' },
    async () => {
      const who = command(['sh', '-c', 'test "$(id -u) $(id -g) $(id -G)" = "65534 65534 65534"']);
      const policy = { healthCommands: ['sh'] };
      const r = await probe(who, { stateDir, policy });
      assert.equal(r.ok, true, r.detail);
      assert.equal((await probe(who, { stateDir })).ok, false, 'without a policy: root, as the agent');
      assert.equal((await probe(who, { stateDir, policy: { ...policy, allowRootHealthCommands: true } })).ok, false);
    },
  );

  test('what a command printed is read as text across its writes, and a secret at the bound goes whole', async () => {
    // ä is two bytes, written apart: decoded chunk by chunk, each half was a U+FFFD and the rest of
    // the word was no longer the secret the scrubbing looks for.
    const split = await probe(
      command(['sh', '-c', String.raw`printf 'p\303'; sleep 0.3; printf '\244sswort-Geheim-7781\n'; exit 1`]),
      { stateDir },
    );
    assert.equal(split.ok, false);
    assert.match(split.detail, /it printed: pässwort-Geheim-7781$/);
    // The output is kept up to 512 characters; this secret starts at 500.
    const secret = 'probe-Secret-Cut-At-The-Bound-0415';
    processSecrets.add([secret]);
    const cut = await probe(command(['sh', '-c', `printf '%0500d${secret}tail'; exit 1`]), { stateDir });
    const out = processSecrets.scrub(cut.detail);
    assert.match(out, new RegExp(`it printed: 0{500}\\${CENSOR.slice(0, -1)}\\]`));
    for (let i = 0; i + 6 <= secret.length; i++) assert.ok(!out.includes(secret.slice(i, i + 6)), out);
  });
});
