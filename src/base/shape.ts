// The shape of the JSON rollgate reads back from its state directory. Those files are its own,
// written whole, but an operator's editor or a disk fault can leave anything in them; a file of
// the wrong shape must be named with the field at fault, never surface later as a TypeError. Each
// type's shape is written once, next to the type, and the compiler holds the two together:
// `fields<T>()` wants a shape for every key of T, optional exactly where T's key is.

export type Shape =
  | 'string'
  | 'number'
  | 'boolean'
  /** Anything: a part rollgate passes along without reading. */
  | 'unknown'
  | { literal: string }
  /** One of these words: for a value that indexes a table, where an unknown word would break it. */
  | { oneOf: readonly string[] }
  | { list: Shape }
  /** An object used as a map: any keys, each value of this shape. */
  | { map: Shape }
  | { nullable: Shape }
  | { fields: Readonly<Record<string, Shape | Optional>> }
  /** An object of one of several shapes, chosen by the word in its field `tag` (a discriminated union). */
  | { tag: string; variants: Readonly<Record<string, Shape>> };

export interface Optional {
  optional: Shape;
}

/** A key that may be absent (it is never `undefined` when present: exactOptionalPropertyTypes). */
export const optional = (shape: Shape): Optional => ({ optional: shape });

type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];

/** A shape for every key of T: `optional(...)` for T's optional keys, a plain shape for the others. */
export type FieldsOf<T> = { [K in keyof T]-?: K extends OptionalKeys<T> ? Optional : Shape };

/** The shape of an object of type T (other keys are allowed: a newer rollgate may have added some). */
export function fields<T>(f: FieldsOf<T>): Shape {
  return { fields: f as Record<string, Shape | Optional> };
}

/**
 * Like `fields<T>`, for a record read back only in part: every key of T is named, and a key T
 * requires that no reader needs back may still be `optional()`, so that a file without it loads.
 */
export function fieldsAsRead<T>(f: {
  [K in keyof T]-?: K extends OptionalKeys<T> ? Optional : Shape | Optional;
}): Shape {
  return { fields: f as Record<string, Shape | Optional> };
}

/**
 * The shape of a union of object types told apart by their field `tag`: one shape for each word
 * the tag may hold, and the compiler wants one for every member of T.
 */
export function tagged<T, D extends keyof T & string>(tag: D, variants: { [K in T[D] & string]: Shape }): Shape {
  return { tag, variants };
}

/** What a JSON value is, in words. */
export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')
    return `a ${typeof v} (${JSON.stringify(v).slice(0, 40)})`;
  return `a ${typeof v}`;
}

function expected(s: Shape): string {
  if (typeof s === 'string') return s === 'unknown' ? 'anything' : `a ${s}`;
  if ('literal' in s) return JSON.stringify(s.literal);
  if ('oneOf' in s) return `one of ${s.oneOf.join(', ')}`;
  if ('list' in s) return 'a list';
  if ('map' in s || 'fields' in s || 'tag' in s) return 'an object';
  return `null or ${expected(s.nullable)}`;
}

export interface ShapeProblem {
  /** Where, as `bad[2].kind`; empty for the document itself. */
  path: string;
  found: string;
  expected: string;
}

/** A mapping (a JSON or YAML object), not null and not a list. */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const join = (path: string, key: string | number) =>
  typeof key === 'number'
    ? `${path}[${key}]`
    : /^[A-Za-z_$][\w$]*$/.test(key)
      ? path
        ? `${path}.${key}`
        : key
      : `${path}[${JSON.stringify(key)}]`;

/** The first place where `value` is not of `shape`; undefined when it is. */
export function shapeProblem(value: unknown, shape: Shape, path = ''): ShapeProblem | undefined {
  const wrong = (): ShapeProblem => ({ path, found: kindOf(value), expected: expected(shape) });
  if (shape === 'unknown') return undefined;
  if (shape === 'string' || shape === 'number' || shape === 'boolean')
    return typeof value === shape && (shape !== 'number' || Number.isFinite(value)) ? undefined : wrong();
  if ('literal' in shape) return value === shape.literal ? undefined : wrong();
  if ('oneOf' in shape) return typeof value === 'string' && shape.oneOf.includes(value) ? undefined : wrong();
  if ('nullable' in shape) return value === null ? undefined : shapeProblem(value, shape.nullable, path);
  if ('list' in shape) {
    if (!Array.isArray(value)) return wrong();
    for (let i = 0; i < value.length; i++) {
      const p = shapeProblem(value[i], shape.list, join(path, i));
      if (p) return p;
    }
    return undefined;
  }
  if (!isObject(value)) return wrong();
  if ('tag' in shape) {
    const word = value[shape.tag];
    const variant = typeof word === 'string' && Object.hasOwn(shape.variants, word) ? shape.variants[word] : undefined;
    if (variant) return shapeProblem(value, variant, path);
    const words = Object.keys(shape.variants);
    return {
      path: join(path, shape.tag),
      found: word === undefined ? 'missing' : kindOf(word),
      expected: `one of ${words.join(', ')}`,
    };
  }
  if ('map' in shape) {
    for (const [k, v] of Object.entries(value)) {
      const p = shapeProblem(v, shape.map, join(path, k));
      if (p) return p;
    }
    return undefined;
  }
  for (const [k, f] of Object.entries(shape.fields)) {
    const opt = typeof f === 'object' && 'optional' in f;
    const v = value[k];
    if (v === undefined) {
      if (opt) continue;
      return { path: join(path, k), found: 'missing', expected: expected(f as Shape) };
    }
    const p = shapeProblem(v, opt ? f.optional : (f as Shape), join(path, k));
    if (p) return p;
  }
  return undefined;
}

/** "bad[2].kind is a number (7), expected a string"; the document itself is "the file". */
export function describeProblem(p: ShapeProblem): string {
  if (p.found === 'missing') return `${p.path} is missing (expected ${p.expected})`;
  return `${p.path || 'the file'} ${p.path ? 'is' : 'holds'} ${p.found}, expected ${p.expected}`;
}
