// `${VAR}` interpolation with the Compose specification's semantics, so a file that works with
// `docker compose` means the same here: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?err},
// ${VAR?err}, ${VAR:+r}, ${VAR+r}, $$ for a literal $, and defaults that interpolate in turn.
// Pure: the variables come in, the string (or the reason it cannot be made) goes out.

export type Variables = ReadonlyMap<string, string>;

export interface Interpolated {
  value: string;
  /** Variables that were unset where the file gave no default: they became "" (a warning, as in Compose). */
  unset: string[];
}

export class InterpolationError extends Error {
  override name = 'InterpolationError';
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

function expandBraced(body: string, vars: Variables, unset: Set<string>): string {
  const m = NAME.exec(body);
  if (!m)
    throw new InterpolationError(
      `"\${${body}}" is not a variable reference (a name of letters, digits and _, not starting with a digit)`,
    );
  const name = m[0];
  const rest = body.slice(name.length);
  const value = vars.get(name);
  const isSet = value !== undefined;
  const nonEmpty = isSet && value !== '';
  if (rest === '') {
    if (!isSet) unset.add(name);
    return value ?? '';
  }
  const op = /^(:-|-|:\?|\?|:\+|\+)/.exec(rest)?.[0];
  if (!op)
    throw new InterpolationError(
      `"\${${body}}" has an unknown modifier "${rest.slice(0, 2)}" (expected :-, -, :?, ?, :+ or +)`,
    );
  const arg = () => expand(rest.slice(op.length), vars, unset);
  switch (op) {
    case ':-':
      return nonEmpty ? value : arg();
    case '-':
      return isSet ? value : arg();
    case ':?':
      if (nonEmpty) return value;
      throw new InterpolationError(
        `required variable ${name} is ${isSet ? 'empty' : 'not set'}: ${arg() || `${name} must be set`}`,
      );
    case '?':
      if (isSet) return value;
      throw new InterpolationError(`required variable ${name} is not set: ${arg() || `${name} must be set`}`);
    case ':+':
      return nonEmpty ? arg() : '';
    default:
      return isSet ? arg() : '';
  }
}

function expand(s: string, vars: Variables, unset: Set<string>): string {
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
      if (end < 0) throw new InterpolationError(`"${s.slice(i, i + 40)}" has no closing }`);
      out += expandBraced(s.slice(i + 2, end), vars, unset);
      i = end;
    } else {
      const m = NAME.exec(s.slice(i + 1));
      if (!m) {
        out += '$'; // a lone $ (e.g. "cost: 5$") stays, as in Compose
        continue;
      }
      const v = vars.get(m[0]);
      if (v === undefined) unset.add(m[0]);
      out += v ?? '';
      i += m[0].length;
    }
  }
  return out;
}

/** Interpolates one string; throws InterpolationError for a malformed reference or a required variable. */
export function interpolate(s: string, vars: Variables): Interpolated {
  const unset = new Set<string>();
  const value = expand(s, vars, unset);
  return { value, unset: [...unset] };
}
