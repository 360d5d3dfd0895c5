// The order the stages run in. The declared order (order groups lowest first, order rules inside
// a group) is a preference, not a constraint: the constraints (forbidden combinations, allowed
// transitions) decide which states the gateway may pass through. So the planner takes
//   1. the declared order, when every state on its way is accepted;
//   2. else the declared order reversed, as a rollback runs (a downgrade: its states are exactly
//      those the opposite change passes in the declared order, so undoing a change that planned
//      always plans);
//   3. else the first order of the stages, by the declared order's preference, that passes —
//      a depth-first search over which constrained stages have run, bounded by MAX_SEARCHED_STAGES
//      and SEARCH_BUDGET;
//   4. else it refuses, naming what the declared order and its reverse would pass through.
// Stages themselves are never split: components of one stage update at the same time.

import type { DesiredComponent, PlanOrder } from '../model/index.js';
import { PlanError } from './errors.js';
import type { TransitionCheck, VersionState, Violation } from './transitions.js';

/** One stage before it has steps: an order group, or one layer of a group an order rule split. */
export interface Unit {
  name: string;
  /** The order group. */
  order: number;
  components: DesiredComponent[];
  apps: string[];
}

/** Above this many stages with constrained components, other orders than the two declared ones are not searched. */
export const MAX_SEARCHED_STAGES = 10;
/** The most states a search for an order checks (every mix inside each stage tried), about a second's work. */
export const SEARCH_BUDGET = 200_000;

function describeUnit(u: Unit): string {
  const types = [...new Set(u.components.map((c) => c.type))];
  return `${[...types, ...u.apps.map((a) => `app ${a}`)].join(' + ')} (${u.name})`;
}

const sequence = (units: Unit[]) => units.map(describeUnit).join(' → ');

/**
 * The first order, trying stages in declared order at each point, whose every state is accepted.
 * Stages without constrained components never refuse, so whether the rest can still be ordered
 * depends only on which constrained stages have run: an order that failed from there is not tried
 * again, and the search visits each such set at most once.
 */
function search(
  declared: Unit[],
  check: TransitionCheck,
  start: VersionState,
): { units: Unit[] } | { notFound: string } {
  const bit = new Map<number, number>();
  declared.forEach((u, i) => {
    if (check.relevant(u.components).length > 0) bit.set(i, 1 << bit.size);
  });
  if (bit.size > MAX_SEARCHED_STAGES)
    return {
      notFound: `other orders are not searched with more than ${MAX_SEARCHED_STAGES} stages of constrained components`,
    };
  const budget = check.checked + SEARCH_BUDGET;
  const dead = new Set<number>();
  const used = declared.map(() => false);
  const path: number[] = [];
  const next = (ran: number, state: VersionState): boolean => {
    if (path.length === declared.length) return true;
    if (dead.has(ran)) return false;
    for (let i = 0; i < declared.length; i++) {
      if (used[i]) continue;
      if (check.checked > budget) return false;
      const after = new Map(state);
      if (check.stage(after, declared[i]!.components)) continue;
      used[i] = true;
      path.push(i);
      if (next(ran | (bit.get(i) ?? 0), after)) return true;
      used[i] = false;
      path.pop();
    }
    dead.add(ran);
    return false;
  };
  if (next(0, new Map(start))) return { units: path.map((i) => declared[i]!) };
  if (check.checked > budget) return { notFound: `no other order was found within ${SEARCH_BUDGET} states checked` };
  return { notFound: 'and no other order of the stages passes' };
}

/** The stages in the order they run, and why; throws PlanError when no order passes. */
export function chooseOrder(
  declared: Unit[],
  check: TransitionCheck,
  start: VersionState,
): { units: Unit[]; order?: PlanOrder } {
  for (const u of declared) check.checkSize(u.components);
  const walk = (units: Unit[]) =>
    check.walk(
      start,
      units.map((u) => u.components),
    );
  const forwards = walk(declared);
  const many = declared.length > 1;
  if (!forwards) {
    if (!many) return { units: declared };
    const checked = check.active ? '; every state on the way is accepted by the constraints' : '';
    return { units: declared, order: { chosen: 'declared', reason: `as declared: ${sequence(declared)}${checked}` } };
  }
  if (!many) throw refusal(declared, check, forwards);
  const reversed = [...declared].reverse();
  const backwards = walk(reversed);
  if (!backwards) {
    return {
      units: reversed,
      order: {
        chosen: 'reversed',
        reason:
          `reversed: ${sequence(reversed)}, the declared order backwards as a downgrade runs, since in the ` +
          `declared order the plan would pass through ${forwards.what}`,
      },
    };
  }
  const found = search(declared, check, start);
  if ('units' in found) {
    return {
      units: found.units,
      order: {
        chosen: 'searched',
        reason:
          `searched: ${sequence(found.units)}, since in the declared order the plan would pass through ` +
          `${forwards.what}, and reversed through ${backwards.what}`,
      },
    };
  }
  throw refusal(declared, check, forwards, { ...backwards, then: found.notFound });
}

function refusal(
  declared: Unit[],
  check: TransitionCheck,
  forwards: Violation,
  backwards?: Violation & { then: string },
): PlanError {
  let message = `the plan would pass through ${forwards.what}`;
  if (backwards) message += `; reversed, through ${backwards.what}; ${backwards.then}`;
  const shared = declared.find((u) => check.relevant(u.components).length > 1);
  if (shared)
    message +=
      ` (the components of one stage, such as ${describeUnit(shared)}, update at the same time, so every mix ` +
      `of them must be accepted; an order rule splits a group into stages)`;
  return new PlanError(message, forwards.constraint);
}
