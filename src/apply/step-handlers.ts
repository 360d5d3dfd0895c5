// An applier as a table of handlers, one for every kind of step it executes, each with its undo
// beside it: the table is typed total over the applier's kinds, so a kind left out is a compile
// error rather than a `default: throw` found at run time.

import type { StepKind, StepOf } from '../model/index.js';
import type { StepContext, StepRecord } from './applier.js';

/** What the journal keeps of a step that ran, but its status. */
export type StepResult = Omit<StepRecord, 'status'>;

/** One kind of step, forwards and back; `env` is what the applier gives its handlers (its Engine, its options). */
export interface StepHandler<S, Env> {
  /** Runs the step; returns what the journal must keep to undo it. Must be safe to repeat. */
  run(env: Env, step: S, ctx: StepContext): Promise<StepResult>;
  /** Puts back what `run` did, including a run cut short by a crash. Must be safe to repeat. */
  undo(env: Env, step: S, record: StepRecord, ctx: StepContext): Promise<void>;
  /**
   * After what the step acts on went away and came back: puts the step back in the state it left.
   * Returns a changed record, e.g. a container made anew. Absent: nothing to put back.
   */
  resettle?(env: Env, step: S, record: StepRecord, ctx: StepContext): Promise<StepResult | undefined>;
}

/** A handler for every kind in K. */
export type HandlerTable<K extends StepKind, Env> = { [P in K]: StepHandler<StepOf<P>, Env> };

/** The handler of a step's kind. */
function handlerOf<K extends StepKind, Env>(table: HandlerTable<K, Env>, step: StepOf<K>): StepHandler<StepOf<K>, Env> {
  return table[step.kind];
}

/** Runs a step with the handler of its kind. */
export function runStep<K extends StepKind, Env>(
  table: HandlerTable<K, Env>,
  env: Env,
  step: StepOf<K>,
  ctx: StepContext,
): Promise<StepResult> {
  return handlerOf(table, step).run(env, step, ctx);
}

/** Undoes a step with the handler of its kind. */
export function undoStep<K extends StepKind, Env>(
  table: HandlerTable<K, Env>,
  env: Env,
  step: StepOf<K>,
  record: StepRecord,
  ctx: StepContext,
): Promise<void> {
  return handlerOf(table, step).undo(env, step, record, ctx);
}

/** Resettles a step with the handler of its kind, when its kind has anything to put back. */
export async function resettleStep<K extends StepKind, Env>(
  table: HandlerTable<K, Env>,
  env: Env,
  step: StepOf<K>,
  record: StepRecord,
  ctx: StepContext,
): Promise<StepResult | undefined> {
  return handlerOf(table, step).resettle?.(env, step, record, ctx);
}

/** Nothing to put back (the step changed nothing that undoing would restore). */
export const keep = (): Promise<void> => Promise.resolve();
