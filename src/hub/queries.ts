// Reading the fleet: the gateways with filters, one gateway with its history, one commit across
// the fleet, the newest commits, the event stream by cursor (the summary is ./fleet-summary.ts). Read-only SQL;
// timestamps leave here as ISO strings.

import type { ConditionStatus, ReportStatus } from '../model/index.js';
import type {
  CommitLine,
  CommitSummary,
  FleetEvent,
  GatewayCommit,
  GatewayDetail,
  GatewaySummary,
  Page,
  ReasonCount,
} from './api-types.js';
import type { Sql } from './db.js';
import { FAILED_OUTCOMES, type Outcome } from './outcomes.js';
import { shortCommit } from '../base/short-commit.js';
import { commitCounts, type CommitCounts } from './commit-counts.js';
import { FilterError, gatewayWhere, type GatewayFilter } from './gateway-filter.js';

/** PostgreSQL's text timestamp ("2026-11-30 12:08:03.81+00") as ISO 8601. */
export function iso(pg: string): string;
export function iso(pg: string | null | undefined): string | undefined;
export function iso(pg: string | null | undefined): string | undefined {
  if (!pg) return undefined;
  const t = pg.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? pg : d.toISOString();
}

export interface GatewayRow {
  id: string;
  labels: Record<string, string>;
  created_at: string;
  first_seen: string | null;
  last_seen: string | null;
  silent_since: string | null;
  applied_commit: string | null;
  last_good_commit: string | null;
  head_commit: string | null;
  attempted_commit: string | null;
  attempted_reason: string | null;
  ready: ConditionStatus | null;
  healthy: ConditionStatus | null;
  stalled: ConditionStatus | null;
  version: string | null;
  reports: string;
  lost_events: string;
}

export const GATEWAY_COLUMNS = `id, labels, created_at, first_seen, last_seen, silent_since, applied_commit,
  last_good_commit, head_commit, attempted_commit, attempted_reason, ready, healthy, stalled,
  status->>'version' as version, reports, lost_events`;

export function summary(r: GatewayRow): GatewaySummary {
  const cond: GatewaySummary['conditions'] = {};
  if (r.ready) cond.Ready = r.ready;
  if (r.healthy) cond.Healthy = r.healthy;
  if (r.stalled) cond.Stalled = r.stalled;
  return {
    id: r.id,
    labels: r.labels,
    createdAt: iso(r.created_at),
    ...(r.first_seen ? { firstSeen: iso(r.first_seen) } : {}),
    ...(r.last_seen ? { lastSeen: iso(r.last_seen) } : {}),
    silent: r.silent_since !== null,
    ...(r.silent_since ? { silentSince: iso(r.silent_since) } : {}),
    ...(r.applied_commit ? { applied: r.applied_commit } : {}),
    ...(r.last_good_commit ? { lastGood: r.last_good_commit } : {}),
    ...(r.head_commit ? { head: r.head_commit } : {}),
    ...(r.attempted_commit ? { lastAttempted: { commit: r.attempted_commit, reason: r.attempted_reason ?? '' } } : {}),
    conditions: cond,
    ...(r.version ? { version: r.version } : {}),
    reports: Number(r.reports),
    lostEvents: Number(r.lost_events),
  };
}

export interface EventRow {
  seq: string;
  gateway_id: string;
  event_id: string;
  kind: FleetEvent['kind'];
  verdict: string | null;
  commit: string | null;
  reason: string | null;
  detail: string | null;
  to: string | null;
  at: string;
  received_at: string;
}

export const EVENT_COLUMNS = `seq, gateway_id, event_id, kind, verdict, commit, reason, detail, body->>'to' as "to", at,
  received_at`;

