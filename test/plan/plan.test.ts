import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { plan, PlanError } from '../../src/plan/index.js';
import { MAX_SEARCHED_STAGES, SEARCH_BUDGET } from '../../src/plan/order.js';
import { emptyObservedState, type Plan, type Step } from '../../src/model/index.js';
import { app, comp, desired, running, svc } from '../helpers/builders.js';

const ids = (steps: Step[]) => steps.map((s) => s.id);
const stage = (p: Plan, name: string) => p.stages.find((s) => s.name === name)!;
/** Asserts that `later` depends (transitively) on `earlier` inside a list of steps. */
function after(steps: Step[], later: string, earlier: string): void {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const seen = new Set<string>();
  const walk = (id: string): boolean => {
    if (seen.has(id)) return false;
    seen.add(id);
    const s = byId.get(id);
    assert.ok(s, `step ${id} exists`);
    return s.dependsOn.includes(earlier) || s.dependsOn.some(walk);
  };
  assert.ok(walk(later), `${later} runs after ${earlier}`);
}

const system = () =>
  desired(
    [comp('G13', 'gateway', 'gw-2', 10), comp('R456', 'rtos', 'rtos-2', 20), comp('R998', 'rtos', 'rtos-2', 20)],
    [
      app('edge', 30, [
        svc('broker', 'r/broker:1'),
        svc('collector', 'r/collector:2', { dependsOn: { broker: { condition: 'service_healthy', required: true } } }),
        svc('api', 'r/api:2', { dependsOn: { collector: { condition: 'service_started', required: true } } }),
      ]),
    ],
  );

describe('planner: a fresh gateway', () => {
  const p = plan(system(), emptyObservedState());

  test('everything is fetched in prepare, before any stage', () => {
    assert.deepEqual(ids(p.prepare).sort(), [
      'download component/G13',
      'download component/R456',
      'download component/R998',
      'pull image/r/api:2',
      'pull image/r/broker:1',
      'pull image/r/collector:2',
    ]);
    for (const s of p.stages) assert.ok(s.steps.every((x) => x.kind !== 'pull' && x.kind !== 'download'));
  });

  test('order groups run lowest first; rollback runs them in reverse', () => {
    assert.deepEqual(
      p.stages.map((s) => s.name),
      ['group 10', 'group 20', 'group 30'],
    );
    assert.deepEqual(p.rollback, ['group 30', 'group 20', 'group 10']);
    assert.deepEqual(ids(stage(p, 'group 20').steps), [
      'install component/R456',
      'reboot component/R456',
      'install component/R998',
      'reboot component/R998',
    ]);
  });

  test('depends_on orders starts and carries the health condition', () => {
    const steps = stage(p, 'group 30').steps;
    after(steps, 'start service/edge/collector', 'start service/edge/broker');
    after(steps, 'start service/edge/api', 'start service/edge/collector');
    assert.deepEqual(steps.find((s) => s.id === 'start service/edge/collector')!.waitFor, [
      { service: 'broker', condition: 'service_healthy' },
    ]);
    after(steps, 'create service/edge/broker', 'create-network network/edge/default');
  });

  test('commits come last, in ascending order, each group after the one before', () => {
    const commits = p.finalize.filter((s) => s.kind === 'commit');
    assert.deepEqual(ids(commits), ['commit component/G13', 'commit component/R456', 'commit component/R998']);
    assert.deepEqual(commits[1]!.dependsOn, ['commit component/G13']);
    const cleanup = p.finalize.find((s) => s.id === 'cleanup component/R456')!;
    assert.deepEqual(cleanup.dependsOn, ['commit component/R456']);
  });
});

