// How a few commits stand across the fleet, from the counts kept as reports change them
// (./count-tables.ts): the gateways grouped by the commit they run and whether they report, and
// each commit's verdicts grouped by outcome and the state of the gateway that gave it. What a
// gateway that said nothing on a commit is — pending, moved on, silent — follows from the two by
// subtraction. Two small reads whatever the fleet's size or history: the rows read are a handful
// per commit the fleet runs and per commit shown, never a row per gateway.

import type { Sql } from './db.js';
import type { Outcome } from './outcomes.js';

export interface CommitCounts {
  /** Every gateway the hub knows. */
  gateways: number;
  applied: number;
  healthy: number;
  rolledBack: number;
  rejected: number;
  retrying: number;
  /** Reporting, no verdict on this commit, and not on a newer one. */
  pending: number;
  /** Silent, with no verdict on this commit. */
  silent: number;
  /** Reporting, no verdict on this commit, and running a newer one (first seen after it). */
  movedOn: number;
  /** Added and never reported: no part of any commit's bar. */
  neverSeen: number;
}

interface StateCounts {
  sha: string;
  reporting: string;
  silent: string;
  never: string;
  newer: string;
}

interface VerdictGroup {
  commit: string;
  outcome: Outcome;
  n: string;
  silent: string;
  healthy: string;
  newer: string;
}

const OUTCOME_FIELD: Record<Outcome, 'applied' | 'rolledBack' | 'rejected' | 'retrying'> = {
  applied: 'applied',
  'rolled-back': 'rolledBack',
  rejected: 'rejected',
  retrying: 'retrying',
};

export async function commitCounts(db: Sql, shas: readonly string[]): Promise<Map<string, CommitCounts>> {
  const out = new Map<string, CommitCounts>();
  if (shas.length === 0) return out;
  // The fleet's state in a handful of groups, then set against each commit: which of those groups
  // run a commit first seen after it.
  const states = await db.query<StateCounts>(
    `with s as (select a.first_seen, g.silent, not g.seen as never, sum(g.n) as n
                  from gateway_state_counts g left join commits a on a.sha = g.applied_commit group by 1, 2, 3)
     select c.sha,
            coalesce(sum(s.n) filter (where not s.silent and not s.never), 0) as reporting,
            coalesce(sum(s.n) filter (where s.silent and not s.never), 0) as silent,
            coalesce(sum(s.n) filter (where s.never), 0) as never,
            coalesce(sum(s.n) filter (where not s.silent and not s.never and s.first_seen > c.first_seen), 0) as newer
       from unnest($1::text[]) as c0(sha) join commits c on c.sha = c0.sha left join s on true
      group by c.sha`,
    [shas],
  );
  const verdicts = await db.query<VerdictGroup>(
    `select v.commit, v.outcome, sum(v.n) as n,
            coalesce(sum(v.n) filter (where v.silent), 0) as silent,
            coalesce(sum(v.n) filter (where v.healthy), 0) as healthy,
            coalesce(sum(v.n) filter (where not v.silent and a.first_seen > c.first_seen), 0) as newer
       from unnest($1::text[]) as c0(sha)
       join commits c on c.sha = c0.sha
       join commit_verdict_counts v on v.commit = c.sha
       left join commits a on a.sha = v.applied_commit
      group by v.commit, v.outcome`,
    [shas],
  );
  for (const sha of shas) {
    const st = states.find((x) => x.sha === sha);
    if (!st) continue;
    const [reporting, silent, never, newer] = [st.reporting, st.silent, st.never, st.newer].map(Number) as [
      number,
      number,
      number,
      number,
    ];
    const k: CommitCounts = {
      gateways: reporting + silent + never,
      applied: 0,
      healthy: 0,
      rolledBack: 0,
      rejected: 0,
      retrying: 0,
      pending: 0,
      silent: 0,
      movedOn: 0,
      neverSeen: never,
    };
    let saidReporting = 0;
    let saidSilent = 0;
    let saidNewer = 0;
    for (const v of verdicts) {
      if (v.commit !== sha) continue;
      k[OUTCOME_FIELD[v.outcome]] += Number(v.n);
      k.healthy += Number(v.healthy);
      saidSilent += Number(v.silent);
      saidReporting += Number(v.n) - Number(v.silent);
      saidNewer += Number(v.newer);
    }
    k.silent = silent - saidSilent;
    k.movedOn = newer - saidNewer;
    k.pending = reporting - saidReporting - k.movedOn;
    out.set(sha, k);
  }
  return out;
}
