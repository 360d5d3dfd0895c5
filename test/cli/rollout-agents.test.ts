// The promoter with real agents: three gateways (`rollgate agent` processes, each with a simulated
// RTOS device behind real .mender artifacts) follow a fleet repo on a real Git smart-HTTP server and
// report to a real hub process; `rollgate rollout start` and `promote` drive a rollout on what those
// reports say. A good commit goes to the canary, then to everyone, one signed commit per step; a
// commit whose health fails on the canary is aborted by the promoter, the canary returns to the base,
// and no other gateway ever installs it.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayDetail } from '../../src/hub/index.js';
import type { AgentProcess } from '../helpers/agent-process.js';
import { rollgate, type CliResult } from '../helpers/cli.js';
import { requireMenderTools } from '../helpers/devices.js';
import { run } from '../helpers/fixtures.js';
import { HubLab } from '../helpers/hub-lab.js';
import { Keyring } from '../helpers/signing.js';

const missing = requireMenderTools();
const GWS = ['gw-a', 'gw-b', 'gw-c'];
const POLICY =
  'rollout:\n  gate: { success_percent: 100, soak: 2s, timeout: 10m, silent_after: 1m }\n  waves:\n' +
  '    - { name: canary, match: { ids: [gw-a] } }\n    - { name: everyone, percent: 100 }\n';

