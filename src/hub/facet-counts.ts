// What runs where, and how the hub labelled its gateways, counted as the gateway rows change (migration
// 7), so the versions page and a filter's "n of N" read a few rows instead of every gateway's report.
// One table, gateway_facet_counts, of (kind, what, value) → how many gateways:
//
// - component: a component's type and version, from the gateway's last report;
// - service:   an app's `app/service` and its image, from the same report;
// - label:     a label the hub gave the gateway (`key`, `value`), as the list's label filter reads them;
// - reported:  ('', '') once per gateway whose last report the hub holds (the versions page's "n reported").
//
// A gateway counts once per key however many of its components or containers share it, as the page
// counted them (count distinct gateways). The triggers follow migration 6's (./count-tables.ts): they
// run in the transaction of the change, return before the counts' lock when a statement changed no
// facet (a heartbeat: the same components, containers and labels), and take the same lock as the other
// counts when they do, so concurrent hubs change count rows one after the other.

import { addTo, TAKE_COUNT_LOCK } from './count-tables.js';
import type { Migration } from './migrations.js';

export type FacetKind = 'component' | 'service' | 'label' | 'reported';

const COLUMNS = 'kind, what, value';

const arrayAt = (g: string, key: string) =>
  `jsonb_array_elements(case when jsonb_typeof(${g}.status->'${key}') = 'array'
                             then ${g}.status->'${key}' else '[]'::jsonb end)`;

/** The facets of gateway row `g`: its (kind, what, value) keys, each once. */
export const FACETS = (g: string) =>
  `select 'component'::text, coalesce(c->>'type', ''), coalesce(c->>'version', '') from ${arrayAt(g, 'components')} c
   union
   select 'service', coalesce(c->>'app', '') || '/' || coalesce(c->>'service', ''), coalesce(c->>'image', '')
     from ${arrayAt(g, 'containers')} c
   union
   select 'label', l.key, l.value
     from jsonb_each_text(case when jsonb_typeof(${g}.labels) = 'object' then ${g}.labels else '{}'::jsonb end) l
   union
   select 'reported', '', '' where ${g}.status is not null`;

/** What of a gateway row its facets are made of: when none of it changed, no count did. */
const FACET_SOURCE = (g: string) =>
  `${g}.status->'components', ${g}.status->'containers', ${g}.labels, ${g}.status is null`;

const changed = (a: string, b: string) => `(${FACET_SOURCE(a)}) is distinct from (${FACET_SOURCE(b)})`;

/** Each row of gateways `g` (a table or transition table) expanded to its facets, with `sign`. */
const facetsOf = (from: string, sign: string) =>
  `select f.kind, f.what, f.value, ${sign} from ${from} cross join lateral (${FACETS('g')}) f(kind, what, value)`;

const SQL = `
create table gateway_facet_counts (
  kind text not null,
  what text not null,
  value text not null,
  n bigint not null,
  primary key (${COLUMNS})
);
-- The rows a change brought to zero, found without reading the others (a label unique to each gateway
-- makes one row per gateway).
create index gateway_facet_counts_zero on gateway_facet_counts (kind) where n = 0;

insert into gateway_facet_counts (${COLUMNS}, n)
select f.kind, f.what, f.value, count(*) from gateways g cross join lateral (${FACETS('g')}) f(kind, what, value)
 group by 1, 2, 3;

create function rg_facets_gateways_insert() returns trigger language plpgsql as $$
begin
  if not exists (select 1 from n) then return null; end if;
  ${TAKE_COUNT_LOCK};
  ${addTo('gateway_facet_counts', COLUMNS, facetsOf('n g', '1'))};
  return null;
end $$;

create function rg_facets_gateways_update() returns trigger language plpgsql as $$
begin
  -- A heartbeat reports the same components, containers and labels: nothing to lock, nothing to write.
  if not exists (select 1 from o join n using (id) where ${changed('o', 'n')}) then return null; end if;
  ${TAKE_COUNT_LOCK};
  ${addTo(
    'gateway_facet_counts',
    COLUMNS,
    `${facetsOf('n g join o using (id)', '1')} where ${changed('o', 'g')}
     union all
     ${facetsOf('o g join n using (id)', '-1')} where ${changed('g', 'n')}`,
  )};
  delete from gateway_facet_counts where n = 0;
  return null;
end $$;

create function rg_facets_gateways_delete() returns trigger language plpgsql as $$
begin
  if not exists (select 1 from o) then return null; end if;
  ${TAKE_COUNT_LOCK};
  ${addTo('gateway_facet_counts', COLUMNS, facetsOf('o g', '-1'))};
  delete from gateway_facet_counts where n = 0;
  return null;
end $$;

create trigger rg_facets_gateways_insert after insert on gateways
  referencing new table as n for each statement execute function rg_facets_gateways_insert();
create trigger rg_facets_gateways_update after update on gateways
  referencing old table as o new table as n for each statement execute function rg_facets_gateways_update();
create trigger rg_facets_gateways_delete after delete on gateways
  referencing old table as o for each statement execute function rg_facets_gateways_delete();
`;

export const FACETS_MIGRATION: Migration = {
  version: 7,
  name: "counts kept as reports change them: the gateways by component version, service image and the hub's labels",
  sql: SQL,
};
