// The fleet's counts kept as the rows they count change, so a page reads a few small rows instead of
// every gateway (and every gateway's verdict on each commit it shows). Two tables of counts:
//
// - gateway_state_counts: the gateways grouped by what the pages count them by (the commit each
//   runs, reported or not, silent or not, its three conditions);
// - commit_verdict_counts: each commit's verdicts grouped by outcome and by the state of the gateway
//   that gave it (the commit it runs now, silent, healthy on this very commit).
//
// Triggers keep them, in the transaction of the change, so every writer (a report, the silence job,
// a gateway added or removed, a bench filling tables by hand) keeps them right without knowing of
// them. A trigger that finds nothing to change returns before it takes the counts' lock; one that
// does takes it first, so hubs writing at once on one PostgreSQL change the count rows one after
// the other and never deadlock on them. Both tables are filled from the rows in the migration.

import type { Database } from './db.js';
import type { Migration } from './migrations.js';

/** The advisory lock of count changes (any constant; "rg-cnt" in ASCII); every count trigger takes it. */
export const COUNT_LOCK = 0x72672d636e74;

/** A gateway row's key in gateway_state_counts. */
export const STATE_KEY = (g: string) =>
  `coalesce(${g}.applied_commit, ''), ${g}.last_seen is not null, ${g}.silent_since is not null,
   coalesce(${g}.ready, ''), coalesce(${g}.healthy, ''), coalesce(${g}.stalled, '')`;

/** A verdict's key in commit_verdict_counts, with the gateway that gave it. */
export const VERDICT_KEY = (c: string, g: string) =>
  `${c}.commit, ${c}.outcome, coalesce(${g}.applied_commit, ''), ${g}.silent_since is not null,
   coalesce(${c}.outcome = 'applied' and ${g}.applied_commit = ${c}.commit and ${g}.healthy = 'True'
            and ${g}.silent_since is null, false)`;

const STATE_COLUMNS = 'applied_commit, seen, silent, ready, healthy, stalled';
const VERDICT_COLUMNS = 'commit, outcome, applied_commit, silent, healthy';

/** Adds the signed rows of `delta` (the key's columns, then ±1) to a table of counts, in key order. */
export function addTo(table: string, columns: string, delta: string): string {
  const keys = columns.split(', ').map((_, i) => `k${i + 1}`);
  return `insert into ${table} as t (${columns}, n)
          select ${keys.join(', ')}, sum(x.n) from (${delta}) x(${keys.join(', ')}, n)
           group by ${keys.join(', ')} having sum(x.n) <> 0 order by ${keys.join(', ')}
          on conflict (${columns}) do update set n = t.n + excluded.n`;
}

export const TAKE_COUNT_LOCK = `perform pg_advisory_xact_lock(${COUNT_LOCK})`;