describe('planner: updates', () => {
  test('nothing to do when the gateway runs the desired state', () => {
    const d = system();
    const p = plan(d, running(d));
    assert.deepEqual(p.changes, []);
    assert.deepEqual(p.prepare, []);
    assert.deepEqual(p.stages, []);
    assert.deepEqual(p.unchanged.components, ['G13', 'R456', 'R998']);
    assert.deepEqual(p.unchanged.services, ['edge/api', 'edge/broker', 'edge/collector']);
  });

  test('a component on the desired version is untouched; the others are installed', () => {
    const d = system();
    const p = plan(
      d,
      running(d, (o) => (o.components.find((c) => c.key === 'R998')!.version = 'rtos-1')),
    );
    assert.deepEqual(ids(p.prepare), ['download component/R998']);
    assert.deepEqual(
      p.changes.map((c) => [c.action, c.from, c.to]),
      [['change', 'rtos-1', 'rtos-2']],
    );
    assert.deepEqual(
      p.stages.map((s) => s.name),
      ['group 20'],
    );
  });

  test('new before old: create new, stop old, start new; the old container is removed in finalize', () => {
    const d = system();
    const old = running(d, (o) => {
      const c = o.containers.find((x) => x.service === 'collector')!;
      c.configHash = 'f'.repeat(64);
      c.image = 'r/collector:1';
    });
    const p = plan(d, old);
    const steps = stage(p, 'group 30').steps;
    assert.deepEqual(ids(steps), [
      'create service/edge/collector',
      'stop service/edge/collector@edge-collect',
      'start service/edge/collector',
    ]);
    after(steps, 'stop service/edge/collector@edge-collect', 'create service/edge/collector');
    after(steps, 'start service/edge/collector', 'stop service/edge/collector@edge-collect');
    assert.equal(steps[0]!.replaces, 'edge-collector-old');
    assert.deepEqual(ids(p.finalize), ['remove service/edge/collector@edge-collect']);
    assert.deepEqual(p.unchanged.services, ['edge/api', 'edge/broker']);
    assert.deepEqual(
      p.changes.map((c) => [c.action, c.from, c.to]),
      [['change', 'r/collector:1', 'r/collector:2']],
    );
  });

  test('stop-first when the app asks for it', () => {
    const d = system();
    d.apps[0]!.strategy = 'stop-first';
    const p = plan(
      d,
      running(d, (o) => (o.containers.find((x) => x.service === 'api')!.configHash = 'f'.repeat(64))),
    );
    const steps = stage(p, 'group 30').steps;
    assert.deepEqual(ids(steps), [
      'stop service/edge/api@edge-api-old',
      'create service/edge/api',
      'start service/edge/api',
    ]);
    after(steps, 'create service/edge/api', 'stop service/edge/api@edge-api-old');
  });

  test('images already on the gateway are not pulled again', () => {
    const d = system();
    const p = plan(
      d,
      running(d, (o) => (o.containers = o.containers.filter((c) => c.service !== 'api'))),
    );
    assert.deepEqual(p.prepare, []);
    assert.deepEqual(ids(stage(p, 'group 30').steps), ['create service/edge/api', 'start service/edge/api']);
  });
});

describe('planner: drift', () => {
  test('a stopped container is started again', () => {
    const d = system();
    const p = plan(
      d,
      running(d, (o) => (o.containers.find((x) => x.service === 'broker')!.state = 'exited')),
    );
    assert.deepEqual(
      p.changes.map((c) => c.action),
      ['repair'],
    );
    const start = stage(p, 'group 30').steps[0]!;
    assert.equal(start.kind, 'start');
    assert.equal(start.containerId, 'edge-broker-old');
  });

  test('a stopped container starts again only after a running stale one of its service stops (its ports)', () => {
    // As a rollback interrupted by an Engine restart leaves it: the replaced container stopped, the new one running.
    const d = system();
    const o = running(d, (x) => {
      x.containers.find((c) => c.service === 'broker')!.state = 'exited';
      x.containers.push({
        app: 'edge',
        service: 'broker',
        containerId: 'feedfacecafe0001',
        configHash: 'b'.repeat(64),
        image: 'r/broker:2',
        state: 'running',
      });
    });
    const steps = stage(plan(d, o), 'group 30').steps;
    assert.deepEqual(ids(steps).sort(), ['start service/edge/broker', 'stop service/edge/broker@feedfacecafe']);
    after(steps, 'start service/edge/broker', 'stop service/edge/broker@feedfacecafe');
  });

  test('a service no longer desired is stopped, then removed; its app network stays while used', () => {
    const d = system();
    const o = running(d, (x) =>
      x.containers.push({
        app: 'edge',
        service: 'legacy',
        containerId: 'legacy-1',
        configHash: 'a'.repeat(64),
        image: 'r/legacy:1',
        state: 'running',
      }),
    );
    const p = plan(d, o);
    assert.deepEqual(ids(stage(p, 'group 30').steps), ['stop service/edge/legacy@legacy-1']);
    assert.deepEqual(ids(p.finalize), ['remove service/edge/legacy@legacy-1']);
  });

  test('an app no longer desired is removed with its network, and its named volumes are kept', () => {
    const d = system();
    const o = running(d, (x) => {
      x.containers.push({
        app: 'old',
        service: 'db',
        containerId: 'db-1',
        configHash: 'a'.repeat(64),
        image: 'r/db:1',
        state: 'running',
      });
      x.networks.push({ app: 'old', name: 'default' });
      x.volumes.push({ app: 'old', name: 'data' });
    });
    const p = plan(d, o);
    assert.deepEqual(
      p.stages.map((s) => [s.name, s.order]),
      [['remove', null]],
    );
    assert.deepEqual(ids(p.finalize), ['remove service/old/db@db-1', 'remove-network network/old/default']);
    assert.ok(!p.finalize.some((s) => s.kind === 'remove-volume'));
  });

  test('undeclared volumes are removed only when the app opts in', () => {
    const d = system();
    const withVol = (o: ReturnType<typeof running>) => o.volumes.push({ app: 'edge', name: 'scratch' });
    assert.ok(!plan(d, running(d, withVol)).finalize.some((s) => s.kind === 'remove-volume'));
    d.apps[0]!.pruneVolumes = true;
    assert.deepEqual(ids(plan(d, running(d, withVol)).finalize), ['remove-volume volume/edge/scratch']);
  });

  test('duplicate containers of one service: the matching one stays, the others go', () => {
    const d = system();
    const p = plan(
      d,
      running(d, (o) =>
        o.containers.push({
          app: 'edge',
          service: 'api',
          containerId: 'api-dup',
          configHash: 'b'.repeat(64),
          image: 'r/api:1',
          state: 'exited',
        }),
      ),
    );
    assert.deepEqual(ids(p.finalize), ['remove service/edge/api@api-dup']);
    assert.deepEqual(p.stages, [], 'an exited duplicate needs no stop');
  });
});

