// What the board's pages read beyond the API's shapes: a page of the gateway list with its counts
// (so nothing is ever cut without saying so), the versions that run across the fleet, and the
// failures of the newest commits grouped by commit and reason. Each reads kept counts, current state, or
// the rows of a few commits through gateway_commits' primary key: never the history.

import type { Sql } from './db.js';
import type { FacetKind } from './facet-counts.js';
import { countGateways } from './list-counts.js';
import { gatewayOrder, gatewayWhere, type GatewayFilter, type GatewaySort } from './gateway-filter.js';
import type { FleetEvent, GatewaySummary, Page } from './api-types.js';
import type { Outcome } from './outcomes.js';
import { event, EVENT_COLUMNS, GATEWAY_COLUMNS, iso, summary, type EventRow, type GatewayRow } from './queries.js';

export interface GatewayListPage {
  items: GatewaySummary[];
  /** Where this page starts in the filtered list (0-based). */
  offset: number;
  /** Gateways the filter matches. */
  matching: number;
  /** Every gateway the hub knows. */
  total: number;
}

export async function gatewayListPage(
  db: Sql,
  f: GatewayFilter,
  sort: GatewaySort,
  offset: number,
  limit: number,
): Promise<GatewayListPage> {
  const n = await countGateways(db, f);
  const params: unknown[] = [];
  const where = gatewayWhere(f, params);
  const rows = await db.query<GatewayRow>(
    `select ${GATEWAY_COLUMNS} from gateways where ${where} order by ${gatewayOrder(sort)}
     limit ${Math.max(1, Math.floor(limit))} offset ${Math.max(0, Math.floor(offset))}`,
    params,
  );
  return { items: rows.map(summary), offset, matching: n.matching, total: n.total };
}

export interface VersionCount {
  /** A component's type, or an app's `app/service`. */
  what: string;
  /** The component's version, or the service's image. */
  version: string;
  gateways: number;
}

export interface FleetVersions {
  components: VersionCount[];
  services: VersionCount[];
  /** Gateways whose last report said what they run (the rest never reported). */
  reported: number;
}

/**
 * Which component versions and service images run on how many gateways, from their last reports: the
 * counts kept as reports change them (./facet-counts.ts), so the page reads the rows it shows and not
 * every gateway's report.
 */
export async function fleetVersions(db: Sql): Promise<FleetVersions> {
  const rows = await db.query<{ kind: FacetKind; what: string; value: string; n: string }>(
    `select kind, what, value, n from gateway_facet_counts
      where kind in ('component', 'service', 'reported') and n > 0 order by kind, what, n desc, value`,
  );
  const of = (kind: FacetKind) =>
    rows.filter((r) => r.kind === kind).map((r) => ({ what: r.what, version: r.value, gateways: Number(r.n) }));
  const reported = rows.find((r) => r.kind === 'reported');
  return { components: of('component'), services: of('service'), reported: reported ? Number(reported.n) : 0 };
}

export interface FailureGroup {
  commit: string;
  outcome: Outcome;
  reason: string;
  count: number;
  /** One gateway's words for it. */
  example?: string;
  /** The newest verdict of the group, ISO. */
  latest: string;
  /** The gateways behind the count, by id (at most `perGroup`). */
  gateways: string[];
}

/**
 * The rollbacks, rejections and retries of the newest `commits` commits, one row per commit and
 * reason: each gateway's newest verdict on a commit, so a gateway that failed five times counts once.
 */
export async function failureGroups(db: Sql, commits = 8, perGroup = 100): Promise<FailureGroup[]> {
  const rows = await db.query<{
    commit: string;
    outcome: Outcome;
    reason: string;
    n: string;
    example: string | null;
    latest: string;
    gateways: string[];
  }>(
    `with recent as (select sha from commits order by first_seen desc, sha limit $1)
     select gc.commit, gc.outcome, coalesce(gc.reason, gc.verdict) as reason, count(*) as n,
            min(gc.detail) as example, max(gc.at)::text as latest,
            (array_agg(gc.gateway_id order by gc.gateway_id))[1:$2] as gateways
       from recent join gateway_commits gc on gc.commit = recent.sha
      where gc.outcome in ('rolled-back', 'rejected', 'retrying')
      group by 1, 2, 3 order by max(gc.at) desc, 4 desc`,
    [commits, perGroup],
  );
  return rows.map((r) => ({
    commit: r.commit,
    outcome: r.outcome,
    reason: r.reason,
    count: Number(r.n),
    ...(r.example ? { example: r.example } : {}),
    latest: iso(r.latest),
    gateways: r.gateways,
  }));
}

/** The event stream newest first, a page before the cursor `before` (a seq); `next` is the next cursor. */
export async function newestEvents(
  db: Sql,
  f: { before?: string; gateway?: string; kind?: string; limit: number },
): Promise<Page<FleetEvent>> {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (f.before !== undefined) where.push(`seq < ${p(f.before)}::bigint`);
  if (f.gateway) where.push(`gateway_id = ${p(f.gateway)}`);
  if (f.kind) {
    const k = p(f.kind);
    where.push(`(kind = ${k} or verdict = ${k})`);
  }
  const rows = await db.query<EventRow>(
    `select ${EVENT_COLUMNS} from events ${where.length ? 'where ' + where.join(' and ') : ''}
     order by seq desc limit ${f.limit + 1}`,
    params,
  );
  const items = rows.slice(0, f.limit).map(event);
  return { items, ...(rows.length > f.limit ? { next: items[items.length - 1]!.seq } : {}) };
}
