// End to end: a real agent whose update interface prints a NUL byte in its error output rolls a
// commit back, and the rollback reaches the real hub process — with the NUL as U+FFFD — while the
// outbox drains and the gateway keeps reporting. (The hub used to answer 500 for that event, and
// the agent retried it forever: the rollback was never seen and the gateway went silent.)

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CommitSummary, GatewayDetail } from '../../src/hub/index.js';
import type { AgentProcess } from '../helpers/agent-process.js';
import { requireMenderTools, SIMULATED_DEVICE } from '../helpers/devices.js';
import { HubLab } from '../helpers/hub-lab.js';

const missing = requireMenderTools();
if (missing && process.env['CI'] === 'true') throw new Error(`CI=true and ${missing} is missing`);
if (missing) process.stderr.write(`\n!!! SKIPPING the hub test with a real agent: ${missing} is missing\n\n`);

const lab = new HubLab(['gw-nul']);
let agent: AgentProcess | undefined;

before(async () => {
  if (missing) return;
  await lab.init();
  // The interface: the simulated device, except that its install can fail with a NUL in what it prints.
  const real = join(lab.root, 'real');
  mkdirSync(real);
  symlinkSync(SIMULATED_DEVICE, join(real, 'rtos'));
  rmSync(join(lab.interfaces, 'rtos'));
  writeFileSync(
    join(lab.interfaces, 'rtos'),
    [
      '#!/bin/sh',
      'for DEV; do :; done',
      'if [ "$1" = ArtifactInstall ] && [ -f "$DEV/../nul-install" ]; then',
      "  printf 'flash write failed\\000 at block 7\\001\\n' >&2",
      '  exit 3',
      'fi',
      `exec ${JSON.stringify(join(real, 'rtos'))} "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(join(lab.interfaces, 'rtos'), 0o755);
});

after(async () => {
  await agent?.stop();
  await lab.hub?.kill('SIGTERM');
  await lab.server?.close();
});

test(
  'a NUL in an interface error: the rollback is reported and seen at the hub, the outbox drains',
  { skip: missing },
  async () => {
    lab.write('v1');
    const v1 = lab.commit('v1');
    await lab.startHub();
    agent = lab.agent('gw-nul');
    await lab.until<CommitSummary>('v1 applied', `/api/v1/commits/${v1}`, (c) => c.applied === 1);

    writeFileSync(join(lab.root, 'devices', 'gw-nul', 'nul-install'), '');
    lab.write('v2');
    const v2 = lab.commit('v2, whose install prints a NUL and fails');
    const c = await lab.until<CommitSummary>(
      'the rollback at the hub',
      `/api/v1/commits/${v2}`,
      (x) => x.rolledBack === 1,
    );
    assert.equal(c.failures[0]!.gateway, 'gw-nul');
    const gw = await lab.until<GatewayDetail>('the history', '/api/v1/gateways/gw-nul?history=100', (g) =>
      g.history.some((e) => e.verdict === 'rolled-back'),
    );
    const rb = gw.history.find((e) => e.verdict === 'rolled-back')!;
    assert.equal(rb.commit, v2);
    assert.ok((rb.detail ?? '').includes('flash write failed\uFFFD at block 7\u0001'), rb.detail);
    assert.equal(gw.applied, v1, 'the gateway went back to v1');
    // Every verdict the agent recorded is at the hub, and nothing waits in the outbox.
    const outbox = join(lab.stateDir('gw-nul'), 'outbox');
    const end = Date.now() + 20_000;
    while (readdirSync(outbox).some((f) => f.endsWith('.json')) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      readdirSync(outbox).filter((f) => f.endsWith('.json')),
      [],
    );
    assert.deepEqual(
      readdirSync(outbox).filter((f) => f === 'rejected'),
      [],
      'nothing was set aside',
    );
    // It keeps reporting: heartbeats go on after the rollback (silence comes after 3 s here).
    const seen = gw.lastSeen!;
    const later = await lab.until<GatewayDetail>(
      'a later heartbeat',
      '/api/v1/gateways/gw-nul',
      (g) => g.lastSeen! > seen,
    );
    assert.equal(later.silent, false);
    assert.equal(later.lostEvents, 0);
    assert.doesNotMatch(lab.hub!.out, /"level":"error"/);
  },
);
