// Typed reads of Compose values after interpolation. Compose casts interpolated strings to the
// type a key needs ("cpus: ${CPUS}" is a number once CPUS is known), so each reader accepts the
// value or its string form and reports anything else once, at its place, in user terms.

import type { At, LoadContext } from '../context.js';
import { parseDuration } from '../../base/duration.js';
import { isObject } from '../../base/shape.js';

export type Raw = Record<string, unknown>;

/** A Compose mapping (src/base/shape.ts says what a mapping is). */
export const isMap: (v: unknown) => v is Raw = isObject;

export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Reads the keys of one mapping, each problem placed at its key's path. */
export class Reader {
  constructor(
    readonly ctx: LoadContext,
    readonly at: At,
    readonly raw: Raw,
  ) {}

  has(k: string): boolean {
    return this.raw[k] !== undefined;
  }

  here(...path: (string | number)[]): At {
    return { y: this.at.y, path: [...this.at.path, ...path] };
  }

  bad(
    k: string | (string | number)[],
    expected: string,
    v: unknown = Array.isArray(k) ? undefined : this.raw[k],
  ): undefined {
    const path = Array.isArray(k) ? k : [k];
    this.ctx.at(this.here(...path), `${path.join('.')}: expected ${expected}, got ${describe(v)}`);
    return undefined;
  }

  sub(k: string): Reader | undefined {
    const v = this.raw[k];
    if (v === undefined || v === null) return undefined;
    if (!isMap(v)) return this.bad(k, 'a mapping');
    return new Reader(this.ctx, this.here(k), v);
  }

  str(k: string): string | undefined {
    const v = this.raw[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return this.bad(k, 'a string');
  }

  bool(k: string): boolean | undefined {
    const v = this.raw[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string') {
      const s = v.toLowerCase();
      if (['true', 'yes', 'on', '1', 't'].includes(s)) return true;
      if (['false', 'no', 'off', '0', 'f', ''].includes(s)) return false;
    }
    return this.bad(k, 'true or false');
  }

  num(k: string, opts: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
    const v = this.raw[k];
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    const what =
      (opts.int ? 'a whole number' : 'a number') +
      (opts.min !== undefined ? ` of at least ${opts.min}` : '') +
      (opts.max !== undefined ? ` of at most ${opts.max}` : '');
    if (
      !Number.isFinite(n) ||
      (opts.int && !Number.isInteger(n)) ||
      (opts.min !== undefined && n < opts.min) ||
      (opts.max !== undefined && n > opts.max)
    )
      return this.bad(k, what);
    return n;
  }

  /** `512m`, `1gb`, `2.5g` or a number of bytes, as Compose reads sizes. */
  bytes(k: string): number | undefined {
    const v = this.raw[k];
    if (v === undefined || v === null) return undefined;
    const n = parseBytes(v);
    return n === undefined ? this.bad(k, 'a size such as 512m, 1g or a number of bytes') : n;
  }

  duration(k: string): number | undefined {
    const v = this.raw[k];
    if (v === undefined || v === null) return undefined;
    const ms = typeof v === 'string' ? parseComposeDuration(v) : undefined;
    return ms === undefined ? this.bad(k, 'a duration such as 30s, 1m30s or 500ms') : ms;
  }

  /** A string or a list of strings. */
  strList(k: string): string[] | undefined {
    const v = this.raw[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return [v];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.map(String);
    return this.bad(k, 'a string or a list of strings');
  }

  /** A list of strings (numbers are taken as their text). */
  list(k: string): string[] | undefined {
    const v = this.raw[k];
    if (v === undefined || v === null) return undefined;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.map(String);
    return this.bad(k, 'a list of strings');
  }

  /**
   * `{K: V}` or `["K=V"]`. An entry without a value goes to `missing` (environment takes the
   * variable of that name; labels take "").
   */
  mapOrList(
    k: string,
    missing: (key: string, at: At) => string | undefined = () => '',
  ): Record<string, string> | undefined {
    const v = this.raw[k];
    if (v === undefined || v === null) return undefined;
    const out: Record<string, string> = {};
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        if (typeof item !== 'string' && typeof item !== 'number')
          return void this.bad([k, i], 'a "KEY=value" string', item);
        const s = String(item);
        const eq = s.indexOf('=');
        if (eq === 0) return void this.bad([k, i], 'a "KEY=value" string', item);
        if (eq < 0) {
          const got = missing(s, this.here(k, i));
          if (got !== undefined) out[s] = got;
        } else out[s.slice(0, eq)] = s.slice(eq + 1);
      });
      return out;
    }
    if (!isMap(v)) return this.bad(k, 'a mapping or a list of "KEY=value" strings');
    for (const [key, val] of Object.entries(v)) {
      if (val === null || val === undefined) {
        const got = missing(key, this.here(k, key));
        if (got !== undefined) out[key] = got;
      } else if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean') out[key] = String(val);
      else this.bad([k, key], 'a string, number or boolean', val);
    }
    return out;
  }
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
};

export function parseBytes(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  return m && unit !== undefined ? Math.round(Number(m[1]) * unit) : undefined;
}

/** Go-style durations as Compose writes them (1m30s, 500ms, 10s, 2h, 100ns), or plain seconds. */
export function parseComposeDuration(v: string): number | undefined {
  const t = v.trim();
  if (/^[0-9]+$/.test(t)) return Number(t) * 1000;
  const ms = parseDuration(t.replace(/([0-9.]+)ns/g, (_, n: string) => `${Number(n) / 1000}us`));
  return ms;
}

/**
 * Compose's unicity rule for lists (compose-go's EnforceUnicity): a later entry with the key of an
 * earlier one replaces it, in the earlier one's place. `where`, when given, follows the entries.
 */
export function unique<T>(items: T[], key: (t: T) => string, where?: unknown[]): T[] {
  const out: T[] = [];
  const at: unknown[] = [];
  const seen = new Map<string, number>();
  items.forEach((t, i) => {
    const k = key(t);
    const j = seen.get(k);
    if (j !== undefined) {
      out[j] = t;
      at[j] = where?.[i];
    } else {
      seen.set(k, out.length);
      out.push(t);
      at.push(where?.[i]);
    }
  });
  if (where) where.splice(0, where.length, ...at);
  return out;
}
