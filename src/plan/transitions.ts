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

/** The first state on the way that the constraints refuse. */
export interface Violation {
  /** The constraint's name; `transitions.allowed` for a state no allowed transition accepts. */
  constraint: string;
  /** The state and why it is refused, e.g. `the forbidden combination "x" (G13=gateway-v1, R456=rtos-v2)`. */
  what: string;
}

/** Versions by component key: what the gateway runs at one point of a plan. */
export type VersionState = Map<string, string | undefined>;

/**
 * The states a sequence of stages passes through, checked against forbidden and allowed
 * combinations. Built once per plan; the names the constraints use are resolved once, so a check
 * costs the size of the constraints, not of the gateway.
 */
export class TransitionCheck {
  /** False when there is nothing to check (no forbidden combination, no allow-list). */
  readonly active: boolean;
  private readonly named = new Set<string>();
  private readonly keysOf = new Map<string, string[]>();
  /** States checked so far: what bounds a search for an order. */
  checked = 0;

  constructor(
    private readonly all: DesiredComponent[],
    private readonly constraints: Constraints,
  ) {
    const { forbidden, allowedTransitions, endStates } = constraints;
    this.active = forbidden.length > 0 || allowedTransitions.length > 0;
    if (!this.active) return;
    for (const p of [...forbidden, ...allowedTransitions, ...endStates]) {
      for (const n of Object.keys(p.versions)) {
        if (this.keysOf.has(n)) continue;
        const keys = componentsNamed(n, all).map((c) => c.key);
        this.keysOf.set(n, keys);
        for (const k of keys) this.named.add(k);
      }
    }
  }

  /** The components of a stage whose version can change a verdict. */
  relevant(stage: DesiredComponent[]): DesiredComponent[] {
    return this.active ? stage.filter((c) => this.named.has(c.key)) : [];
  }

  /** Refuses a stage with more constrained components than every mix of them can be checked for. */
  checkSize(stage: DesiredComponent[]): void {
    const relevant = this.relevant(stage);
    if (relevant.length > MAX_CONSTRAINED_PER_STAGE) {
      throw new PlanError(
        `${relevant.length} constrained components change in one stage ` +
          `(${relevant.map((c) => c.key).join(', ')}); at most ${MAX_CONSTRAINED_PER_STAGE} can be verified: ` +
          `spread them over order groups`,
        'stage-size',
      );
    }
  }

  private refusal(state: VersionState): Violation | undefined {
    this.checked++;
    const versionsOf = (name: string) => (this.keysOf.get(name) ?? []).map((k) => state.get(k));
    const { forbidden, allowedTransitions, endStates } = this.constraints;
    const f = forbidden.find((x) => matchesSome(x.versions, versionsOf));
    if (f) return { constraint: f.name, what: `the forbidden combination "${f.name}" (${this.describe(state)})` };
    if (
      allowedTransitions.length > 0 &&
      ![...allowedTransitions, ...endStates].some((a) => matchesEvery(a.versions, versionsOf))
    )
      return {
        constraint: 'transitions.allowed',
        what: `a state that no allowed transition or end state accepts (${this.describe(state)})`,
      };
    return undefined;
  }

  private describe(state: VersionState): string {
    return this.all.map((c) => `${c.key}=${state.get(c.key) ?? 'unknown'}`).join(', ');
  }

  /**
   * Runs one stage on top of `state`, every mix of its components being reachable: the first
   * refused state, or undefined with `state` now the state after the stage.
   */
  stage(state: VersionState, stage: DesiredComponent[]): Violation | undefined {
    const relevant = this.relevant(stage);
    // Unconstrained components do not change any verdict; apply them first.
    for (const c of stage) if (!this.named.has(c.key)) state.set(c.key, c.version);
    const base = new Map(state);
    for (let mask = 1; mask < 1 << relevant.length; mask++) {
      for (let i = 0; i < relevant.length; i++) {
        const c = relevant[i]!;
        state.set(c.key, mask & (1 << i) ? c.version : base.get(c.key));
      }
      const v = this.refusal(state);
      if (v) return v;
    }
    for (const c of relevant) state.set(c.key, c.version);
    return undefined;
  }

  /** Walks the stages from the observed versions to the desired ones: the first refused state. */
  walk(start: VersionState, stages: DesiredComponent[][]): Violation | undefined {
    if (!this.active) return undefined;
    const state = new Map(start);
    for (const s of stages) {
      const v = this.stage(state, s);
      if (v) return v;
    }
    return undefined;
  }
}
