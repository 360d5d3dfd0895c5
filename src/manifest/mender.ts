// Device components from Mender Orchestrator manifests, accepted unchanged: the 2024
// `kind: update_manifest` form and the `kind: manifest` + `kind: topology` pair. The artifact's
// own header names the version a component will provide.

import type { DesiredComponent, InterfaceProtocol } from '../model/index.js';
import type { At, LoadContext } from './context.js';
import { validateSchema } from './schema.js';
import { interfaceArgsBreaches, interfaceBreach } from './interface-policy.js';
import { incompatibility, readArtifactHeader, readPayloadFiles } from './mender-artifact.js';
import { parseYamlFile, problemAt, type YamlFile } from './yaml-file.js';
import {
  ArtifactIndex,
  resolveArtifact,
  type ComponentOverrides,
  type ArtifactLookup,
  type ComponentTypeDoc,
  type ResolvedArtifact,
} from './artifact-source.js';

export const DEFAULT_COMPONENT_ORDER = 50;
const INTERFACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

function checkInterface(ctx: LoadContext, at: At, name: string): boolean {
  if (!INTERFACE_NAME.test(name)) {
    ctx.at(at, `interface name "${name}" must be a plain file name (letters, digits, . _ + -)`);
    return false;
  }
  const breach = ctx.policy ? interfaceBreach({ interface: name }, ctx.policy) : undefined;
  if (breach) ctx.breach(at, 'policy.interfaces', breach);
  return true;
}

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

/** Loads the components of a system; reports problems into ctx and skips broken entries. */
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
