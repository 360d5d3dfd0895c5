// What the hub's REST API answers (/api/v1, described in ./openapi.ts). The page, the `rollgate
// fleet` commands and the tests read these shapes.

import type { ConditionStatus, ReportStatus, VerdictReason, BadReason } from '../model/index.js';
import type { Outcome } from './outcomes.js';
import type { CommitCounts } from './commit-counts.js';

export interface GatewaySummary {
  id: string;
  labels: Record<string, string>;
  createdAt: string;
  firstSeen?: string;
  lastSeen?: string;
  /** Reported once and then nothing for longer than the hub's --silent-after. */
  silent: boolean;
  silentSince?: string;
  applied?: string;
  lastGood?: string;
  /** The branch's commit at the gateway's last poll. */
  head?: string;
  lastAttempted?: { commit: string; reason: string };
  conditions: { Ready?: ConditionStatus; Healthy?: ConditionStatus; Stalled?: ConditionStatus };
  version?: string;
  reports: number;
  lostEvents: number;
}

export type FleetEventKind = 'verdict' | 'silent' | 'back';

export interface FleetEvent {
  /** The cursor: events come in this order. */
  seq: string;
  gateway: string;
  id: string;
  kind: FleetEventKind;
  verdict?: VerdictReason;
  commit?: string;
  to?: string;
  reason?: BadReason;
  detail?: string;
  at: string;
  receivedAt: string;
}

export interface GatewayCommit {
  commit: string;
  outcome: Outcome;
  verdict: VerdictReason;
  reason?: string;
  detail?: string;
  at: string;
}

export interface GatewayDetail extends GatewaySummary {
  status?: ReportStatus;
  /** The commits it reported verdicts on, newest first. */
  commits: GatewayCommit[];
  /** Its events, newest first. */
  history: FleetEvent[];
}

export interface ReasonCount {
  outcome: Outcome;
  reason: string;
  count: number;
  /** One gateway's words for it. */
  example?: string;
}

/** One commit across the fleet: its counts (./commit-counts.ts), why it failed and where. */
/** A commit and its counts: what a commit's row on the pages shows. */
export interface CommitLine extends CommitCounts {
  commit: string;
  firstSeen: string;
}

export interface CommitSummary extends CommitLine {
  /** Rolled back and rejected, grouped by reason. */
  reasons: ReasonCount[];
  /** Gateways that rolled back or rejected it, newest first (at most 100). */
  failures: (GatewayCommit & { gateway: string })[];
}

export interface FleetSummary {
  gateways: number;
  /** Added and never reported. */
  neverSeen: number;
  silent: number;
  byCondition: Record<'Ready' | 'Healthy' | 'Stalled', Record<ConditionStatus, number>>;
  /** The newest commits, newest first. */
  commits: CommitSummary[];
  silentGateways: GatewaySummary[];
  /** The newest rollbacks and rejections. */
  failures: FleetEvent[];
}

/**
 * What the overview page reads: the summary without what it does not show (the API's per-commit
 * reasons and failure lists, the newest failure events: the page groups failures its own way).
 */
export type FleetOverview = Omit<FleetSummary, 'commits' | 'failures'> & {
  commits: CommitLine[];
  failures?: FleetEvent[];
};

export interface Page<T> {
  items: T[];
  /** Pass as `after` for the next page; absent on the last one. */
  next?: string;
}
