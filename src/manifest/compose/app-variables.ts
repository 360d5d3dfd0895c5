// The variables of one app, as `docker compose` sees them: the `.env` beside the Compose file,
// ${VAR} interpolated through the whole file (unset names noted where they were met), and the
// env_file and label_file a service reads.

import { posix } from 'node:path';
import { statePath } from '../../base/state-dir.js';
import type { At, LoadContext } from '../context.js';
import { RepoPathError, resolveRepoPath, UndecryptableFileError } from '../source.js';
import type { PathSeg, YamlFile } from '../yaml-file.js';
import { parseEnvFile } from './env-file.js';
import { interpolate, InterpolationError, type Variables } from './interpolate.js';
import { isMap, Reader, type Raw } from './values.js';

const MAX_ENV_FILE_BYTES = 256 * 1024;

/** Variables that were not set: where each was first met, and the ones each string met. */
export interface Unset {
  first: Map<string, PathSeg[]>;
  /** By JSON of the string's path. */
  at: Map<string, string[]>;
}

/** " (variable X is not set ...)" for a value made from unset variables, which Compose makes empty too. */
export function unsetNote(unset: Unset, path: readonly PathSeg[]): string {
  const names = unset.at.get(JSON.stringify(path));
  if (!names?.length) return '';
  return names.length === 1
    ? ` (variable ${names[0]} is not set, so it became an empty string, as in Compose)`
    : ` (variables ${names.join(', ')} are not set, so they became empty strings, as in Compose)`;
}

/**
 * The project folder on the gateway, which `${PWD}` names unless the variables set PWD: the folder
 * of the Compose file under the app's data directory, where a relative path the repo does not hold
 * is kept (`./mqtt` and `${PWD}/mqtt` are one place, as with Compose run from the project folder).
 */
export function projectFolder(stateDir: string, appName: string, composeFile: string): string {
  return posix.join(statePath(stateDir, 'data'), appName, posix.dirname(composeFile));
}

/**
 * Interpolates every string value in place; problems and unset names are reported at their path,
 * and strings made from the gateway's own variables are marked, so problems about them name the
 * variables instead of quoting what they hold.
 */
export function interpolateTree(
  ctx: LoadContext,
  y: YamlFile,
  value: unknown,
  path: PathSeg[],
  vars: Variables,
  unset: Unset,
): unknown {
  if (typeof value === 'string') {
    const concealer = ctx.problems.concealer;
    try {
      const r = interpolate(value, vars, concealer.names);
      for (const u of r.unset) if (!unset.first.has(u)) unset.first.set(u, path);
      if (r.unset.length) unset.at.set(JSON.stringify(path), r.unset);
      concealer.taint({ file: y.file, path }, value, r.value, r.used);
      return r.value;
    } catch (err) {
      if (!(err instanceof InterpolationError)) throw err;
      ctx.at({ y, path }, err.message);
      return value;
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateTree(ctx, y, v, [...path, i], vars, unset));
  if (isMap(value)) {
    const out: Raw = {};
    for (const [k, v] of Object.entries(value))
      out[k] =
        k.startsWith('x-') && path.length <= 2 && k !== 'x-rollgate'
          ? v
          : interpolateTree(ctx, y, v, [...path, k], vars, unset);
    return out;
  }
  return value;
}

/**
 * The `.env` beside the Compose file: the lowest layer of the app's variables. A value it makes
 * from the gateway's own variables is as secret as they are.
 */
export async function dotEnv(ctx: LoadContext, composeFile: string, over: Variables): Promise<Map<string, string>> {
  const envPath = resolveRepoPath(composeFile, '.env');
  // A `.env` directory (a project's data folder) is not an env file; Compose passes it by too.
  if ((await ctx.source.list(envPath, 1).catch(() => null)) !== null) return new Map(over);
  const f = await ctx.source.read(envPath, { maxBytes: MAX_ENV_FILE_BYTES }).catch((err: unknown) => {
    if (err instanceof RepoPathError) {
      ctx.problems.add({ file: envPath, message: err.message });
      return null;
    }
    throw err;
  });
  if (!f) return new Map(over);
  const concealer = ctx.problems.concealer;
  const parsed = parseEnvFile(new TextDecoder().decode(f.bytes), over, concealer.names);
  for (const e of parsed.errors)
    ctx.problems.add({ file: envPath, line: e.line, column: 1, message: f.decrypted ? e.brief : e.message });
  if (f.decrypted) for (const [k, v] of Object.entries(parsed.env)) if (!over.has(k)) concealer.hide(k, v);
  for (const k of parsed.derived) if (!over.has(k)) concealer.hide(k, parsed.env[k]!);
  return new Map([...Object.entries(parsed.env), ...over]);
}

export async function readEnvFiles(
  ctx: LoadContext,
  composeFile: string,
  r: Reader,
  key: 'env_file' | 'label_file',
  vars: Variables,
): Promise<Record<string, string>> {
  const spec = r.raw[key];
  if (spec === undefined || spec === null) return {};
  const entries: { path: string; required: boolean; at: At }[] = [];
  if (typeof spec === 'string') entries.push({ path: spec, required: true, at: r.here(key) });
  else if (Array.isArray(spec)) {
    spec.forEach((e: unknown, i) => {
      const at = r.here(key, i);
      if (typeof e === 'string') entries.push({ path: e, required: true, at });
      else if (isMap(e) && typeof e['path'] === 'string') {
        for (const k of Object.keys(e))
          if (k !== 'path' && k !== 'required' && k !== 'format')
            ctx.at(r.here(key, i, k), `${key}: unsupported key "${k}" (expected path, required)`, 'key');
        if (e['format'] !== undefined && e['format'] !== 'raw')
          ctx.at(r.here(key, i, 'format'), `${key}: only format "raw" is supported besides the default`);
        entries.push({ path: e['path'], required: new Reader(ctx, at, e).bool('required') ?? true, at });
      } else r.bad([key, i], 'a path or { path, required }', e);
    });
  } else return r.bad(key, 'a path or a list of paths') ?? {};
  const env: Record<string, string> = {};
  for (const e of entries) {
    let repoPath: string;
    try {
      repoPath = resolveRepoPath(composeFile, e.path);
    } catch (err) {
      if (!(err instanceof RepoPathError)) throw err;
      ctx.at(e.at, `${key} ${JSON.stringify(e.path)}: ${err.message}`);
      continue;
    }
    // An optional file that is missing is passed by; one that is there but does not decrypt is a problem.
    const present = await ctx.source
      .read(repoPath, { maxBytes: MAX_ENV_FILE_BYTES })
      .catch((err: unknown) => (err instanceof UndecryptableFileError ? 'undecryptable' : null));
    if (!e.required && !present) continue;
    const f = await ctx.readNamed(e.at, repoPath, { maxBytes: MAX_ENV_FILE_BYTES }, key);
    if (!f) continue;
    const parsed = parseEnvFile(new TextDecoder().decode(f.bytes), vars, ctx.problems.concealer.names);
    for (const err of parsed.errors)
      ctx.problems.add({ file: repoPath, line: err.line, column: 1, message: f.decrypted ? err.brief : err.message });
    // A decrypted file's values are named, never quoted, in every message after this one.
    if (f.decrypted) for (const [k, v] of Object.entries(parsed.env)) ctx.problems.concealer.hide(k, v);
    Object.assign(env, parsed.env);
  }
  return env;
}