const SQL = `
create table gateway_state_counts (
  applied_commit text not null,
  seen boolean not null,
  silent boolean not null,
  ready text not null,
  healthy text not null,
  stalled text not null,
  n bigint not null,
  primary key (${STATE_COLUMNS})
);

create table commit_verdict_counts (
  commit text not null,
  outcome text not null,
  applied_commit text not null,
  silent boolean not null,
  healthy boolean not null,
  n bigint not null,
  primary key (${VERDICT_COLUMNS})
);

insert into gateway_state_counts (${STATE_COLUMNS}, n)
select ${STATE_KEY('g')}, count(*) from gateways g group by 1, 2, 3, 4, 5, 6;

insert into commit_verdict_counts (${VERDICT_COLUMNS}, n)
select ${VERDICT_KEY('c', 'g')}, count(*) from gateway_commits c join gateways g on g.id = c.gateway_id
 group by 1, 2, 3, 4, 5;

create function rg_counts_gateways_insert() returns trigger language plpgsql as $$
begin
  if not exists (select 1 from n) then return null; end if;
  ${TAKE_COUNT_LOCK};
  ${addTo('gateway_state_counts', STATE_COLUMNS, `select ${STATE_KEY('g')}, 1 from n g`)};
  return null;
end $$;

create function rg_counts_gateways_update() returns trigger language plpgsql as $$
declare
  touched text[];
begin
  -- Most reports change none of what is counted (a heartbeat): nothing to lock, nothing to write.
  if not exists (select 1 from o join n using (id) where (${STATE_KEY('o')}) is distinct from (${STATE_KEY('n')}))
    then return null; end if;
  ${TAKE_COUNT_LOCK};
  ${addTo(
    'gateway_state_counts',
    STATE_COLUMNS,
    `select ${STATE_KEY('g')}, 1 from n g join o using (id)
      where (${STATE_KEY('o')}) is distinct from (${STATE_KEY('g')})
     union all
     select ${STATE_KEY('g')}, -1 from o g join n using (id)
      where (${STATE_KEY('g')}) is distinct from (${STATE_KEY('n')})`,
  )};
  select array_agg(distinct c.commit) into touched
    from o join n using (id) join gateway_commits c on c.gateway_id = o.id
   where (${STATE_KEY('o')}) is distinct from (${STATE_KEY('n')});
  if touched is null then delete from gateway_state_counts where n = 0; return null; end if;
  ${addTo(
    'commit_verdict_counts',
    VERDICT_COLUMNS,
    `select ${VERDICT_KEY('c', 'g')}, 1 from n g join o using (id) join gateway_commits c on c.gateway_id = g.id
      where (${STATE_KEY('o')}) is distinct from (${STATE_KEY('g')})
     union all
     select ${VERDICT_KEY('c', 'g')}, -1 from o g join n using (id) join gateway_commits c on c.gateway_id = g.id
      where (${STATE_KEY('g')}) is distinct from (${STATE_KEY('n')})`,
  )};
  delete from gateway_state_counts where n = 0;
  delete from commit_verdict_counts where commit = any(touched) and n = 0;
  return null;
end $$;

-- Before the row goes, while its verdicts are still there to be taken out of the counts (the cascade
-- that deletes them finds no gateway to count them against, so they are not taken out twice).
create function rg_counts_gateways_delete() returns trigger language plpgsql as $$
begin
  ${TAKE_COUNT_LOCK};
  ${addTo('gateway_state_counts', STATE_COLUMNS, `select ${STATE_KEY('g')}, -1 from gateways g where g.id = old.id`)};
  ${addTo(
    'commit_verdict_counts',
    VERDICT_COLUMNS,
    `select ${VERDICT_KEY('c', 'g')}, -1 from gateways g join gateway_commits c on c.gateway_id = g.id
      where g.id = old.id`,
  )};
  delete from gateway_state_counts where n = 0;
  delete from commit_verdict_counts where n = 0
     and commit in (select commit from gateway_commits where gateway_id = old.id);
  return old;
end $$;

create function rg_counts_verdicts_insert() returns trigger language plpgsql as $$
begin
  if not exists (select 1 from n) then return null; end if;
  ${TAKE_COUNT_LOCK};
  ${addTo(
    'commit_verdict_counts',
    VERDICT_COLUMNS,
    `select ${VERDICT_KEY('c', 'g')}, 1 from n c join gateways g on g.id = c.gateway_id`,
  )};
  return null;
end $$;

create function rg_counts_verdicts_update() returns trigger language plpgsql as $$
begin
  if not exists (select 1 from o join n using (commit, gateway_id) where o.outcome <> n.outcome) then
    return null;
  end if;
  ${TAKE_COUNT_LOCK};
  ${addTo(
    'commit_verdict_counts',
    VERDICT_COLUMNS,
    `select ${VERDICT_KEY('c', 'g')}, 1 from n c join gateways g on g.id = c.gateway_id
     union all
     select ${VERDICT_KEY('c', 'g')}, -1 from o c join gateways g on g.id = c.gateway_id`,
  )};
  delete from commit_verdict_counts where n = 0 and commit in (select commit from n);
  return null;
end $$;

create function rg_counts_verdicts_delete() returns trigger language plpgsql as $$
begin
  if not exists (select 1 from o join gateways g on g.id = o.gateway_id) then return null; end if;
  ${TAKE_COUNT_LOCK};
  ${addTo(
    'commit_verdict_counts',
    VERDICT_COLUMNS,
    `select ${VERDICT_KEY('c', 'g')}, -1 from o c join gateways g on g.id = c.gateway_id`,
  )};
  delete from commit_verdict_counts where n = 0 and commit in (select commit from o);
  return null;
end $$;

create trigger rg_counts_gateways_insert after insert on gateways
  referencing new table as n for each statement execute function rg_counts_gateways_insert();
create trigger rg_counts_gateways_update after update on gateways
  referencing old table as o new table as n for each statement execute function rg_counts_gateways_update();
create trigger rg_counts_gateways_delete before delete on gateways
  for each row execute function rg_counts_gateways_delete();
create trigger rg_counts_verdicts_insert after insert on gateway_commits
  referencing new table as n for each statement execute function rg_counts_verdicts_insert();
create trigger rg_counts_verdicts_update after update on gateway_commits
  referencing old table as o new table as n for each statement execute function rg_counts_verdicts_update();
create trigger rg_counts_verdicts_delete after delete on gateway_commits
  referencing old table as o for each statement execute function rg_counts_verdicts_delete();

-- The overview's failures of the recent commits, and a commit's reasons: only the failed verdicts.
create index gateway_commits_failed on gateway_commits (commit, outcome)
  where outcome in ('rolled-back', 'rejected', 'retrying');
-- The overview's gateways that stopped reporting, oldest report first.
create index gateways_silent on gateways (last_seen) where silent_since is not null;
`;

export const COUNTS_MIGRATION: Migration = {
  version: 6,
  name: "counts kept as reports change them: the gateways by state, each commit's verdicts by the gateway's state",
  sql: SQL,
};

/** No gateway can have this id (it has spaces), so the warm-up below touches no real row. */
const WARM_UP_ID = 'rollgate counts warm-up';

class WarmedUp extends Error {}

/**
 * Runs every count trigger once, in a transaction rolled back, so the first reports after a start
 * do not wait while the database compiles them (on the embedded database that was a few hundred
 * milliseconds on the first report, enough to make a gateway that had just reported look silent).
 */
export async function warmUpCounts(db: Database): Promise<void> {
  await db
    .transaction(async (tx) => {
      await tx.query('insert into gateways (id) values ($1)', [WARM_UP_ID]);
      await tx.query(
        `insert into gateway_commits (commit, gateway_id, outcome, verdict, at)
         values ('0', $1, 'applied', 'applied', now())`,
        [WARM_UP_ID],
      );
      await tx.query(`update gateway_commits set outcome = 'rejected' where gateway_id = $1`, [WARM_UP_ID]);
      // A status too, so the facets' trigger (./facet-counts.ts) gets past its "nothing changed".
      await tx.query(
        `update gateways set applied_commit = '0', last_seen = now(), healthy = 'True', status = '{}' where id = $1`,
        [WARM_UP_ID],
      );
      await tx.query('delete from gateway_commits where gateway_id = $1', [WARM_UP_ID]);
      await tx.query('delete from gateways where id = $1', [WARM_UP_ID]);
      throw new WarmedUp();
    })
    .catch((err: unknown) => {
      if (!(err instanceof WarmedUp)) throw err;
    });
}
