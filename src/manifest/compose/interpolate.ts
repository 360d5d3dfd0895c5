// `${VAR}` interpolation with the Compose specification's semantics, so a file that works with
// `docker compose` means the same here: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?err},
// ${VAR?err}, ${VAR:+r}, ${VAR+r}, $$ for a literal $, and defaults that interpolate in turn.
// Pure: the variables come in, the string (or the reason it cannot be made) goes out, with the
// variables whose values went into it, so a message about the result can name them (provenance).

export type Variables = ReadonlyMap<string, string>;

export interface Interpolated {
  value: string;
  /** Variables that were unset where the file gave no default: they became "" (a warning, as in Compose). */
  unset: string[];
  /** Variables whose values went into `value`. */
  used: string[];
}

export class InterpolationError extends Error {
  override name = 'InterpolationError';
  constructor(
    message: string,
    /** The same without the text it quotes, for files whose text is secret (a gateway's variables file). */
    readonly brief: string = message,
  ) {
    super(message);
  }
}

interface Scope {
  vars: Variables;
  unset: Set<string>;
  used: Set<string>;
  /** Variables whose values a message must not quote. */
  hidden: ReadonlySet<string>;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Index of the `}` that closes the `${` whose body starts at `from`, honouring nested `${…}`. */
function closingBrace(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === '$' && s[i + 1] === '$') i++;
    else if (c === '$' && s[i + 1] === '{') {
      depth++;
      i++;
    } else if (c === '}' && --depth === 0) return i;
  }
  return -1;
}

function expandBraced(body: string, sc: Scope): string {
  const m = NAME.exec(body);
  if (!m)
    throw new InterpolationError(
      `"\${${body}}" is not a variable reference (a name of letters, digits and _, not starting with a digit)`,
      'a ${...} is not a variable reference (a name of letters, digits and _, not starting with a digit)',
    );
  const name = m[0];
  const rest = body.slice(name.length);
  const value = sc.vars.get(name);
  const isSet = value !== undefined;
  const nonEmpty = isSet && value !== '';
  const take = (v: string) => (sc.used.add(name), v);
  if (rest === '') {
    if (!isSet) sc.unset.add(name);
    return isSet ? take(value) : '';
  }
  const op = /^(:-|-|:\?|\?|:\+|\+)/.exec(rest)?.[0];
  if (!op)
    throw new InterpolationError(
      `"\${${body}}" has an unknown modifier "${rest.slice(0, 2)}" (expected :-, -, :?, ?, :+ or +)`,
      'a ${...} has an unknown modifier (expected :-, -, :?, ?, :+ or +)',
    );
  const text = rest.slice(op.length);
  const arg = () => expand(text, sc);
  /** The file's own words for a missing variable; as written when expanding them would quote a hidden value. */
  const required = (state: string) => {
    const inner: Scope = { ...sc, used: new Set() };
    const said = expand(text, inner);
    const words = [...inner.used].some((u) => sc.hidden.has(u)) ? text : said;
    return new InterpolationError(
      `required variable ${name} is ${state}: ${words || `${name} must be set`}`,
      `required variable ${name} is ${state}`,
    );
  };
  switch (op) {
    case ':-':
      return nonEmpty ? take(value) : arg();
    case '-':
      return isSet ? take(value) : arg();
    case ':?':
      if (nonEmpty) return take(value);
      throw required(isSet ? 'empty' : 'not set');
    case '?':
      if (isSet) return take(value);
      throw required('not set');
    case ':+':
      return nonEmpty ? arg() : '';
    default:
      return isSet ? arg() : '';
  }
}

function expand(s: string, sc: Scope): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '$') {
      out += c;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '{') {
      const end = closingBrace(s, i + 2);
      if (end < 0) throw new InterpolationError(`"${s.slice(i, i + 40)}" has no closing }`, 'a ${ has no closing }');
      out += expandBraced(s.slice(i + 2, end), sc);
      i = end;
    } else {
      const m = NAME.exec(s.slice(i + 1));
      if (!m) {
        out += '$'; // a lone $ (e.g. "cost: 5$") stays, as in Compose
        continue;
      }
      const v = sc.vars.get(m[0]);
      if (v === undefined) sc.unset.add(m[0]);
      else sc.used.add(m[0]);
      out += v ?? '';
      i += m[0].length;
    }
  }
  return out;
}

/**
 * Interpolates one string; throws InterpolationError for a malformed reference or a required
 * variable. The message of a required variable quotes the file's own text, unexpanded, where
 * expanding it would quote a `hidden` variable's value.
 */
export function interpolate(s: string, vars: Variables, hidden: ReadonlySet<string> = new Set()): Interpolated {
  const sc: Scope = { vars, unset: new Set(), used: new Set(), hidden };
  const value = expand(s, sc);
  return { value, unset: [...sc.unset], used: [...sc.used] };
}
