// The one small interface every applier implements: run a step, undo a step. Observation is
// each applier's own (its result shapes differ); the plan runner only needs these two.

import type { DesiredState, Plan, Step } from '../model/index.js';
import type { Log } from '../base/log.js';
import { DockerError } from './docker/errors.js';

/** `awaiting-reboot`: the step ran up to a reboot of the gateway itself, which the runner does once per stage. */
export type StepStatus = 'started' | 'done' | 'failed' | 'undone' | 'awaiting-reboot';

/** What the journal keeps of one step: enough to undo it after a crash. */
export interface StepRecord {
  status: StepStatus;
  /** The container a step created or acted on, once known. */
  containerId?: string;
  /** The image of a container a step removed: a candidate for pruning. */
  image?: string;
  error?: string;
  /** Returned by `run` when the step needs the gateway to reboot before it can be verified. */
  reboot?: 'gateway';
}

/**
 * A step found the commit itself at fault — an artifact whose signature does not verify, or whose
 * sha256 is not what the commit says, or a host path that resolves outside what the gateway's
 * policy allows — so retrying cannot help: the commit is refused.
 */
export class RefusedError extends Error {
  override name = 'RefusedError';
  constructor(
    readonly kind: 'untrusted' | 'invalid' | 'forbidden',
    message: string,
  ) {
    super(message);
  }
}

/** An undo that can never succeed (an interface without rollback): retrying is pointless. */
export class UndoImpossibleError extends Error {
  override name = 'UndoImpossibleError';
}

/**
 * Why a step could not run that is the gateway's and not the commit's: the Docker Engine away
 * (stopped, restarting) for longer than a step waits for it, or the state directory's disk full,
 * so the journal cannot record the next step. Neither is a verdict on the commit: the transaction
 * stops where it is, its journal kept, and goes on when the gateway is back.
 */
export type Interruption = 'engine-away' | 'disk-full';

export function interruptionOf(err: unknown): Interruption | undefined {
  if (err instanceof DockerError && err.kind === 'engine-unreachable') return 'engine-away';
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'disk-full';
  return undefined;
}

/** Whether the Engine (or whatever an applier acts on) went away since the watch began. */
export interface OutageWatch {
  readonly interrupted: boolean;
  /** `interrupted`, or away right now (an Engine shutting down still serves what it had begun). */
  check(): Promise<boolean>;
  stop(): void;
}

export interface StepContext {
  /** The transaction id; objects an applier creates carry it so a crashed apply can find them. */
  txn: string;
  /** Absent when resuming from a journal: undo and finalize must not need it. */
  desired?: DesiredState | undefined;
  /** The plan the transaction runs; absent when resuming. */
  plan?: Plan | undefined;
  log: Log;
}

export interface Applier {
  readonly name: string;
  handles(step: Step): boolean;
  /** Runs one step; returns what the journal must keep to undo it. Must be safe to repeat. */
  run(step: Step, ctx: StepContext): Promise<Omit<StepRecord, 'status'>>;
  /** Puts back what `run` did, including a run cut short by a crash. Must be safe to repeat. */
  undo(step: Step, record: StepRecord, ctx: StepContext): Promise<void>;
  /** Whether a `reboot` step will reboot anything (its component said it needs one), before it runs. */
  willReboot?(step: Step, ctx: StepContext): Promise<boolean>;
  /**
   * Reboots the gateway (steps of the stage returned `reboot: 'gateway'` and are journaled).
   * Returns or throws only when the reboot did not happen; the process normally ends here.
   */
  rebootGateway?(ctx: StepContext): Promise<void>;
  /** After the gateway came back: verifies a step that awaited the reboot. */
  verifyAfterReboot?(step: Step, record: StepRecord, ctx: StepContext): Promise<void>;
  /**
   * Before anything of the plan runs: refuses it (throws RefusedError) when what it would do on
   * this gateway breaks a rule that only the gateway can decide (the policy on resolved paths).
   */
  vet?(plan: Plan, ctx: StepContext): Promise<void>;
  /**
   * Ahead of a maintenance window (README "Maintenance windows"): fetches what a prepare step needs
   * — an image pulled, an artifact into the cache — touching nothing that runs and no device (an
   * interface's Download is the transaction's). False when the step fetches nothing this way.
   */
  prefetch?(step: Step, ctx: StepContext): Promise<boolean>;
  /** After the finalize phase: housekeeping such as pruning images nothing uses any more. */
  afterFinalize?(plan: Plan, records: Record<string, StepRecord>, ctx: StepContext): Promise<void>;
  /** Notices what it acts on going away during a transaction (the Docker Engine restarting). */
  watch?(): OutageWatch;
  /** Waits, bounded, until what it acts on answers again; throws an `engine-away` interruption when it does not. */
  awaitAvailable?(): Promise<void>;
  /**
   * After what it acts on went away and came back: puts a step that ran back in the state it
   * left (a container the Engine stopped on its way down runs again, one it started again with
   * its restart policy is stopped again). Returns a changed record, e.g. a container made anew.
   */
  resettle?(step: Step, record: StepRecord, ctx: StepContext): Promise<Omit<StepRecord, 'status'> | undefined>;
}

export class NoApplierError extends Error {
  override name = 'NoApplierError';
}

/** The applier that executes a step (the first that handles it). */
export function applierFor(appliers: readonly Applier[], step: Step): Applier {
  const a = appliers.find((x) => x.handles(step));
  if (!a) throw new NoApplierError(`no applier in this build executes "${step.kind}" steps (${step.id})`);
  return a;
}