describe('planner: constraints', () => {
  const twoInOneGroup = () => desired([comp('G13', 'gateway', 'gw-2', 10), comp('R456', 'rtos', 'rtos-2', 10)], []);

  test('an order rule splits a shared order group: the gateway first, then the RTOS', () => {
    const d = twoInOneGroup();
    d.constraints.order = [{ name: 'gateway-before-rtos', before: 'gateway', after: 'rtos' }];
    const p = plan(d, emptyObservedState());
    assert.deepEqual(
      p.stages.map((s) => [s.name, ids(s.steps)[0]]),
      [
        ['group 10.1', 'install component/G13'],
        ['group 10.2', 'install component/R456'],
      ],
    );
    assert.deepEqual(p.rollback, ['group 10.2', 'group 10.1']);
  });

  test('an order rule the groups contradict is refused, naming the rule', () => {
    const d = desired([comp('G13', 'gateway', 'gw-2', 20), comp('R456', 'rtos', 'rtos-2', 10)], []);
    d.constraints.order = [{ name: 'gateway-before-rtos', before: 'gateway', after: 'rtos' }];
    assert.throws(
      () => plan(d, emptyObservedState()),
      (e: unknown) =>
        e instanceof PlanError &&
        e.constraint === 'gateway-before-rtos' &&
        /rtos \(R456\) is in order group 10/.test(e.message),
    );
  });

  test('an order rule is moot when one side does not change', () => {
    const d = desired([comp('G13', 'gateway', 'gw-2', 20), comp('R456', 'rtos', 'rtos-2', 10)], []);
    d.constraints.order = [{ name: 'gateway-before-rtos', before: 'gateway', after: 'rtos' }];
    const p = plan(
      d,
      running(d, (o) => (o.components[1]!.version = 'rtos-1')),
    );
    assert.deepEqual(
      p.stages.map((s) => s.name),
      ['group 10'],
    );
  });

  test('inside one group every subset is reachable, so a forbidden mix there is refused too', () => {
    const d = twoInOneGroup();
    d.constraints.forbidden = [{ name: 'mix', versions: { gateway: ['gw-1'], rtos: ['rtos-2'] } }];
    const from = running(d, (o) => {
      o.components[0]!.version = 'gw-1';
      o.components[1]!.version = 'rtos-1';
    });
    assert.throws(
      () => plan(d, from),
      /forbidden combination "mix".*update at the same time, so every mix of them must be accepted; an order rule/,
    );
    d.constraints.order = [{ name: 'g-first', before: 'gateway', after: 'rtos' }];
    assert.doesNotThrow(() => plan(d, from), 'splitting the group by the order rule removes the mix');
  });

  test('an allow-list of transitions accepts only listed states; the order it allows is found', () => {
    const d = desired([comp('G13', 'gateway', 'gw-2', 10), comp('R456', 'rtos', 'rtos-2', 20)], []);
    d.constraints.endStates = [{ name: 'v2', versions: { gateway: ['gw-2'], rtos: ['rtos-2'] } }];
    d.constraints.allowedTransitions = [{ name: 'gw-first', versions: { gateway: ['gw-2'], rtos: ['rtos-1'] } }];
    const from = running(d, (o) => {
      o.components[0]!.version = 'gw-1';
      o.components[1]!.version = 'rtos-1';
    });
    assert.equal(plan(d, from).order?.chosen, 'declared');
    d.constraints.allowedTransitions = [{ name: 'rtos-first', versions: { gateway: ['gw-1'], rtos: ['rtos-2'] } }];
    const p = plan(d, from);
    assert.equal(p.order?.chosen, 'reversed');
    assert.match(p.order?.reason ?? '', /no allowed transition or end state accepts \(G13=gw-2, R456=rtos-1\)/);
    d.constraints.allowedTransitions = [{ name: 'other', versions: { gateway: ['gw-3'], rtos: ['rtos-3'] } }];
    assert.throws(
      () => plan(d, from),
      (e: unknown) =>
        e instanceof PlanError &&
        e.constraint === 'transitions.allowed' &&
        /no allowed transition or end state accepts \(G13=gw-2, R456=rtos-1\); reversed, through a state that no/.test(
          e.message,
        ),
    );
  });
});

