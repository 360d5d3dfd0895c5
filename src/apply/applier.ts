// The one small interface every applier implements: run a step, undo a step. Observation is
// each applier's own (its result shapes differ); the plan runner only needs these two.

import type { DesiredState, Plan, Step } from '../model/index.js';
import type { Log } from './log.js';

export type StepStatus = 'started' | 'done' | 'failed' | 'undone';

/** What the journal keeps of one step: enough to undo it after a crash. */
export interface StepRecord {
  status: StepStatus;
  /** The container a step created or acted on, once known. */
  containerId?: string;
  /** The image of a container a step removed: a candidate for pruning. */
  image?: string;
  error?: string;
}

export interface StepContext {
  /** The transaction id; objects an applier creates carry it so a crashed apply can find them. */
  txn: string;
  /** Absent when resuming from a journal: undo and finalize must not need it. */
  desired?: DesiredState;
  log: Log;
}

export interface Applier {
  readonly name: string;
  handles(step: Step): boolean;
  /** Runs one step; returns what the journal must keep to undo it. Must be safe to repeat. */
  run(step: Step, ctx: StepContext): Promise<Omit<StepRecord, 'status'>>;
  /** Puts back what `run` did, including a run cut short by a crash. Must be safe to repeat. */
  undo(step: Step, record: StepRecord, ctx: StepContext): Promise<void>;
  /** After the finalize phase: housekeeping such as pruning images nothing uses any more. */
  afterFinalize?(plan: Plan, records: Record<string, StepRecord>, ctx: StepContext): Promise<void>;
}
