// What follows a poll, decided from the persisted state alone: pure, and here rather than in
// src/lifecycle so that the agent's resident part can tell "nothing to do" without loading the
// commit lifecycle (it runs in a worker process only when there is work).

import { Reason } from './status.js';
import type { AgentState, BadCommit } from './status.js';

const badOf = (state: AgentState, commit: string): BadCommit | undefined => state.bad.find((b) => b.commit === commit);

export type PollDecision =
  | { action: 'skip-bad'; bad: BadCommit }
  | { action: 'apply' }
  | { action: 'check-drift' }
  | { action: 'nothing' }
  /** A rollback the Engine (or a full disk) paused is finished before anything else. */
  | { action: 'finish-rollback'; failed: BadCommit }
  /** The gateway a rollback left stalled is converged to the last good commit again and checked. */
  | { action: 'recover'; failed: BadCommit; lastGood: string };

/** What a stalled gateway is left with, when a look at it again may help: the failed commit whose rollback stalled. */
export function stalledOn(state: AgentState): BadCommit | undefined {
  const last = state.lastAttempted;
  if (!last || (last.reason !== Reason.RollbackIncomplete && last.reason !== Reason.LastGoodUnhealthy))
    return undefined;
  return badOf(state, last.commit);
}

/**
 * After a poll found the branch at `commit`: finish a paused rollback, skip a bad commit (looking
 * again at a gateway its rollback left stalled, when `recoverDue`), apply a new one, check drift,
 * or nothing. A bad commit is never applied again (safety rule 5).
 */
export function afterPoll(
  state: AgentState,
  commit: string,
  driftDue: boolean,
  recoverDue: boolean = driftDue,
): PollDecision {
  const pending = state.rollingBack && badOf(state, state.rollingBack.commit);
  if (pending) return { action: 'finish-rollback', failed: pending };
  const bad = badOf(state, commit);
  const stalled = bad && stalledOn(state);
  if (stalled && recoverDue && state.lastGood)
    return { action: 'recover', failed: stalled, lastGood: state.lastGood.commit };
  if (bad) return { action: 'skip-bad', bad };
  if (commit !== state.applied?.commit) return { action: 'apply' };
  return driftDue ? { action: 'check-drift' } : { action: 'nothing' };
}

/**
 * What a remembered choice of the commit to run rests on: the head, the applied commit and the bad
 * ones. The lifecycle keys its memory on it, and the resident part reads that memory with the same
 * key, so an idle poll asks no gate in either.
 */
export const choiceKey = (head: string, state: Readonly<AgentState>): string =>
  [head, state.applied?.commit, ...state.bad.map((b) => b.commit)].join(' ');
