// The commit lifecycle through its ports, in memory: the decisions of the policy carried out —
// recorded, pinned, reported — without a process, an Engine or a git server. (The agent's own
// tests run the same lifecycle against real interfaces, containers and a git server.)

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { silentLog } from '../../src/base/log.js';
import type { HealthVerdict } from '../../src/health/index.js';
import { DEFAULT_GATE, DirectorySource, FleetRepoError } from '../../src/manifest/index.js';
import { emptyState, type AgentState, type DesiredState } from '../../src/model/index.js';
import {
  CommitLifecycle,
  forgetBad,
  type Choice,
  type LifecyclePorts,
  type Verdict,
} from '../../src/lifecycle/index.js';
import { TrustError } from '../../src/trust/index.js';
import { desired } from '../helpers/builders.js';
import { rolloutFile } from '../helpers/gate-ports.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

const GOOD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);
const BROKEN = 'd'.repeat(40);
const UNSIGNED = 'e'.repeat(40);
const PRIVILEGED = 'f'.repeat(40);

class MemoryStore {
  writes = 0;
  constructor(public current: AgentState) {}
  replace(next: AgentState): Promise<void> {
    this.writes++;
    this.current = structuredClone(next);
    return Promise.resolve();
  }
}

const dirs: string[] = [];
after(() => dirs.forEach(cleanup));

function lab(
  state: Partial<AgentState> = {},
  opts: { healthy?: boolean; appliersFail?: boolean; ports?: Partial<LifecyclePorts> } = {},
) {
  const stateDir = tempDir();
  dirs.push(stateDir);
  const store = new MemoryStore({ ...emptyState(), ...state });
  const verdicts: Verdict[] = [];
  const pins: string[] = [];
  const activities: string[] = [];
  let appliersCalls = 0;
  const ports: LifecyclePorts = {
    store,
    stateDir,
    concurrency: 2,
    log: silentLog,
    load: (commit) => {
      if (commit === BROKEN)
        return Promise.reject(
          new FleetRepoError([{ file: 'rollgate.yaml', line: 3, message: 'unknown key "sytems"' }]),
        );
      if (commit === PRIVILEGED)
        return Promise.reject(
          new FleetRepoError([
            { file: 'app/compose.yaml', line: 9, message: 'privileged', rule: 'policy.allowPrivileged' },
          ]),
        );
      const d: DesiredState = { ...desired([], []), source: { commit } };
      return Promise.resolve({ desired: d, repo: new DirectorySource(stateDir) });
    },
    repoAt: () => new DirectorySource(stateDir),
    verify: (commit) =>
      commit === UNSIGNED
        ? Promise.reject(new TrustError('untrusted', `commit ${commit.slice(0, 12)} is not signed`))
        : Promise.resolve(undefined),
    descends: () => Promise.resolve(true),
    gateway: { id: 'gw-test', labels: {} },
    rolloutState: () => Promise.resolve(undefined),
    rolloutPolicy: () => Promise.resolve({ rollout: { targets: {} } }),
    pin: (role, commit) => {
      pins.push(`${role} ${commit.slice(0, 1)}`);
      return Promise.resolve();
    },
    appliers: () => {
      appliersCalls++;
      return opts.appliersFail ? Promise.reject(new Error('Docker Engine: connect ENOENT')) : Promise.resolve({});
    },
    health: (): Promise<HealthVerdict> =>
      Promise.resolve({
        ok: opts.healthy ?? true,
        ...(opts.healthy === false ? { reason: 'db down' } : {}),
        warnings: [],
        checks: [],
        elapsedMs: 1,
      }),
    dueImages: () => [],
    events: {
      activity: (a) => activities.push(a),
      verdict: (v) => verdicts.push(v),
      rollingBack: (kind) => activities.push(`rolling back: ${kind}`),
    },
    ...opts.ports,
  };
  return { lifecycle: new CommitLifecycle(ports), store, verdicts, pins, activities, appliers: () => appliersCalls };
}

