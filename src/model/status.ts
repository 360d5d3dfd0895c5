// The one vocabulary rollgate speaks about a gateway's state: Flux-style conditions, each with a
// reason from one closed set. The agent's verdicts, its persisted state and history, `rollgate
// status`, `sync` and `history`, metrics labels and logs all use these words and no others; the
// reasons' values are the strings already in state files, history and metrics, so nothing an
// operator or a dashboard reads changed its spelling.

import { fields, optional, type Shape } from '../base/shape.js';
import type { RolloutRef, RolloutStanding } from './rollout.js';
import { VERDICT_CONDITIONS, type VerdictReason } from './verdicts.js';

export const Reason = {
  // ---- verdicts on a commit: what each means, sets and says is its row in ./verdicts.ts
  Applied: 'applied',
  NoChange: 'no-change',
  Unchanged: 'unchanged',
  RolledBack: 'rolled-back',
  RollbackIncomplete: 'rollback-incomplete',
  LastGoodUnhealthy: 'last-good-unhealthy',
  Rejected: 'rejected',
  PrepareFailed: 'prepare-failed',
  KnownBad: 'bad-commit',
  PollFailed: 'poll-failed',
  Error: 'error',
  Stopping: 'stopping',
  Resumed: 'resumed',
  DriftRepaired: 'drift-repaired',
  DriftRepairFailed: 'drift-repair-failed',
  ConfigError: 'config-error',
  Forgotten: 'forgotten',
  /**
   * A gate said "not yet" to the commit (a rollout wave not open yet): never a verdict on it. Nothing
   * is recorded as bad; the gateway keeps what it runs, or runs the rollout's base meanwhile.
   */
  Deferred: 'deferred',

  // ---- why a commit is bad (each a bad-commit record's kind)
  /** The fleet repo at this commit did not load, or no plan reaches it. */
  Invalid: 'invalid',
  /** A step failed and the apply was rolled back. */
  ApplyFailed: 'apply-failed',
  /** The apply went through, and the health window failed. */
  HealthFailed: 'health-failed',
  /** The agent was killed while applying it, again and again. */
  Interrupted: 'interrupted',
  /** Not signed by a trusted key (or its signature does not verify). */
  Untrusted: 'untrusted',
  /** It does not descend from the applied commit: a force-push or a downgrade. */
  Rewrite: 'rewrite',
  /** It asks for more than the gateway's policy allows. */
  Forbidden: 'forbidden',

  // ---- what resuming an interrupted transaction did
  /** Nothing had started; nothing to put back. */
  NothingTouched: 'nothing-touched',
  /** Its finalize was completed. */
  Finished: 'finished',
  /** It had rebooted the gateway on purpose and went on to its end. */
  Continued: 'continued',

  // ---- what the agent is doing (the Reconciling condition)
  Starting: 'starting',
  Idle: 'idle',
  Polling: 'polling',
  Applying: 'applying',
  Health: 'health',
  RollingBack: 'rolling-back',

  // ---- a transaction's phases (its journal)
  Prepare: 'prepare',
  Stages: 'stages',
  Confirm: 'confirm',
  Commit: 'commit',
  Finalize: 'finalize',
} as const;

/** Every word; a verdict's row in ./verdicts.ts makes it one without a constant here. */
export type Reason = (typeof Reason)[keyof typeof Reason] | VerdictReason;

/** Why a commit was recorded as bad. */
export type BadReason = Extract<
  Reason,
  | 'invalid'
  | 'apply-failed'
  | 'health-failed'
  | 'rollback-incomplete'
  | 'interrupted'
  | 'untrusted'
  | 'rewrite'
  | 'forbidden'
>;

/** How one transaction ended. */
export type TransactionReason = Extract<Reason, 'applied' | 'prepare-failed' | 'rolled-back' | 'rollback-incomplete'>;

/** What resuming an interrupted transaction did. */
export type ResumeReason = Extract<Reason, 'nothing-touched' | 'rolled-back' | 'finished' | 'continued'>;

/** What the agent is doing. */
export type ActivityReason = Extract<
  Reason,
  'starting' | 'idle' | 'polling' | 'applying' | 'health' | 'rolling-back' | 'stopping'
>;

/**
 * How far the activity has come, for `rollgate status` and systemd's STATUS= line: the step an
 * apply has started (the n-th of the plan's), or when the health window can pass at the
 * earliest (every required check held for the window) and when it fails at the latest.
 */
