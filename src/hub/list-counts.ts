// How many gateways a list's filter matches ("n shown of N"), from the counts kept as reports change
// them where they answer it, so a count costs a few rows and not a pass over every gateway:
//
// - any mix of commit, condition, stale and state: the gateways by state (gateway_state_counts, whose
//   key is the applied commit, seen, silent and the three conditions);
// - one component, one service or one label, alone: gateway_facet_counts (./facet-counts.ts).
//
// Any other filter (an id search, a rollout target, two labels, a label or a version together with
// another filter) is counted over the gateways it names, by gatewayWhere: BENCHMARKS.md says what that
// costs. Both ways mean the same as the list's own condition; test/hub/count-tables.test.ts checks them.

import type { Sql } from './db.js';
import { checkCommitPrefix, conditionOf, gatewayWhere, type GatewayFilter } from './gateway-filter.js';

type Filter = keyof GatewayFilter;

/** The filters given (a key with no value, or no labels, is no filter). */
function given(f: GatewayFilter): Filter[] {
  return (Object.keys(f) as Filter[]).filter((k) => {
    const v = f[k];
    if (v === undefined || v === '') return false;
    return k !== 'labels' || Object.keys(v as Record<string, string>).length > 0;
  });
}

const STATE_FILTERS: ReadonlySet<Filter> = new Set(['commit', 'condition', 'stale', 'state']);

/** The condition over gateway_state_counts that means what gatewayWhere means over gateways. */
function stateWhere(f: GatewayFilter, p: (v: unknown) => string): string {
  const where: string[] = [];
  // A gateway that runs nothing is kept as '', which no prefix of 7 hex digits matches.
  if (f.commit) where.push(`applied_commit like ${p(checkCommitPrefix(f.commit, 'commit') + '%')}`);
  if (f.condition) {
    const c = conditionOf(f.condition);
    where.push(`${c.column} = ${p(c.value)}`);
  }
  if (f.stale === true) where.push('silent');
  if (f.stale === false) where.push('not silent');
  if (f.state === 'reporting') where.push('seen and not silent');
  if (f.state === 'silent') where.push('silent');
  if (f.state === 'never') where.push('not seen');
  return where.length ? where.join(' and ') : 'true';
}

/** The kept facet a filter of one facet names, or undefined when the filter is more than that. */
function facetOf(f: GatewayFilter, filters: Filter[]): [string, string, string] | undefined {
  if (filters.length !== 1) return undefined;
  if (f.component && f.component[1] !== '') return ['component', f.component[0], f.component[1]];
  if (f.service) return ['service', `${f.service[0]}/${f.service[1]}`, f.service[2]];
  const labels = Object.entries(f.labels ?? {});
  if (labels.length === 1) return ['label', labels[0]![0], labels[0]![1]];
  return undefined;
}

export interface ListCount {
  /** Gateways the filter matches. */
  matching: number;
  /** Every gateway the hub knows. */
  total: number;
  /** Whether `matching` was read from kept counts (false: counted over the gateways). */
  kept: boolean;
}

export async function countGateways(db: Sql, f: GatewayFilter): Promise<ListCount> {
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  const filters = given(f);
  const facet = facetOf(f, filters);
  let matching: string;
  let kept = true;
  if (filters.every((k) => STATE_FILTERS.has(k)))
    matching = `select coalesce(sum(n), 0) from gateway_state_counts where ${stateWhere(f, p)}`;
  else if (facet)
    matching = `select coalesce(sum(n), 0) from gateway_facet_counts
                 where kind = ${p(facet[0])} and what = ${p(facet[1])} and value = ${p(facet[2])}`;
  else {
    matching = `select count(*) from gateways where ${gatewayWhere(f, params)}`;
    kept = false;
  }
  const [n] = await db.query<{ matching: string; total: string }>(
    `select (${matching}) as matching, (select coalesce(sum(n), 0) from gateway_state_counts) as total`,
    params,
  );
  return { matching: Number(n!.matching), total: Number(n!.total), kept };
}
