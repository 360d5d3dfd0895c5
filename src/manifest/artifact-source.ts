// Which artifact a component type names, and where it is: a file of the repo (its header read,
// its sha256 checked when given), a URL with its name and sha256, or an artifact found by its name
// among the repo's artifacts or in the artifact store (through rollgate-artifacts.lock).

import type { ArtifactSource } from '../model/index.js';
import type { At, LoadContext } from './context.js';
import { sha256Hex } from './canonical.js';
import { ARTIFACT_LOCK_FILE } from './fleet.js';
import { CREDENTIALS_IN_URL, hasCredentials } from '../base/url.js';
import { ARTIFACT_HEAD_BYTES, readArtifactHeader, type ArtifactHeader } from './mender-artifact.js';
import { RepoPathError } from './source.js';
import { parseYamlFile, problemAt } from './yaml-file.js';

export const MAX_REPO_ARTIFACT_BYTES = 512 * 1024 * 1024;

export interface ComponentTypeDoc {
  artifact_path?: string;
  artifact_name?: string;
  artifact_sha256?: string;
  update_interface?: string;
  update_strategy?: { order?: number };
}

export interface ArtifactOverride {
  artifact_path?: string;
  artifact_name?: string;
  artifact_sha256?: string;
}

/** Overrides of a target, by component type, with where each was written. */
export type ComponentOverrides = Map<string, { fields: ArtifactOverride; at: At }>;

export interface ResolvedArtifact {
  version: string;
  source: ArtifactSource;
  /** Known for artifacts of the repo; checked at download for artifacts at a URL. */
  header?: ArtifactHeader;
}
const MAX_INDEXED_FILES = 2000;

/** Where a manifest that names artifacts by artifact_name alone finds them. */
export interface ArtifactLookup {
  /** Repo directories whose .mender files are indexed by their header's artifact name. */
  dirs: string[];
  /** `https://…/{artifact_name}.mender`: artifacts the repo does not hold. */
  store?: string;
}

/** A system's `artifacts:` directories as repo paths (default `artifacts`; `.` is the repo root). */
export function artifactDirs(ctx: LoadContext, at: At, given: string | string[] | undefined): string[] {
  const dirs = given === undefined ? ['artifacts'] : Array.isArray(given) ? given : [given];
  return dirs
    .map((d) => (d === '.' || d === './' ? '' : ctx.resolve(at, d)))
    .filter((d): d is string => d !== undefined);
}

/** The artifacts of the lookup's directories by name, read once per load. */
export class ArtifactIndex {
  private built?: Promise<Map<string, { path: string; size: number; header: ArtifactHeader }[]>>;
  private lock?: Promise<Map<string, { sha256: string }> | undefined>;
  constructor(
    private readonly ctx: LoadContext,
    readonly lookup: ArtifactLookup,
  ) {}

  byName(): Promise<Map<string, { path: string; size: number; header: ArtifactHeader }[]>> {
    this.built ??= (async () => {
      const out = new Map<string, { path: string; size: number; header: ArtifactHeader }[]>();
      for (const dir of this.lookup.dirs) {
        const files = (await this.ctx.source.list(dir, MAX_INDEXED_FILES)) ?? [];
        for (const path of files.filter((f) => f.endsWith('.mender'))) {
          const f = await this.ctx.source
            .read(path, { maxBytes: MAX_REPO_ARTIFACT_BYTES, head: ARTIFACT_HEAD_BYTES })
            .catch((e: unknown) => {
              if (e instanceof RepoPathError) return null;
              throw e;
            });
          if (!f) continue;
          try {
            const header = await readArtifactHeader(f.bytes);
            out.set(header.name, [...(out.get(header.name) ?? []), { path, size: f.size, header }]);
          } catch {
            // Not an artifact (or a broken one): it is only an error if a manifest names it by path.
          }
        }
      }
      return out;
    })();
    return this.built;
  }

  lockFile(): Promise<Map<string, { sha256: string }> | undefined> {
    this.lock ??= (async () => {
      const f = await this.ctx.source.read(ARTIFACT_LOCK_FILE, { maxBytes: 1024 * 1024 }).catch(() => null);
      if (!f) return undefined;
      const y = parseYamlFile(ARTIFACT_LOCK_FILE, f.bytes, this.ctx.problems);
      const doc = y?.value as { artifacts?: Record<string, { sha256?: unknown }> } | undefined;
      const out = new Map<string, { sha256: string }>();
      for (const [name, v] of Object.entries(doc?.artifacts ?? {})) {
        if (typeof v?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(v.sha256)) out.set(name, { sha256: v.sha256 });
        else if (y)
          problemAt(
            this.ctx.problems,
            y,
            ['artifacts', name],
            `expected { sha256: <64 hex digits> } for artifact "${name}"`,
          );
      }
      return out;
    })();
    return this.lock;
  }
}

