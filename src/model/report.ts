// What an agent tells a fleet hub, and nothing more: the wire format of `POST /api/v1/reports`.
// The agent writes it (src/report), the hub reads it (src/hub); both take these types from here.
// A report is one gateway's status now plus the verdict events not yet delivered; each event has
// an id the hub deduplicates on, so sending one twice is harmless (at-least-once delivery).

import type { BadReason, CommitMark, Condition, ConditionType, ConditionStatus, VerdictReason } from './status.js';

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
  components: ReportedComponent[];
  containers: ReportedContainer[];
  version: string;
  /** Resident memory of the agent, bytes. */
  rssBytes: number;
  /** ISO time the agent started. */
  startedAt: string;
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  gateway: string;
  /** ISO time the agent sent it. */
  sentAt: string;
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
}
