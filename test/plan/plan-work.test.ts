// The planner stays linear: its work is counted, not timed. Every read the planner makes of its
// inputs (a property of the desired or observed state, at any depth) is counted; a search of a
// list per step shows up as reads growing with the square of the system's size.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { plan } from '../../src/plan/index.js';
import type { DesiredState, ObservedState } from '../../src/model/index.js';
import { releaseSystem } from '../helpers/release-system.js';

/** `value` behind proxies (at every depth) that count each property read into `count.reads`. */
function counted<T>(value: T, count: { reads: number }, seen = new WeakMap<object, object>()): T {
  if (typeof value !== 'object' || value === null) return value;
  const known = seen.get(value);
  if (known) return known as T;
  const proxy = new Proxy(value, {
    get(target, key, receiver) {
      count.reads++;
      return counted(Reflect.get(target, key, receiver) as unknown, count, seen);
    },
  });
  seen.set(value, proxy);
  return proxy;
}

/**
 * Reads of the inputs to plan a release update of `apps` × 10 services, with what each kind of
 * resource can carry: hooks on every service, a volume and a hashed network per app, healthchecks
 * waited for, images the gateway knows to have no healthcheck.
 */
function reads(apps: number): number {
  const { d, o } = releaseSystem(apps, 10, 0);
  for (const a of d.apps) {
    a.volumes = [{ name: 'data', driver: 'local', configHash: 'v1' }];
    a.networks = a.networks.map((n) => ({ ...n, configHash: 'n1' }));
    for (const s of a.services) {
      s.config.postStart = [{ command: ['true'] }];
      s.config.healthcheck = { test: ['CMD', 'true'] };
      s.config.dependsOn = Object.fromEntries(
        Object.keys(s.config.dependsOn).map((k) => [k, { condition: 'service_healthy', required: true }]),
      );
    }
  }
  for (const c of o.containers) c.preStop = [{ command: ['true'] }];
  o.volumes = d.apps.map((a) => ({ app: a.name, name: 'data', configHash: 'v1' }));
  o.networks = o.networks.map((n) => ({ ...n, configHash: 'n1' }));
  o.imagesWithoutHealthcheck = d.apps.map((a) => `registry.local/${a.name}/other:1`);
  const count = { reads: 0 };
  const p = plan(counted<DesiredState>(d, count), counted<ObservedState>(o, count));
  assert.ok(p.stages.some((s) => s.steps.some((x) => x.kind === 'start' && x.hooks?.length)));
  assert.ok(p.stages.some((s) => s.steps.some((x) => x.kind === 'stop' && x.hooks?.length)));
  return count.reads;
}

describe('planner: work grows with the system, not with its square', () => {
  test('8× the services costs at most 9× the reads of the inputs', () => {
    const small = reads(25);
    const large = reads(200);
    // Linear work gives 8× (a little more: longer names, the same per-plan constant spread thinner);
    // one search over every service per start step gives about 8× more again.
    assert.ok(large <= small * 9, `reads: ${small} at 25 × 10, ${large} at 200 × 10 (${(large / small).toFixed(1)}×)`);
  });
});
