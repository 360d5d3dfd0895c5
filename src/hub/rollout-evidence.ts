// What the hub's reports say about one rollout's target, for the promoter's gates: every gateway the
// hub knows, with its labels, and — on the hub's clock, never a gateway's — when it last reported,
// since when it has run the target healthy, and whether the target failed there. Only reports about
// the target count: a gateway healthy on any other commit is pending here.

import type { EvidenceGateway, RolloutEvidence } from '../model/rollout.js';
import type { Sql } from './db.js';
import { FAILED_OUTCOMES } from './outcomes.js';

interface Row {
  id: string;
  labels: Record<string, string>;
  /** The labels its agent reports (its own identity); null before its first report. */
  reported: Record<string, unknown> | null;
  last_seen: string | null;
  applied_commit: string | null;
  healthy: string | null;
  healthy_since: string | null;
  outcome: string | null;
  verdict: string | null;
  reason: string | null;
  detail: string | null;
  verdict_at: string | null;
}

const ms = (v: string | null) => (v === null ? undefined : Number(v));

/** Why the target failed on a gateway, in a line. */
function failure(r: Row): string {
  const why = `${r.verdict}${r.reason ? ` (${r.reason})` : ''}${r.detail ? `: ${r.detail}` : ''}`;
  return why.length > 500 ? `${why.slice(0, 499)}…` : why;
}

function labelsOf(r: Row): Record<string, string> {
  if (!r.reported) return r.labels;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.reported)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** The target most of the rollout's gateways name in their reports; undefined when none does. */
export async function reportedTarget(db: Sql, rollout: string): Promise<string | undefined> {
  const [row] = await db.query<{ t: string }>(
    `select rollout_target as t from gateways where rollout_id = $1 and rollout_target is not null
      group by rollout_target order by count(*) desc, rollout_target limit 1`,
    [rollout],
  );
  return row?.t;
}

/** What the reports say about `target`; with none, every gateway names the commit it runs and nothing more. */
export async function rolloutEvidence(db: Sql, target: string | undefined): Promise<RolloutEvidence> {
  const [clock] = await db.query<{ now: string }>('select (extract(epoch from now()) * 1000)::bigint as now');
  const rows = await db.query<Row>(
    `select g.id, g.labels, g.status -> 'labels' as reported,
            (extract(epoch from g.last_seen) * 1000)::bigint as last_seen,
            g.applied_commit, g.healthy, (extract(epoch from g.healthy_since) * 1000)::bigint as healthy_since,
            c.outcome, c.verdict, c.reason, c.detail,
            (extract(epoch from coalesce(c.received_at, c.at)) * 1000)::bigint as verdict_at
       from gateways g left join gateway_commits c on c.commit = $1 and c.gateway_id = g.id
      order by g.id`,
    [target ?? ''],
  );
  const gateways = rows.map((r): EvidenceGateway => {
    const on = target !== undefined && r.applied_commit === target;
    // About the target: it runs it, or reported a verdict on it (applied, failed, retrying).
    const about = on || r.outcome !== null;
    const lastSeen = ms(r.last_seen);
    const healthySince = on && r.healthy === 'True' ? ms(r.healthy_since) : undefined;
    const failed = r.outcome !== null && (FAILED_OUTCOMES as readonly string[]).includes(r.outcome);
    return {
      id: r.id,
      labels: labelsOf(r),
      ...(about ? { target: target! } : r.applied_commit ? { target: r.applied_commit } : {}),
      ...(lastSeen !== undefined ? { lastSeen } : {}),
      ...(healthySince !== undefined ? { healthySince } : {}),
      ...(failed ? { failed: { at: ms(r.verdict_at)!, reason: failure(r) } } : {}),
    };
  });
  return { now: Number(clock!.now), gateways };
}
