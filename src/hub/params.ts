// The hub's edge: every part of a request is parsed here before any of it reaches a query, so a
// malformed request is a 400 that says which part is wrong, never a 500 from deeper down. One
// parser per kind of parameter (a gateway id, a commit prefix, a cursor, a bounded number, ...);
// a route names the kind of each parameter it takes (./api.ts), and the OpenAPI document shows
// the same kinds, so a new route gets its checks by naming them. Strict percent-decoding, JSON
// with a bounded depth, and times that exist on a calendar live here too.

import { unstorableChar } from '../model/index.js';
import { GATEWAY_STATES, type GatewayFilter, type GatewayState } from './gateway-filter.js';
import type { Param } from './routes.js';

/** An answer other than 200, with the words that say why. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Extra headers of the answer (Allow for a 405). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A gateway id as agents send it: what `gateway.id` allows, bounded. */
export const GATEWAY_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,252}$/;
export const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
export const MAX_LABEL_VALUE = 253;
export const MAX_LABELS = 64;
/** Deeper JSON than this is no report and no admin request: refused before it is parsed. */
export const MAX_JSON_DEPTH = 32;

const bad = (message: string) => new HttpError(400, message);
const shown = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

/** decodeURIComponent that answers 400 for malformed percent-encoding, and refuses what cannot be stored. */
export function decodeStrict(raw: string, what: string): string {
  let s: string;
  try {
    s = decodeURIComponent(raw);
  } catch {
    throw bad(`${what} has malformed percent-encoding: ${shown(raw)}`);
  }
  const c = unstorableChar(s);
  if (c) throw bad(`${what} holds the character ${c}, which the hub does not take`);
  return s;
}

/** The query string as name → values, decoded strictly (`+` is a space, as forms send it). */
export function parseQuery(search: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of search.replace(/^\?/, '').split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = decodeStrict((eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, ' '), 'a query parameter name');
    const value = eq < 0 ? '' : decodeStrict(part.slice(eq + 1).replace(/\+/g, ' '), `query parameter ${name}`);
    out.set(name, [...(out.get(name) ?? []), value]);
  }
  return out;
}

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const ISO_TIME = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{1,9})?(?:Z|([+-])(\d\d):(\d\d))$/;

/**
 * Whether `s` is an ISO 8601 time that exists: a real day of a real month of years 1 to 9999, a
 * time of day, an offset within ±14:00. JavaScript's own parser turns 2026-02-31 into March 3rd,
 * and PostgreSQL refuses it; neither is what a report meant.
 */
export function isIsoTime(s: string): boolean {
  const m = ISO_TIME.exec(s);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, ...number[]];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = month === 2 && !leap ? 28 : DAYS[month! - 1];
  if (year < 1 || !days || day! < 1 || day! > days || hour! > 23 || minute! > 59 || second! > 59) return false;
  if (m[7]) {
    const oh = Number(m[8]);
    const om = Number(m[9]);
    if (om > 59 || oh * 60 + om > 14 * 60) return false;
  }
  return true;
}

/** Whether `v` nests deeper than `left` more levels; the recursion stops one level past the bound. */
function tooDeep(v: unknown, left: number): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (left === 0) return true;
  if (Array.isArray(v)) {
    for (const x of v) if (tooDeep(x, left - 1)) return true;
  } else for (const k in v) if (tooDeep((v as Record<string, unknown>)[k], left - 1)) return true;
  return false;
}

/**
 * JSON.parse (V8's parser keeps its own stack, so any depth parses), then a check that refuses
 * nesting deeper than `maxDepth` (it never goes deeper itself): a deep document would cost the
 * hub's recursive code and PostgreSQL's jsonb a stack each, and no rollgate document nests more
 * than a few levels.
 */
export function parseJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw bad(`the body is not JSON: ${(err as Error).message}`);
  }
  if (tooDeep(doc, maxDepth)) throw bad(`the body nests deeper than ${maxDepth} levels`);
  return doc;
}

/**
 * Whether a JSON text may hold a string PostgreSQL cannot: only through an escape (\u0000, or a
 * \uD800–\uDFFF surrogate), as JSON holds no raw control character and the body was strict UTF-8.
 * Most reports hold none, and need no walk through their strings.
 */
export function escapesUnstorable(text: string): boolean {
  return /\\u(0000|[dD][89a-fA-F])/.test(text);
}

