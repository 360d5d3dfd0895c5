// The verdict table: every fact about every verdict reason, one row each. Every other list of
// verdicts (the conditions a verdict sets, what `rollgate sync` prints and how it exits, the mark
// in `rollgate history`, what is sent to the hub, how the hub counts a commit, which verdicts a
// webhook tells about and in what words, the metrics' labels) is derived from this table, so a
// new reason is one row here, its producer (decide() in src/lifecycle/verdict.ts) and a test;
// test/model/verdicts.test.ts walks the rows through every derived view and checks that the
// README's vocabulary names each reason. The reasons' spellings are the strings already in state
// files, history and metrics: changing one breaks what operators and dashboards read.

import type { ConditionStatus, ConditionType } from './status.js';

/** The conditions a verdict sets; those absent stay as they were. Reconciling is live, never set by one. */
export type ConditionEffect = Partial<Record<Exclude<ConditionType, 'Reconciling'>, ConditionStatus>>;

/** How one gateway stands with one commit, fleet-wide: the hub counts each gateway once per commit. */
export type CommitOutcome = 'applied' | 'rolled-back' | 'rejected' | 'retrying';
export const COMMIT_OUTCOMES: readonly CommitOutcome[] = ['applied', 'rolled-back', 'rejected', 'retrying'];

/** How `rollgate sync` ends after the verdict; the CLI gives each its exit code. */
export type SyncExit = 'ok' | 'error' | 'rolled-back' | 'rollback-incomplete';

/** What a webhook's text is made of; the commits are shortened already, `because` is ` (why)` or empty. */
export interface NotifyWords {
  gateway: string;
  commit: string;
  to: string;
  because: string;
}

export interface VerdictFacts {
  /** The conditions it sets (Ready is about the branch: a rolled-back gateway is healthy and not ready). */
  conditions: ConditionEffect;
  /** Its commit is recorded as bad (or stays so): not applied again until the branch moves. Else it records none. */
  bad: boolean;
  /** What `rollgate sync` prints. */
  sync: string;
  exit: SyncExit;
  /** Its mark in `rollgate history`. */
  mark: string;
  /** It says nothing new about the gateway: not sent to the hub, the heartbeat covers it. */
  quiet: boolean;
  /** How the hub counts the gateway for its commit; null: it says nothing about the commit. */
  outcome: CommitOutcome | null;
  /** A webhook tells operators about it (its kind is the reason), in these words; null: no webhook. */
  notify: ((w: NotifyWords) => string) | null;
  /**
   * The `result` label of `rollgate_reconciles_total` it is counted under; null: it never ends a
   * reconcile that the counter counts (a poll's, the operator's or the agent's own verdicts).
   */
  reconciles: string | null;
}

const rolledBackText = (w: NotifyWords) => `${w.gateway} rolled back commit ${w.commit}${w.because} to ${w.to}`;

