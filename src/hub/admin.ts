// Gateways and people's tokens: what `rollgate hub gateway add` and `rollgate hub token add` do,
// directly on the database or through the admin API. A token is returned once and only its hash
// is stored.

import { unstorableChar } from '../model/index.js';
import type { Sql } from './db.js';
import { GATEWAY_ID, LABEL_KEY, MAX_LABEL_VALUE, MAX_LABELS } from './params.js';
import { hashToken, newToken, roleOf, type Role } from './tokens.js';

export class AdminError extends Error {
  override name = 'AdminError';
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 = 400,
  ) {
    super(message);
  }
}

export function checkGatewayId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !GATEWAY_ID.test(id))
    throw new AdminError(
      `"${String(id).slice(0, 80)}" is not a gateway id: letters, digits and . _ : @ -, starting with a letter or ` +
        'digit, at most 253 characters',
    );
}

/** Labels are a map of string to string, bounded; anything else is refused, whatever path it came by. */
function checkLabels(labels: unknown): asserts labels is Record<string, string> {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels))
    throw new AdminError('labels are a map of key to value, e.g. { "site": "berlin" }');
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw new AdminError(`a gateway has at most ${MAX_LABELS} labels`);
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k)) throw new AdminError(`label key "${k.slice(0, 80)}" is not letters, digits and . _ / -`);
    if (typeof v !== 'string' || v.length > MAX_LABEL_VALUE || unstorableChar(v))
      throw new AdminError(`label ${k} needs a text value of at most ${MAX_LABEL_VALUE} characters`);
  }
}

/** Adds a gateway; its token is returned, once. */
export async function addGateway(db: Sql, id: string, labels: Record<string, string> = {}): Promise<string> {
  checkGatewayId(id);
  checkLabels(labels);
  const token = newToken('gateway');
  const rows = await db.query(
    `insert into gateways (id, labels, token_hash) values ($1, $2::jsonb, $3)
     on conflict (id) do nothing returning id`,
    [id, JSON.stringify(labels), hashToken(token)],
  );
  if (rows.length === 0)
    throw new AdminError(
      `gateway ${id} exists already; \`rollgate hub gateway token ${id}\` gives it a new token ` +
        '(the old one stops working)',
      409,
    );
  return token;
}

/**
 * A new token for a gateway; the old one stops working. Whoever held the old one may have sent
 * reports numbered past the gateway's own, so the order of its reports starts again: the first
 * report under the new token sets its status (./ingest.ts).
 */
export async function rotateGatewayToken(db: Sql, id: string): Promise<string> {
  const token = newToken('gateway');
  const rows = await db.query(
    'update gateways set token_hash = $2, report_taken_at = null where id = $1 returning id',
    [id, hashToken(token)],
  );
  if (rows.length === 0) throw new AdminError(`no gateway ${id}; \`rollgate hub gateway add ${id}\` adds it`, 404);
  return token;
}

export async function removeGateway(db: Sql, id: string): Promise<void> {
  const rows = await db.query('delete from gateways where id = $1 returning id', [id]);
  if (rows.length === 0) throw new AdminError(`no gateway ${id}`, 404);
}

export async function addToken(db: Sql, role: Exclude<Role, 'gateway'>, name: string): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$/.test(name))
    throw new AdminError(`token name "${name.slice(0, 80)}" is not letters, digits and . _ @ -`);
  const token = newToken(role);
  const rows = await db.query(
    'insert into tokens (hash, name, role) values ($1, $2, $3) on conflict (name) do nothing returning name',
    [hashToken(token), name, role],
  );
  if (rows.length === 0) throw new AdminError(`a token named ${name} exists already; remove it first`, 409);
  return token;
}

export async function removeToken(db: Sql, name: string): Promise<void> {
  const rows = await db.query('delete from tokens where name = $1 returning name', [name]);
  if (rows.length === 0) throw new AdminError(`no token named ${name}`, 404);
}

export async function listTokens(db: Sql): Promise<{ name: string; role: string; createdAt: string }[]> {
  return db.query('select name, role, created_at as "createdAt" from tokens order by name');
}

export type Principal = { role: 'gateway'; gateway: string } | { role: 'reader' | 'admin'; name: string };

/** Who a bearer token is, or undefined. */
export async function authenticate(db: Sql, token: string): Promise<Principal | undefined> {
  const role = roleOf(token);
  if (!role) return undefined;
  const hash = hashToken(token);
  if (role === 'gateway') {
    const [g] = await db.query<{ id: string }>('select id from gateways where token_hash = $1', [hash]);
    return g ? { role: 'gateway', gateway: g.id } : undefined;
  }
  const [t] = await db.query<{ name: string; role: 'reader' | 'admin' }>(
    'select name, role from tokens where hash = $1',
    [hash],
  );
  return t && t.role === role ? { role: t.role, name: t.name } : undefined;
}