export function event(r: EventRow): FleetEvent {
  return {
    seq: r.seq,
    gateway: r.gateway_id,
    id: r.event_id,
    kind: r.kind,
    ...(r.verdict ? { verdict: r.verdict as NonNullable<FleetEvent['verdict']> } : {}),
    ...(r.commit ? { commit: r.commit } : {}),
    ...(r.to ? { to: r.to } : {}),
    ...(r.reason ? { reason: r.reason as NonNullable<FleetEvent['reason']> } : {}),
    ...(r.detail ? { detail: r.detail } : {}),
    at: iso(r.at),
    receivedAt: iso(r.received_at),
  };
}

interface GatewayCommitRow {
  commit: string;
  gateway_id: string;
  outcome: Outcome;
  verdict: GatewayCommit['verdict'];
  reason: string | null;
  detail: string | null;
  at: string;
}

const GATEWAY_COMMIT_COLUMNS = 'commit, gateway_id, outcome, verdict, reason, detail, at';

function gatewayCommit(r: GatewayCommitRow): GatewayCommit {
  return {
    commit: r.commit,
    outcome: r.outcome,
    verdict: r.verdict,
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.detail ? { detail: r.detail } : {}),
    at: iso(r.at),
  };
}

export class QueryError extends Error {
  override name = 'QueryError';
  constructor(
    message: string,
    readonly status: 400 | 404 = 400,
  ) {
    super(message);
  }
}

/** A page of gateways by id, for the API's cursor. */
export interface GatewayListOptions extends GatewayFilter {
  after?: string;
  limit?: number;
}

export async function listGateways(db: Sql, f: GatewayListOptions = {}): Promise<Page<GatewaySummary>> {
  const params: unknown[] = [];
  let where: string;
  try {
    where = gatewayWhere(f, params);
  } catch (err) {
    throw err instanceof FilterError ? new QueryError(err.message) : err;
  }
  if (f.after) {
    params.push(f.after);
    where += ` and id > $${params.length}`;
  }
  const limit = Math.min(Math.max(f.limit ?? 100, 1), 1000);
  const rows = await db.query<GatewayRow>(
    `select ${GATEWAY_COLUMNS} from gateways where ${where} order by id limit ${limit + 1}`,
    params,
  );
  const items = rows.slice(0, limit).map(summary);
  return { items, ...(rows.length > limit ? { next: items[items.length - 1]!.id } : {}) };
}

export async function getGateway(db: Sql, id: string, historyLimit = 50): Promise<GatewayDetail> {
  const [row] = await db.query<GatewayRow & { status: (ReportStatus & { sentAt?: string }) | null }>(
    `select ${GATEWAY_COLUMNS}, status from gateways where id = $1`,
    [id],
  );
  if (!row) throw new QueryError(`no gateway ${id}`, 404);
  const commits = await db.query<GatewayCommitRow>(
    `select ${GATEWAY_COMMIT_COLUMNS} from gateway_commits where gateway_id = $1 order by at desc limit 50`,
    [id],
  );
  const history = await db.query<EventRow>(
    `select ${EVENT_COLUMNS} from events where gateway_id = $1 order by seq desc limit ${historyLimit}`,
    [id],
  );
  return {
    ...summary(row),
    ...(row.status ? { status: row.status } : {}),
    commits: commits.map(gatewayCommit),
    history: history.map(event),
  };
}

/** The full sha of a commit the hub has seen, from a prefix of at least 7 hex digits. */
export async function resolveCommit(db: Sql, prefix: string): Promise<string> {
  if (!/^[0-9a-f]{7,64}$/.test(prefix)) throw new QueryError('a commit is 7 to 64 hex digits (lower case)');
  const rows = await db.query<{ sha: string }>('select sha from commits where sha like $1 order by sha limit 5', [
    prefix + '%',
  ]);
  if (rows.length === 0) throw new QueryError(`no gateway has reported commit ${prefix}`, 404);
  if (rows.length > 1)
    throw new QueryError(`${prefix} names several commits (${rows.map((r) => shortCommit(r.sha)).join(', ')})`);
  return rows[0]!.sha;
}

