// Device components from Mender Orchestrator manifests, accepted unchanged: the 2024
// `kind: update_manifest` form and the `kind: manifest` + `kind: topology` pair. The artifact's
// own header names the version a component will provide.

import type { ArtifactSource, DesiredComponent, InterfaceProtocol } from '../model/index.js';
import type { At, LoadContext } from './context.js';
import { validateSchema } from './schema.js';
import { sha256Hex } from './canonical.js';
import { ARTIFACT_LOCK_FILE } from './fleet.js';
import { interfaceArgsBreaches, interfaceBreach } from './interface-policy.js';
import { CREDENTIALS_IN_URL, hasCredentials } from '../sync/url.js';
import {
  ARTIFACT_HEAD_BYTES,
  incompatibility,
  readArtifactHeader,
  readPayloadFiles,
  type ArtifactHeader,
} from './mender-artifact.js';
import { RepoPathError } from './source.js';
import { parseYamlFile, problemAt, type YamlFile } from './yaml-file.js';

export const DEFAULT_COMPONENT_ORDER = 50;
export const MAX_REPO_ARTIFACT_BYTES = 512 * 1024 * 1024;
const INTERFACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

interface ComponentTypeDoc {
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

interface ResolvedArtifact {
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

async function resolveArtifact(
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

function checkInterface(ctx: LoadContext, at: At, name: string): boolean {
  if (!INTERFACE_NAME.test(name)) {
    ctx.at(at, `interface name "${name}" must be a plain file name (letters, digits, . _ + -)`);
    return false;
  }
  const breach = ctx.policy ? interfaceBreach({ interface: name }, ctx.policy) : undefined;
  if (breach) ctx.breach(at, 'policy.interfaces', breach);
  return true;
}

/** Loads the components of a system; reports problems into ctx and skips broken entries. */
/** A manifest as mender-orchestrator-manifest-gen packs it: the YAML is the artifact's payload. */
export async function manifestFromArtifact(ctx: LoadContext, at: At, repoPath: string): Promise<YamlFile | undefined> {
  const file = await ctx.readNamed(at, repoPath, { maxBytes: 16 * 1024 * 1024 }, 'manifest artifact');
  if (!file) return undefined;
  try {
    const header = await readArtifactHeader(file.bytes);
    if (!header.payloadTypes.includes('mender-orchestrator-manifest')) {
      ctx.at(
        at,
        `${repoPath} is artifact "${header.name}" with a ${header.payloadTypes.join(', ') || 'no'} payload, not ` +
          `a manifest artifact (payload type mender-orchestrator-manifest)`,
      );
      return undefined;
    }
    const files = [...(await readPayloadFiles(file.bytes))].filter(([n]) => /\.ya?ml$/.test(n));
    if (files.length !== 1) {
      ctx.at(at, `manifest artifact ${repoPath} holds ${files.length} YAML files; expected exactly one manifest`);
      return undefined;
    }
    const [name, bytes] = files[0]!;
    return parseYamlFile(`${repoPath}!${name}`, bytes, ctx.problems);
  } catch (err) {
    ctx.at(at, `${repoPath}: ${(err as Error).message}`);
    return undefined;
  }
}

export interface ComponentsInput {
  manifestAt: At;
  manifestPath: string;
  topology?: { at: At; path: string };
  overrides: ComponentOverrides;
  lookup: ArtifactLookup;
  /** The fleet's name for the system: artifacts built for the whole system name it as their device type. */
  system: string;
}

export async function loadComponents(ctx: LoadContext, input: ComponentsInput): Promise<DesiredComponent[]> {
  const { manifestAt, manifestPath, topology, overrides } = input;
  const schemaOf = (y: YamlFile) => {
    const kind = (y.value as { kind?: unknown } | null)?.kind;
    if (kind === 'update_manifest') return 'mender-update-manifest' as const;
    if (kind === 'manifest') return 'mender-manifest' as const;
    problemAt(
      ctx.problems,
      y,
      ['kind'],
      `expected kind "update_manifest" (2024 form) or "manifest" (with a topology file), got ${JSON.stringify(kind)}`,
    );
    return undefined;
  };
  let m: YamlFile | undefined;
  if (manifestPath.endsWith('.mender')) {
    m = await manifestFromArtifact(ctx, manifestAt, manifestPath);
    const name = m ? schemaOf(m) : undefined;
    if (m && (!name || !validateSchema(name, m, ctx.problems))) m = undefined;
  } else m = await ctx.yaml(manifestAt, manifestPath, schemaOf, 'manifest');
  if (!m) return [];
  const index = new ArtifactIndex(ctx, input.lookup);
  const doc = m.value as {
    kind: string;
    component_types: Record<string, ComponentTypeDoc>;
    system_types_compatible?: string[];
    components?: { component_type: string; id: string; args?: (string | number)[] }[];
  };
  const cache = new Map<string, Promise<ResolvedArtifact | undefined>>();
  for (const [type, o] of overrides) {
    if (!(type in doc.component_types))
      ctx.at(o.at, `override for component type "${type}", which ${manifestPath} does not define`, 'key');
  }
  const artifactFor = (type: string) =>
    resolveArtifact(
      ctx,
      type,
      { doc: doc.component_types[type]!, at: { y: m, path: ['component_types', type] } },
      overrides.get(type),
      cache,
      index,
    );
  const orderOf = (type: string) => doc.component_types[type]?.update_strategy?.order ?? DEFAULT_COMPONENT_ORDER;

  const entries: { key: string; type: string; id?: string; iface: string; args: string[]; at: At }[] = [];
  let systemType: string | undefined;
  let protocol: InterfaceProtocol;
  if (doc.kind === 'update_manifest') {
    protocol = 'update_manifest';
    if (topology)
      ctx.at(
        topology.at,
        `a topology file goes with kind "manifest"; ${manifestPath} is kind "update_manifest", which lists its ` +
          `components itself`,
      );
    const ids = new Map<string, number>();
    doc.components!.forEach((c, i) => {
      const at: At = { y: m, path: ['components', i] };
      const ct = doc.component_types[c.component_type];
      if (!ct) {
        ctx.at(
          { y: m, path: ['components', i, 'component_type'] },
          `unknown component type "${c.component_type}" (defined: ${Object.keys(doc.component_types).join(', ')})`,
        );
        return;
      }
      if (ids.has(c.id)) {
        ctx.at(
          { y: m, path: ['components', i, 'id'] },
          `component id "${c.id}" is used twice (first at components[${ids.get(c.id)}])`,
        );
        return;
      }
      ids.set(c.id, i);
      // As in Mender's own demo manifests, the interface defaults to the component type.
      const iface = ct.update_interface ?? c.component_type;
      if (
        !checkInterface(
          ctx,
          {
            y: m,
            path: ['component_types', c.component_type, ct.update_interface ? 'update_interface' : 'component_type'],
          },
          iface,
        )
      )
        return;
      const args = (c.args ?? []).map(String);
      if (ctx.policy)
        for (const b of interfaceArgsBreaches({ interface: iface, interfaceArgs: args, id: c.id }, ctx.policy))
          ctx.breach({ y: m, path: ['components', i, b.on] }, 'policy.interfaceArgs', b.message);
      entries.push({ key: c.id, type: c.component_type, id: c.id, iface, args, at });
    });
  } else {
    protocol = 'manifest';
    if (!topology) {
      ctx.at(
        { y: m, path: ['kind'] },
        `kind "manifest" needs a topology file: set "topology" for this system in rollgate.yaml`,
      );
      return [];
    }
    const t = await ctx.yaml(topology.at, topology.path, 'mender-topology', 'topology');
    if (!t) return [];
    const tdoc = t.value as {
      system_type?: string;
      components: { component_type: string; interface?: string; interface_args?: (string | number)[] }[];
    };
    systemType = tdoc.system_type;
    if (
      tdoc.system_type !== undefined &&
      doc.system_types_compatible !== undefined &&
      !doc.system_types_compatible.includes(tdoc.system_type)
    ) {
      ctx.at(
        { y: t, path: ['system_type'] },
        `system type "${tdoc.system_type}" is not in the manifest's system_types_compatible ` +
          `(${doc.system_types_compatible.join(', ')})`,
      );
    }
    const seen = new Map<string, number>();
    tdoc.components.forEach((c, i) => {
      const at: At = { y: t, path: ['components', i] };
      if (!doc.component_types[c.component_type]) {
        ctx.at(
          { y: t, path: ['components', i, 'component_type'] },
          `component type "${c.component_type}" has no entry in ${manifestPath} ` +
            `(defined: ${Object.keys(doc.component_types).join(', ')})`,
        );
        return;
      }
      const n = (seen.get(c.component_type) ?? 0) + 1;
      seen.set(c.component_type, n);
      const iface = c.interface ?? c.component_type;
      if (!checkInterface(ctx, { y: t, path: ['components', i, c.interface ? 'interface' : 'component_type'] }, iface))
        return;
      const args = (c.interface_args ?? []).map(String);
      if (ctx.policy)
        for (const b of interfaceArgsBreaches({ interface: iface, interfaceArgs: args }, ctx.policy))
          ctx.breach({ y: t, path: ['components', i, 'interface_args'] }, 'policy.interfaceArgs', b.message);
      entries.push({ key: `${c.component_type}#${n}`, type: c.component_type, iface, args, at });
    });
  }
  const systemTypes = [input.system, ...(doc.system_types_compatible ?? []), ...(systemType ? [systemType] : [])];
  const out: DesiredComponent[] = [];
  const reported = new Set<string>();
  for (const e of entries) {
    const art = await artifactFor(e.type);
    if (!art) continue;
    const why = art.header ? incompatibility(art.header, { type: e.type, interface: e.iface }, systemTypes) : undefined;
    if (why) {
      if (!reported.has(`${e.type}|${e.iface}`))
        ctx.at({ y: m, path: ['component_types', e.type] }, `${why}; refused before anything runs`);
      reported.add(`${e.type}|${e.iface}`);
      continue;
    }
    const compatible = art.source.kind === 'url' ? { compatible: [...new Set([e.type, ...systemTypes])] } : {};
    out.push({
      key: e.key,
      type: e.type,
      ...(e.id !== undefined ? { id: e.id } : {}),
      interface: e.iface,
      interfaceArgs: e.args,
      protocol,
      version: art.version,
      artifact: art.source,
      order: orderOf(e.type),
      ...compatible,
    });
  }
  return out;
}
