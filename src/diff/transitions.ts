// Explicit constraints over component versions: order rules that split or refuse order groups,
// and the states a plan passes through, checked against forbidden and allowed combinations.
// Inside a stage, components update concurrently, so every subset of them is a reachable state.

import type { Constraints, DesiredComponent } from '../model/index.js';
import { componentsNamed, matchesEvery, matchesSome } from '../manifest/constraints.js';
import { PlanError } from './errors.js';

/** Above this many constrained components changing in one stage, checking every subset is refused. */
export const MAX_CONSTRAINED_PER_STAGE = 12;

/**
 * Splits the changing components of one order group into layers so that every order rule's
 * `before` finishes before its `after` starts. Layers are returned in execution order.
 */
export function layerGroup(group: DesiredComponent[], constraints: Constraints): DesiredComponent[][] {
  if (constraints.order.length === 0 || group.length < 2) return [group];
  const preds = new Map<string, Set<string>>(group.map((c) => [c.key, new Set<string>()]));
  for (const r of constraints.order) {
    const before = componentsNamed(r.before, group);
    for (const a of componentsNamed(r.after, group)) for (const b of before) preds.get(a.key)!.add(b.key);
  }
  const layerOf = new Map<string, number>();
  const depth = (key: string): number => {
    const known = layerOf.get(key);
    if (known !== undefined) return known;
    layerOf.set(key, 0); // order rules were checked for cycles when the repo was loaded
    let d = 0;
    for (const p of preds.get(key)!) d = Math.max(d, depth(p) + 1);
    layerOf.set(key, d);
    return d;
  };
  const layers: DesiredComponent[][] = [];
  for (const c of group) (layers[depth(c.key)] ??= []).push(c);
  return layers.filter((l) => l.length > 0);
}

/** Refuses a plan whose order groups put an order rule's `after` before its `before`. */
export function checkOrderRules(changing: DesiredComponent[], constraints: Constraints): void {
  for (const r of constraints.order) {
    for (const b of componentsNamed(r.before, changing)) {
      for (const a of componentsNamed(r.after, changing)) {
        if (a.order < b.order) {
          throw new PlanError(
            `order rule "${r.name}" is violated: ${r.after} (${a.key}) is in order group ${a.order}, which runs ` +
              `before ${r.before} (${b.key}) in group ${b.order}; give ${r.before} a lower ` +
              `update_strategy.order than ${r.after}`,
            r.name,
          );
        }
      }
    }
  }
}

function describe(state: Map<string, string | undefined>, comps: DesiredComponent[]): string {
  return comps.map((c) => `${c.key}=${state.get(c.key) ?? 'unknown'}`).join(', ');
}

/**
 * Walks the stages from the observed versions to the desired ones and refuses the first
 * reachable state that is forbidden, or not allowed when an allow-list is given.
 */
export function checkTransitions(
  all: DesiredComponent[],
  start: Map<string, string | undefined>,
  stages: DesiredComponent[][],
  constraints: Constraints,
): void {
  const { forbidden, allowedTransitions, endStates } = constraints;
  if (forbidden.length === 0 && allowedTransitions.length === 0) return;
  const named = new Set<string>();
  for (const p of [...forbidden, ...allowedTransitions, ...endStates])
    for (const n of Object.keys(p.versions)) for (const c of componentsNamed(n, all)) named.add(c.key);
  const state = new Map(start);
  const versionsOf = (name: string) => componentsNamed(name, all).map((c) => state.get(c.key));
  const check = () => {
    for (const f of forbidden) {
      if (matchesSome(f.versions, versionsOf)) {
        throw new PlanError(
          `the plan would pass through the forbidden combination "${f.name}" (${describe(state, all)})`,
          f.name,
        );
      }
    }
    if (
      allowedTransitions.length > 0 &&
      ![...allowedTransitions, ...endStates].some((a) => matchesEvery(a.versions, versionsOf))
    ) {
      throw new PlanError(
        `the plan would pass through a state that no allowed transition or end state accepts (${describe(state, all)})`,
        'transitions.allowed',
      );
    }
  };
  for (const stage of stages) {
    const relevant = stage.filter((c) => named.has(c.key));
    const rest = stage.filter((c) => !named.has(c.key));
    if (relevant.length > MAX_CONSTRAINED_PER_STAGE) {
      throw new PlanError(
        `${relevant.length} constrained components change in one stage ` +
          `(${relevant.map((c) => c.key).join(', ')}); at most ${MAX_CONSTRAINED_PER_STAGE} can be verified: ` +
          `spread them over order groups`,
        'stage-size',
      );
    }
    // Unconstrained components do not change any verdict; apply them first.
    for (const c of rest) state.set(c.key, c.version);
    const base = new Map(state);
    for (let mask = 1; mask < 1 << relevant.length; mask++) {
      for (let i = 0; i < relevant.length; i++) {
        const c = relevant[i]!;
        state.set(c.key, mask & (1 << i) ? c.version : base.get(c.key));
      }
      check();
    }
    for (const c of relevant) state.set(c.key, c.version);
  }
}
