// Staged rollouts as data: the policy of the fleet repo (rollgate.yaml `rollout:`), the rollout's
// progress (rollgate-rollout.yaml, written by the promoter), what a gateway may run, and what a
// wave's gate makes of the hub's evidence. The functions over them are in src/rollout (pure).

/** What a wave's gate does when the wave's timeout passes before the gate was met. */
export type TimeoutAction = 'pause' | 'abort';

/**
 * How a gateway of the wave that has not reported for `silentAfter` counts: `wait` (not healthy, so
 * the wave waits for it), `exclude` (left out of the count) or `fail` (a failure).
 */
export type SilentRule = 'wait' | 'exclude' | 'fail';

/** A wave's gate, every value resolved (the policy's defaults and the wave's own keys). */
export interface RolloutGate {
  /** Share of the wave's counted gateways that must be healthy for `soakMs` (0 < x ≤ 100). */
  successPercent: number;
  /** How long a gateway must be healthy on the target, confirmed by a report, to count. */
  soakMs: number;
  /** How long the wave may take from its opening (or its resumption) before `onTimeout`. */
  timeoutMs: number;
  onTimeout: TimeoutAction;
  /** Failures the wave tolerates; one more aborts the rollout. */
  maxFailures: number;
  silent: SilentRule;
  /** A gateway whose last report is older than this (the hub's clock) does not report. */
  silentAfterMs: number;
}

/** Labels or ids (all given must hold, as a fleet target's `match`): canaries, named sites. */
export interface WaveMatch {
  ids?: string[];
  labels?: Record<string, string | string[]>;
}

export type WaveSelector = { kind: 'match'; match: WaveMatch } | { kind: 'percent'; percent: number };

export interface RolloutWave {
  name: string;
  select: WaveSelector;
  gate: RolloutGate;
}

/** The waves of one policy, in order. A gateway is in exactly one of them. */
export interface RolloutPolicy {
  waves: RolloutWave[];
}

/**
 * A gateway's rollout policy: its fleet target's own `rollout:` when it has one (`none`: all at once
 * once a rollout runs), else the fleet's; undefined when neither says anything (all at once).
 */
export type TrackPolicy = RolloutPolicy | 'none' | undefined;

/** Whose waves: the fleet's policy, or the one of a fleet target that has its own. */
export type TrackKey = { kind: 'fleet' } | { kind: 'target'; name: string };

/** The rollout policies of one fleet file, resolved. */
export interface FleetRollout {
  fleet?: RolloutPolicy;
  /** Fleet targets with a `rollout:` of their own, by target name. */
  targets: Record<string, RolloutPolicy | 'none'>;
}

export type RolloutStateName = 'rolling' | 'paused' | 'aborted' | 'complete';

/** A wave the promoter opened: from then on its gateways are admitted. */
export interface OpenedWave {
  /** ISO 8601, the hub's clock. */
  opened: string;
  /** Set when the rollout was resumed after a pause: the wave's timeout counts from here. */
  resumed?: string;
  /**
   * The exact hash threshold the promoter admitted (0 < x ≤ 1): a gateway of a percent wave is in it
   * when its bucket is under this, instead of under percent / 100.
   */
  threshold?: number;
}

export interface BadCommitRecord {
  commit: string;
  /** The rollout that found it bad. */
  rollout?: string;
  reason: string;
}

export type RolloutAction = 'start' | 'open' | 'pause' | 'resume' | 'abort' | 'complete' | 'note';

/** What a gate saw when a step was taken, as written into the step. */
export interface StepEvidence {
  decision?: GateDecisionName;
  cause?: string;
  members?: number;
  counted?: number;
  healthy?: number;
  soaking?: number;
  applying?: number;
  pending?: number;
  silent?: number;
  failed?: number;
  failures?: { gateway: string; reason: string }[];
}

/** One step of the rollout: who did what and why, with the evidence. */
export interface RolloutStep {
  at: string;
  by: string;
  action: RolloutAction;
  why: string;
  track?: string;
  wave?: number;
  evidence?: StepEvidence;
}

/** rollgate-rollout.yaml: the rollout's progress, at the branch's head. */
export interface RolloutState {
  id: string;
  salt: string;
  /** The fleet's last known good commit: what a gateway that is not admitted runs. */
  base: string;
  /** The commit being rolled out; its rollgate.yaml holds the policy. */
  target: string;
  state: RolloutStateName;
  /** The waves opened so far, per track, in order; the last one is the open one. */
  waves: { fleet: OpenedWave[]; targets: Record<string, OpenedWave[]> };
  /** The fleet's last known bad commits: never a rollout's target again. */
  bad: BadCommitRecord[];
  steps: RolloutStep[];
}

