// A staged rollout's gate as a real fleet meets it, every part real (see
// test/helpers/rollout-fleet.ts): a wave that never reaches its threshold is paused with the cause,
// shown by `rollout status`; a gateway whose own health fails in an admitted wave rolls itself back
// and counts against the gate, which aborts; clock skew between gateways — agents whose clocks are
// off (libfaketime, Debian's faketime package) report times that are off, and the gate, timed by the
// hub's clock, neither opens the next wave early nor stalls.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommitSummary, GatewayDetail } from '../../src/hub/index.js';
import { requireMenderTools } from '../helpers/devices.js';
import { GATEWAYS, rolloutPolicy, RolloutFleet } from '../helpers/rollout-fleet.js';

const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const missing = requireMenderTools() ?? (existsSync(FAKETIME) ? undefined : `${FAKETIME} (apt-get install faketime)`);
if (missing && process.env['CI'] === 'true') throw new Error(`CI=true and ${missing} is missing`);
if (missing) process.stderr.write(`\n!!! SKIPPING the fleet's gate tests: ${missing} is missing\n\n`);

const ids = GATEWAYS.map((g) => g.id);
const CANARIES = ['gw-01', 'gw-02'];
const OTHERS = ids.filter((id) => !CANARIES.includes(id));
const WHO = ['--by', 'alice@example.com'];
/** An agent's clock moved by `offset` (libfaketime: -30 is 30 s behind, +1h an hour ahead); timers keep time. */
const clock = (offset: string) => ({ LD_PRELOAD: FAKETIME, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' });

describe("a staged rollout's gate in a real fleet", { skip: missing ?? false }, () => {
  const fleet = new RolloutFleet();
  let [v1, v2, v3, v4] = ['', '', '', ''];

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

  test('a wave that never reaches its threshold pauses with the cause, shown by `rollout status`', async () => {
    fleet.write('v1');
    v1 = fleet.commit('system v1');
    fleet.write('v2', { policy: rolloutPolicy({ canary: '{ timeout: 12s, on_timeout: pause }' }) });
    v2 = fleet.commit('system v2');
    await start(v2, v1, 'edge-v2');
    // gw-02, a canary, is off the whole time: its wave cannot reach 100%.
    for (const id of ids.filter((x) => x !== 'gw-02')) fleet.startAgent(id);
    await fleet.onCommit(['gw-01'], v2);
    const r = await fleet.promoteUntilDecided();
    assert.equal(r.code, 3, `paused, which needs a person: ${r.out}${r.err}`);
    const s = fleet.rollout()!;
    assert.equal(s.state, 'paused');
    const step = s.steps.at(-1)!;
    assert.equal(step.action, 'pause');
    assert.match(step.why, /timed out/);
    // gw-01 may or may not have finished its soak when the wave timed out (how fast it applies is the
    // machine's business); gw-02 never reported, so the wave could not pass either way.
    assert.match(step.why, /[01] of 2 healthy for the soak, 2 needed/);
    assert.match(step.why, /1 not reporting/);
    assert.equal(step.evidence?.silent, 1);
    const status = await fleet.promoter('status');
    assert.equal(status.code, 3, status.err);
    assert.match(status.out, /paused/);
    assert.match(status.out, /not reporting/, 'the cause is shown');
    await fleet.reported(
      ids.filter((x) => x !== 'gw-02'),
      fleet.head(),
    );
    for (const id of OTHERS) assert.equal(fleet.running(id), 'rtos-v1', `${id} waits on the base`);

    // The canary comes back: admitted while paused, it takes the target; resumed, the rollout goes on.
    fleet.startAgent('gw-02');
    await fleet.onCommit(['gw-02'], v2);
    const resumed = await fleet.promoter('resume', [...WHO, '--why', 'gw-02 is back']);
    assert.equal(resumed.code, 0, resumed.out + resumed.err);
    while (fleet.rollout()!.state !== 'complete') {
      const next = await fleet.promoteUntilDecided();
      assert.equal(next.code, 0, next.out + next.err);
    }
    await fleet.onCommit(ids, v2);
  });

  test('a gateway whose health fails in an admitted wave rolls itself back and counts: the gate aborts', async () => {
    fleet.write('v3');
    v3 = fleet.commit('system v3');
    await start(v3, v2, 'edge-v3');
    const plan = await fleet.wavePlan();
    const [sick, well] = plan[1] as [string, string];
    fleet.sick(sick, 'v3');
    await fleet.onCommit(CANARIES, v3);
    const opened = await fleet.promoteUntilDecided();
    assert.equal(opened.code, 0, opened.out + opened.err);
    await fleet.until('rolled back', [sick], (s) => s.bad.some((b) => b.commit === v3) && s.applied?.commit === v2);
    assert.equal(fleet.state(sick).bad.find((b) => b.commit === v3)?.kind, 'health-failed');
    const r = await fleet.promoteUntilDecided();
    assert.equal(r.code, 3, r.out + r.err);
    const s = fleet.rollout()!;
    assert.equal(s.state, 'aborted');
    assert.equal(s.steps.at(-1)!.evidence?.failed, 1);
    assert.match(s.steps.at(-1)!.why, new RegExp(sick));
    await fleet.until(
      'on the base',
      [...CANARIES, well],
      (x) => x.applied?.commit === v2 && x.rollout?.code === 'aborted',
    );
    for (const id of ids) assert.equal(fleet.running(id), 'rtos-v2', `${id} runs the base`);
    for (const id of [...plan[2]!, ...plan[3]!]) assert.ok(!fleet.tried(id).includes(v3), `${id} never tried v3`);
    const hub = await fleet.api<CommitSummary>(`/api/v1/commits/${v3}`);
    assert.deepEqual(
      hub.failures.map((f) => [f.gateway, f.verdict]),
      [[sick, 'rolled-back']],
    );
  });

  test("clock skew: the gate runs on the hub's clock; skewed reports neither open a wave early nor stall", async () => {
    // Wave 1 is gw-01 alone, soaking 20 s; gw-02 is shared out by the percent waves with the others.
    fleet.write('v4', { policy: rolloutPolicy({ canaryMatch: '{ ids: [gw-01] }', canary: '{ soak: 20s }' }) });
    v4 = fleet.commit('system v4');
    await Promise.all(CANARIES.map((id) => fleet.agent(id).stop()));
    await start(v4, v2, 'edge-v4');
    const signedAt = Date.now();
    // gw-02's clock runs an hour ahead; gw-01's 30 s behind. gw-01 starts once the rollout's commit is older
    // than its lag: a gateway whose clock is behind refuses a signature made in its future (src/trust).
    fleet.startAgent('gw-02', clock('+1h'));
    await sleep(Math.max(0, signedAt + 35_000 - Date.now()));
    fleet.startAgent('gw-01', clock('-30'));
    await fleet.onCommit(['gw-01'], v4);
    // The applied event, as the hub has it: the agent's own time (at) and the hub's (receivedAt).
    const applied = (d: GatewayDetail) => d.history.find((e) => e.verdict === 'applied' && e.commit === v4);
    const appliedOn = (id: string) =>
      fleet.hubUntil(`${id} applied v4`, `/api/v1/gateways/${id}`, (d: GatewayDetail) => !!applied(d));
    const lag = (d: GatewayDetail) => Date.parse(applied(d)!.receivedAt) - Date.parse(applied(d)!.at);
    const gw01 = await appliedOn('gw-01');
    const healthyAt = Date.parse(applied(gw01)!.receivedAt);
    assert.ok(lag(gw01) > 25_000, `gw-01's reports say it went healthy ${lag(gw01)} ms before it did`);

    const early = await fleet.promoter('promote', WHO);
    assert.equal(early.code, 2, `gw-01 soaks by the hub's clock: ${early.out}${early.err}`);
    assert.match(early.out, /soak/);
    // A report at the end of the soak confirms it; then gw-01 stops, as its clock behind would make it
    // refuse the promoter's next commits, signed in its future — not what this test is about.
    await fleet.hubUntil(
      "gw-01's report after the soak",
      '/api/v1/gateways/gw-01',
      (d: GatewayDetail) => Date.parse(d.lastSeen!) >= healthyAt + 20_000,
    );
    await fleet.agent('gw-01').stop();
    const r = await fleet.promoteUntilDecided();
    assert.equal(r.code, 0, r.out + r.err);
    const open = fleet.rollout()!.steps.at(-1)!;
    assert.equal(open.action, 'open');
    assert.ok(
      Date.parse(open.at) >= healthyAt + 20_000,
      `wave 2 opened at ${open.at}, a soak after the hub had gw-01 healthy (${new Date(healthyAt).toISOString()})`,
    );

    // gw-02's reports run an hour ahead: its wave passes on the hub's clock all the same.
    while (fleet.rollout()!.state !== 'complete') {
      const next = await fleet.promoteUntilDecided();
      assert.equal(next.code, 0, next.out + next.err);
    }
    const rest = ids.filter((id) => id !== 'gw-01');
    await fleet.onCommit(rest, v4);
    assert.ok(lag(await appliedOn('gw-02')) < -3_500_000, "gw-02's report times run an hour ahead");
    for (const id of ids) assert.equal(fleet.running(id), 'rtos-v4');
  });
});
