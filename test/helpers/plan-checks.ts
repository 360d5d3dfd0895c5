// What the planner's tests share: step ids, a stage by name, a dependency check, and a system
// of three components and an app.

import assert from 'node:assert/strict';
import type { Plan, Step } from '../../src/model/index.js';
import { app, comp, desired, svc } from './builders.js';

export const ids = (steps: Step[]) => steps.map((s) => s.id);
export const stage = (p: Plan, name: string) => p.stages.find((s) => s.name === name)!;
/** Asserts that `later` depends (transitively) on `earlier` inside a list of steps. */
export function after(steps: Step[], later: string, earlier: string): void {
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

export const system = () =>
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
