// Trust, tried as an attacker would against a real Git smart-HTTP server: the agent (a process)
// with trusted keys applies only commits signed by them (OpenPGP or SSH, made by git with real
// gpg and ssh-keygen keys), refuses a force-push that moves the gateway back, proves descent by
// fetching history when several commits arrive at once, and in tag mode applies an unsigned
// commit that carries a signed tag, and refuses what the gateway's policy forbids. Nothing is
// touched on a refused commit.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AgentProcess } from '../helpers/agent-process.js';
import { rollgate } from '../helpers/cli.js';
import { requireMenderTools } from '../helpers/devices.js';
import { FleetLab } from '../helpers/fleet-lab.js';
import { Keyring, type GpgKey, type SshKey } from '../helpers/signing.js';

const missing = requireMenderTools();
const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const faketimeMissing = existsSync(FAKETIME) ? false : `${FAKETIME} is missing (apt-get install faketime)`;
if (faketimeMissing && process.env['CI'] === 'true') throw new Error(`CI=true and ${faketimeMissing}`);
if (faketimeMissing) process.stderr.write(`\n!!! SKIPPING the clock-behind trust test: ${faketimeMissing}\n\n`);

describe(
  'trust: signed commits, no rewrites, signed tags (real git server, real keys, the agent as a process)',
  { skip: missing },
  () => {
    const lab = new FleetLab();
    let ring: Keyring;
    let gpgKey: GpgKey;
    let sshKey: SshKey;
    let keys: string[];
    let agent: AgentProcess | undefined;
    const installs = () => lab.calls().filter((c) => / ArtifactInstall$/.test(c));

    before(async () => {
      lab.init();
      ring = new Keyring(join(lab.root, 'keys'));
      lab.keyring = ring;
      gpgKey = ring.gpgKey('Release Manager');
      sshKey = ring.sshKey('ci-signer');
      keys = [gpgKey.publicFile, ring.allowedSigners('allowed_signers', [sshKey])];
      await lab.serve();
    });
    after(async () => {
      await agent?.kill();
      await lab.server.close();
      lab.close();
    });

    const trusted = () => keys.flatMap((k) => ['--trusted-keys', k]);

    test('validate --trusted-keys: the fleet repo CI sees what gateways will accept', async () => {
      lab.write('v1', true);
      const unsigned = lab.commit('system v1, unsigned');
      lab.push();
      const refused = await rollgate('validate', '--repo', lab.url, '--ref', 'main', ...trusted());
      assert.equal(refused.code, 1);
      assert.match(refused.err, new RegExp(`commit ${unsigned.slice(0, 12)} is not signed`));
      lab.git(...gpgKey.gitConfig, 'commit', '-q', '--amend', '--no-edit', '-S');
      lab.git('push', '-q', '-f', 'origin', 'main');
      const ok = await rollgate('validate', '--repo', lab.url, '--ref', 'main', ...trusted());
      assert.equal(ok.code, 0, ok.err);
      assert.match(ok.err, /trusted: commit [0-9a-f]{12} is signed by Release Manager/);
    });

    test('a signed commit is applied; an unsigned one is rejected with nothing touched, and not retried', async () => {
      const c1 = lab.git('rev-parse', 'HEAD');
      agent = lab.agent({}, ['--interval', '1s', ...trusted()]);
      await agent.until('v1 applied', (s) => s.lastGood?.commit === c1);
      lab.expectSettled('v1');

      lab.write('v2', true);
      const unsigned = lab.commit('system v2, unsigned');
      lab.clearCalls();
      lab.push();
      const s = await agent.until('the unsigned commit rejected', (x) => x.bad.some((b) => b.commit === unsigned));
      const rec = s.bad.find((b) => b.commit === unsigned)!;
      assert.equal(rec.kind, 'untrusted');
      assert.match(rec.reason, /is not signed; this gateway applies only commits signed by a key of/);
      assert.equal(s.applied?.commit, c1);
      await agent.waitForLog(/^$/, 2_500).catch(() => {});
      assert.deepEqual(installs(), [], 'nothing was installed');
      lab.expectSettled('v1');
      const status = await rollgate('status', '--state-dir', lab.stateDir);
      assert.match(status.out, new RegExp(`✗ ${unsigned.slice(0, 12)}  untrusted`));
      assert.match(status.out, /Stalled +True +rejected/);
    });

    let c2 = '';
    test('the same change signed with an SSH key (gpg.format ssh) is applied', async () => {
      lab.git(...sshKey.gitConfig, 'commit', '-q', '--amend', '--no-edit', '-S');
      c2 = lab.git('rev-parse', 'HEAD');
      lab.git('push', '-q', '-f', 'origin', 'main');
      await agent!.until('v2 applied', (s) => s.lastGood?.commit === c2);
      lab.expectSettled('v2');
    });

    test('a force-push back to the old signed commit is refused as a downgrade; last good stays', async () => {
      const c1 = lab.git('rev-parse', 'HEAD~1');
      lab.clearCalls();
      lab.git('push', '-q', '-f', 'origin', `${c1}:main`);
      const s = await agent!.until('the rewrite refused', (x) => x.bad.some((b) => b.commit === c1));
      const rec = s.bad.find((b) => b.commit === c1)!;
      assert.equal(rec.kind, 'rewrite');
      assert.match(rec.reason, /does not descend from [0-9a-f]{12}, the commit this gateway runs.*git revert/);
      assert.equal(s.applied?.commit, c2);
      assert.equal(s.lastGood?.commit, c2, 'the old commit is not recorded as last good');
      assert.deepEqual(installs(), []);
      lab.expectSettled('v2');
    });

    test('three signed commits pushed at once: the agent fetches enough history to prove descent', async () => {
      lab.git('push', '-q', '-f', 'origin', `${c2}:main`);
      lab.write('v3', true);
      lab.commit('system v3', gpgKey);
      lab.write('v1', true);
      lab.commit('system v1 again', sshKey);
      lab.write('v3', true);
      const top = lab.commit('system v3 again', gpgKey);
      lab.push();
      await agent!.until('the top commit applied', (s) => s.lastGood?.commit === top);
      lab.expectSettled('v3');
    });

    test(
      'a gateway whose clock is hours behind applies a signed commit and says its clock is behind',
      {
        skip: faketimeMissing,
      },
      async () => {
        await agent!.stop();
        // libfaketime: this agent believes it is 5 hours earlier than the signer did.
        agent = lab.agent({ LD_PRELOAD: FAKETIME, FAKETIME: '-5h', FAKETIME_DONT_FAKE_MONOTONIC: '1' }, [
          '--interval',
          '1s',
          ...trusted(),
        ]);
        lab.write('v1', true);
        const c = lab.commit('system v1, signed by a clock ahead of the gateway', gpgKey);
        lab.push();
        const s = await agent.until(
          'the commit applied',
          (x) => x.lastGood?.commit === c || x.bad.some((b) => b.commit === c),
        );
        assert.deepEqual(
          s.bad.filter((b) => b.commit === c),
          [],
          "not recorded bad for the gateway's clock",
        );
        assert.equal(s.lastGood?.commit, c);
        await agent.waitForLog(/signed [45]h[0-9ms]* after this gateway's clock \(.*\): check its time/);
        lab.expectSettled('v1');
        await agent.stop();
        agent = lab.agent({}, ['--interval', '1s', ...trusted()]);
      },
    );

    test('mode tag: an unsigned commit with a signed tag by a trusted key is applied; without, rejected', async () => {
      await agent!.stop();
      agent = lab.agent({}, ['--interval', '1s', '--trust-mode', 'tag', ...trusted()]);
      lab.write('v2', true);
      const untagged = lab.commit('system v2, no tag');
      lab.push();
      const s = await agent.until('the untagged commit rejected', (x) => x.bad.some((b) => b.commit === untagged));
      assert.match(s.bad.find((b) => b.commit === untagged)!.reason, /carries no tag signed by/);

      lab.write('v1', true);
      const tagged = lab.commit('system v1, tagged');
      lab.git(...sshKey.gitConfig, 'tag', '-s', 'release-1', '-m', 'release 1');
      lab.git('push', '-q', 'origin', 'release-1');
      lab.push();
      await agent.until('the tagged commit applied', (x) => x.lastGood?.commit === tagged);
      lab.expectSettled('v1');
    });

    test("policy: the agent refuses a commit that uses an interface the gateway's policy does not allow", async () => {
      await agent!.stop();
      agent = lab.agent({}, ['--interval', '1s', '--policy-interface', 'gateway-rootfs']);
      lab.write('v3', true);
      const c = lab.commit('system v3, rtos interface not allowed here', gpgKey);
      lab.clearCalls();
      lab.push();
      const s = await agent.until('the forbidden commit refused', (x) => x.bad.some((b) => b.commit === c));
      const rec = s.bad.find((b) => b.commit === c)!;
      assert.equal(rec.kind, 'forbidden');
      assert.match(
        rec.reason,
        /manifest\.yaml:\d+:\d+: forbidden by this gateway's policy\.interfaces: interface rtos/,
      );
      assert.deepEqual(installs(), []);
      lab.expectSettled('v1');
    });

    test('a commit too large to fetch is refused while streaming, recorded as bad, not fetched again', async () => {
      await agent!.stop();
      agent = lab.agent({}, ['--interval', '1s', '--max-fetch-size', '1M']);
      writeFileSync(join(lab.repo, 'firmware.bin'), randomBytes(3 * 1024 * 1024));
      const c = lab.commit('a firmware image committed into git');
      lab.push();
      const s = await agent.until('the large commit refused', (x) => x.bad.some((b) => b.commit === c));
      assert.match(s.bad.find((b) => b.commit === c)!.reason, /more than 1 MiB to fetch.*put artifacts at URLs/);
      lab.expectSettled('v1');
      const before = lab.server.requests.length;
      await agent.waitForLog(/^$/, 2_500).catch(() => {});
      const since = lab.server.requests.slice(before);
      assert.ok(since.length >= 1, 'it kept polling');
      assert.ok(
        since.every((r) => r.bytesOut < 64 * 1024),
        'no fetch of the refused commit again: polls are ls-refs only',
      );
    });
  },
);