describe('planner: the order of the stages (a downgrade, a revert)', () => {
  // fleet-repo-example's system: the gateway in group 10, the RTOS devices in group 20, the gateway
  // before the RTOS, and the v2 RTOS firmware forbidden on the v1 gateway.
  const example = (v: 1 | 2, withApp = false) => {
    const d = desired(
      [
        comp('G13', 'gateway', `gateway-v${v}`, 10),
        comp('R456', 'rtos', `rtos-v${v}`, 20),
        comp('R998', 'rtos', `rtos-v${v}`, 20),
      ],
      withApp ? [app('edge', 30, [svc('api', `r/api:${v}`)])] : [],
    );
    d.constraints.order = [{ name: 'gateway-before-rtos', before: 'gateway', after: 'rtos' }];
    d.constraints.endStates = [
      { name: 'system-v1', versions: { gateway: ['gateway-v1'], rtos: ['rtos-v1'] } },
      { name: 'system-v2', versions: { gateway: ['gateway-v2'], rtos: ['rtos-v2'] } },
    ];
    d.constraints.forbidden = [
      { name: 'new-rtos-on-old-gateway', versions: { gateway: ['gateway-v1'], rtos: ['rtos-v2'] } },
    ];
    return d;
  };
  const on = (v: 1 | 2, withApp = false) => running(example(v, withApp));

  test('an upgrade runs in the declared order, and the plan says so', () => {
    const p = plan(example(2), on(1));
    assert.deepEqual(
      p.stages.map((s) => s.name),
      ['group 10', 'group 20'],
    );
    assert.deepEqual(p.order, {
      chosen: 'declared',
      reason:
        'as declared: gateway (group 10) → rtos (group 20); every state on the way is accepted by the constraints',
    });
  });

  test('the downgrade (v2 back to v1) runs the declared order backwards: the RTOS first, then the gateway', () => {
    const p = plan(example(1), on(2));
    assert.deepEqual(
      p.stages.map((s) => [s.name, ids(s.steps)]),
      [
        [
          'group 20',
          ['install component/R456', 'reboot component/R456', 'install component/R998', 'reboot component/R998'],
        ],
        ['group 10', ['install component/G13', 'reboot component/G13']],
      ],
    );
    assert.equal(p.order?.chosen, 'reversed');
    assert.equal(
      p.order?.reason,
      'reversed: rtos (group 20) → gateway (group 10), the declared order backwards as a downgrade runs, since in ' +
        'the declared order the plan would pass through the forbidden combination "new-rtos-on-old-gateway" ' +
        '(G13=gateway-v1, R456=rtos-v2, R998=rtos-v2)',
    );
    // A failure undoes the stages newest first: the gateway, then the RTOS devices.
    assert.deepEqual(p.rollback, ['group 10', 'group 20']);
    // Commits follow the stages, each stage's after the one before.
    const commits = p.finalize.filter((s) => s.kind === 'commit');
    assert.deepEqual(ids(commits), ['commit component/R456', 'commit component/R998', 'commit component/G13']);
    assert.deepEqual(commits[2]!.dependsOn, ['commit component/R456', 'commit component/R998']);
  });

  test('reversed means the whole declared order: an app in a later group goes first, as a rollback undoes it', () => {
    const p = plan(example(1, true), on(2, true));
    assert.deepEqual(
      p.stages.map((s) => s.name),
      ['group 30', 'group 20', 'group 10'],
    );
    assert.match(
      p.order?.reason ?? '',
      /^reversed: app edge \(group 30\) → rtos \(group 20\) → gateway \(group 10\), the declared/,
    );
  });

  test('a group split by an order rule is reversed layer by layer, its apps with the layer they ran in', () => {
    const d = desired(
      [comp('G13', 'gateway', 'gateway-v1', 10), comp('R456', 'rtos', 'rtos-v1', 10)],
      [app('edge', 10, [svc('api', 'r/api:1')])],
    );
    d.constraints.order = [{ name: 'gateway-before-rtos', before: 'gateway', after: 'rtos' }];
    d.constraints.forbidden = [{ name: 'x', versions: { gateway: ['gateway-v1'], rtos: ['rtos-v2'] } }];
    const from = running(d, (o) => {
      o.components[0]!.version = 'gateway-v2';
      o.components[1]!.version = 'rtos-v2';
      o.containers[0]!.configHash = '0'.repeat(64);
    });
    const p = plan(d, from);
    assert.deepEqual(
      p.stages.map((s) => [s.name, ids(s.steps)[0]]),
      [
        ['group 10.2', 'install component/R456'],
        ['group 10.1', 'install component/G13'],
      ],
    );
    assert.ok(
      ids(p.stages[0]!.steps).some((id) => id.startsWith('start service/edge/api')),
      'the app with the RTOS',
    );
  });

  test('the undo of every change that plans also plans (random systems, forbidden combinations, allow-lists)', () => {
    // A seeded generator: the same cases on every run.
    let x = 7;
    const rand = (n: number) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 16) % n;
    };
    const chosen = new Set<string>();
    let planned = 0;
    for (let i = 0; i < 400; i++) {
      const types = ['a', 'b', 'c', 'd'].slice(0, 2 + rand(3));
      const from = Object.fromEntries(types.map((t) => [t, `${t}-${1 + rand(2)}`]));
      const to = Object.fromEntries(types.map((t) => [t, from[t] === `${t}-1` ? `${t}-2` : `${t}-1`]));
      const combo = () =>
        Object.fromEntries(types.filter(() => rand(2) === 0).map((t) => [t, [`${t}-${1 + rand(2)}`]]));
      const matches = (c: Record<string, string[]>, state: Record<string, string>) =>
        Object.entries(c).every(([t, [v]]) => state[t] === v);
      // Both ends are acceptable end states, as the loader makes sure of every desired state.
      const forbidden = Array.from({ length: 1 + rand(3) }, (_, k) => ({ name: `f${k}`, versions: combo() })).filter(
        (f) => Object.keys(f.versions).length > 1 && !matches(f.versions, from) && !matches(f.versions, to),
      );
      const allowed =
        rand(3) === 0
          ? Array.from({ length: 3 }, (_, k) => ({ name: `a${k}`, versions: combo() })).filter(
              (a) => Object.keys(a.versions).length > 0,
            )
          : [];
      const groups = types.map(() => 10 * (1 + rand(3)));
      const system = (versions: Record<string, string>) => {
        const d = desired(
          types.map((t, k) => comp(t.toUpperCase(), t, versions[t]!, groups[k]!)),
          [],
        );
        d.constraints.forbidden = forbidden;
        d.constraints.allowedTransitions = allowed;
        d.constraints.endStates = [from, to].map((e, k) => ({
          name: `end${k}`,
          versions: Object.fromEntries(Object.entries(e).map(([t, v]) => [t, [v]])),
        }));
        return d;
      };
      const there = system(to);
      const back = system(from);
      let forwards: Plan;
      try {
        forwards = plan(there, running(back));
      } catch (e) {
        assert.ok(e instanceof PlanError, String(e));
        continue;
      }
      planned++;
      chosen.add(forwards.order?.chosen ?? 'one stage');
      const undo = plan(back, running(there)); // throws when it does not plan
      // The reverse of an order passes exactly the states the order passed, backwards.
      const expected = { declared: ['declared', 'reversed'], reversed: ['declared'], searched: ['searched'] };
      if (forwards.order)
        assert.ok(
          expected[forwards.order.chosen].includes(undo.order!.chosen),
          `case ${i}: ${forwards.order.chosen} there, ${undo.order!.chosen} back`,
        );
    }
    assert.ok(planned > 100, `enough cases planned (${planned})`);
    assert.deepEqual([...chosen].sort(), ['declared', 'one stage', 'reversed', 'searched']);
  });

  test('neither the declared order nor its reverse passes: another order of the stages is searched', () => {
    // A must not go before B, C must not go first: only B, A, C (or B, C, A) pass; B, A, C is the
    // first by the declared order's preference.
    const d = desired(
      [comp('A', 'a', 'a-2', 10), comp('B', 'b', 'b-2', 20), comp('C', 'c', 'c-2', 30)],
      [app('edge', 40, [svc('api', 'r/api:2')])],
    );
    d.constraints.forbidden = [
      { name: 'a-without-b', versions: { a: ['a-2'], b: ['b-1'] } },
      { name: 'c-alone', versions: { a: ['a-1'], b: ['b-1'], c: ['c-2'] } },
    ];
    const from = running(d, (o) => {
      o.components.forEach((c) => (c.version = `${c.type}-1`));
      o.containers.forEach((c) => (c.configHash = '0'.repeat(64)));
    });
    const p = plan(d, from);
    assert.deepEqual(
      p.stages.map((s) => s.name),
      ['group 20', 'group 10', 'group 30', 'group 40'],
    );
    assert.equal(p.order?.chosen, 'searched');
    assert.match(
      p.order?.reason ?? '',
      new RegExp(
        '^searched: b \\(group 20\\) → a \\(group 10\\) → c \\(group 30\\) → app edge \\(group 40\\), since in the ' +
          'declared order the plan would pass through the forbidden combination "a-without-b" .*, and reversed ' +
          'through the forbidden combination "c-alone"',
      ),
    );
  });

  test('no order passes: refused, naming what the declared order and its reverse pass through', () => {
    const d = example(1);
    d.constraints.forbidden.push({
      name: 'old-rtos-on-new-gateway',
      versions: { gateway: ['gateway-v2'], rtos: ['rtos-v1'] },
    });
    assert.throws(
      () => plan(d, on(2)),
      (e: unknown) =>
        e instanceof PlanError &&
        e.constraint === 'new-rtos-on-old-gateway' &&
        e.message ===
          'the plan would pass through the forbidden combination "new-rtos-on-old-gateway" (G13=gateway-v1, ' +
            'R456=rtos-v2, R998=rtos-v2); reversed, through the forbidden combination "old-rtos-on-new-gateway" ' +
            '(G13=gateway-v2, R456=rtos-v1, R998=rtos-v2); and no other order of the stages passes (the components ' +
            'of one stage, such as rtos (group 20), update at the same time, so every mix of them must be accepted; ' +
            'an order rule splits a group into stages)',
    );
  });

  test('the search is bounded by the states it checks: past them, the plan is refused saying so', () => {
    // Ten stages of seven constrained components each; the last type can never change, so every order
    // of the nine others is tried, each stage with its 127 mixes, until the budget ends the search.
    const types = Array.from({ length: 10 }, (_, t) => `t${t}`);
    const d = desired(
      types.flatMap((t, i) => Array.from({ length: 7 }, (_, k) => comp(`${t}-${k}`, t, 'v2', 10 * (i + 1)))),
      [],
    );
    d.constraints.forbidden = [
      { name: 'last-never', versions: { t9: ['v2'] } },
      { name: 'never', versions: Object.fromEntries(types.map((t) => [t, ['never']])) },
    ];
    const from = running(d, (o) => o.components.forEach((c) => (c.version = 'v1')));
    assert.throws(() => plan(d, from), new RegExp(`no other order was found within ${SEARCH_BUDGET} states checked`));
  });

  test('the search is bounded: past that many constrained stages, only the two declared orders are tried', () => {
    const n = MAX_SEARCHED_STAGES + 1;
    const comps = Array.from({ length: n }, (_, i) => comp(`C${i}`, `t${i}`, 'v2', 10 + i));
    const d = desired(comps, []);
    // The first must not go before the last, nor the last before the first; every stage is constrained.
    d.constraints.forbidden = [
      { name: 'first-alone', versions: { t0: ['v2'], [`t${n - 1}`]: ['v1'] } },
      { name: 'last-alone', versions: { t0: ['v1'], [`t${n - 1}`]: ['v2'] } },
      { name: 'never', versions: Object.fromEntries(comps.map((c) => [c.type, ['never']])) },
    ];
    const from = running(d, (o) => o.components.forEach((c) => (c.version = 'v1')));
    assert.throws(
      () => plan(d, from),
      new RegExp(`other orders are not searched with more than ${MAX_SEARCHED_STAGES} stages of constrained`),
    );
  });
});

