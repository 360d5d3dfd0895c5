// The plan runner's transaction rules, without an Engine: with a recording applier (the real
// appliers are tested against the real Engine).

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  applyPlan,
  DockerError,
  Journal,
  JournalError,
  resumeJournal,
  type Applier,
  type StepRecord,
} from '../../src/apply/index.js';
import { silentLog } from '../../src/base/log.js';
import { plan as makePlan } from '../../src/plan/index.js';
import { emptyObservedState, type Step } from '../../src/model/index.js';
import { app, desired, running, svc } from '../helpers/builders.js';
import { cleanup, tempDir } from '../helpers/fixtures.js';

/** An applier that records what it is asked to do, and fails where told (`away`: as if the Engine were gone). */
class Recording implements Applier {
  readonly name = 'recording';
  calls: string[] = [];
  constructor(
    private readonly failOn = new Set<string>(),
    readonly away = new Set<string>(),
  ) {}
  handles(step: Step): boolean {
    return step.target.kind !== 'component';
  }
  async run(step: Step): Promise<Omit<StepRecord, 'status'>> {
    this.calls.push(`run ${step.id}`);
    this.gone(step.id);
    if (this.failOn.has(step.id)) throw new Error(`told to fail ${step.id}`);
    return {};
  }
  async undo(step: Step): Promise<void> {
    this.calls.push(`undo ${step.id}`);
    this.gone(`undo ${step.id}`);
    if (this.failOn.has(`undo ${step.id}`)) throw new Error('undo refused');
  }
  private gone(id: string): void {
    if (this.away.delete(id))
      throw new DockerError('engine-unreachable', 'Docker Engine unreachable at unix:///x.sock: connection refused');
  }
}