describe('the commit lifecycle, in memory', () => {
  test('a commit with nothing to change becomes applied and last good, pinned in the repo, reported once', async () => {
    const l = lab({ applied: { commit: GOOD, at: 'x' }, lastGood: { commit: GOOD, at: 'x' } });
    const v = await l.lifecycle.applyCommit(NEW);
    assert.equal(v.reason, 'no-change');
    assert.equal(l.store.current.applied?.commit, NEW);
    assert.equal(l.store.current.lastGood?.commit, NEW);
    assert.equal(l.store.current.inProgress, undefined);
    assert.deepEqual(l.pins, ['applied b', 'last-good b']);
    assert.deepEqual(
      l.verdicts.map((x) => x.reason),
      ['no-change'],
    );
    assert.equal(l.store.current.conditions.find((c) => c.type === 'Ready')?.status, 'True');
  });

  test('a commit that does not load is rejected before any applier is reached, and recorded as bad', async () => {
    const l = lab({ applied: { commit: GOOD, at: 'x' }, lastGood: { commit: GOOD, at: 'x' } });
    const v = await l.lifecycle.applyCommit(BROKEN);
    assert.equal(v.reason, 'rejected');
    assert.match(v.detail ?? '', /rollgate\.yaml:3:1: unknown key "sytems"/);
    assert.equal(l.appliers(), 0);
    assert.equal(l.store.current.bad[0]?.kind, 'invalid');
    assert.equal(l.store.current.applied?.commit, GOOD);
    assert.deepEqual(l.pins, []);
  });

  test("a commit that asks for more than the gateway's policy allows is rejected as forbidden", async () => {
    const l = lab({ applied: { commit: GOOD, at: 'x' }, lastGood: { commit: GOOD, at: 'x' } });
    const v = await l.lifecycle.applyCommit(PRIVILEGED);
    assert.equal(v.reason, 'rejected');
    assert.match(v.detail ?? '', /app\/compose\.yaml:9:1: privileged/);
    assert.equal(l.store.current.bad[0]?.kind, 'forbidden');
    assert.equal(l.appliers(), 0);
  });

  test('an untrusted commit is rejected before it is loaded, recorded as bad with kind untrusted', async () => {
    const l = lab({ applied: { commit: GOOD, at: 'x' }, lastGood: { commit: GOOD, at: 'x' } });
    const v = await l.lifecycle.applyCommit(UNSIGNED);
    assert.equal(v.reason, 'rejected');
    assert.match(v.detail ?? '', /is not signed/);
    assert.equal(l.appliers(), 0);
    assert.equal(l.store.current.bad[0]?.kind, 'untrusted');
    assert.equal(l.store.current.applied?.commit, GOOD);
  });

  test('an Engine that cannot be reached is an error, not a verdict on the commit: not bad, retried', async () => {
    const l = lab({ applied: { commit: GOOD, at: 'x' } }, { appliersFail: true });
    const v = await l.lifecycle.applyCommit(NEW);
    assert.equal(v.reason, 'error');
    assert.match(l.store.current.lastError?.message ?? '', /connect ENOENT/);
    assert.deepEqual(l.store.current.bad, []);
    assert.equal(l.store.current.history.length, 0);
    const writes = l.store.writes;
    await l.lifecycle.applyCommit(NEW);
    assert.equal(l.store.writes, writes, 'the same error again writes nothing');
  });

  test('at start, an apply interrupted after its health window (no journal left) counts as applied', async () => {
    const l = lab({ lastGood: { commit: GOOD, at: 'x' }, inProgress: { commit: NEW, since: 'x', attempts: 1 } });
    await l.lifecycle.resumeAtStart();
    assert.equal(l.store.current.applied?.commit, NEW);
    assert.equal(l.store.current.lastGood?.commit, NEW);
    assert.equal(l.store.current.inProgress, undefined);
  });

  test('at start, a commit interrupted three times is bad; the gateway goes back to the last good one', async () => {
    const l = lab({
      applied: { commit: GOOD, at: 'x' },
      lastGood: { commit: GOOD, at: 'x' },
      inProgress: { commit: BROKEN, since: 'x', attempts: 3 },
    });
    await l.lifecycle.resumeAtStart();
    const s = l.store.current;
    assert.equal(s.bad[0]?.kind, 'interrupted');
    assert.equal(s.applied?.commit, GOOD);
    assert.equal(s.history.at(-1)?.event, 'rolled-back');
    assert.equal(s.history.at(-1)?.to, GOOD);
    assert.ok(l.activities.includes('rolling back: interrupted'));
  });

  test('a rollback onto a last good commit that fails its health is reported as last-good-unhealthy', async () => {
    const l = lab(
      {
        applied: { commit: GOOD, at: 'x' },
        lastGood: { commit: GOOD, at: 'x' },
        bad: [{ commit: NEW, kind: 'health-failed', reason: 'api down', at: 'x' }],
        inProgress: { commit: NEW, since: 'x', attempts: 1 },
      },
      { healthy: false },
    );
    await l.lifecycle.resumeAtStart();
    assert.equal(l.verdicts.at(-1)?.reason, 'last-good-unhealthy');
    assert.equal(l.store.current.lastGoodUnhealthy?.reason, 'db down');
    assert.equal(l.store.current.conditions.find((c) => c.type === 'Healthy')?.status, 'False');
  });

  test('a rollback the Engine paused is finished first: back to the last good commit, verdict recorded', async () => {
    const l = lab({
      applied: { commit: GOOD, at: 'x' },
      lastGood: { commit: GOOD, at: 'x' },
      bad: [{ commit: NEW, kind: 'health-failed', reason: 'api down', at: 'x' }],
      rollingBack: { commit: NEW, since: 'x' },
    });
    const v = await l.lifecycle.finishRollback();
    assert.equal(v.reason, 'rolled-back');
    assert.equal(v.to, GOOD);
    assert.equal(l.store.current.rollingBack, undefined);
    assert.equal(l.store.current.history.at(-1)?.event, 'rolled-back');
  });

  test('a stalled gateway looked at again: still unhealthy, nothing new; healthy again, the rollback', async () => {
    const stalled: Partial<AgentState> = {
      applied: { commit: GOOD, at: 'x' },
      lastGood: { commit: GOOD, at: 'x' },
      bad: [{ commit: NEW, kind: 'health-failed', reason: 'api down', at: 'x' }],
      lastAttempted: { commit: NEW, at: 'x', reason: 'last-good-unhealthy' },
      lastGoodUnhealthy: { commit: GOOD, reason: 'db down', at: 'x' },
    };
    const still = lab(stalled, { healthy: false });
    const v1 = await still.lifecycle.recover(still.store.current.bad[0]!, GOOD);
    assert.equal(v1.reason, 'bad-commit');
    assert.equal(still.store.writes, 0, 'nothing new recorded');
    const back = lab(stalled);
    const v2 = await back.lifecycle.recover(back.store.current.bad[0]!, GOOD);
    assert.equal(v2.reason, 'rolled-back');
    assert.match(v2.detail ?? '', /^recovered from last-good-unhealthy/);
    assert.equal(back.store.current.lastGoodUnhealthy, undefined);
    assert.equal(back.store.current.conditions.find((c) => c.type === 'Healthy')?.status, 'True');
    assert.deepEqual(
      back.store.current.bad.map((b) => b.commit),
      [NEW],
      'the commit stays bad',
    );
  });

  test('under a rollout, a wave not open: the base runs, the target deferred once, the head asked once', async () => {
    const TARGET = 'b'.repeat(40);
    const HEAD = '9'.repeat(40);
    let asked = 0;
    const l = lab(
      { applied: { commit: GOOD, at: 'x' }, lastGood: { commit: GOOD, at: 'x' } },
      {
        ports: {
          rolloutState: () => (asked++, Promise.resolve(rolloutFile({ base: GOOD, target: TARGET }))),
          rolloutPolicy: () =>
            Promise.resolve({
              rollout: {
                fleet: {
                  waves: [
                    { name: 'canary', select: { kind: 'match', match: { ids: ['gw-0'] } }, gate: DEFAULT_GATE },
                    { name: 'rest', select: { kind: 'percent', percent: 100 }, gate: DEFAULT_GATE },
                  ],
                },
                targets: {},
              },
            }),
        },
      },
    );
    for (let poll = 0; poll < 3; poll++) {
      const c = (await l.lifecycle.choose(HEAD)) as Choice;
      assert.equal(c.commit, GOOD, 'the base');
      assert.equal(c.deferral?.commit, TARGET);
      assert.equal(l.lifecycle.settled(c).reason, 'deferred');
    }
    assert.equal(asked, 1, 'an idle poll asks no gate again');
    assert.deepEqual(
      l.store.current.history.map((h) => h.event),
      ['deferred'],
      'recorded once',
    );
    assert.equal(l.store.current.rollout?.code, 'not-yet');
    assert.deepEqual(l.store.current.bad, []);
  });

  test('an untrusted rollout base is refused once; found again, nothing new; forgotten, checked again', async () => {
    const TARGET = 'b'.repeat(40);
    const HEAD = '9'.repeat(40);
    const verified: string[] = [];
    const l = lab(
      { applied: { commit: TARGET, at: 'x' }, lastGood: { commit: TARGET, at: 'x' } },
      {
        ports: {
          verify: (c) => {
            verified.push(c[0]!);
            return c === UNSIGNED
              ? Promise.reject(new TrustError('untrusted', `commit ${c.slice(0, 12)} is not signed`))
              : Promise.resolve(undefined);
          },
          rolloutState: () =>
            Promise.resolve(
              rolloutFile({ base: UNSIGNED, target: TARGET, state: 'aborted', bad: [TARGET], fleetWaves: 0 }),
            ),
          rolloutPolicy: () => Promise.resolve({ rollout: { targets: {} } }),
        },
      },
    );
    const first = await l.lifecycle.choose(HEAD);
    assert.equal((first as Verdict).reason, 'rejected');
    assert.equal(l.store.current.bad[0]?.commit, UNSIGNED);
    assert.equal(l.store.current.bad[0]?.kind, 'untrusted');
    const writes = l.store.writes;
    const again = (await l.lifecycle.choose(HEAD)) as Choice;
    assert.equal(again.commit, UNSIGNED, 'the commit to run is still the refused one: the poll skips it');
    assert.equal(l.store.writes, writes, 'nothing new recorded');
    assert.deepEqual(verified, ['9', 'e']);
    await l.store.replace(forgetBad(l.store.current, { commit: UNSIGNED, reason: 'test', by: 'test' }, 'y').state);
    assert.equal(((await l.lifecycle.choose(HEAD)) as Verdict).reason, 'rejected', 'checked again');
    assert.deepEqual(verified, ['9', 'e', '9', 'e']);
  });

  test('the commit the gateway runs is not judged again while it runs (keys changed since, say)', async () => {
    const l = lab({ applied: { commit: UNSIGNED, at: 'x' }, lastGood: { commit: UNSIGNED, at: 'x' } });
    const c = await l.lifecycle.choose(UNSIGNED);
    assert.deepEqual(c, { head: UNSIGNED, commit: UNSIGNED });
    assert.equal(l.store.writes, 0);
    assert.deepEqual(l.store.current.bad, []);
  });
});