describe('planner: determinism and shape', () => {
  test('same inputs, same plan, byte for byte; input order does not matter', () => {
    const d = system();
    const o = running(d, (x) => {
      x.components[0]!.version = 'gw-1';
      x.containers[1]!.configHash = '0'.repeat(64);
      x.containers.push({
        app: 'gone',
        service: 'x',
        containerId: 'x1',
        configHash: '1'.repeat(64),
        image: 'i',
        state: 'running',
      });
    });
    const a = JSON.stringify(plan(d, o));
    assert.equal(JSON.stringify(plan(structuredClone(d), structuredClone(o))), a);
    const shuffled = structuredClone(o);
    shuffled.containers.reverse();
    shuffled.components.reverse();
    const d2 = structuredClone(d);
    d2.apps[0]!.services.reverse();
    assert.equal(JSON.stringify(plan(d2, shuffled)), a);
  });

  test('step ids are unique and dependencies point at steps of the same phase', () => {
    const d = system();
    const p = plan(
      d,
      running(d, (o) => {
        o.components.forEach((c) => (c.version = 'old'));
        o.containers.forEach((c) => (c.configHash = '0'.repeat(64)));
        o.containers.push({
          app: 'edge',
          service: 'legacy',
          containerId: 'l1',
          configHash: '1',
          image: 'i',
          state: 'running',
        });
      }),
    );
    for (const phase of [p.prepare, ...p.stages.map((s) => s.steps), p.finalize]) {
      const here = new Set(ids(phase));
      assert.equal(here.size, phase.length);
      for (const s of phase) for (const dep of s.dependsOn) assert.ok(here.has(dep), `${s.id} -> ${dep}`);
    }
  });
});

