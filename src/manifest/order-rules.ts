// Order rules (`before` finishes before `after` starts) must not form a cycle.

import { findCycle } from './graph.js';

export function findCycleInOrder(rules: { before: string; after: string }[]): string[] | undefined {
  const deps = new Map<string, string[]>();
  for (const r of rules) deps.set(r.after, [...(deps.get(r.after) ?? []), r.before]);
  const cycle = findCycle(deps);
  return cycle?.reverse();
}