/** The first string (or key) in `v` a PostgreSQL text cannot hold, as "where: U+XXXX". */
export function firstUnstorable(v: unknown, where: string): string | undefined {
  if (typeof v === 'string') {
    const c = unstorableChar(v);
    return c ? `${where} holds the character ${c}` : undefined;
  }
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) {
      const hit = firstUnstorable(x, `${where}.${i}`);
      if (hit) return hit;
    }
    return undefined;
  }
  if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      const hit = firstUnstorable(k, `${where} (a key)`) ?? firstUnstorable(x, `${where}.${k}`);
      if (hit) return hit;
    }
  return undefined;
}

/** How one kind of parameter is read, and how the OpenAPI document describes it. */
export interface ParamKind<T> {
  schema: Record<string, unknown>;
  parse(raw: string, name: string): T;
}

const pattern = (re: RegExp, schema: Record<string, unknown>, says: string): ParamKind<string> => ({
  schema: { type: 'string', pattern: re.source, ...schema },
  parse(raw, name) {
    if (!re.test(raw)) throw bad(`${name} takes ${says}, got ${shown(raw)}`);
    return raw;
  },
});

export const gatewayId = pattern(
  GATEWAY_ID,
  { maxLength: 253 },
  'a gateway id (letters, digits and . _ : @ -, starting with a letter or digit, at most 253 characters)',
);

export const commitPrefix = pattern(/^[0-9a-f]{7,64}$/, {}, 'a commit: 7 to 64 hex digits (lower case)');

export const fullCommit = pattern(
  /^([0-9a-f]{40}|[0-9a-f]{64})$/,
  {},
  'a full commit id (40 or 64 lower-case hex digits)',
);

/** A rollout's id, as rollgate-rollout.yaml spells it (schemas/rollout-state.schema.json). */
export const rolloutId = pattern(
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
  { maxLength: 128 },
  'a rollout id (letters, digits and . _ -, starting with a letter or digit, at most 128 characters)',
);

/** A rollout's track: the fleet's policy, or a fleet target's own (`target:<name>`). */
export const rolloutTrack = pattern(
  /^(fleet|target:[A-Za-z0-9][A-Za-z0-9._-]{0,252})$/,
  {},
  'fleet or target:<name of a fleet target>',
);

/** The words of a failure, as a rollout's page groups them (a verdict's line, at most 500 characters). */
export const failureReason: ParamKind<string> = {
  schema: { type: 'string', maxLength: 1000 },
  parse(raw, name) {
    if (raw.length > 1000) throw bad(`${name} takes at most 1000 characters, got ${raw.length}`);
    return raw;
  },
};

export const condition = pattern(
  /^(Ready|Healthy|Stalled)(=(True|False|Unknown))?$/,
  {},
  'Ready, Healthy or Stalled, with =True, =False or =Unknown',
);

/** A verdict, or the hub's own kinds of event. */
export function eventKind(kinds: readonly string[]): ParamKind<string> {
  return {
    schema: { type: 'string', enum: [...kinds] },
    parse(raw, name) {
      if (!kinds.includes(raw)) throw bad(`${name} takes one of ${kinds.join(', ')}, got ${shown(raw)}`);
      return raw;
    },
  };
}

export const boolean: ParamKind<boolean> = {
  schema: { type: 'boolean' },
  parse(raw, name) {
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw bad(`${name} takes true or false, got ${shown(raw)}`);
  },
};

export function integer(min: number, max: number): ParamKind<number> {
  return {
    schema: { type: 'integer', minimum: min, maximum: max },
    parse(raw, name) {
      const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
      if (!(n >= min && n <= max)) throw bad(`${name} takes a whole number from ${min} to ${max}, got ${shown(raw)}`);
      return n;
    },
  };
}

const BIGINT_MAX = 2n ** 63n - 1n;

/** The seq of an event: a PostgreSQL bigint, kept as text (it may pass 2^53). */
export const cursor: ParamKind<string> = {
  schema: { type: 'string', pattern: '^\\d{1,19}$' },
  parse(raw, name) {
    if (!/^\d{1,19}$/.test(raw) || BigInt(raw) > BIGINT_MAX)
      throw bad(`${name} takes the seq of an event (a whole number below 2^63), got ${shown(raw)}`);
    return String(BigInt(raw));
  },
};