describe('the plan runner', () => {
  const dir = tempDir('rollgate-runner-');
  after(() => cleanup(dir));
  const v1 = desired(
    [],
    [
      app('edge', 30, [
        svc('db', 'db:1'),
        svc('api', 'api:1', { dependsOn: { db: { condition: 'service_started', required: true } } }),
      ]),
    ],
  );
  const v2 = desired(
    [],
    [
      app('edge', 30, [
        svc('db', 'db:2'),
        svc('api', 'api:2', { dependsOn: { db: { condition: 'service_started', required: true } } }),
      ]),
    ],
  );
  const update = makePlan(v2, running(v1));
  let n = 0;
  const journal = () => new Journal(join(dir, `journal-${++n}.json`));

  test('prepare, stages in dependency order, then finalize; the journal is cleared', async () => {
    const a = new Recording();
    const j = journal();
    const out = await applyPlan(update, { appliers: [a], desired: v2, log: silentLog, journal: j });
    assert.equal(out.status, 'applied');
    const runs = a.calls.map((c) => c.replace(/^run /, ''));
    const at = (prefix: string) => runs.findIndex((r) => r.startsWith(prefix));
    assert.ok(
      at('pull image/api:2') < at('create service/edge/db') && at('pull image/db:2') < at('create service/edge/db'),
      runs.join('\n'),
    );
    assert.ok(
      at('start service/edge/db') < at('create service/edge/api') ||
        at('start service/edge/db') < at('start service/edge/api'),
    );
    assert.ok(at('remove service/edge/db') > at('start service/edge/api'), 'old containers go only after every stage');
    assert.equal(existsSync(j.path), false);
  });

  test('a failed pull: no stage step runs; only prepare steps get their undo (a download its Cleanup)', async () => {
    const a = new Recording(new Set(['pull image/db:2']));
    const out = await applyPlan(update, { appliers: [a], desired: v2, log: silentLog, journal: journal() });
    assert.equal(out.status, 'prepare-failed');
    assert.equal(out.failedStep, 'pull image/db:2');
    assert.ok(
      a.calls.every((c) => c.startsWith('run pull') || c.startsWith('undo pull')),
      a.calls.join('\n'),
    );
    assert.ok(a.calls.some((c) => c.startsWith('run pull')));
  });

  test(
    'a failed step: every step that ran is undone, each after the steps that depended on it, prepare last; ' +
      'the outcome says rolled back',
    async () => {
      const a = new Recording(new Set(['start service/edge/api']));
      const out = await applyPlan(update, {
        appliers: [a],
        desired: v2,
        log: silentLog,
        journal: journal(),
        concurrency: 1,
      });
      assert.equal(out.status, 'rolled-back');
      assert.match(out.error!, /^start service\/edge\/api: told to fail/);
      const ran = a.calls.filter((c) => c.startsWith('run')).map((c) => c.slice(4));
      const undone = a.calls.filter((c) => c.startsWith('undo')).map((c) => c.slice(5));
      assert.deepEqual([...undone].sort(), [...ran].sort(), 'the failed step too: it may have half happened');
      const steps = [...update.prepare, ...update.stages.flatMap((st) => st.steps)];
      for (const st of steps)
        for (const d of st.dependsOn.filter((x) => undone.includes(x) && undone.includes(st.id)))
          assert.ok(
            undone.indexOf(st.id) < undone.indexOf(d),
            `${st.id} is undone before ${d}, which it depended on:\n${undone.join('\n')}`,
          );
      const firstPull = undone.findIndex((u) => u.startsWith('pull '));
      assert.ok(
        undone.slice(firstPull).every((u) => u.startsWith('pull ')),
        `prepare steps are undone last:\n${undone.join('\n')}`,
      );
      assert.ok(!a.calls.some((c) => c.startsWith('run remove')), 'finalize never runs');
    },
  );

  test('steps that ran side by side are undone side by side, up to the concurrency', async () => {
    const apps = (tag: string) => [0, 1, 2, 3].map((i) => app(`a${i}`, 30, [svc('s', `s${i}:${tag}`)]));
    const from = desired([], apps('1'));
    const to = desired([], apps('2'));
    class Slow extends Recording {
      now = 0;
      most = 0;
      override async undo(step: Step): Promise<void> {
        this.most = Math.max(this.most, ++this.now);
        await new Promise((r) => setTimeout(r, 20));
        this.now--;
        return super.undo(step);
      }
    }
    const a = new Slow();
    const out = await applyPlan(makePlan(to, running(from)), {
      appliers: [a],
      desired: to,
      log: silentLog,
      journal: journal(),
      concurrency: 4,
      confirm: async () => Promise.reject(new Error('unhealthy')),
    });
    assert.equal(out.status, 'rolled-back');
    assert.equal(a.most, 4, 'four independent apps are put back four at a time');
  });

  test('a failed health gate rolls back like a failed step', async () => {
    const a = new Recording();
    const out = await applyPlan(update, {
      appliers: [a],
      desired: v2,
      log: silentLog,
      journal: journal(),
      confirm: async () => Promise.reject(new Error('api-http failed 3 times')),
    });
    assert.equal(out.status, 'rolled-back');
    assert.equal(out.error, 'api-http failed 3 times');
    assert.ok(a.calls.some((c) => c === 'undo create service/edge/db'));
  });

  test('an undo that fails is reported as an incomplete rollback, never as rolled back', async () => {
    const a = new Recording(new Set(['start service/edge/api', 'undo create service/edge/db']));
    const out = await applyPlan(update, { appliers: [a], desired: v2, log: silentLog, journal: journal() });
    assert.equal(out.status, 'rollback-incomplete');
    assert.deepEqual(out.undoErrors, ['create service/edge/db: undo refused']);
  });

  test('a step the Engine was away for pauses the transaction with its journal; it then goes on forward', async () => {
    const j = journal();
    const a = new Recording(new Set(), new Set(['start service/edge/api']));
    await assert.rejects(
      applyPlan(update, { appliers: [a], desired: v2, log: silentLog, journal: j }),
      (e: unknown) => (e as Error).name === 'TransactionSuspendedError' && /paused in its stages phase/.test(`${e}`),
    );
    assert.equal(existsSync(j.path), true, 'the journal is kept');
    assert.ok(!a.calls.some((c) => c.startsWith('undo')), 'nothing is put back');
    const b = new Recording();
    const r = await resumeJournal(new Journal(j.path), [b], silentLog);
    assert.equal(r?.action, 'continued');
    assert.equal(r?.outcome?.status, 'applied');
    assert.ok(b.calls.includes('run start service/edge/api'), 'the step runs again');
    assert.ok(!b.calls.some((c) => c.startsWith('undo') || c === 'run create service/edge/db'), b.calls.join());
    assert.equal(existsSync(j.path), false);
  });

  test('an undo the Engine was away for pauses the rollback (never rollback-incomplete); then it ends', async () => {
    const j = journal();
    const a = new Recording(new Set(['start service/edge/api']), new Set(['undo create service/edge/db']));
    await assert.rejects(applyPlan(update, { appliers: [a], desired: v2, log: silentLog, journal: j }), (e: unknown) =>
      /paused in its rolling-back phase/.test(`${e}`),
    );
    assert.equal(existsSync(j.path), true);
    const r = await resumeJournal(new Journal(j.path), [new Recording()], silentLog);
    assert.equal(r?.action, 'rolled-back');
    assert.equal(r?.failure, 'start service/edge/api: told to fail start service/edge/api');
    assert.deepEqual(r?.undoErrors, []);
    assert.equal(existsSync(j.path), false);
  });

  test('the rollback of a failure, resumed, that falls short is reported and its journal cleared', async () => {
    const j = journal();
    await j.begin('tx-c', update);
    await j.phase('stages');
    await j.step('create service/edge/db', { status: 'done', containerId: 'c1' });
    await j.phase('rolling-back', 'health check failed: api down');
    const r = await resumeJournal(
      new Journal(j.path),
      [new Recording(new Set(['undo create service/edge/db']))],
      silentLog,
    );
    assert.equal(r?.failure, 'health check failed: api down');
    assert.deepEqual(r?.undoErrors, ['create service/edge/db: undo refused']);
    // Resumed again and again, it would fail the same way for ever: the next reconcile plans afresh.
    assert.equal(existsSync(j.path), false);
  });

  test('steps no applier executes are refused before anything runs', async () => {
    const withComponent = desired(
      [
        {
          key: 'G',
          type: 'gw',
          interface: 'gw',
          interfaceArgs: [],
          protocol: 'update_manifest',
          version: '2',
          artifact: { kind: 'repo', path: 'a', size: 1 },
          order: 10,
        },
      ],
      [],
    );
    const a = new Recording();
    await assert.rejects(
      applyPlan(makePlan(withComponent, emptyObservedState()), {
        appliers: [a],
        desired: withComponent,
        log: silentLog,
        journal: journal(),
      }),
      /no applier in this build executes "download" steps/,
    );
    assert.deepEqual(a.calls, []);
  });

  test('resume: before finalize the interrupted steps are undone; in finalize the rest is finished', async () => {
    const j = journal();
    await j.begin('tx-a', update);
    await j.phase('stages');
    await j.step('create service/edge/db', { status: 'done', containerId: 'c1' });
    await j.step(update.stages[0]!.steps.find((s) => s.kind === 'stop')!.id, { status: 'started' });
    const a = new Recording();
    const r = await resumeJournal(new Journal(j.path), [a], silentLog);
    assert.equal(r?.action, 'rolled-back');
    assert.deepEqual(a.calls, [
      `undo ${update.stages[0]!.steps.find((s) => s.kind === 'stop')!.id}`,
      'undo create service/edge/db',
    ]);
    assert.equal(existsSync(j.path), false);

    const k = journal();
    await k.begin('tx-b', update);
    await k.phase('finalize');
    await k.step(update.finalize[0]!.id, { status: 'done' });
    const b = new Recording();
    const f = await resumeJournal(new Journal(k.path), [b], silentLog);
    assert.equal(f?.action, 'finished');
    assert.deepEqual(
      b.calls,
      update.finalize.slice(1).map((s) => `run ${s.id}`),
    );
  });

  test('a damaged journal is an error that says what to do, never ignored', async () => {
    const path = join(dir, 'damaged.json');
    writeFileSync(path, '{"schema": "rollgate.journal/v1", "txn"');
    await assert.rejects(
      resumeJournal(new Journal(path), [], silentLog),
      (e: unknown) => e instanceof JournalError && /not valid JSON.*move it aside to continue/.test(e.message),
    );
    assert.ok(readFileSync(path, 'utf8').length > 0, 'the damaged journal is left for inspection');
  });
});