export type ActivityProgress =
  { kind: 'step'; n: number; of: number; step: string } | { kind: 'health'; passAt: string; failAt: string };

/** A transaction's phase, as its journal records it. */
export type TransactionPhase = Extract<
  Reason,
  'prepare' | 'stages' | 'confirm' | 'commit' | 'rolling-back' | 'finalize'
>;

/**
 * The admission gates a commit passes before it is applied, in their order (src/lifecycle/gates):
 * the head's signature, its descent from the applied commit, the rollout wave (which commit the
 * gateway may run now), the maintenance window (when), the gateway's policy (what it asks for).
 */
export type GateName = 'trust' | 'descent' | 'rollout' | 'window' | 'policy';

/** A gate's "not yet": which commit waits, at which gate, why and until when. */
export interface Deferral {
  commit: string;
  gate: GateName;
  /** What makes two deferrals the same: one is recorded once, however many polls find it again. */
  cause: string;
  detail: string;
  /** When the gate may answer otherwise: a time, or what has to happen (`wave 3 of 4 "half" opens`). */
  until?: string;
  /** The commit the gateway runs meanwhile (a rollout's base); absent: it keeps what it runs. */
  instead?: string;
  /** ISO time it was first recorded. */
  since: string;
}

/**
 * - `Ready`: the gateway runs the branch's commit.
 * - `Healthy`: what it runs passed its health window.
 * - `Reconciling`: a reconcile is under way (live only, never persisted).
 * - `Stalled`: nothing changes until a person acts (moves the branch, fixes the gateway).
 */
export type ConditionType = 'Ready' | 'Healthy' | 'Reconciling' | 'Stalled';
export const CONDITION_TYPES: readonly ConditionType[] = ['Ready', 'Healthy', 'Reconciling', 'Stalled'];

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: Reason;
  /** For operators: what happened, naming the commit, step or check. */
  message?: string;
  commit?: string;
  /** ISO time the condition last changed status or reason. */
  since: string;
}

export interface CommitMark {
  commit: string;
  /** ISO time. */
  at: string;
}

export interface BadCommit {
  commit: string;
  kind: BadReason;
  reason: string;
  /** ISO time it was recorded. */
  at: string;
  /** The step that failed, when one did. */
  step?: string;
}

/** One entry of the gateway's history: a verdict and the conditions it set. */
export interface HistoryEntry {
  at: string;
  event: VerdictReason;
  commit?: string;
  /** For rollbacks: the commit the gateway went back to. */
  to?: string;
  detail?: string;
  /** Step ids that ran, in order. */
  steps?: string[];
  /** The conditions this verdict changed. */
  conditions?: { type: ConditionType; status: ConditionStatus }[];
  /** Who asked, for what an operator did by hand (`rollgate forget`). */
  by?: string;
  /** The staged rollout the gateway acted under when the verdict was recorded. */
  rollout?: RolloutRef;
}

/** The gateway's status as data: what `rollgate status` shows and reports carry. */
export interface GatewayStatus {
  applied?: CommitMark;
  lastGood?: CommitMark;
  lastAttempted?: CommitMark & { reason: VerdictReason };
  bad: BadCommit[];
  conditions: Condition[];
}

/** The agent's persisted state: written through after every verdict (src/agent/state.ts). */
export interface AgentState {
  schema: 'rollgate.agent-state/v1';
  /** The commit the gateway was last converged to. */
  applied?: CommitMark;
  /** The last commit that was applied and passed its health window. */
  lastGood?: CommitMark;
  /** The last commit a verdict was reached on, and the verdict. */
  lastAttempted?: CommitMark & { reason: VerdictReason };
  bad: BadCommit[];
  /** The apply started and not yet ended; with the journal, what a crash interrupted. */
  inProgress?: { commit: string; since: string; attempts: number };
  /** Set when the last good state failed its health check after a rollback. */
  lastGoodUnhealthy?: { commit: string; reason: string; at: string };
  /**
   * A failed commit whose rollback to the last good commit has not ended: the Docker Engine went
   * away (or the disk filled) during it. It is finished before anything else, once it can be.
   */
  rollingBack?: { commit: string; since: string };
  lastError?: { at: string; message: string; commit?: string };
  /** The staged rollout at the branch's head, and where this gateway stands in it; absent: none runs. */
  rollout?: RolloutStanding;
  /** The commit a gate said "not yet" to, and why (a verdict of its own, recorded once per cause). */
  deferred?: Deferral;
  /** Ready, Healthy, Stalled as the last verdicts left them (Reconciling is live only). */
  conditions: Condition[];
  history: HistoryEntry[];
}