export const VERDICTS = {
  /** Applied, its health window passed: it is the last good commit now. */
  applied: {
    conditions: { Ready: 'True', Healthy: 'True', Stalled: 'False' },
    bad: false,
    sync: 'applied',
    exit: 'ok',
    mark: '✓',
    quiet: false,
    outcome: 'applied',
    notify: null,
    reconciles: 'applied',
  },
  /** The commit asks for nothing this gateway does not already run. */
  'no-change': {
    conditions: { Ready: 'True', Healthy: 'True', Stalled: 'False' },
    bad: false,
    sync: 'applied (nothing to change on this gateway)',
    exit: 'ok',
    mark: '=',
    quiet: false,
    outcome: 'applied',
    notify: null,
    reconciles: 'no-change',
  },
  /** Containers changed by hand were put back to the applied commit. */
  'drift-repaired': {
    conditions: { Ready: 'True', Stalled: 'False' },
    bad: false,
    sync: 'drift repaired: the gateway matches the applied commit again',
    exit: 'ok',
    mark: '✓',
    quiet: false,
    outcome: null,
    notify: null,
    reconciles: 'drift-repaired',
  },
  /** Putting drift back failed, and what it changed was undone. */
  'drift-repair-failed': {
    conditions: { Ready: 'False' },
    bad: false,
    sync: 'drift repair failed and was put back',
    exit: 'error',
    mark: '!',
    quiet: false,
    outcome: null,
    notify: null,
    reconciles: 'drift-repair-failed',
  },
  /** The commit failed and the gateway went back to the last good commit, which is healthy. */
  'rolled-back': {
    conditions: { Ready: 'False', Healthy: 'True', Stalled: 'True' },
    bad: true,
    sync: 'ROLLED BACK',
    exit: 'rolled-back',
    mark: '↩',
    quiet: false,
    outcome: 'rolled-back',
    notify: rolledBackText,
    reconciles: 'rolled-back',
  },
  /** Rolled back, and the last good commit failed its health window too. */
  'last-good-unhealthy': {
    conditions: { Ready: 'False', Healthy: 'False', Stalled: 'True' },
    bad: true,
    sync: 'ROLLED BACK, and the last good commit is UNHEALTHY too',
    exit: 'rolled-back',
    mark: '✗',
    quiet: false,
    outcome: 'rolled-back',
    notify: (w) =>
      `${w.gateway} rolled back commit ${w.commit}${w.because}, and the last good commit ${w.to} is unhealthy ` +
      'too: a person has to look',
    reconciles: 'last-good-unhealthy',
  },
  /** The commit failed and could not be put back completely; a person has to look. */
  'rollback-incomplete': {
    conditions: { Ready: 'False', Healthy: 'Unknown', Stalled: 'True' },
    bad: true,
    sync: 'ROLLBACK INCOMPLETE',
    exit: 'rollback-incomplete',
    mark: '✗',
    quiet: false,
    outcome: 'rolled-back',
    notify: (w) => `${w.gateway} could not completely roll back commit ${w.commit}${w.because}: a person has to look`,
    reconciles: 'rollback-incomplete',
  },
  /** The commit does not load, or no plan reaches it, or it is refused; nothing was touched. */
  rejected: {
    conditions: { Ready: 'False', Stalled: 'True' },
    bad: true,
    sync: 'REJECTED (the fleet repo does not load at this commit; nothing was changed)',
    exit: 'error',
    mark: '✗',
    quiet: false,
    outcome: 'rejected',
    notify: (w) => `${w.gateway} rejected commit ${w.commit}${w.because}; nothing on it was changed`,
    reconciles: 'rejected',
  },
  /** The branch points at a commit recorded as bad; it waits for the branch to move. */
  'bad-commit': {
    conditions: { Ready: 'False', Stalled: 'True' },
    bad: true,
    sync: 'the branch points at a commit that failed before; it is not applied again until the branch moves',
    exit: 'ok',
    mark: '✗',
    quiet: false,
    outcome: null,
    notify: null,
    reconciles: null,
  },
  /** Pulls or downloads failed before anything running was touched; retried soon. */
  'prepare-failed': {
    conditions: { Ready: 'False', Stalled: 'False' },
    bad: false,
    sync: 'not applied: preparing failed and nothing running was touched; the agent retries',
    exit: 'error',
    mark: '!',
    quiet: false,
    outcome: 'retrying',
    notify: null,
    reconciles: 'prepare-failed',
  },
  /**
   * The gateway's own configuration is at fault (no target matches its id and labels, a file it
   * names is missing or does not parse, an interface or the reboot command is not installed):
   * never a verdict on the commit. Nothing was changed, nothing is recorded as bad; retried.
   */
  'config-error': {
    conditions: { Ready: 'False', Stalled: 'True' },
    bad: false,
    sync:
      "not applied: the gateway's own configuration is at fault, not the commit; nothing was changed, nothing is " +
      'recorded as bad, and the agent retries',
    exit: 'error',
    mark: '!',
    quiet: false,
    outcome: 'retrying',
    notify: null,
    reconciles: 'config-error',
  },
  /** The fleet repo could not be polled. */
  'poll-failed': {
    conditions: { Ready: 'Unknown' },
    bad: false,
    sync: 'the fleet repo could not be polled; the gateway is left as it is',
    exit: 'error',
    mark: '!',
    quiet: false,
    outcome: null,
    notify: null,
    reconciles: null,
  },
  /** Anything else that stopped a reconcile; the gateway is left as it is. */
  error: {
    conditions: { Ready: 'Unknown' },
    bad: false,
    sync: 'error; the gateway is left as it is',
    exit: 'error',
    mark: '!',
    quiet: false,
    outcome: null,
    notify: null,
    reconciles: 'error',
  },
  /** A poll found the branch where it was (or a drift check found nothing to put back). */
  unchanged: {
    conditions: {},
    bad: false,
    sync: 'nothing new: the gateway matches the branch',
    exit: 'ok',
    mark: '=',
    quiet: true,
    outcome: null,
    notify: null,
    reconciles: 'no-change',
  },
  /** What a crash interrupted was finished or put back at start-up. */
  resumed: {
    conditions: {},
    bad: false,
    sync: 'an apply interrupted by a crash was resumed',
    exit: 'ok',
    mark: '»',
    quiet: false,
    outcome: null,
    notify: null,
    reconciles: null,
  },
  /** The agent is stopping; nothing new starts. */
  stopping: {
    conditions: {},
    bad: false,
    sync: 'the agent is stopping',
    exit: 'ok',
    mark: '·',
    quiet: true,
    outcome: null,
    notify: null,
    reconciles: null,
  },
  /** An operator cleared a commit's bad record (`rollgate forget`); the next poll may apply it. */
  forgotten: {
    conditions: {},
    bad: false,
    sync: 'the bad record of the commit was cleared by an operator; the next poll may apply it',
    exit: 'ok',
    mark: '⌫',
    quiet: false,
    outcome: null,
    notify: null,
    reconciles: null,
  },
  /**
   * A gate said "not yet" to the commit (a rollout wave not open yet): never a verdict on it. Nothing
   * is recorded as bad; the gateway keeps what it runs, or runs the rollout's base meanwhile. Not on
   * the branch's commit yet, and nothing for a person to do: the gate opens by itself.
   */
  deferred: {
    conditions: { Ready: 'False', Stalled: 'False' },
    bad: false,
    sync:
      'not yet: a gate defers the commit (nothing is recorded against it); the gateway keeps what it runs, or runs ' +
      "the rollout's base meanwhile",
    exit: 'ok',
    mark: '…',
    quiet: false,
    outcome: null,
    notify: null,
    reconciles: 'deferred',
  },
} as const satisfies Record<string, VerdictFacts>;