describe('planner: Compose files as people write them', () => {
  const files = {
    hash: 'a'.repeat(64),
    kind: 'file' as const,
    entries: [{ path: 'mosquitto.conf', mode: 0o644, base64: '' }],
  };
  const broker = (conf: string) => {
    const s = svc('broker', 'mosquitto:2', {
      volumes: [
        {
          type: 'bind',
          repo: { hash: conf, name: 'mosquitto.conf' },
          target: '/mosquitto/config/mosquitto.conf',
          readOnly: true,
        },
      ],
      files: [conf],
    });
    return s;
  };

  test('repo files are written in prepare, only for containers that are created', () => {
    const d = desired([], [app('home', 30, [broker(files.hash), svc('ui', 'ui:1')], { files: [files] })]);
    const fresh = plan(d, emptyObservedState());
    assert.deepEqual(
      fresh.prepare.filter((s) => s.kind === 'write-files').map((s) => s.target),
      [{ kind: 'files', app: 'home', hash: files.hash }],
    );
    assert.deepEqual(plan(d, running(d)).prepare, [], 'nothing is written when nothing is created');
  });

  test('pull_policy: never does not pull; always pulls a present image for a new container', () => {
    const never = desired([], [app('a', 30, [{ ...svc('x', 'x:1'), pullPolicy: 'never' }])]);
    assert.deepEqual(plan(never, emptyObservedState()).prepare, []);
    const always = desired([], [app('a', 30, [{ ...svc('x', 'x:1'), pullPolicy: 'always' }])]);
    assert.deepEqual(
      plan(always, { ...emptyObservedState(), images: ['x:1'] }).prepare.map((s) => s.kind),
      ['pull'],
    );
    const missing = desired([], [app('a', 30, [svc('x', 'x:1')])]);
    assert.deepEqual(plan(missing, { ...emptyObservedState(), images: ['x:1'] }).prepare, []);
  });

  test(
    'start-first: create, start and wait until ready, then stop the old; with a host port it stays ' + 'new-before-old',
    () => {
      const v1 = desired([], [app('a', 30, [svc('web', 'web:1')])]);
      const sf = (image: string, hostPort = false) =>
        desired(
          [],
          [
            app('a', 30, [
              {
                ...svc(
                  'web',
                  image,
                  hostPort ? { ports: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }] } : {},
                ),
                updateOrder: 'start-first',
              },
            ]),
          ],
        );
      const steps = (p: Plan) => p.stages.flatMap((s) => s.steps);
      const p = plan(sf('web:2'), running(v1));
      assert.deepEqual(
        steps(p).map((s) => s.kind),
        ['create', 'start', 'stop'],
      );
      const [, start, stop] = steps(p);
      assert.deepEqual(start!.waitFor, [{ service: 'web', condition: 'ready' }]);
      assert.deepEqual(stop!.dependsOn, [start!.id]);
      const withPort = plan(sf('web:2', true), running(v1));
      assert.deepEqual(
        steps(withPort).map((s) => s.kind),
        ['create', 'stop', 'start'],
        'the old container holds the host port until it stops',
      );
    },
  );

  test('container_name travels on create and start; external networks and volumes are never created', () => {
    const d = desired(
      [],
      [
        app('home', 30, [svc('mqtt', 'm:1', { containerName: 'mosquitto', networks: ['iot'] })], {
          networks: [{ name: 'iot', driver: 'bridge', internal: false, external: true, engineName: 'iot' }],
          volumes: [
            { name: 'db', driver: 'local', external: true, engineName: 'db' },
            { name: 'cache', driver: 'local', engineName: 'home_cache' },
          ],
        }),
      ],
    );
    const p = plan(d, emptyObservedState());
    const all = p.stages.flatMap((s) => s.steps);
    assert.deepEqual(
      all.filter((s) => s.kind === 'create' || s.kind === 'start').map((s) => s.containerName),
      ['mosquitto', 'mosquitto'],
    );
    assert.ok(!all.some((s) => s.kind === 'create-network'));
    assert.deepEqual(
      all
        .filter((s) => s.kind === 'create-volume')
        .map((s) => [s.target.kind === 'volume' && s.target.name, s.engineName]),
      [['cache', 'home_cache']],
    );
  });
});

