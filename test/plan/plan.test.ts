// The planner on plain data: a fresh gateway, updates, drift, and a plan's determinism and shape.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { plan } from '../../src/plan/index.js';
import { emptyObservedState } from '../../src/model/index.js';
import { running } from '../helpers/builders.js';
import { after, ids, stage, system } from '../helpers/plan-checks.js';

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
