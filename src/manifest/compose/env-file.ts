// Env files as Compose reads them (the `.env` beside a Compose file, `env_file:`, a gateway's
// variables file): KEY=VALUE lines, `export`, # comments, single quotes taken literally, double
// quotes with escapes and line breaks, and ${VAR} in unquoted and double-quoted values.

import { interpolate, InterpolationError, type Variables } from './interpolate.js';

export interface EnvFileResult {
  env: Record<string, string>;
  /** `brief` says the same as `message` without quoting the file: for a file whose text is secret. */
  errors: { line: number; message: string; brief: string }[];
  /** Keys whose values were made from a `hidden` variable: as secret as it is. */
  derived: string[];
}

const KEY = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(=)?/;

/**
 * Parses an env file. `lookup` answers ${VAR} references to names the file has not set itself
 * (Compose looks in the environment; rollgate in the variables of lower precedence); those in
 * `hidden` are the gateway's own, and a key made from one is `derived`.
 */
export function parseEnvFile(
  text: string,
  lookup: Variables = new Map(),
  hidden: ReadonlySet<string> = new Set(),
): EnvFileResult {
  const env: Record<string, string> = {};
  const errors: EnvFileResult['errors'] = [];
  const derived = new Set<string>();
  const scope = (): Variables => new Map([...lookup, ...Object.entries(env)]);
  /** A name the file set itself is hidden when its value was made from a hidden one. */
  const secretNames = (): ReadonlySet<string> => new Set([...[...hidden].filter((n) => !(n in env)), ...derived]);
  const set = (key: string, value: string, used: readonly string[], names: ReadonlySet<string>) => {
    env[key] = value;
    if (used.some((u) => names.has(u))) derived.add(key);
    else derived.delete(key);
  };
  const syntax = (lineNo: number, line: string) =>
    errors.push({
      line: lineNo,
      message: `expected KEY=VALUE, got ${JSON.stringify(line.slice(0, 60))}`,
      brief: 'expected KEY=VALUE',
    });
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = KEY.exec(line);
    if (!m) {
      syntax(lineNo, line);
      continue;
    }
    const key = m[1]!;
    if (!m[2]) {
      // `KEY` alone takes the value of that name from outside, as Compose does with the environment.
      if (line.slice(m[0].length).trim() !== '') syntax(lineNo, line);
      else if (lookup.has(key)) set(key, lookup.get(key)!, [key], hidden);
      continue;
    }
    let raw = line.slice(m[0].length).trimStart();
    const quote = raw[0] === '"' || raw[0] === "'" ? raw[0] : undefined;
    try {
      if (quote) {
        // A quoted value may go on over the following lines until its closing quote.
        let body = raw.slice(1);
        let close = findClose(body, quote);
        while (close < 0 && i + 1 < lines.length) {
          body += '\n' + lines[++i]!;
          close = findClose(body, quote);
        }
        if (close < 0) throw new InterpolationError(`the ${quote} quote opened on line ${lineNo} is never closed`);
        const after = body.slice(close + 1).trim();
        if (after !== '' && !after.startsWith('#'))
          throw new InterpolationError(
            `unexpected text after the closing quote: ${JSON.stringify(after.slice(0, 30))}`,
            'unexpected text after the closing quote',
          );
        body = body.slice(0, close);
        if (quote === "'") set(key, body, [], hidden);
        else {
          const names = secretNames();
          const r = interpolate(unescapeDouble(body), scope(), names);
          set(key, r.value, r.used, names);
        }
      } else {
        raw = raw.replace(/(^|\s)#.*$/, '').trimEnd();
        const names = secretNames();
        const r = interpolate(raw, scope(), names);
        set(key, r.value, r.used, names);
      }
    } catch (err) {
      if (!(err instanceof InterpolationError)) throw err;
      errors.push({ line: lineNo, message: `${key}: ${err.message}`, brief: `${key}: ${err.brief}` });
    }
  }
  return { env, errors, derived: [...derived] };
}

function findClose(body: string, quote: string): number {
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\' && quote === '"') i++;
    else if (body[i] === quote) return i;
  }
  return -1;
}

function unescapeDouble(s: string): string {
  return s.replace(/\\([nrt"\\$])/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? (c === '$' ? '$$' : c));
}

/** Splits a command string as Compose does: whitespace-separated, with quotes and backslashes. */
export function splitCommand(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in ${JSON.stringify(s)}`);
  if (inWord) out.push(cur);
  return out;
}
