// Admission as an ordered list of gates. Before a commit touches the gateway it passes each gate
// in turn (./index.ts holds the list); each answers, through the lifecycle's ports:
//
// - admit: go on (the rollout gate may name another commit to run: the rollout's target or base);
// - refuse: the commit is bad, for the reason given — recorded, never applied again on its own;
// - defer: not yet, why and until when — no verdict on the commit: the gateway keeps what it runs,
//   or runs `instead` meanwhile (a rollout's base), and the deferral is recorded once per cause.
//
// A gate that cannot tell (the git server away while it fetches history) throws: an error of the
// gateway, retried, never a verdict. A new rule about whether or when a gateway may run a commit is
// one gate file here, its row in the list and its table test.

import type { RepoSource } from '../../manifest/index.js';
import type { BadReason, DesiredState, DeviceIdentity, GateName } from '../../model/index.js';
import type { FleetRollout, RolloutStanding } from '../../model/rollout.js';
import type { ParsedRolloutState } from '../../rollout/index.js';
import type { MaintenanceWindow } from '../../model/window.js';

export interface ClockReading {
  now: number;
  /** False: the system says its clock is not synchronised (timedatectl); undefined: it cannot tell. */
  synchronised?: boolean;
  /** How the system told, for the message (`timedatectl: NTPSynchronized=no`). */
  source?: string;
}

export interface LoadedCommit {
  desired: DesiredState;
  repo: RepoSource;
}

/** Why a gate refuses a commit: each a bad-commit record's kind. */
export type Refusal = Extract<BadReason, 'invalid' | 'untrusted' | 'rewrite' | 'forbidden'>;

/** What the gates are asked about. */
export interface Subject {
  /** The branch's head at this poll: the commit whose files (rollgate-rollout.yaml) say what to run. */
  head: string;
  /** The commit the gateway would run: the head, until the rollout gate names its target or its base. */
  commit: string;
  /** The commit the gateway runs now. */
  applied?: string;
  /** The last good commit: running it again is a return, which a maintenance window does not hold. */
  lastGood?: string;
  /**
   * Commits the gateway ran good before the last good one, newest first (a few, from its history): a
   * commit that gives this gateway what one of them gave it (a `git revert`) is a return too.
   */
  earlierGood?: string[];
  /** Where the gateway stands in the rollout at the head (the apply gates get it from the choice). */
  rollout?: RolloutStanding;
}

export type GateAnswer =
  | {
      kind: 'admit';
      /** Run this commit rather than the subject's (the rollout's target, or its base after an abort). */
      runs?: string;
      rollout?: RolloutStanding;
      /** The commit as loaded (the policy gate loads it, checked against the gateway's policy). */
      loaded?: LoadedCommit;
      /** Said in the log when the commit goes on (who signed it). */
      note?: string;
    }
  | { kind: 'refuse'; commit: string; bad: Refusal; reason: string }
  | {
      kind: 'defer';
      /** The commit that waits, when not the subject's (the rollout's target, for a head that carries its file). */
      commit?: string;
      /** What makes two deferrals the same, so one is recorded once. */
      cause: string;
      why: string;
      until?: string;
      /**
       * The moment (ms since the epoch, on the gateway's clock) before which asking again gives the
       * same answer, as long as the branch, the applied commit and the bad ones stay: a window's
       * opening. Absent: any poll may change it.
       */
      opensAt?: number;
      /** Run this meanwhile (a rollout's base); absent: keep what runs. */
      instead?: string;
      rollout?: RolloutStanding;
    };

/** What the gates read and check through: the agent wires them to its fleet source and configuration. */
export interface GatePorts {
  /**
   * The signer of a commit: throws TrustError ('untrusted') when it is not signed (or tagged, in tag
   * mode) by a trusted key; resolves to undefined when no keys are configured.
   */
  verify(commit: string): Promise<string | undefined>;
  /**
   * With promoter keys configured (trust.promoterKeys): who of them signed the commit itself; undefined
   * when none did. Absent: no promoter keys, and a head not signed by a release key is untrusted.
   */
  promoterSigner?(commit: string): Promise<string | undefined>;
  /** The parents of a commit and the paths it changes against its first parent (a promoter-signed head's rule). */
  commitShape?(commit: string): Promise<{ parents: string[]; changed: string[] }>;
  /** Whether `commit` descends from `ancestor` (or is it), fetching history past a shallow edge as needed. */
  descends(commit: string, ancestor: string): Promise<boolean>;
  /** trust.allowRewrite: a head that does not descend from the applied commit passes the descent gate. */
  allowRewrite?: boolean;
  /** This gateway's id and labels: its rollout wave. */
  gateway: DeviceIdentity;
  /** rollgate-rollout.yaml at `commit`, checked on its own; undefined when there is none. Throws FleetRepoError. */
  rolloutState(commit: string): Promise<ParsedRolloutState | undefined>;
  /**
   * The rollout policies of `commit`'s rollgate.yaml and the fleet target this gateway is in there
   * (undefined when none matches it). Throws FleetRepoError.
   */
  rolloutPolicy(commit: string): Promise<{ rollout: FleetRollout; target?: string }>;
  /**
   * The maintenance window `commit`'s fleet file gives this gateway; undefined when none. Absent:
   * no windows are read. Throws FleetRepoError.
   */
  maintenanceWindow?(commit: string): Promise<MaintenanceWindow | undefined>;
  /** The gateway's clock: now, and whether the system says it is synchronised (undefined: it cannot tell). */
  clock?(): Promise<ClockReading>;
  /** The committer's date of a commit (ms since the epoch): a clock before it is obviously wrong. */
  commitTime?(commit: string): Promise<number>;
  /** Loads a commit's desired state under the gateway's policy; throws FleetRepoError when it does not load. */
  load(commit: string): Promise<LoadedCommit>;
}

