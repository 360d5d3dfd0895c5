// Env files as Compose reads them (the `.env` beside a Compose file, `env_file:`, a gateway's
// variables file): KEY=VALUE lines, `export`, # comments, single quotes taken literally, double
// quotes with escapes and line breaks, and ${VAR} in unquoted and double-quoted values.

import { interpolate, InterpolationError, type Variables } from './interpolate.js';

export interface EnvFileResult {
  env: Record<string, string>;
  errors: { line: number; message: string }[];
}

const KEY = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(=)?/;

/**
 * Parses an env file. `lookup` answers ${VAR} references to names the file has not set itself
 * (Compose looks in the environment; rollgate in the variables of lower precedence).
 */
export function parseEnvFile(text: string, lookup: Variables = new Map()): EnvFileResult {
  const env: Record<string, string> = {};
  const errors: EnvFileResult['errors'] = [];
  const scope = (): Variables => new Map([...lookup, ...Object.entries(env)]);
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = KEY.exec(line);
    if (!m) {
      errors.push({ line: lineNo, message: `expected KEY=VALUE, got ${JSON.stringify(line.slice(0, 60))}` });
      continue;
    }
    const key = m[1]!;
    if (!m[2]) {
      // `KEY` alone takes the value of that name from outside, as Compose does with the environment.
      if (line.slice(m[0].length).trim() !== '')
        errors.push({ line: lineNo, message: `expected KEY=VALUE, got ${JSON.stringify(line.slice(0, 60))}` });
      else if (lookup.has(key)) env[key] = lookup.get(key)!;
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
          );
        body = body.slice(0, close);
        env[key] = quote === "'" ? body : interpolate(unescapeDouble(body), scope()).value;
      } else {
        raw = raw.replace(/(^|\s)#.*$/, '').trimEnd();
        env[key] = interpolate(raw, scope()).value;
      }
    } catch (err) {
      if (!(err instanceof InterpolationError)) throw err;
      errors.push({ line: lineNo, message: `${key}: ${err.message}` });
    }
  }
  return { env, errors };
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
