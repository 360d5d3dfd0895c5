// The hub's schema, as numbered migrations applied in order and recorded in schema_migrations.
// A migration is never edited once released; a change is a new one. Hubs starting together on
// one PostgreSQL take an advisory lock, so exactly one of them migrates and the others wait.

import type { Database } from './db.js';
import { COUNTS_MIGRATION } from './count-tables.js';
import { FACETS_MIGRATION } from './facet-counts.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'gateways, tokens, events, outcomes per commit, webhook deliveries',
    sql: `
create table gateways (
  id text primary key,
  labels jsonb not null default '{}'::jsonb,
  token_hash text unique,
  created_at timestamptz not null default now(),
  first_seen timestamptz,
  last_seen timestamptz,
  applied_commit text,
  last_good_commit text,
  head_commit text,
  attempted_commit text,
  attempted_reason text,
  ready text,
  healthy text,
  stalled text,
  status jsonb,
  reports bigint not null default 0,
  lost_events bigint not null default 0,
  silent_since timestamptz
);
create index gateways_applied on gateways (applied_commit);
create index gateways_last_seen on gateways (last_seen);
create index gateways_labels on gateways using gin (labels);

create table tokens (
  hash text primary key,
  name text not null unique,
  role text not null check (role in ('reader', 'admin')),
  created_at timestamptz not null default now()
);

create table events (
  seq bigserial primary key,
  gateway_id text not null references gateways (id) on delete cascade,
  event_id text not null,
  kind text not null,
  verdict text,
  commit text,
  reason text,
  detail text,
  at timestamptz not null,
  received_at timestamptz not null default now(),
  body jsonb not null,
  unique (gateway_id, event_id)
);
create index events_gateway on events (gateway_id, seq);

create table commits (
  sha text primary key,
  first_seen timestamptz not null
);

create table gateway_commits (
  commit text not null,
  gateway_id text not null references gateways (id) on delete cascade,
  outcome text not null,
  verdict text not null,
  reason text,
  detail text,
  at timestamptz not null,
  primary key (commit, gateway_id)
);
create index gateway_commits_gateway on gateway_commits (gateway_id, at);

create table webhook_deliveries (
  id bigserial primary key,
  url text not null,
  kind text not null,
  body jsonb not null,
  attempts integer not null default 0,
  next_at timestamptz not null default now(),
  delivered_at timestamptz,
  failed_at timestamptz,
  last_error text,
  created_at timestamptz not null default now()
);
create index webhook_deliveries_due on webhook_deliveries (next_at) where delivered_at is null and failed_at is null;
`,
  },
  {
    version: 2,
    name: "reports ordered by the gateway's own sequence",
    sql: `
alter table gateways add column report_boot text;
alter table gateways add column report_seq bigint;
create table gateway_boots (
  gateway_id text not null references gateways (id) on delete cascade,
  boot text not null,
  first_seen timestamptz not null default now(),
  primary key (gateway_id, boot)
);
`,
  },
  {
    version: 3,
    name: "when the order of a gateway's reports last set its status",
    sql: `
alter table gateways add column report_taken_at timestamptz;
`,
  },
  {
    version: 4,
    name: 'the staged rollout each report and each gateway acted under',
    sql: `
alter table events add column rollout_id text;
alter table events add column rollout_target text;
create index events_rollout on events (rollout_id, rollout_target) where rollout_id is not null;
alter table gateways add column rollout_id text;
alter table gateways add column rollout_target text;
`,
  },
  {
    version: 5,
    name: "a rollout's evidence on the hub's clock: since when a gateway runs its commit healthy, when a verdict came",
    sql: `
alter table gateways add column healthy_since timestamptz;
alter table gateway_commits add column received_at timestamptz;
`,
  },
  COUNTS_MIGRATION,
  FACETS_MIGRATION,
];

/**
 * A migration's statements: split at a semicolon that ends a line, except inside a dollar-quoted
 * body ($$ … $$, a function's), whose own statements end lines too.
 */
export function statementsOf(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  sql.split('$$').forEach((part, i) => {
    if (i % 2 === 1) {
      current += `$$${part}$$`;
      return;
    }
    const pieces = part.split(/;\s*$/m);
    current += pieces[0];
    for (const p of pieces.slice(1)) {
      out.push(current);
      current = p;
    }
  });
  out.push(current);
  return out.map((s) => s.trim()).filter(Boolean);
}

/** The advisory lock key of migrations (any constant; "rg-mig" in ASCII). */
const MIGRATION_LOCK = 0x72672d6d6967;

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Brings the schema up to date; returns the versions applied now. */
export async function migrate(db: Database): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(
      `create table if not exists schema_migrations (
         version integer primary key, name text not null, applied_at timestamptz not null default now())`,
    );
    const rows = await tx.query<{ version: number }>('select version from schema_migrations order by version');
    const have = new Set(rows.map((r) => Number(r.version)));
    const newest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
    const ahead = [...have].filter((v) => v > newest);
    if (ahead.length)
      throw new MigrationError(
        `the database ${db.description} has schema version ${Math.max(...ahead)}, newer than this rollgate hub ` +
          `knows (${newest}): it was migrated by a newer rollgate; run that one, or restore a backup`,
      );
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (have.has(m.version)) continue;
      for (const stmt of statementsOf(m.sql)) await tx.query(stmt);
      await tx.query('insert into schema_migrations (version, name) values ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