/**
 * `choose`: gates about which commit the branch's head gives this gateway, asked at every new head
 * (the answer is the same for the same head and applied commit). `apply`: gates about the commit
 * about to change the gateway, asked only when there is something to change.
 */
export type GatePhase = 'choose' | 'apply';

export interface Gate {
  name: GateName;
  phase: GatePhase;
  /** Why it sits where it does in the list, for the list's readers and its test. */
  why: string;
  check(s: Subject, p: GatePorts): Promise<GateAnswer>;
}

export const ADMIT: GateAnswer = { kind: 'admit' };

/** How the gates of a list answered, taken together. */
export type GateOutcome =
  | {
      kind: 'pass';
      subject: Subject;
      rollout?: RolloutStanding;
      loaded?: LoadedCommit;
      /** The gate that deferred the head's commit while the gateway runs `subject.commit` instead. */
      deferral?: { gate: GateName; commit: string; cause: string; why: string; until?: string; instead: string };
      passed: GateName[];
      notes: string[];
    }
  | { kind: 'refuse'; gate: GateName; commit: string; bad: Refusal; reason: string; rollout?: RolloutStanding }
  | {
      kind: 'defer';
      gate: GateName;
      commit: string;
      cause: string;
      why: string;
      until?: string;
      opensAt?: number;
      rollout?: RolloutStanding;
      passed: GateName[];
    }
  /** A gate could not tell (it threw): an error of the gateway, never a verdict on the commit. */
  | { kind: 'error'; gate: GateName; commit: string; error: unknown };

/**
 * Asks each gate in order. Admit goes on (with the commit it names, if any); refuse and a plain
 * defer stop; a defer with `instead` goes on with that commit, the deferral kept. A gate that
 * throws stops them too, as an error.
 */
export async function runGates(gates: readonly Gate[], subject: Subject, p: GatePorts): Promise<GateOutcome> {
  let s = subject;
  let rollout: RolloutStanding | undefined;
  let loaded: LoadedCommit | undefined;
  let deferral: Extract<GateOutcome, { kind: 'pass' }>['deferral'];
  const passed: GateName[] = [];
  const notes: string[] = [];
  for (const g of gates) {
    let a: GateAnswer;
    try {
      a = await g.check(s, p);
    } catch (error) {
      return { kind: 'error', gate: g.name, commit: s.commit, error };
    }
    if (a.kind === 'refuse')
      return {
        kind: 'refuse',
        gate: g.name,
        commit: a.commit,
        bad: a.bad,
        reason: a.reason,
        ...(rollout ? { rollout } : {}),
      };
    if (a.rollout) rollout = a.rollout;
    if (a.kind === 'defer') {
      const why = { cause: a.cause, why: a.why, ...(a.until !== undefined ? { until: a.until } : {}) };
      const commit = a.commit ?? s.commit;
      if (a.instead === undefined)
        return {
          kind: 'defer',
          gate: g.name,
          commit,
          ...why,
          ...(a.opensAt !== undefined ? { opensAt: a.opensAt } : {}),
          ...(rollout ? { rollout } : {}),
          passed,
        };
      deferral = { gate: g.name, commit, ...why, instead: a.instead };
      s = { ...s, commit: a.instead };
      continue;
    }
    passed.push(g.name);
    if (a.runs) s = { ...s, commit: a.runs };
    if (a.loaded) loaded = a.loaded;
    if (a.note) notes.push(a.note);
  }
  return {
    kind: 'pass',
    subject: s,
    passed,
    notes,
    ...(rollout ? { rollout } : {}),
    ...(loaded ? { loaded } : {}),
    ...(deferral ? { deferral } : {}),
  };
}