describe('planner: networks and volumes whose definition changed', () => {
  const withNet = (internal: boolean, hash: string) =>
    desired(
      [],
      [
        app('a', 30, [svc('x', 'x:1')], {
          networks: [{ name: 'default', driver: 'bridge', internal, configHash: hash }],
          volumes: [{ name: 'data', driver: 'local', configHash: 'v1' }],
        }),
      ],
    );

  test(
    'a changed network is made again: its containers stop first, the network is recreated, then new ' +
      'containers start on it',
    () => {
      const before = withNet(false, 'n1');
      const p = plan(
        withNet(true, 'n2'),
        running(before, (o) => (o.networks = [{ app: 'a', name: 'default', configHash: 'n1' }])),
      );
      const steps = p.stages.flatMap((s) => s.steps);
      assert.deepEqual(
        steps.map((s) => s.kind),
        ['recreate-network', 'stop', 'create', 'start'],
      );
      const [recreate, stop, create] = steps;
      assert.deepEqual(recreate!.dependsOn, [stop!.id], 'the network goes once its container has stopped');
      assert.ok(create!.dependsOn.includes(recreate!.id), 'the new container is made on the new network');
      assert.deepEqual(
        p.changes.map((c) => [c.action, c.target.kind, c.reason]),
        [
          [
            'change',
            'network',
            'its definition changed: it is made again, and the containers on it with it (stop-first)',
          ],
          ['change', 'service', 'its network default is made again'],
        ],
      );
    },
  );

  test('a changed volume is refused: its data is never dropped silently', () => {
    const d = withNet(false, 'n1');
    assert.throws(
      () =>
        plan(
          d,
          running(d, (o) => (o.volumes = [{ app: 'a', name: 'data', configHash: 'v0' }])),
        ),
      /volume "data" of app "a" is defined differently .* would drop its data/,
    );
  });

  test('an unchanged definition, or one made before definitions were labelled, plans as before', () => {
    const d = withNet(false, 'n1');
    assert.equal(
      plan(
        d,
        running(d, (o) => (o.networks = [{ app: 'a', name: 'default', configHash: 'n1' }])),
      ).changes.length,
      0,
    );
    assert.equal(
      plan(
        d,
        running(d, (o) => (o.networks = [{ app: 'a', name: 'default' }])),
      ).changes.length,
      0,
    );
  });
});

