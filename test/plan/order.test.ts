// The planner's order: constraints (order rules, end states, transitions) and the order of the
// stages — declared, reversed for a downgrade or a revert, or searched.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { plan, PlanError } from '../../src/plan/index.js';
import { MAX_SEARCHED_STAGES, SEARCH_BUDGET } from '../../src/plan/order.js';
import { emptyObservedState, type Plan } from '../../src/model/index.js';
import { app, comp, desired, running, svc } from '../helpers/builders.js';
import { ids } from '../helpers/plan-checks.js';

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
