// The promoter's narrower key, tried as an attacker holding it would, against the agent as a process
// and a real Git smart-HTTP server, with real gpg keys: a release key signs the releases, a promoter
// key (trust.promoterKeys) signs what `rollgate rollout` writes. The promoter's legitimate steps are
// followed; a promoter-signed head that also changes a manifest, removes the rollout file, names a
// target the promoter key signed, adds a file, or is a merge is refused with the rule it breaks, and
// nothing on the gateway moves.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AgentProcess } from '../helpers/agent-process.js';
import { rollgate } from '../helpers/cli.js';
import { requireMenderTools } from '../helpers/devices.js';
import { FleetLab } from '../helpers/fleet-lab.js';
import { Keyring, type GpgKey } from '../helpers/signing.js';

const missing = requireMenderTools();

const POLICY = 'rollout:\n  gate: { soak: 1m, timeout: 1h }\n  waves:\n    - { name: everyone, percent: 100 }\n';

describe(
  'a promoter key signs rollout steps and nothing else (real keys, the agent as a process)',
  { skip: missing ?? false },
  () => {
    const lab = new FleetLab();
    let release: GpgKey;
    let promoter: GpgKey;
    let promoterKey = '';
    let agent: AgentProcess | undefined;
    let base = '';
    let target = '';
    let step = '';
    const installs = () => lab.calls().filter((c) => / ArtifactInstall$/.test(c));
    const rolloutFile = () => join(lab.repo, 'rollgate-rollout.yaml');

    /** The fleet repo on `version`, with the rollout policy. */
    const writeFleet = (version: string) => {
      lab.write(version, true);
      writeFileSync(join(lab.repo, 'rollgate.yaml'), readFileSync(join(lab.repo, 'rollgate.yaml'), 'utf8') + POLICY);
    };
    /** `rollgate rollout <command>` on the checkout, signed with the promoter's key. */
    const promote = async (command: string, ...args: string[]) => {
      const r = await rollgate('rollout', command, '--repo', lab.repo, '--signing-key', promoterKey, ...args);
      assert.equal(r.code, 0, r.err);
    };
    /** Pushes `head` as the branch (forced: the test moves it back to the promoter's last step each time). */
    const pushHead = () => lab.git('push', '-q', '-f', 'origin', 'main');
    /** The fleet repo's CI: `rollgate validate` of the checkout's head with the release key. */
    const validate = (...args: string[]) =>
      rollgate('validate', '--repo', lab.repo, '--ref', 'main', '--trusted-keys', release.publicFile, ...args);
    const refused = async (head: string, rule: RegExp) => {
      lab.clearCalls();
      pushHead();
      const s = await agent!.until('the head refused', (x) => x.bad.some((b) => b.commit === head));
      const rec = s.bad.find((b) => b.commit === head)!;
      assert.equal(rec.kind, 'untrusted');
      assert.match(
        rec.reason,
        /is signed by the promoter key of Promoter .* and no release key; a promoter key signs a rollout step/,
      );
      assert.match(rec.reason, rule);
      assert.equal(s.applied?.commit, target, 'the gateway stays on the target');
      assert.deepEqual(installs(), [], 'nothing was installed');
      const ci = await validate('--promoter-keys', promoter.publicFile);
      assert.equal(ci.code, 1, 'the fleet repo CI refuses it too');
      assert.match(ci.err, rule);
      lab.git('reset', '-q', '--hard', step);
    };

    before(async () => {
      lab.seed((t) => `${t}-v1`);
      lab.init();
      const ring = new Keyring(join(lab.root, 'keys'));
      lab.keyring = ring;
      release = ring.gpgKey('Release Manager');
      promoter = ring.gpgKey('Promoter');
      promoterKey = join(lab.root, 'promoter.key');
      writeFileSync(
        promoterKey,
        execFileSync(
          'gpg',
          [
            '--batch',
            '--pinentry-mode',
            'loopback',
            '--passphrase',
            '',
            '--armor',
            '--export-secret-keys',
            promoter.fingerprint,
          ],
          {
            env: ring.env,
          },
        ),
      );
      await lab.serve();
    });
    after(async () => {
      await agent?.kill();
      await lab.server.close();
      lab.close();
    });

    test("the promoter's start, on release-signed commits, is followed: the gateway runs the target", async () => {
      writeFleet('v1');
      base = lab.commit('system v1', release);
      lab.push();
      agent = lab.agent({}, [
        '--interval',
        '1s',
        '--trusted-keys',
        release.publicFile,
        '--promoter-keys',
        promoter.publicFile,
      ]);
      await agent.until('the base applied', (s) => s.lastGood?.commit === base);
      writeFleet('v2');
      target = lab.commit('system v2', release);
      await promote(
        'start',
        '--target',
        'main',
        '--base',
        base,
        '--id',
        'edge-v2',
        '--by',
        'alice@example.com',
        '--why',
        'v2',
      );
      step = lab.git('rev-parse', 'HEAD');
      assert.equal(lab.git('status', '--porcelain'), '');
      pushHead();
      const s = await agent.until('the target applied', (x) => x.lastGood?.commit === target);
      lab.expectSettled('v2');
      assert.deepEqual(s.bad, []);
      assert.equal(s.rollout?.code, 'admitted');
      assert.ok(
        agent.logs.some((l) => /is a rollout step signed by the promoter key of Promoter/.test(l.msg)),
        'the log says who signed the step',
      );
    });

    test("validate --promoter-keys: the fleet repo's CI accepts the promoter's step as gateways do", async () => {
      const ci = await validate('--promoter-keys', promoter.publicFile);
      assert.equal(ci.code, 0, ci.err);
      assert.match(ci.err, /trusted: commit [0-9a-f]{12} is a rollout step signed by the promoter key of Promoter/);
      const releaseOnly = await validate();
      assert.equal(releaseOnly.code, 1, 'without the promoter key the step is not signed by a trusted key');
      assert.match(releaseOnly.err, /OpenPGP key [0-9A-F]{16}, which is not trusted/);
      const alone = await rollgate(
        'validate',
        '--repo',
        lab.repo,
        '--ref',
        'main',
        '--promoter-keys',
        promoter.publicFile,
      );
      assert.equal(alone.code, 1);
      assert.match(alone.err, /--promoter-keys narrows what --trusted-keys accept/);
    });

    test('a promoter-signed head that also changes a manifest is refused', async () => {
      writeFileSync(
        join(lab.repo, 'health.yaml'),
        readFileSync(join(lab.repo, 'health.yaml'), 'utf8').replace('600ms', '700ms'),
      );
      await refused(lab.commit('a step, and a manifest', promoter), /rollout-file-only: it also changes health\.yaml/);
    });

    test('a promoter-signed head that removes the rollout file is refused', async () => {
      rmSync(rolloutFile());
      await refused(lab.commit('no more rollout', promoter), /rollout-file-kept: it removes rollgate-rollout\.yaml/);
    });

    test('a promoter-signed head whose target the promoter key signed is refused', async () => {
      writeFleet('v3');
      const own = lab.commit('a release of its own', promoter);
      writeFileSync(rolloutFile(), readFileSync(rolloutFile(), 'utf8').replace(`target: ${target}`, `target: ${own}`));
      await refused(
        lab.commit('roll out its own commit', promoter),
        new RegExp(
          `release-signed-commits: its target ${own.slice(0, 12)} is not signed by a release key: ` +
            'it is signed by the promoter key',
        ),
      );
    });

    test('a promoter-signed head that adds a file is refused', async () => {
      writeFileSync(join(lab.repo, 'extra.sh'), '#!/bin/sh\n');
      writeFileSync(rolloutFile(), readFileSync(rolloutFile(), 'utf8') + '# a step\n');
      await refused(lab.commit('a step, and a file', promoter), /rollout-file-only: it also changes extra\.sh/);
    });

    test('a promoter-signed merge is refused, even of a side that changed the rollout file alone', async () => {
      lab.git('checkout', '-q', '-b', 'side');
      writeFileSync(rolloutFile(), readFileSync(rolloutFile(), 'utf8') + '# side\n');
      lab.commit('side', promoter);
      lab.git('checkout', '-q', 'main');
      writeFileSync(join(lab.repo, 'NOTES.md'), 'notes\n');
      lab.commit('main moves', release);
      lab.git(...promoter.gitConfig, 'merge', '-q', '--no-ff', '-S', '-m', 'merge', 'side');
      const merge = lab.git('rev-parse', 'HEAD');
      lab.git('branch', '-q', '-D', 'side');
      await refused(merge, /one-parent: it is a merge of 2 parents/);
    });

    test("the promoter's abort after all that is followed: every gateway back to the base", async () => {
      await promote('abort', '--by', 'alice@example.com', '--why', 'v2 breaks the api');
      lab.clearCalls();
      pushHead();
      const s = await agent!.until(
        'back on the base',
        (x) => x.applied?.commit === base && x.rollout?.code === 'aborted',
      );
      lab.expectSettled('v1');
      assert.ok(installs().length > 0);
      assert.equal(s.bad.filter((b) => b.commit === lab.git('rev-parse', 'HEAD')).length, 0);
    });
  },
);