async function findByName(
  ctx: LoadContext,
  type: string,
  name: string,
  at: At,
  index: ArtifactIndex,
): Promise<ResolvedArtifact | undefined> {
  const found = (await index.byName()).get(name) ?? [];
  if (found.length > 1) {
    ctx.at(
      at,
      `component type "${type}": artifact "${name}" is in ${found.map((f) => f.path).join(' and ')}; keep one`,
    );
    return undefined;
  }
  if (found.length === 1) {
    const f = found[0]!;
    return { version: name, source: { kind: 'repo', path: f.path, size: f.size }, header: f.header };
  }
  const store = index.lookup.store;
  if (store) {
    const lock = await index.lockFile();
    const entry = lock?.get(name);
    if (!entry) {
      ctx.at(
        at,
        `component type "${type}": artifact "${name}" is not in ${index.lookup.dirs.join(', ')} and has no ` +
          `sha256 in ${ARTIFACT_LOCK_FILE}; run "rollgate artifacts lock" to fetch it from the artifact store ` +
          `and record it`,
      );
      return undefined;
    }
    return {
      version: name,
      source: { kind: 'url', url: store.replaceAll('{artifact_name}', encodeURIComponent(name)), sha256: entry.sha256 },
    };
  }
  ctx.at(
    at,
    `component type "${type}": no artifact named "${name}" in ${index.lookup.dirs.join(', ')} of the fleet repo ` +
      `(set artifact_path, add the .mender file there, or set artifact_store in rollgate.yaml)`,
  );
  return undefined;
}

export async function resolveArtifact(
  ctx: LoadContext,
  type: string,
  base: { doc: ComponentTypeDoc; at: At },
  override: { fields: ArtifactOverride; at: At } | undefined,
  cache: Map<string, Promise<ResolvedArtifact | undefined>>,
  index: ArtifactIndex,
): Promise<ResolvedArtifact | undefined> {
  const fields: ComponentTypeDoc = { ...base.doc, ...(override?.fields ?? {}) };
  const pathAt: At =
    override?.fields.artifact_path !== undefined
      ? { y: override.at.y, path: [...override.at.path, 'artifact_path'] }
      : { y: base.at.y, path: [...base.at.path, 'artifact_path'] };
  const typeAt: At = (override ?? base).at;
  if (fields.artifact_path === undefined) {
    // As Mender publishes manifests: the artifact by its name alone.
    if (fields.artifact_name === undefined) {
      ctx.at(
        typeAt,
        `component type "${type}" names no artifact: give artifact_name (found among the repo's artifacts) or ` +
          `artifact_path`,
      );
      return undefined;
    }
    const nameAt: At =
      override?.fields.artifact_name !== undefined
        ? { y: override.at.y, path: [...override.at.path, 'artifact_name'] }
        : { y: base.at.y, path: [...base.at.path, 'artifact_name'] };
    return findByName(ctx, type, fields.artifact_name, nameAt, index);
  }
  const p = fields.artifact_path;
  if (/^https?:\/\//.test(p)) {
    if (hasCredentials(p)) {
      ctx.at(pathAt, `the artifact URL ${CREDENTIALS_IN_URL}; give the artifact store a token file instead`);
      return undefined;
    }
    if (!fields.artifact_sha256 || !fields.artifact_name) {
      ctx.at(
        pathAt,
        `artifact at a URL needs artifact_name and artifact_sha256 beside it, so it can be verified before ` +
          `anything is touched`,
      );
      return undefined;
    }
    return { version: fields.artifact_name, source: { kind: 'url', url: p, sha256: fields.artifact_sha256 } };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) {
    ctx.at(pathAt, `artifact URL scheme not supported: ${p} (expected a repo path, http:// or https://)`);
    return undefined;
  }
  const repoPath = ctx.resolve(pathAt, p);
  if (!repoPath) return undefined;
  const key = `${repoPath}|${fields.artifact_sha256 ?? ''}`;
  let pending = cache.get(key);
  if (!pending) {
    pending = (async () => {
      const wantHash = fields.artifact_sha256 !== undefined;
      const file = await ctx.readNamed(
        pathAt,
        repoPath,
        wantHash
          ? { maxBytes: MAX_REPO_ARTIFACT_BYTES }
          : { maxBytes: MAX_REPO_ARTIFACT_BYTES, head: ARTIFACT_HEAD_BYTES },
        'artifact',
      );
      if (!file) return undefined;
      if (file.size > MAX_REPO_ARTIFACT_BYTES) {
        ctx.at(
          pathAt,
          `artifact ${repoPath} is ${file.size} bytes; artifacts over ${MAX_REPO_ARTIFACT_BYTES} bytes belong at a URL`,
        );
        return undefined;
      }
      if (wantHash) {
        const actual = sha256Hex(file.bytes);
        if (actual !== fields.artifact_sha256) {
          ctx.at(
            pathAt,
            `artifact ${repoPath} has sha256 ${actual}, but artifact_sha256 says ${fields.artifact_sha256}`,
          );
          return undefined;
        }
      }
      try {
        const header = await readArtifactHeader(file.bytes);
        const source: ArtifactSource = {
          kind: 'repo',
          path: repoPath,
          size: file.size,
          ...(fields.artifact_sha256 ? { sha256: fields.artifact_sha256 } : {}),
        };
        return { version: header.name, source, header };
      } catch (err) {
        ctx.at(pathAt, `${repoPath}: ${(err as Error).message}`);
        return undefined;
      }
    })();
    cache.set(key, pending);
  }
  const r = await pending;
  if (r && fields.artifact_name !== undefined && fields.artifact_name !== r.version) {
    ctx.at(typeAt, `artifact_name is "${fields.artifact_name}", but ${p} is artifact "${r.version}"`);
    return undefined;
  }
  return r;
}
