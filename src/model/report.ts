// What an agent tells a fleet hub, and nothing more: the wire format of `POST /api/v1/reports`.
// The agent writes it (src/report), the hub reads it (src/hub); both take these types from here.
// A report is one gateway's status now plus the verdict events not yet delivered; each event has
// an id the hub deduplicates on, so sending one twice is harmless (at-least-once delivery).

import type { RolloutRef, RolloutStanding } from './rollout.js';
import type { BadReason, CommitMark, Condition, ConditionType, ConditionStatus, Deferral } from './status.js';
import type { VerdictReason } from './verdicts.js';

export const REPORT_SCHEMA = 'rollgate.report/v1';

/** One verdict the agent recorded (a history entry), as sent to the hub. */
export interface ReportEvent {
  /** Unique per gateway and event; the hub keeps the first copy it gets. */
  id: string;
  /** ISO time the verdict was recorded. */
  at: string;
  verdict: VerdictReason;
  commit?: string;
  /** For rollbacks: the commit the gateway went back to. */
  to?: string;
  /** Why the commit is bad, when the verdict recorded it as bad. */
  reason?: BadReason;
  detail?: string;
  conditions?: { type: ConditionType; status: ConditionStatus }[];
  /** The staged rollout the gateway acted under: a hub counts only reports about its target (newer agents). */
  rollout?: RolloutRef;
}

export interface ReportedComponent {
  key: string;
  type: string;
  /** The version rollgate last committed on it. */
  version?: string;
  /** An update is in flight on it. */
  updating?: boolean;
}

export interface ReportedContainer {
  app: string;
  service: string;
  image: string;
  state: string;
  health?: string;
  commit?: string;
}

/** The gateway's status when the report was sent: what a heartbeat carries. */
export interface ReportStatus {
  labels: Record<string, string>;
  applied?: CommitMark;
  lastGood?: CommitMark;
  lastAttempted?: CommitMark & { reason: VerdictReason };
  /** The branch's commit at the last poll. */
  head?: string;
  conditions: Condition[];
  bad: { commit: string; kind: BadReason; reason: string; at: string }[];
  lastError?: { at: string; message: string; commit?: string };
  /** The staged rollout at the branch's head and the gateway's place in it. Optional: newer agents, and a rollout. */
  rollout?: RolloutStanding;
  /** The commit a gate defers and why (`waiting for the window that opens at …`). Optional: newer agents. */
  deferred?: Deferral;
  components: ReportedComponent[];
  containers: ReportedContainer[];
  version: string;
  /** Resident memory of the agent, bytes. */
  rssBytes: number;
  /** ISO time the agent started. */
  startedAt: string;
}

/**
 * Where a report stands in its gateway's order: the hub keeps the status of the newest report it
 * has seen, whatever order reports arrive in. `seq` grows with every report of one state
 * directory (it survives restarts); `boot` names that state directory's numbering, so a gateway
 * whose state directory was wiped starts a new one, which the hub takes as newer.
 */
export interface ReportSequence {
  boot: string;
  seq: number;
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  gateway: string;
  /** ISO time the agent sent it. */
  sentAt: string;
  /**
   * Always sent by this agent. Agents from before the numbering send none: the hub takes their
   * reports' status in the order they arrive, as long as the gateway has sent no numbered one.
   */
  sequence?: ReportSequence;
  status: ReportStatus;
  /** Oldest first. */
  events: ReportEvent[];
  /** Events dropped from a full outbox since the last delivered report. */
  lost: number;
}

/** The hub's answer to a report. */
export interface ReportReceipt {
  /** Ids stored now, and ids the hub already had: the agent may forget both. */
  accepted: string[];
  duplicates: string[];
  /** Events the hub will never store, and why: the agent drops them (counted as lost) and goes on. */
  refused?: { id: string; error: string }[];
}

/**
 * Characters PostgreSQL text cannot hold: NUL, and UTF-16 surrogates that are not part of a pair
 * (they have no UTF-8 form). An interface's output may carry either; nothing else is refused.
 */
// eslint-disable-next-line no-control-regex -- NUL is the character this is about
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The first character of `s` a report may not carry, as U+XXXX; undefined when there is none. */
export function unstorableChar(s: string): string | undefined {
  UNSTORABLE.lastIndex = 0;
  const m = UNSTORABLE.exec(s);
  return m ? `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}

/** `v` with every string in it made storable: each such character becomes U+FFFD, as a decoder does. */
export function storable<T>(v: T): T {
  if (typeof v === 'string') return v.replace(UNSTORABLE, '\uFFFD') as T;
  if (Array.isArray(v)) return v.map((x: unknown) => storable(x)) as T;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[storable(k)] = storable(x);
    return out as T;
  }
  return v;
}
