// Which gateways a list shows: the filters the API's /api/v1/gateways and the page's /gateways
// both take (parsed once, by the kinds in ./params.ts), turned into one SQL condition here, so the
// page and the API can never disagree on what a filter means.

export type GatewayState = 'reporting' | 'silent' | 'never';
export const GATEWAY_STATES: readonly GatewayState[] = ['reporting', 'silent', 'never'];

export interface GatewayFilter {
  /** Part of the id, any case. */
  search?: string;
  /** key=value pairs the hub set, all of which must match. */
  labels?: Record<string, string>;
  /** The applied commit, or a prefix of it (at least 7 hex digits). */
  commit?: string;
  /** The staged rollout's target its last report named, or a prefix of it. */
  target?: string;
  /** `Ready`, `Ready=False`, `Healthy=True`, ...; a bare type means =True. */
  condition?: string;
  /** true: only silent gateways; false: only those reporting. */
  stale?: boolean;
  state?: GatewayState;
  /** A component of this type at this version (`type=version`). */
  component?: [string, string];
  /** An app's service on this image (`app/service=image`). */
  service?: [string, string, string];
}

const CONDITION = /^(Ready|Healthy|Stalled)(?:=(True|False|Unknown))?$/;

/** Thrown for a filter value that the edge should have refused (callers below the edge). */
export class FilterError extends Error {
  override name = 'FilterError';
}

/** A commit filter's value checked: 7 to 64 hex digits, the prefix of a commit id. */
export function checkCommitPrefix(value: string, name: string): string {
  if (!/^[0-9a-f]{7,64}$/.test(value)) throw new FilterError(`${name} takes 7 to 64 hex digits`);
  return value;
}

/** A condition filter as the column it reads (`ready`, `healthy`, `stalled`) and the value it wants. */
export function conditionOf(condition: string): { column: string; value: string } {
  const m = CONDITION.exec(condition);
  if (!m) throw new FilterError('condition takes Ready, Healthy or Stalled, with =True, =False or =Unknown');
  return { column: m[1]!.toLowerCase(), value: m[2] ?? 'True' };
}

/** The SQL condition (`true` for none) and its parameters, numbered from `$1 + params.length`. */
export function gatewayWhere(f: GatewayFilter, params: unknown[]): string {
  const where: string[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (f.search) where.push(`strpos(lower(id), lower(${p(f.search)})) > 0`);
  if (f.labels && Object.keys(f.labels).length) where.push(`labels @> ${p(JSON.stringify(f.labels))}::jsonb`);
  for (const [column, value, name] of [
    ['applied_commit', f.commit, 'commit'],
    ['rollout_target', f.target, 'target'],
  ] as const) {
    if (value) where.push(`${column} like ${p(checkCommitPrefix(value, name) + '%')}`);
  }
  if (f.condition) {
    const c = conditionOf(f.condition);
    where.push(`${c.column} = ${p(c.value)}`);
  }
  if (f.stale === true) where.push('silent_since is not null');
  if (f.stale === false) where.push('silent_since is null');
  if (f.state === 'reporting') where.push('last_seen is not null and silent_since is null');
  if (f.state === 'silent') where.push('silent_since is not null');
  if (f.state === 'never') where.push('last_seen is null');
  if (f.component) {
    const [type, version] = f.component;
    where.push(`status->'components' @> ${p(JSON.stringify([{ type, version }]))}::jsonb`);
  }
  if (f.service) {
    const [app, service, image] = f.service;
    where.push(`status->'containers' @> ${p(JSON.stringify([{ app, service, image }]))}::jsonb`);
  }
  return where.length ? where.join(' and ') : 'true';
}

/** How the page's list may be ordered; a leading `-` reverses. */
export const GATEWAY_SORTS = [
  'id',
  '-id',
  'last-seen',
  '-last-seen',
  'applied',
  '-applied',
  'state',
  '-state',
] as const;
export type GatewaySort = (typeof GATEWAY_SORTS)[number];

/** The ORDER BY of a sort, ending in the id so that pages never overlap. */
export function gatewayOrder(sort: GatewaySort): string {
  const desc = sort.startsWith('-');
  const dir = desc ? 'desc' : 'asc';
  const nulls = desc ? 'nulls last' : 'nulls first';
  switch (sort.replace(/^-/, '')) {
    case 'last-seen':
      return `last_seen ${dir} ${nulls}, id`;
    case 'applied':
      return `applied_commit ${dir} ${nulls}, id`;
    case 'state':
      // never seen, then silent, then reporting: what needs a look first
      return `(case when last_seen is null then 0 when silent_since is not null then 1 else 2 end) ${dir}, id`;
    default:
      return `id ${dir}`;
  }
}