describe('planner: depends_on restart', () => {
  test('a service whose dependency is replaced restarts after it, when it asks to; otherwise it is left alone', () => {
    const v = (db: string, restart: boolean) =>
      desired(
        [],
        [
          app('a', 30, [
            svc('db', db),
            svc('api', 'api:1', {
              dependsOn: {
                db: { condition: 'service_started', required: true, ...(restart ? { restart: true } : {}) },
              },
            }),
          ]),
        ],
      );
    const p = plan(v('db:2', true), running(v('db:1', true)));
    const steps = p.stages.flatMap((s) => s.steps);
    const stopApi = steps.find((s) => s.kind === 'stop' && s.target.kind === 'service' && s.target.service === 'api')!;
    const startDb = steps.find((s) => s.kind === 'start' && s.target.kind === 'service' && s.target.service === 'db')!;
    assert.deepEqual(stopApi.dependsOn, [startDb.id], 'api stops only once the new db has started');
    assert.ok(
      steps.some(
        (s) =>
          s.kind === 'start' &&
          s.target.kind === 'service' &&
          s.target.service === 'api' &&
          s.containerId === stopApi.containerId,
      ),
      'and starts again, the same container',
    );
    assert.match(
      p.changes.find((c) => c.target.kind === 'service' && c.target.service === 'api')!.reason,
      /restarted after db is replaced/,
    );
    const plain = plan(v('db:2', false), running(v('db:1', false)));
    assert.deepEqual(plain.unchanged.services, ['a/api']);
  });
});

describe('planner: x-rollgate.recreate_volumes', () => {
  test(
    'a volume whose definition changed is a new volume beside the old one, and its services move to ' + 'it',
    async () => {
      const { DirectorySource, loadDesiredState } = await import('../../src/manifest/index.js');
      const { mkdirSync, writeFileSync } = await import('node:fs');
      const { join } = await import('node:path');
      const { tempDir, cleanup } = await import('../helpers/fixtures.js');
      const dir = tempDir('rollgate-recreate-');
      try {
        mkdirSync(join(dir, 'app'));
        writeFileSync(
          join(dir, 'rollgate.yaml'),
          'apiVersion: rollgate/v1\nkind: Fleet\nsystems:\n  s: { apps: { home: app/compose.yaml } }\ntargets:\n  ' +
            '- { name: all, match: { any: true }, system: s }\n',
        );
        const load = async (opts: string) => {
          writeFileSync(
            join(dir, 'app/compose.yaml'),
            `x-rollgate: { recreate_volumes: true }\nservices:\n  db: { image: "db:1", volumes: ["data:/data"] ` +
              `}\nvolumes:\n  data: { driver_opts: { ${opts} } }\n`,
          );
          return loadDesiredState(new DirectorySource(dir), { id: 'gw', labels: {} });
        };
        const v1 = await load('type: tmpfs, device: tmpfs');
        const v2 = await load('type: tmpfs, device: tmpfs, o: "size=64m"');
        const [n1, n2] = [v1.apps[0]!.volumes[0]!.engineName!, v2.apps[0]!.volumes[0]!.engineName!];
        assert.match(n1, /^home_data-[0-9a-f]{8}$/);
        assert.notEqual(n1, n2, 'the definition is in the name');
        const p = plan(v2, running(v1));
        assert.deepEqual(
          p.stages.flatMap((s) => s.steps).map((s) => [s.kind, s.engineName ?? '']),
          [
            ['create-volume', n2],
            ['create', ''],
            ['stop', ''],
            ['start', ''],
          ],
        );
      } finally {
        cleanup(dir);
      }
    },
  );
});

describe('planner: service_healthy on a healthcheck from the image', () => {
  const d = desired(
    [],
    [
      app('a', 30, [
        svc('db', 'db:1'),
        svc('api', 'api:1', { dependsOn: { db: { condition: 'service_healthy', required: true } } }),
      ]),
    ],
  );

  test('an image without a healthcheck is refused before anything runs, naming both services', () => {
    assert.throws(
      () => plan(d, { ...emptyObservedState(), images: ['db:1'], imagesWithoutHealthcheck: ['db:1'] }),
      new RegExp(
        String.raw`"api" of app "a" waits for "db" to be healthy .* "db" has no healthcheck, neither in` +
          String.raw` the Compose file nor in its image db:1`,
      ),
    );
  });

  test('an image with one (or not yet on the gateway) plans', () => {
    assert.ok(plan(d, { ...emptyObservedState(), images: ['db:1'] }).stages.length > 0);
  });
});
