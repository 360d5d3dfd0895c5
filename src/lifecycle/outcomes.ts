// What the rollback policy (./verdict.ts) is given and what it answers: the outcomes of a commit,
// the next action, the verdict and the decision. Types only, so the policy's file holds its rules.

import type { AgentState, BadCommit, BadReason, GateName, ResumeReason, VerdictReason } from '../model/index.js';
import type { ApplyOutcome } from '../apply/index.js';

/** How one transaction ended, as far as the policy cares. Absent: the plan had no steps. */
export type TransactionSummary = Pick<
  ApplyOutcome,
  'status' | 'error' | 'failedStep' | 'ran' | 'undone' | 'undoErrors' | 'refused'
>;

/** The result of rolling back to the last good commit (./to-last-good.ts). */
export interface RollbackSummary {
  /** The commit rolled back to; absent when no commit was ever good on this gateway. */
  to?: string;
  converged: boolean;
  convergeError?: string;
  steps: string[];
  /** The last good state's health after the rollback; absent when there was nothing to check. */
  healthy?: boolean;
  healthReason?: string;
}

export type Outcome =
  /** The commit does not load, no plan reaches it, or it is not trusted (`bad` says which). */
  | {
      kind: 'invalid';
      commit: string;
      reason: string;
      bad?: Extract<BadReason, 'invalid' | 'untrusted' | 'rewrite' | 'forbidden'>;
    }
  /** The transaction of a commit ended (or had nothing to do: `transaction` absent). */
  | { kind: 'transaction'; commit: string; transaction?: TransactionSummary; resumed?: boolean }
  /** The transaction failed; recorded before anything is undone. */
  | {
      kind: 'failing';
      commit: string;
      error: string;
      step?: string;
      healthFailed: boolean;
      /** The failed step refused the commit itself (e.g. forbidden by the policy): that is why it is bad. */
      refused?: Extract<BadReason, 'invalid' | 'untrusted' | 'forbidden'>;
    }
  /** The rollback to the last good commit ended. */
  | { kind: 'rollback'; failed: BadCommit; rollback: RollbackSummary; ran: string[] }
  /** The gateway's own configuration is at fault, not the commit; nothing was changed. */
  | { kind: 'config-error'; commit: string; reason: string }
  /**
   * A gate said "not yet" to the commit: no verdict on it. `cause` tells deferrals apart (one is
   * recorded once); `instead`: the commit the gateway runs meanwhile (a rollout's base).
   */
  | {
      kind: 'deferred';
      commit: string;
      gate: GateName;
      cause: string;
      detail: string;
      until?: string;
      instead?: string;
    }
  /**
   * A gateway the last rollback left stalled (rollback incomplete, last good commit unhealthy)
   * was converged to the last good commit again and its health checked again.
   */
  | { kind: 'recovery'; failed: BadCommit; rollback: RollbackSummary }
  /**
   * At start-up, the commit in progress when the agent died. `resumed`: what resuming its journal
   * did (absent without a journal); `matchesLive`: whether the gateway already runs it (asked for
   * by the `check-live` action).
   */
  | {
      kind: 'interrupted';
      commit: string;
      resumed?: { action: ResumeReason; transaction?: TransactionSummary };
      matchesLive?: boolean;
    };

export type Next =
  /** Nothing more for this commit. */
  | { action: 'done' }
  /** Go back to the last good commit (`lastGood` absent: there is none; stay as the undo left it). */
  | { action: 'roll-back'; failed: BadCommit; lastGood?: string; ran: string[] }
  /** Find out whether the gateway already runs the commit, and decide again. */
  | { action: 'check-live' }
  /** Leave it; the next poll applies the commit again. */
  | { action: 'retry' }
  /** Go on undoing; the verdict is recorded. */
  | { action: 'undo' };

export interface Verdict {
  reason: VerdictReason;
  commit?: string;
  detail?: string;
  steps?: string[];
  /** For rollbacks: the commit the gateway went back to. */
  to?: string;
}

export interface Decision {
  state: AgentState;
  next: Next;
  /** What the reconcile came to; absent while the policy still has a step to take. */
  verdict?: Verdict;
  /** Pin the commit as applied and last good in the repo (so a shallow fetch keeps it). */
  pin?: string;
}
