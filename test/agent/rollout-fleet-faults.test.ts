// A staged rollout through the faults of the parts around it, every part real (see
// test/helpers/rollout-fleet.ts): the hub killed mid-rollout and started again (the rollout holds,
// the promoter writes nothing and exits 1, admitted gateways keep their own health rollback, and it
// goes on afterwards); the promoter killed after its decision and before its push (nothing written;
// the next run decides again and writes one step); a gateway offline through several steps (it goes
// straight to what it should run now).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CommitSummary } from '../../src/hub/index.js';
import { requireMenderTools } from '../helpers/devices.js';
import { CRASH_BEFORE_PUSH } from '../helpers/promoter.js';
import { GATEWAYS, rolloutPolicy, RolloutFleet } from '../helpers/rollout-fleet.js';

const missing = requireMenderTools();
const ids = GATEWAYS.map((g) => g.id);
const CANARIES = ['gw-01', 'gw-02'];
const OTHERS = ids.filter((id) => !CANARIES.includes(id));
const WHO = ['--by', 'alice@example.com'];

describe('a staged rollout through faults of the hub, the promoter and a gateway', { skip: missing ?? false }, () => {
  const fleet = new RolloutFleet();
  let [v1, v2, v3] = ['', '', ''];
  /** The gateway that failed v2 in the hub's outage. */
  let sick = '';

  before(async () => {
    await fleet.init();
  });
  after(async () => {
    await fleet.close();
  });

  const start = async (target: string, base: string, id: string) => {
    const r = await fleet.promoter('start', ['--target', target, '--base', base, '--id', id, ...WHO, '--why', id]);
    assert.equal(r.code, 0, r.out + r.err);
    return fleet.head();
  };
  /** promote until the rollout is complete, each step a 0. */
  const complete = async () => {
    while (fleet.rollout()!.state !== 'complete') {
      const r = await fleet.promoteUntilDecided();
      assert.equal(r.code, 0, r.out + r.err);
    }
  };

  test('the hub killed mid-rollout: the rollout holds, admitted ones roll back on their own, it goes on', async () => {
    fleet.write('v1');
    v1 = fleet.commit('system v1');
    // Wave 2 tolerates one failure and passes with one of its two healthy.
    fleet.write('v2', { policy: rolloutPolicy({ early: '{ success_percent: 50, max_failures: 1 }' }) });
    v2 = fleet.commit('system v2');
    await start(v2, v1, 'edge-v2');
    for (const id of ids) fleet.startAgent(id);
    await fleet.onCommit(CANARIES, v2);
    await fleet.onCommit(OTHERS, v1);
    const plan = await fleet.wavePlan();
    assert.equal(plan[1]!.length, 2);
    [sick] = plan[1] as [string];
    const well = plan[1]![1]!;
    fleet.sick(sick, 'v2');
    const opened = await fleet.promoteUntilDecided();
    assert.equal(opened.code, 0, opened.out + opened.err);
    await fleet.hub!.kill('SIGKILL');
    const held = fleet.head();

    // With no hub, wave 2 takes the target; `sick` fails its health there and rolls itself back.
    await fleet.until(
      'back on the base',
      [sick],
      (s) => s.bad.some((b) => b.commit === v2) && s.applied?.commit === v1,
    );
    assert.equal(fleet.state(sick).bad.find((b) => b.commit === v2)?.kind, 'health-failed');
    assert.equal(fleet.running(sick), 'rtos-v1');
    await fleet.onCommit([well], v2);
    for (let i = 0; i < 3; i++) {
      const r = await fleet.promoter('promote', WHO);
      assert.equal(r.code, 1, `no evidence, no step: ${r.out}${r.err}`);
      assert.match(r.err, /hub/);
    }
    const status = await fleet.promoter('status');
    assert.equal(status.code, 1, 'status with a hub that is down is an error too');
    assert.equal(fleet.head(), held, 'nothing was written while the hub was down');
    assert.equal(fleet.rollout()!.waves.fleet.length, 2);
    for (const id of [...plan[2]!, ...plan[3]!]) assert.equal(fleet.running(id), 'rtos-v1', `${id} waits`);

    await fleet.startHub();
    // Evidence from after the outage: every gateway's reports, the outbox's events of the rollback among them.
    await fleet.reported(ids, held);
    const next = await fleet.promoteUntilDecided();
    assert.equal(next.code, 0, next.out + next.err);
    const step = fleet.rollout()!.steps.at(-1)!;
    assert.equal(step.action, 'open');
    assert.equal(step.wave, 2);
    assert.equal(step.evidence?.failed, 1, 'the rollback counted against the gate, within its tolerance');
    assert.equal(step.evidence?.healthy, 1);
    await complete();
    await fleet.onCommit(
      ids.filter((id) => id !== sick),
      v2,
    );
    assert.equal(fleet.running(sick), 'rtos-v1', 'the target failed there: its own record keeps it off');
    const hub = await fleet.api<CommitSummary>(`/api/v1/commits/${v2}`);
    assert.equal(hub.rolledBack, 1);
    assert.deepEqual(
      hub.failures.map((f) => f.gateway),
      [sick],
    );
  });

  test('the promoter killed after deciding, before its push: nothing written; the next run decides again', async () => {
    // Silent gateways are left out of the count from here on (the next test takes one offline).
    const gate = '{ success_percent: 100, soak: 2s, timeout: 10m, silent: exclude, silent_after: 4s }';
    fleet.write('v3', { policy: rolloutPolicy({ gate }) });
    v3 = fleet.commit('system v3');
    const started = await start(v3, v2, 'edge-v3');
    await fleet.onCommit(CANARIES, v3);
    let killed;
    for (;;) {
      killed = await fleet.promoter('promote', WHO, CRASH_BEFORE_PUSH);
      if (killed.signal === 'SIGKILL') break;
      assert.equal(killed.code, 2, `the canaries' gate waits, or it decides: ${killed.out}${killed.err}`);
    }
    assert.equal(fleet.head(), started, 'nothing was pushed');
    assert.equal(fleet.rollout()!.waves.fleet.length, 1);
    await fleet.reported(ids, started);
    for (const id of OTHERS) {
      assert.notEqual(fleet.running(id), 'rtos-v3', `${id} waits`);
      assert.equal(fleet.state(id).rollout?.wave?.open, false, `${id} is not admitted`);
    }

    const again = await fleet.promoter('promote', WHO);
    assert.equal(again.code, 0, again.out + again.err);
    const written = fleet.commitsSince(started);
    assert.equal(written.length, 1, 'one step, written once');
    assert.deepEqual(written[0]!.files, ['rollgate-rollout.yaml']);
    assert.equal(fleet.rollout()!.waves.fleet.length, 2);
    const [admitted] = (await fleet.wavePlan()).slice(1);
    await fleet.onCommit(admitted!, v3);
  });

  test('a gateway offline through several steps goes straight to what it should run now', async () => {
    const plan = await fleet.wavePlan();
    const away = plan[3]!.find((id) => id !== sick) ?? plan[3]![0]!;
    await fleet.agent(away).stop();
    const seen = fleet.state(away).history.length;
    const installs = fleet.installCount(away);
    const from = fleet.head();
    await complete();
    const steps = fleet.commitsSince(from);
    assert.equal(steps.length, 3, 'wave 3 opened, wave 4 opened, complete: several steps while it was away');
    const last = fleet.rollout()!.steps.at(-1)!;
    assert.equal(plan[3]!.length, 3);
    assert.match(last.why, /"everyone": 2 of 2 healthy/, `${away} was left out of its wave's count as not reporting`);

    fleet.startAgent(away);
    await fleet.onCommit([away], v3);
    assert.equal(fleet.running(away), 'rtos-v3');
    assert.deepEqual(
      fleet
        .state(away)
        .history.slice(seen)
        .filter((h) => h.event !== 'unchanged')
        .map((h) => `${h.event} ${h.commit?.slice(0, 12)}`),
      [`applied ${v3.slice(0, 12)}`],
      'one step, straight to the target: no stop at any state in between',
    );
    assert.equal(fleet.installCount(away), installs + 1);
  });
});
