// Device components from Mender Orchestrator manifests, accepted unchanged: the 2024
// `kind: update_manifest` form and the `kind: manifest` + `kind: topology` pair. The artifact's
// own header names the version a component will provide.

import type { ArtifactSource, DesiredComponent, InterfaceProtocol } from '../model/index.js';
import type { At, LoadContext } from './context.js';
import { sha256Hex } from './canonical.js';
import { ARTIFACT_HEAD_BYTES, readArtifactHeader } from './mender-artifact.js';
import { problemAt } from './yaml-file.js';

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
}

async function resolveArtifact(ctx: LoadContext, type: string, base: { doc: ComponentTypeDoc; at: At }, override: { fields: ArtifactOverride; at: At } | undefined, cache: Map<string, Promise<ResolvedArtifact | undefined>>): Promise<ResolvedArtifact | undefined> {
  const fields: ComponentTypeDoc = { ...base.doc, ...(override?.fields ?? {}) };
  const pathAt: At = override?.fields.artifact_path !== undefined ? { y: override.at.y, path: [...override.at.path, 'artifact_path'] } : { y: base.at.y, path: [...base.at.path, 'artifact_path'] };
  const typeAt: At = (override ?? base).at;
  if (fields.artifact_path === undefined) {
    ctx.at(typeAt, `component type "${type}" has no artifact_path; rollgate needs the artifact in the repo or at a URL`);
    return undefined;
  }
  const p = fields.artifact_path;
  if (/^https?:\/\//.test(p)) {
    if (!fields.artifact_sha256 || !fields.artifact_name) {
      ctx.at(pathAt, `artifact at a URL needs artifact_name and artifact_sha256 beside it, so it can be verified before anything is touched`);
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
      const file = await ctx.readNamed(pathAt, repoPath, wantHash ? { maxBytes: MAX_REPO_ARTIFACT_BYTES } : { maxBytes: MAX_REPO_ARTIFACT_BYTES, head: ARTIFACT_HEAD_BYTES }, 'artifact');
      if (!file) return undefined;
      if (file.size > MAX_REPO_ARTIFACT_BYTES) {
        ctx.at(pathAt, `artifact ${repoPath} is ${file.size} bytes; artifacts over ${MAX_REPO_ARTIFACT_BYTES} bytes belong at a URL`);
        return undefined;
      }
      if (wantHash) {
        const actual = sha256Hex(file.bytes);
        if (actual !== fields.artifact_sha256) {
          ctx.at(pathAt, `artifact ${repoPath} has sha256 ${actual}, but artifact_sha256 says ${fields.artifact_sha256}`);
          return undefined;
        }
      }
      try {
        const header = await readArtifactHeader(file.bytes);
        const source: ArtifactSource = { kind: 'repo', path: repoPath, size: file.size, ...(fields.artifact_sha256 ? { sha256: fields.artifact_sha256 } : {}) };
        return { version: header.name, source };
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
  if (INTERFACE_NAME.test(name)) return true;
  ctx.at(at, `interface name "${name}" must be a plain file name (letters, digits, . _ + -)`);
  return false;
}

/** Loads the components of a system; reports problems into ctx and skips broken entries. */
export async function loadComponents(ctx: LoadContext, manifestAt: At, manifestPath: string, topology: { at: At; path: string } | undefined, overrides: ComponentOverrides): Promise<DesiredComponent[]> {
  const m = await ctx.yaml(manifestAt, manifestPath, (y) => {
    const kind = (y.value as { kind?: unknown } | null)?.kind;
    if (kind === 'update_manifest') return 'mender-update-manifest';
    if (kind === 'manifest') return 'mender-manifest';
    problemAt(ctx.problems, y, ['kind'], `expected kind "update_manifest" (2024 form) or "manifest" (with a topology file), got ${JSON.stringify(kind)}`);
    return undefined;
  }, 'manifest');
  if (!m) return [];
  const doc = m.value as { kind: string; component_types: Record<string, ComponentTypeDoc>; system_types_compatible?: string[]; components?: { component_type: string; id: string; args?: (string | number)[] }[] };
  const cache = new Map<string, Promise<ResolvedArtifact | undefined>>();
  for (const [type, o] of overrides) {
    if (!(type in doc.component_types)) ctx.at(o.at, `override for component type "${type}", which ${manifestPath} does not define`, 'key');
  }
  const artifactFor = (type: string) =>
    resolveArtifact(ctx, type, { doc: doc.component_types[type]!, at: { y: m, path: ['component_types', type] } }, overrides.get(type), cache);
  const orderOf = (type: string) => doc.component_types[type]?.update_strategy?.order ?? DEFAULT_COMPONENT_ORDER;

  const entries: { key: string; type: string; id?: string; iface: string; args: string[]; at: At }[] = [];
  let protocol: InterfaceProtocol;
  if (doc.kind === 'update_manifest') {
    protocol = 'update_manifest';
    if (topology) ctx.at(topology.at, `a topology file goes with kind "manifest"; ${manifestPath} is kind "update_manifest", which lists its components itself`);
    const ids = new Map<string, number>();
    doc.components!.forEach((c, i) => {
      const at: At = { y: m, path: ['components', i] };
      const ct = doc.component_types[c.component_type];
      if (!ct) {
        ctx.at({ y: m, path: ['components', i, 'component_type'] }, `unknown component type "${c.component_type}" (defined: ${Object.keys(doc.component_types).join(', ')})`);
        return;
      }
      if (ids.has(c.id)) {
        ctx.at({ y: m, path: ['components', i, 'id'] }, `component id "${c.id}" is used twice (first at components[${ids.get(c.id)}])`);
        return;
      }
      ids.set(c.id, i);
      if (!checkInterface(ctx, { y: m, path: ['component_types', c.component_type, 'update_interface'] }, ct.update_interface!)) return;
      entries.push({ key: c.id, type: c.component_type, id: c.id, iface: ct.update_interface!, args: (c.args ?? []).map(String), at });
    });
  } else {
    protocol = 'manifest';
    if (!topology) {
      ctx.at({ y: m, path: ['kind'] }, `kind "manifest" needs a topology file: set "topology" for this system in rollgate.yaml`);
      return [];
    }
    const t = await ctx.yaml(topology.at, topology.path, 'mender-topology', 'topology');
    if (!t) return [];
    const tdoc = t.value as { system_type?: string; components: { component_type: string; interface?: string; interface_args?: (string | number)[] }[] };
    if (tdoc.system_type !== undefined && doc.system_types_compatible !== undefined && !doc.system_types_compatible.includes(tdoc.system_type)) {
      ctx.at({ y: t, path: ['system_type'] }, `system type "${tdoc.system_type}" is not in the manifest's system_types_compatible (${doc.system_types_compatible.join(', ')})`);
    }
    const seen = new Map<string, number>();
    tdoc.components.forEach((c, i) => {
      const at: At = { y: t, path: ['components', i] };
      if (!doc.component_types[c.component_type]) {
        ctx.at({ y: t, path: ['components', i, 'component_type'] }, `component type "${c.component_type}" has no entry in ${manifestPath} (defined: ${Object.keys(doc.component_types).join(', ')})`);
        return;
      }
      const n = (seen.get(c.component_type) ?? 0) + 1;
      seen.set(c.component_type, n);
      const iface = c.interface ?? c.component_type;
      if (!checkInterface(ctx, { y: t, path: ['components', i, c.interface ? 'interface' : 'component_type'] }, iface)) return;
      entries.push({ key: `${c.component_type}#${n}`, type: c.component_type, iface, args: (c.interface_args ?? []).map(String), at });
    });
  }
  const out: DesiredComponent[] = [];
  for (const e of entries) {
    const art = await artifactFor(e.type);
    if (!art) continue;
    out.push({ key: e.key, type: e.type, ...(e.id !== undefined ? { id: e.id } : {}), interface: e.iface, interfaceArgs: e.args, protocol, version: art.version, artifact: art.source, order: orderOf(e.type) });
  }
  return out;
}
