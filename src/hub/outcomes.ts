// What a verdict says about the commit it names, fleet-wide: the hub counts each gateway once
// per commit, by the newest verdict it reported on it. Pure.

import type { VerdictReason } from '../model/index.js';

/** How one gateway stands with one commit. */
export type Outcome = 'applied' | 'rolled-back' | 'rejected' | 'retrying';

export const OUTCOMES: readonly Outcome[] = ['applied', 'rolled-back', 'rejected', 'retrying'];

const BY_VERDICT: Partial<Record<VerdictReason, Outcome>> = {
  applied: 'applied',
  'no-change': 'applied',
  'rolled-back': 'rolled-back',
  'rollback-incomplete': 'rolled-back',
  'last-good-unhealthy': 'rolled-back',
  rejected: 'rejected',
  'prepare-failed': 'retrying',
  'config-error': 'retrying',
};

/** The outcome a verdict records for its commit; undefined for verdicts that record none. */
export function outcomeOf(verdict: VerdictReason): Outcome | undefined {
  return BY_VERDICT[verdict];
}

/** Verdicts an operator is told about by webhook. */
export type NotifyKind = 'rolled-back' | 'rollback-incomplete' | 'rejected' | 'last-good-unhealthy' | 'silent';

export const NOTIFY_KINDS: readonly NotifyKind[] = [
  'rolled-back',
  'rollback-incomplete',
  'rejected',
  'last-good-unhealthy',
  'silent',
];

export function notifyKindOf(verdict: VerdictReason): NotifyKind | undefined {
  return (NOTIFY_KINDS as readonly string[]).includes(verdict) ? (verdict as NotifyKind) : undefined;
}