describe('rollgate rollout with real agents reporting to a real hub', { skip: missing ?? false }, () => {
  const lab = new HubLab(GWS);
  const agents = new Map<string, AgentProcess>();
  let keyFile = '';
  let v1 = '';
  let v2 = '';
  const bare = () => join(lab.srv, 'fleet.git');
  const state = () => run('git', ['--git-dir', bare(), 'show', 'main:rollgate-rollout.yaml']);
  /** The versions the slots of a gateway's device ever held, and the one it runs. */
  const slots = (gw: string) =>
    ['a', 'b']
      .map((x) => join(lab.device(gw), `slot-${x}`))
      .filter(existsSync)
      .map((f) => readFileSync(f, 'utf8').trim());
  const runs = (gw: string) =>
    readFileSync(
      join(lab.device(gw), `slot-${readFileSync(join(lab.device(gw), 'running'), 'utf8').trim()}`),
      'utf8',
    ).trim();
  const applied = async (gw: string) => (await lab.api<GatewayDetail>(`/api/v1/gateways/${gw}`)).applied;

  /** The fleet on `version` with the rollout policy, committed here (not pushed); its commit. */
  const commitFleet = (version: string, failing: string[] = []) => {
    lab.write(version, failing);
    writeFileSync(join(lab.repo, 'rollgate.yaml'), readFileSync(join(lab.repo, 'rollgate.yaml'), 'utf8') + POLICY);
    lab.git('add', '-A');
    lab.git('commit', '-q', '-m', `system ${version}`);
    return lab.git('rev-parse', 'HEAD');
  };
  const rollout = (command: string, ...args: string[]) =>
    rollgate('rollout', command, '--signing-key', keyFile, ...args);
  const promote = () =>
    rollout(
      'promote',
      '--repo',
      lab.server.url('fleet.git'),
      '--hub',
      lab.hubUrl,
      '--hub-token-file',
      lab.readerTokenFile,
    );
  /** promote until it exits with `code` (each run one step or a wait). */
  async function promoteUntil(code: number, what: RegExp): Promise<CliResult> {
    const end = Date.now() + 120_000;
    for (;;) {
      const r = await promote();
      if (r.code === code && what.test(r.out)) return r;
      assert.ok(r.code === 2 || r.code === 0, `${r.code}: ${r.out}${r.err}`);
      if (Date.now() > end) throw new Error(`promote never said ${what}: ${r.out}`);
      await sleep(1_000);
    }
  }

  before(async () => {
    if (missing) return;
    await lab.init();
    run('git', ['--git-dir', bare(), 'config', 'http.receivepack', 'true']);
    const ring = new Keyring(join(lab.root, 'keys'));
    const key = ring.gpgKey('Promoter');
    keyFile = join(lab.root, 'promoter.key');
    writeFileSync(
      keyFile,
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
          key.fingerprint,
        ],
        { env: ring.env },
      ),
    );
    await lab.startHub();
  });
  after(async () => {
    await Promise.all([...agents.values()].map((a) => a.stop()));
    await lab.hub?.kill('SIGTERM');
    await lab.server?.close();
  });

  test('a good commit: the canary first, then everyone, one signed commit per step', async () => {
    v1 = commitFleet('v1');
    lab.git('push', '-q', 'origin', 'main');
    for (const gw of GWS) agents.set(gw, lab.agent(gw));
    for (const gw of GWS) await agents.get(gw)!.until(`${gw} on v1`, (s) => s.lastGood?.commit === v1);
    v2 = commitFleet('v2');
    const r = await rollout(
      'start',
      '--repo',
      lab.repo,
      '--target',
      'main',
      '--base',
      v1,
      '--id',
      'edge-v2',
      '--by',
      'ops@example.com',
      '--why',
      'v2',
    );
    assert.equal(r.code, 0, r.err);
    lab.git('push', '-q', 'origin', 'main');
    await agents.get('gw-a')!.until('the canary on v2', (s) => s.lastGood?.commit === v2);
    for (const gw of ['gw-b', 'gw-c'])
      await agents.get(gw)!.until(`${gw} deferred`, (s) => s.deferred?.commit === v2 && s.applied?.commit === v1);
    const open = await promoteUntil(0, /wave 2 of 2 "everyone" of fleet opens/);
    assert.match(open.out, /fleet: wave "canary": 1 of 1 healthy for 2s, 1 needed/);
    for (const gw of ['gw-b', 'gw-c']) await agents.get(gw)!.until(`${gw} on v2`, (s) => s.lastGood?.commit === v2);
    await promoteUntil(0, /rollout edge-v2: complete, every gateway runs/);
    for (const gw of GWS) {
      assert.equal(runs(gw), 'rtos-v2');
      assert.equal(await applied(gw), v2);
    }
    const steps = run('git', ['--git-dir', bare(), 'log', '--format=%s', `${v2}..main`]).split('\n');
    assert.deepEqual(
      steps.map((x) => x.replace(/:.*/, '')),
      ['rollout edge-v2', 'rollout edge-v2', 'rollout edge-v2'],
    );
    assert.match(state(), /state: complete/);
  });

  test('health fails on the canary: aborted, the canary back on the base, no other gateway installs it', async () => {
    lab.git('pull', '-q', '--ff-only', 'origin', 'main');
    const v3 = commitFleet('v3', ['gw-a']);
    const r = await rollout(
      'start',
      '--repo',
      lab.repo,
      '--target',
      'main',
      '--id',
      'edge-v3',
      '--by',
      'ops@example.com',
      '--why',
      'v3',
    );
    assert.equal(r.code, 0, r.err);
    lab.git('push', '-q', 'origin', 'main');
    await agents.get('gw-a')!.until('the canary rolled v3 back', (s) => s.bad.some((b) => b.commit === v3));
    const abort = await promoteUntil(3, /rollout edge-v3: aborted; [0-9a-f]{12} is bad, every gateway returns to/);
    assert.match(abort.out, /gw-a: rolled-back \(health-failed\)/);
    assert.match(state(), /state: aborted/);
    for (const gw of GWS)
      await agents
        .get(gw)!
        .until(`${gw} on the base`, (s) => s.rollout?.state === 'aborted' && s.applied?.commit === v2);
    for (const gw of GWS) assert.equal(runs(gw), 'rtos-v2', gw);
    assert.ok(slots('gw-a').includes('rtos-v3'), 'the canary installed it');
    for (const gw of ['gw-b', 'gw-c']) assert.ok(!slots(gw).includes('rtos-v3'), `${gw} never installed it`);
  });
});