/** Why a gateway runs what it runs: a closed set, like the agent's verdicts. */
export type AdmissionCode =
  | 'no-policy' // no rollout policy and no rollout: every commit as the gateway polls
  | 'no-rollout' // a policy, but no rollout started yet: the branch's head, as without one
  | 'all-at-once' // a rollout runs, and the gateway's policy has no waves: the target at once
  | 'admitted' // its wave is open: the target
  | 'not-yet' // its wave is not open yet: the base, and no verdict on the target
  | 'paused' // the rollout is paused before its wave: the base
  | 'complete' // the rollout is complete: the target, everywhere
  | 'aborted'; // the target is bad: the base, everywhere, and the target never again

export interface WaveMembership {
  /** 0-based; shown 1-based. */
  index: number;
  name: string;
  /** Waves of the policy. */
  of: number;
  by: 'match' | 'percent';
  /** Percent waves: the gateway's place in [0, 1) and the threshold it is under. */
  bucket?: number;
  threshold?: number;
  /** Whether the threshold is the one the promoter published (else percent / 100). */
  exact?: boolean;
}

/** A rollout as a verdict names it: the one the gateway acted under (history entries, reports). */
export interface RolloutRef {
  id: string;
  /** The commit the rollout takes to the fleet. */
  target: string;
}

/**
 * Where a gateway stands in the rollout at the branch's head, as its agent worked it out: what the
 * agent keeps in its state, `rollgate status` shows and reports carry to the hub.
 */
export interface RolloutStanding extends RolloutRef {
  base: string;
  state: RolloutStateName;
  /** The commit admission gives the gateway now. */
  runs: 'base' | 'target';
  code: AdmissionCode;
  /** Absent when the gateway's policy has no waves. */
  wave?: { number: number; of: number; name: string; open: boolean };
  /** Why, for people (the admission's message). */
  message: string;
}

export interface Admission {
  admitted: boolean;
  runs: { commit: string; as: 'head' | 'base' | 'target' };
  /** Undefined when the gateway's policy has no waves, or no rollout runs (no salt). */
  wave?: WaveMembership & { open: boolean };
  reason: { code: AdmissionCode; message: string };
}

/** What the hub knows of one gateway of the open wave; every time is the hub's clock (ms since the epoch). */
export interface GatewayEvidence {
  id: string;
  /** The rollout target the gateway's latest reports are about; reports about another commit are no evidence. */
  target?: string;
  /** The hub's time of the gateway's last report of any kind. */
  lastSeen?: number;
  /** It has run the target healthy, without a break, since this time. */
  healthySince?: number;
  /** It reported that the target failed here (health failed, rolled back, rejected). */
  failed?: { at: number; reason: string };
}

/** How one gateway of the wave counts now. */
export type GatewayStanding = 'healthy' | 'soaking' | 'applying' | 'pending' | 'silent' | 'failed';

export type GateDecisionName = 'advance' | 'wait' | 'pause' | 'abort';

export type WaitCause =
  | { kind: 'threshold'; healthy: number; needed: number; counted: number }
  | { kind: 'soak'; soaking: number; nextAt: number }
  | { kind: 'applying'; count: number }
  | { kind: 'pending'; count: number }
  | { kind: 'silent'; count: number }
  | { kind: 'empty' };

export interface GateCounts {
  members: number;
  /** Members the success share is taken of (members less the silent ones under `silent: exclude`). */
  counted: number;
  /** Healthy members needed to advance. */
  needed: number;
  healthy: number;
  soaking: number;
  applying: number;
  pending: number;
  silent: number;
  /** Failures, silent ones included under `silent: fail`. */
  failed: number;
}

export interface GateResult {
  decision: GateDecisionName;
  counts: GateCounts;
  /** Each member's standing, in the order given. */
  gateways: { id: string; standing: GatewayStanding; reason?: string }[];
  /** For `wait`: every reason it waits. */
  causes: WaitCause[];
  /** When the wave times out (ms, the hub's clock). */
  timeoutAt: number;
  /** One sentence for people: what was decided and why. */
  message: string;
}

/** One gateway as the hub's evidence about a rollout's target names it: who it is, and what its reports say. */
export interface EvidenceGateway extends GatewayEvidence {
  /** The labels the gateway reports (its own identity), else those the hub was given for it. */
  labels: Record<string, string>;
}

/**
 * What the hub knows about one rollout's target: every gateway it knows, with times on its own
 * clock (`GET /api/v1/rollouts/{id}/evidence?target=<sha>`). The promoter puts each gateway in its
 * track and wave itself, from the target's policy, as the gateway does.
 */
export interface RolloutEvidence {
  /** The hub's clock when it answered (ms since the epoch). */
  now: number;
  gateways: EvidenceGateway[];
}

/** How a rollout command ends: `waits` (exit 2) and `attention` (3: paused or aborted) tell a timer or CI. */
export type RolloutExit = 'ok' | 'waits' | 'attention';

/** What a rollout command decided: a step to write as a commit, or nothing to write and why. */
export type RolloutOutcome =
  | {
      kind: 'write';
      /** The state with the step taken. */
      state: RolloutState;
      step: RolloutStep;
      /** The commit's subject: what the step does. */
      title: string;
      exit: RolloutExit;
    }
  | { kind: 'none'; message: string; exit: RolloutExit };
