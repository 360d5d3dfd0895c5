// What a verdict says about the commit it names, fleet-wide, and which verdicts a webhook tells
// about: both read from the verdict table (src/model/verdicts.ts). Pure.

import {
  COMMIT_OUTCOMES,
  VERDICTS,
  verdictsWhere,
  type CommitOutcome,
  type NotifyingVerdict,
  type VerdictReason,
} from '../model/index.js';

/** How one gateway stands with one commit. */
export type Outcome = CommitOutcome;

export const OUTCOMES: readonly Outcome[] = COMMIT_OUTCOMES;

/** The outcomes that are a failure of the commit on a gateway (the fleet's lists of failures). */
export const FAILED_OUTCOMES: readonly Outcome[] = ['rolled-back', 'rejected'];

/** The verdicts that end in a failed outcome, in the table's order. */
export const FAILURE_VERDICTS: readonly VerdictReason[] = verdictsWhere(
  (row) => row.outcome !== null && FAILED_OUTCOMES.includes(row.outcome),
);

/** The outcome a verdict records for its commit; undefined for verdicts that record none. */
export function outcomeOf(verdict: VerdictReason): Outcome | undefined {
  return VERDICTS[verdict].outcome ?? undefined;
}

/** What an operator is told about by webhook: the verdicts whose row says so, and a gateway gone silent. */
export type NotifyKind = NotifyingVerdict | 'silent';

export const NOTIFY_KINDS: readonly NotifyKind[] = [
  ...verdictsWhere((row) => row.notify !== null).map((r) => r as NotifyingVerdict),
  'silent',
];

/** The webhook kind of a verdict (the verdict itself), or undefined when no webhook tells about it. */
export function notifyKindOf(verdict: VerdictReason): NotifyingVerdict | undefined {
  return VERDICTS[verdict].notify ? (verdict as NotifyingVerdict) : undefined;
}