/** What one reconcile came to: the result of `rollgate sync`, a history entry, a metrics label. */
export type VerdictReason = keyof typeof VERDICTS;

/** Every reason, in the table's order. */
export const VERDICT_REASONS = Object.keys(VERDICTS) as VerdictReason[];

/** The row of a word read from outside (a state file or an answer a newer rollgate wrote); undefined: unknown here. */
export function verdictFacts(word: string): VerdictFacts | undefined {
  return Object.hasOwn(VERDICTS, word) ? VERDICTS[word as VerdictReason] : undefined;
}

/** The reasons whose row passes `test`, in the table's order. */
export function verdictsWhere(test: (row: VerdictFacts, reason: VerdictReason) => boolean): VerdictReason[] {
  return VERDICT_REASONS.filter((r) => test(VERDICTS[r], r));
}

/** The conditions each verdict sets. */
export const VERDICT_CONDITIONS: Readonly<Record<VerdictReason, ConditionEffect>> = Object.fromEntries(
  VERDICT_REASONS.map((r) => [r, VERDICTS[r].conditions]),
) as Record<VerdictReason, ConditionEffect>;

/** The verdicts a webhook tells about: each is its own kind. */
export type NotifyingVerdict = {
  [R in VerdictReason]: (typeof VERDICTS)[R]['notify'] extends null ? never : R;
}[VerdictReason];

/** The `result` labels of `rollgate_reconciles_total`, each once, in the table's order. */
export const RECONCILE_RESULTS: readonly string[] = [
  ...new Set(VERDICT_REASONS.flatMap((r) => VERDICTS[r].reconciles ?? [])),
];
