// What a transaction ends with, and the hooks it tells as it goes: shared by applying a plan and
// resuming one from the journal.

import type { ActivityProgress, TransactionReason } from '../model/index.js';
import type { Interruption, RefusedError } from './applier.js';

export type StepHook = (p: Extract<ActivityProgress, { kind: 'step' }>) => void;

/** `refused`: the step refused the commit itself (RefusedError), e.g. as forbidden by the policy. */
export type FailureHook = (error: string, failedStep?: string, refused?: RefusedError['kind']) => Promise<void>;

export interface ApplyOutcome {
  txn: string;
  status: TransactionReason;
  /** What failed, in the operator's terms, naming the step. */
  error?: string;
  failedStep?: string;
  /** Steps that ran (done or failed) and steps undone, in order. */
  ran: string[];
  undone: string[];
  /** Undo steps that failed: the gateway may not be exactly as before. */
  undoErrors: string[];
  /** Finalize steps that failed; the change stands, the next reconcile cleans up. */
  finalizeErrors: string[];
  /** How many undo errors no retry can fix (interfaces without rollback). */
  permanentUndoErrors?: number;
  /** A step refused the commit itself (RefusedError): retrying cannot help. */
  refused?: RefusedError['kind'];
}

export const newOutcome = (txn: string): ApplyOutcome => ({
  txn,
  status: 'applied',
  ran: [],
  undone: [],
  undoErrors: [],
  finalizeErrors: [],
});

/**
 * The transaction stopped where it was because of the gateway (the Docker Engine away longer than
 * a step waits, the state disk full), not because of the commit. Its journal is kept, marked
 * suspended, and the next reconcile goes on from it: not a verdict, nothing put back.
 */
export class TransactionSuspendedError extends Error {
  override name = 'TransactionSuspendedError';
  constructor(
    readonly interruption: Interruption,
    readonly txn: string,
    message: string,
  ) {
    super(message);
  }
}

/** An error as the journal and the log say it. */
export const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
