// A fleet under a staged rollout, every part real (test/helpers/rollout-fleet.ts): eight agents as
// processes (two canaries), the fleet repo on a real Git smart-HTTP server, a real hub that every
// agent reports to, and the promoter as a process that reads the hub and pushes signed commits.
// Each test asserts on what the agents actually run (their devices, their state and history) and
// on what the hub shows: a good commit goes canary → 20% → 50% → everyone, one promotion commit per
// wave; a bad commit is aborted, the canaries return to the base and no other gateway ever installs
// it; pause and resume, with nothing moving while paused and a commit pushed meanwhile taking no
// gateway anywhere; a `git revert` of the target pushed mid-rollout moves no gateway either.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CommitSummary } from '../../src/hub/index.js';
import { requireMenderTools } from '../helpers/devices.js';
import { GATEWAYS, RolloutFleet } from '../helpers/rollout-fleet.js';

const missing = requireMenderTools();
const ids = GATEWAYS.map((g) => g.id);
const CANARIES = ['gw-01', 'gw-02'];
const OTHERS = ids.filter((id) => !CANARIES.includes(id));

describe(
  'a fleet of eight agents under a staged rollout (real git server, hub and promoter)',
  { skip: missing ?? false },
  () => {
    const fleet = new RolloutFleet();
    // The fleet's commits, by the version they put on the devices.
    let [v1, v2, v3, v4, v5] = ['', '', '', '', ''];

    before(async () => {
      await fleet.init();
    });
    after(async () => {
      await fleet.close();
    });

    /**
     * The gateways whose wave is open at the branch's head, and the others: the waves as any gateway
     * works them out offline from the rollout file (and as the agents' own reports are checked to say).
     */
    const split = async (): Promise<[string[], string[]]> => {
      const plan = await fleet.wavePlan();
      const open = fleet.rollout()!.waves.fleet.length;
      return [plan.slice(0, open).flat(), plan.slice(open).flat()];
    };
    const installs = () => new Map(ids.map((id) => [id, fleet.installCount(id)]));
    const start = async (target: string, base: string, id: string) => {
      const why = ['--by', 'alice@example.com', '--why', `release ${id}`];
      const r = await fleet.promoter('start', ['--target', target, '--base', base, '--id', id, ...why]);
      assert.equal(r.code, 0, r.out + r.err);
      return fleet.head();
    };

    test('a good commit goes canary → 20% → 50% → everyone, one promotion commit per wave', async () => {
      fleet.write('v1');
      v1 = fleet.commit('system v1');
      fleet.write('v2');
      v2 = fleet.commit('system v2');
      const started = await start(v2, v1, 'edge-v2');
      for (const id of ids) fleet.startAgent(id);
      await fleet.onCommit(CANARIES, v2);
      await fleet.onCommit(OTHERS, v1);
      for (const id of CANARIES) assert.equal(fleet.running(id), 'rtos-v2');
      for (const id of OTHERS) {
        assert.equal(fleet.running(id), 'rtos-v1', `${id} waits on the base`);
        assert.ok(!fleet.tried(id).includes(v2), `${id} never tried the target before its wave opened`);
        assert.equal(fleet.state(id).deferred?.commit, v2, `${id} says it defers the target`);
      }
      const sizes = [CANARIES.length];
      for (let wave = 2; wave <= 4; wave++) {
        const r = await fleet.promoteUntilDecided();
        assert.equal(r.code, 0, r.out + r.err);
        const [admitted, waiting] = await split();
        assert.equal(fleet.rollout()!.waves.fleet.length, wave);
        await fleet.onCommit(admitted, v2);
        for (const id of admitted) assert.equal(fleet.state(id).rollout?.wave?.open, true, `${id} says it is admitted`);
        await fleet.reported(ids, fleet.head());
        for (const id of waiting) {
          assert.equal(fleet.running(id), 'rtos-v1', `${id} waits on the base while wave ${wave} opens`);
          assert.ok(!fleet.tried(id).includes(v2));
        }
        sizes.push(admitted.length - sizes.reduce((a, b) => a + b, 0));
      }
      assert.deepEqual(sizes, [2, 2, 1, 3], 'the percent waves took exactly 20%, 50% and 100% of the six others');
      const done = await fleet.promoteUntilDecided();
      assert.equal(done.code, 0, done.out + done.err);
      assert.equal(fleet.rollout()?.state, 'complete');
      const steps = fleet.commitsSince(started);
      assert.equal(
        steps.length,
        4,
        `one commit per wave and one to complete:\n${steps.map((s) => s.subject).join('\n')}`,
      );
      for (const s of steps) assert.deepEqual(s.files, ['rollgate-rollout.yaml'], s.subject);
      assert.deepEqual(
        fleet.rollout()!.steps.map((s) => `${s.action}${s.wave === undefined ? '' : ` ${s.wave}`}`),
        ['start 0', 'open 1', 'open 2', 'open 3', 'complete'],
      );
      for (const id of ids) assert.equal(fleet.running(id), 'rtos-v2');
      const hub = await fleet.api<CommitSummary>(`/api/v1/commits/${v2}`);
      assert.deepEqual([hub.applied, hub.healthy, hub.rolledBack], [8, 8, 0]);
    });

    test('a bad commit is aborted: the canaries return to the base, no other gateway ever installs it', async () => {
      // Health fails on gw-01 only: gw-02 runs it healthy, and only the abort takes it back.
      fleet.write('v3', { failing: ['gw-01'] });
      v3 = fleet.commit('system v3, which breaks gw-01');
      const before = installs();
      await start(v3, v2, 'edge-v3');
      await fleet.until('gw-01 rolled v3 back', ['gw-01'], (s) => s.bad.some((b) => b.commit === v3));
      const r = await fleet.promoteUntilDecided();
      assert.equal(r.code, 3, `aborted, which needs attention: ${r.out}${r.err}`);
      const s = fleet.rollout()!;
      assert.equal(s.state, 'aborted');
      assert.deepEqual(
        s.bad.map((b) => b.commit),
        [v3],
      );
      assert.match(s.steps.at(-1)!.why, /gw-01/);
      assert.equal(s.steps.at(-1)!.evidence?.failed, 1);
      await fleet.until(
        'back on the base after the abort',
        CANARIES,
        (x) => x.applied?.commit === v2 && x.rollout?.code === 'aborted',
      );
      await fleet.reported(ids, fleet.head());
      assert.equal(fleet.state('gw-01').bad.find((b) => b.commit === v3)?.kind, 'health-failed');
      assert.deepEqual(fleet.state('gw-02').bad, [], 'gw-02 ran it well: only the fleet lists it as bad');
      assert.ok(fleet.tried('gw-02').includes(v3));
      for (const id of ids) assert.equal(fleet.running(id), 'rtos-v2', `${id} runs the base`);
      for (const id of OTHERS) {
        assert.ok(!fleet.tried(id).includes(v3), `${id} never went to the bad commit`);
        assert.equal(fleet.installCount(id), before.get(id), `${id} installed nothing`);
      }
      const hub = await fleet.api<CommitSummary>(`/api/v1/commits/${v3}`);
      assert.equal(hub.rolledBack, 1);
      assert.deepEqual(
        hub.failures.map((f) => f.gateway),
        ['gw-01'],
      );
    });

    test('pause and resume: nothing moves while paused, and a commit pushed meanwhile takes no gateway', async () => {
      fleet.write('v4');
      v4 = fleet.commit('system v4');
      await start(v4, v2, 'edge-v4');
      await fleet.onCommit(CANARIES, v4);
      assert.equal((await fleet.promoteUntilDecided()).code, 0);
      await fleet.onCommit((await split())[0], v4);
      const paused = await fleet.promoter('pause', ['--by', 'bob@example.com', '--why', 'the night shift watches']);
      assert.equal(paused.code, 0, paused.out + paused.err);
      assert.equal(fleet.rollout()!.state, 'paused');
      const before = installs();
      fleet.write('v5');
      v5 = fleet.commit('system v5, pushed while edge-v4 is paused');
      const head = fleet.head();
      // Wave 2's gate would pass now (status judges it on the hub's evidence), yet a paused rollout writes nothing.
      for (;;) {
        const st = await fleet.promoter('status', ['--output', 'json']);
        assert.equal(st.code, 3, st.err);
        const doc = JSON.parse(st.out) as { tracks: { gate?: { decision: string } }[] };
        if (doc.tracks[0]?.gate?.decision === 'advance') break;
        await new Promise((r) => setTimeout(r, 500));
      }
      for (let i = 0; i < 3; i++) {
        const r = await fleet.promoter('promote', ['--by', 'promoter@test']);
        assert.equal(r.code, 3, `paused: nothing to do, ${r.out}${r.err}`);
      }
      assert.equal(fleet.head(), head, 'no commit was written while paused');
      const [admitted, waiting] = await split();
      await fleet.reported(ids, head);
      for (const id of admitted) assert.equal(fleet.state(id).rollout?.code, 'admitted', `${id} keeps the target`);
      for (const id of ids) {
        assert.equal(fleet.installCount(id), before.get(id), `${id} installed nothing while paused`);
        assert.equal(fleet.running(id), admitted.includes(id) ? 'rtos-v4' : 'rtos-v2');
      }
      for (const id of waiting) assert.equal(fleet.state(id).rollout?.code, 'paused');
      const status = await fleet.promoter('status');
      assert.equal(status.code, 3, `paused needs a person: ${status.err}`);
      assert.match(status.out, /paused/);
      assert.match(status.out, /bob@example\.com/);

      const resumed = await fleet.promoter('resume', ['--by', 'bob@example.com', '--why', 'morning']);
      assert.equal(resumed.code, 0, resumed.out + resumed.err);
      for (;;) {
        const r = await fleet.promoteUntilDecided();
        assert.equal(r.code, 0, r.out + r.err);
        if (fleet.rollout()!.state === 'complete') break;
      }
      await fleet.onCommit(ids, v4);
      for (const id of ids) {
        assert.equal(fleet.running(id), 'rtos-v4');
        assert.ok(!fleet.tried(id).includes(v5), `${id}: the commit pushed mid-rollout waits for its own`);
      }
    });

    test('a `git revert` of the target pushed mid-rollout moves no gateway; an abort takes it back', async () => {
      // v5 is the commit pushed while edge-v4 was paused; the revert undoes its manifests.
      const started = await start(v5, v4, 'edge-v5');
      await fleet.onCommit(CANARIES, v5);
      const before = installs();
      fleet.sync();
      fleet.git(...fleet.key.gitConfig, 'revert', '--no-edit', '-S', v5);
      fleet.git('push', '-q', 'origin', 'main');
      const revert = fleet.head();
      assert.deepEqual(fleet.commitsSince(started).at(-1)?.files.includes('rollgate-rollout.yaml'), false);
      await fleet.reported(ids, revert);
      for (const id of ids) {
        assert.equal(fleet.installCount(id), before.get(id), `${id} installed nothing for the revert`);
        assert.equal(fleet.running(id), CANARIES.includes(id) ? 'rtos-v5' : 'rtos-v4');
        assert.ok(!fleet.tried(id).includes(revert), `${id}: the revert waits for a rollout of its own`);
      }
      const aborted = await fleet.promoter('abort', ['--by', 'carol@example.com', '--why', 'v5 was reverted']);
      assert.equal(aborted.code, 0, aborted.out + aborted.err);
      await fleet.until('back on the base', CANARIES, (s) => s.applied?.commit === v4);
      for (const id of ids) assert.equal(fleet.running(id), 'rtos-v4');
      for (const id of OTHERS) assert.ok(!fleet.tried(id).includes(v5));
    });
  },
);