/** `key=value`, a label to match. */
export const labelSelector: ParamKind<[string, string]> = {
  schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}=.{0,253}$' },
  parse(raw, name) {
    const eq = raw.indexOf('=');
    const key = raw.slice(0, eq);
    const value = raw.slice(eq + 1);
    if (eq <= 0 || !LABEL_KEY.test(key) || value.length > MAX_LABEL_VALUE)
      throw bad(
        `${name} takes key=value (a key of letters, digits and . _ / -, a value of at most ${MAX_LABEL_VALUE} ` +
          `characters), got ${shown(raw)}`,
      );
    return [key, value];
  },
};

/** Part of a gateway id to look for. */
export const idSearch: ParamKind<string> = {
  schema: { type: 'string', maxLength: 253 },
  parse(raw, name) {
    if (raw.length > 253) throw bad(`${name} takes at most 253 characters, got ${raw.length}`);
    return raw;
  },
};

/** One of a fixed list of words. */
export function oneOf<T extends string>(words: readonly T[]): ParamKind<T> {
  return {
    schema: { type: 'string', enum: [...words] },
    parse(raw, name) {
      if (!(words as readonly string[]).includes(raw))
        throw bad(`${name} takes one of ${words.join(', ')}, got ${shown(raw)}`);
      return raw as T;
    },
  };
}

/** `type=version`: a component of that type at that version. */
export const componentVersion: ParamKind<[string, string]> = {
  schema: { type: 'string', pattern: '^[^=]{1,128}=.{1,253}$' },
  parse(raw, name) {
    const eq = raw.indexOf('=');
    if (eq <= 0 || eq > 128 || raw.length - eq - 1 < 1 || raw.length - eq - 1 > 253)
      throw bad(`${name} takes type=version (a component's type and version), got ${shown(raw)}`);
    return [raw.slice(0, eq), raw.slice(eq + 1)];
  },
};

/** `app/service=image`: an app's service running that image. */
export const serviceImage: ParamKind<[string, string, string]> = {
  schema: { type: 'string', pattern: '^[^/=]{1,128}/[^=]{1,128}=.{1,512}$' },
  parse(raw, name) {
    const m = /^([^/=]{1,128})\/([^=]{1,128})=(.{1,512})$/s.exec(raw);
    if (!m) throw bad(`${name} takes app/service=image, got ${shown(raw)}`);
    return [m[1]!, m[2]!, m[3]!];
  },
};

/**
 * The filters of a gateway list, the API's and the page's alike: one table, so both take the same
 * names, the same kinds and the same words for them.
 */
export const GATEWAY_FILTER_PARAMS = {
  q: { kind: idSearch, description: 'part of the gateway id, any case' },
  label: { kind: labelSelector, description: 'key=value; repeat for several, all must match', repeat: true },
  commit: { kind: commitPrefix, description: 'the applied commit or a prefix of 7+ hex digits' },
  target: { kind: commitPrefix, description: "the staged rollout's target its last report named (7+ hex digits)" },
  condition: {
    kind: condition,
    description: 'Ready, Healthy or Stalled, optionally =True, =False, =Unknown (bare means =True)',
  },
  stale: { kind: boolean, description: 'true: only silent gateways; false: only reporting ones' },
  state: { kind: oneOf(GATEWAY_STATES), description: 'reporting, silent or never (never reported)' },
  component: { kind: componentVersion, description: 'type=version: runs a component of that type at that version' },
  service: { kind: serviceImage, description: "app/service=image: that app's service runs that image" },
} satisfies Record<string, Param>;

/** The filter a parsed query names (its other parameters are left to the route). */
export function gatewayFilterOf(q: Record<string, unknown>): GatewayFilter {
  const labels = (q['label'] as [string, string][] | undefined) ?? [];
  const f: GatewayFilter = {};
  if (labels.length) f.labels = Object.fromEntries(labels);
  if (q['q'] !== undefined) f.search = q['q'] as string;
  if (q['commit'] !== undefined) f.commit = q['commit'] as string;
  if (q['target'] !== undefined) f.target = q['target'] as string;
  if (q['condition'] !== undefined) f.condition = q['condition'] as string;
  if (q['stale'] !== undefined) f.stale = q['stale'] as boolean;
  if (q['state'] !== undefined) f.state = q['state'] as GatewayState;
  if (q['component'] !== undefined) f.component = q['component'] as [string, string];
  if (q['service'] !== undefined) f.service = q['service'] as [string, string, string];
  return f;
}