export async function commitSummary(db: Sql, prefix: string): Promise<CommitSummary> {
  const sha = await resolveCommit(db, prefix);
  const [c] = await db.query<{ first_seen: string }>('select first_seen from commits where sha = $1', [sha]);
  return summaryOf(db, sha, c!.first_seen);
}

/** The failed outcomes as an SQL list of constants, so the partial index of failed verdicts serves the query. */
const FAILED_IN = FAILED_OUTCOMES.map((o) => `'${o}'`).join(', ');

/** One commit the hub has seen, by its full sha and when it was first seen, with its counts. */
async function summaryOf(db: Sql, sha: string, firstSeen: string, counts?: CommitCounts): Promise<CommitSummary> {
  const n = counts ?? (await commitCounts(db, [sha])).get(sha)!;
  const reasons = await db.query<{ outcome: Outcome; reason: string | null; count: string; example: string | null }>(
    `select outcome, coalesce(reason, verdict) as reason, count(*) as count, min(detail) as example
       from gateway_commits where commit = $1 and outcome in ('rolled-back', 'rejected', 'retrying')
      group by outcome, coalesce(reason, verdict) order by count(*) desc, 2`,
    [sha],
  );
  const failures = await db.query<GatewayCommitRow>(
    `select ${GATEWAY_COMMIT_COLUMNS} from gateway_commits
      where commit = $1 and outcome in (${FAILED_IN}) order by at desc limit 100`,
    [sha],
  );
  return {
    commit: sha,
    firstSeen: iso(firstSeen),
    ...n,
    reasons: reasons.map((r): ReasonCount => ({
      outcome: r.outcome,
      reason: r.reason ?? 'unknown',
      count: Number(r.count),
      ...(r.example ? { example: r.example } : {}),
    })),
    failures: failures.map((f) => ({ gateway: f.gateway_id, ...gatewayCommit(f) })),
  };
}

/** The newest commits with their counts, newest first: the rows the pages show, with nothing more. */
export async function recentCommitLines(db: Sql, limit = 10): Promise<CommitLine[]> {
  const rows = await db.query<{ sha: string; first_seen: string }>(
    `select sha, first_seen from commits order by first_seen desc, sha limit ${Math.min(Math.max(limit, 1), 100)}`,
  );
  const counts = await commitCounts(
    db,
    rows.map((r) => r.sha),
  );
  return rows.map((r) => ({ commit: r.sha, firstSeen: iso(r.first_seen), ...counts.get(r.sha)! }));
}

/** The newest commits as the API gives them: each with its reasons and its failures. */
export async function recentCommits(db: Sql, limit = 10): Promise<CommitSummary[]> {
  const out: CommitSummary[] = [];
  for (const c of await recentCommitLines(db, limit)) out.push(await summaryOf(db, c.commit, c.firstSeen, c));
  return out;
}

export interface EventFilter {
  after?: string;
  limit?: number;
  gateway?: string;
  kind?: string;
}

export async function listEvents(db: Sql, f: EventFilter = {}): Promise<Page<FleetEvent>> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.after !== undefined) {
    if (!/^\d{1,19}$/.test(f.after)) throw new QueryError('after takes the seq of an event (a whole number)');
    params.push(f.after);
    where.push(`seq > $${params.length}::bigint`);
  }
  if (f.gateway) {
    params.push(f.gateway);
    where.push(`gateway_id = $${params.length}`);
  }
  if (f.kind) {
    params.push(f.kind);
    where.push(`(kind = $${params.length} or verdict = $${params.length})`);
  }
  const limit = Math.min(Math.max(f.limit ?? 100, 1), 1000);
  const rows = await db.query<EventRow>(
    `select ${EVENT_COLUMNS} from events ${where.length ? 'where ' + where.join(' and ') : ''}
     order by seq limit ${limit}`,
    params,
  );
  const items = rows.map(event);
  const last = items[items.length - 1];
  return { items, ...(last ? { next: last.seq } : f.after ? { next: f.after } : {}) };
}