export function emptyState(): AgentState {
  return { schema: 'rollgate.agent-state/v1', bad: [], conditions: [], history: [] };
}

/** The conditions after a verdict: those it sets change (with `since` now), the others stay. */
export function withVerdict(
  conditions: readonly Condition[],
  verdict: { reason: VerdictReason; commit?: string; message?: string },
  at: string,
): Condition[] {
  const effect = VERDICT_CONDITIONS[verdict.reason];
  const out = conditions.filter((c) => c.type !== 'Reconciling' && effect[c.type] === undefined);
  for (const type of CONDITION_TYPES) {
    const status = type === 'Reconciling' ? undefined : effect[type];
    if (!status) continue;
    const before = conditions.find((c) => c.type === type);
    const same = before && before.status === status && before.reason === verdict.reason;
    out.push({
      type,
      status,
      reason: verdict.reason,
      ...(verdict.message !== undefined ? { message: verdict.message } : {}),
      ...(verdict.commit !== undefined ? { commit: verdict.commit } : {}),
      since: same ? before.since : at,
    });
  }
  return out.sort((a, b) => CONDITION_TYPES.indexOf(a.type) - CONDITION_TYPES.indexOf(b.type));
}

/** The live Reconciling condition from what the agent is doing. */
export function reconciling(activity: ActivityReason, since: string, commit?: string): Condition {
  const busy = activity !== 'idle' && activity !== 'stopping';
  return {
    type: 'Reconciling',
    status: busy ? 'True' : 'False',
    reason: activity,
    since,
    ...(commit ? { commit } : {}),
  };
}

const str = 'string';
const MARK = fields<CommitMark>({ commit: str, at: str });
const ROLLOUT_REF = fields<RolloutRef>({ id: str, target: str });

/**
 * The shape of `agent-state.json` (src/base/shape.ts), checked on every read so that a file of any
 * other shape is named with its field, never met later as a TypeError. Reasons and kinds are
 * checked as strings: a file a newer rollgate wrote may hold words this one does not know yet.
 */
export const AGENT_STATE_SHAPE: Shape = fields<AgentState>({
  schema: { literal: 'rollgate.agent-state/v1' },
  applied: optional(MARK),
  lastGood: optional(MARK),
  lastAttempted: optional(fields<NonNullable<AgentState['lastAttempted']>>({ commit: str, at: str, reason: str })),
  bad: { list: fields<BadCommit>({ commit: str, kind: str, reason: str, at: str, step: optional(str) }) },
  inProgress: optional(fields<NonNullable<AgentState['inProgress']>>({ commit: str, since: str, attempts: 'number' })),
  lastGoodUnhealthy: optional(
    fields<NonNullable<AgentState['lastGoodUnhealthy']>>({ commit: str, reason: str, at: str }),
  ),
  lastError: optional(fields<NonNullable<AgentState['lastError']>>({ at: str, message: str, commit: optional(str) })),
  rollingBack: optional(fields<NonNullable<AgentState['rollingBack']>>({ commit: str, since: str })),
  rollout: optional(
    fields<RolloutStanding>({
      id: str,
      target: str,
      base: str,
      state: str,
      runs: str,
      code: str,
      wave: optional(
        fields<NonNullable<RolloutStanding['wave']>>({ number: 'number', of: 'number', name: str, open: 'boolean' }),
      ),
      message: str,
    }),
  ),
  deferred: optional(
    fields<Deferral>({
      commit: str,
      gate: str,
      cause: str,
      detail: str,
      until: optional(str),
      instead: optional(str),
      since: str,
    }),
  ),
  conditions: {
    list: fields<Condition>({
      type: str,
      status: str,
      reason: str,
      message: optional(str),
      commit: optional(str),
      since: str,
    }),
  },
  history: {
    list: fields<HistoryEntry>({
      at: str,
      event: str,
      commit: optional(str),
      to: optional(str),
      detail: optional(str),
      steps: optional({ list: str }),
      conditions: optional({
        list: fields<{ type: ConditionType; status: ConditionStatus }>({ type: str, status: str }),
      }),
      by: optional(str),
      rollout: optional(ROLLOUT_REF),
    }),
  },
});
