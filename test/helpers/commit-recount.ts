// Each commit's counts recounted from scratch, from every gateway and every verdict — the way the
// hub counted them before it kept counts (src/hub/count-tables.ts): what the kept counts are checked
// against. Nothing in src/ reads this.

import type { Sql } from '../../src/hub/db.js';
import type { Outcome } from '../../src/hub/outcomes.js';
import type { CommitCounts } from '../../src/hub/commit-counts.js';

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

export async function recountCommitCounts(db: Sql, shas: readonly string[]): Promise<Map<string, CommitCounts>> {
  const out = new Map<string, CommitCounts>();
  if (shas.length === 0) return out;
  // The fleet's state in a handful of groups, then set against each commit: which of those groups
  // run a commit first seen after it.
  const states = await db.query<StateCounts>(
    `with s as (select a.first_seen, g.silent_since is not null as silent, g.last_seen is null as never,
                       count(*) as n
                  from gateways g left join commits a on a.sha = g.applied_commit group by 1, 2, 3)
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
    `select gc.commit, gc.outcome, count(*) as n,
            count(*) filter (where g.silent_since is not null) as silent,
            count(*) filter (where gc.outcome = 'applied' and g.applied_commit = gc.commit and g.healthy = 'True'
                               and g.silent_since is null) as healthy,
            count(*) filter (where g.silent_since is null and a.first_seen > c.first_seen) as newer
       from unnest($1::text[]) as c0(sha)
       join commits c on c.sha = c0.sha
       join gateway_commits gc on gc.commit = c.sha
       join gateways g on g.id = gc.gateway_id
       left join commits a on a.sha = g.applied_commit
      group by gc.commit, gc.outcome`,
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
