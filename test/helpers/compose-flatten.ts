// The comparison's flattening (test/apply/docker-compose-fidelity.test.ts): a container, network or
// volume as field path -> value, with what must differ (ids, times, addresses) left out and the names
// each tool gives its own objects put in one form.

import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Flattening: a field path -> a value, with what must differ (ids, times, addresses) left out and
// the names each tool gives its own objects put in one form.

/** Fields never compared: they differ between any two containers, whoever made them. */
export const NOT_COMPARED: { path: RegExp; why: string }[] = [
  {
    path: /^(Id|Created|Image|ResolvConfPath|HostnamePath|HostsPath|LogPath|RestartCount|SizeRw|SizeRootFs)$/,
    why: 'identity, time or file of this container',
  },
  {
    path: /^(Driver|Platform|MountLabel|ProcessLabel|AppArmorProfile|ExecIDs)$/,
    why: 'the Engine’s, not the request’s',
  },
  { path: /^GraphDriver\./, why: 'storage layers of this container' },
  { path: /^State\.(?!Status$|Running$)/, why: 'process, times and health log of this run' },
  {
    path: /^NetworkSettings\.(?!Networks\.[^.]+\.(Aliases|Links|IPAMConfig|DriverOpts)(\.|$))/,
    why: 'addresses, ports and ids the Engine picked (the requests are in Config and HostConfig)',
  },
  { path: /^Mounts\[[^\]]+\]\.Name$/, why: 'the name of an anonymous volume is random (named ones are in Source)' },
];

/** Lists whose order carries no meaning: compared as sets. */
const UNORDERED = new Set([
  'Config.Env',
  'HostConfig.Binds',
  'HostConfig.CapAdd',
  'HostConfig.CapDrop',
  'HostConfig.Dns',
  'HostConfig.DnsOptions',
  'HostConfig.DnsSearch',
  'HostConfig.ExtraHosts',
  'HostConfig.GroupAdd',
  'HostConfig.Links',
  'HostConfig.SecurityOpt',
  'HostConfig.DeviceCgroupRules',
]);

export interface Context {
  /** Compose's project name and rollgate's app. */
  project: string;
  app: string;
  /** The project folder Compose ran in, and the repo around it. */
  projectDir: string;
  repoDir: string;
  /** rollgate's project folder on the gateway (its data directories), its repo, and where it keeps repo files. */
  rollgateProject: string;
  rollgateRepo: string;
  filesRoot: string;
}

/** Every occurrence of one tool's paths and names in the form both share. */
function normaliseString(s: string, ctx: Context, c: Record<string, unknown>, tool: 'compose' | 'rollgate'): string {
  let out = s;
  if (tool === 'compose') out = out.split(ctx.projectDir).join('<project>').split(ctx.repoDir).join('<repo>');
  else out = out.split(ctx.rollgateProject).join('<project>').split(ctx.rollgateRepo).join('<repo>');
  const id = String(c['Id'] ?? '');
  if (id && out === id.slice(0, 12)) return '<container id>';
  return out;
}

/** null, [] and {} are one thing to the Engine (no capabilities, no devices, no endpoint IPAM). */
export const EMPTY = '<empty>';

function put(out: Map<string, string>, path: string, v: unknown): void {
  const empty =
    v === null ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
  out.set(path, empty ? EMPTY : typeof v === 'string' ? v : JSON.stringify(v));
}

function walk(v: unknown, path: string, out: Map<string, string>, norm: (s: string) => string): void {
  if (typeof v === 'string') return put(out, path, norm(v));
  if (Array.isArray(v)) {
    const items = v.map((x) => (typeof x === 'string' ? norm(x) : x));
    return put(out, path, UNORDERED.has(path) || /\.(Aliases|Links)$/.test(path) ? [...items].sort() : items);
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) return put(out, path, {});
    for (const [k, x] of entries) walk(x, path ? `${path}.${k}` : k, out, norm);
    return;
  }
  put(out, path, v);
}

/** Same bytes under both paths (files, or directories file by file). */
export function sameContent(a: string, b: string): boolean {
  try {
    const sa = lstatSync(a);
    const sb = lstatSync(b);
    if (sa.isFile() && sb.isFile()) return readFileSync(a).equals(readFileSync(b));
    if (sa.isDirectory() && sb.isDirectory()) {
      const la = readdirSync(a).sort();
      const lb = readdirSync(b).sort();
      return la.length === lb.length && la.every((x, i) => x === lb[i] && sameContent(join(a, x), join(b, x)));
    }
  } catch {
    return false;
  }
  return false;
}

/** A container as a map of comparable fields. `twin` is the other tool's container of the service. */
export function flattenContainer(
  c: Record<string, unknown>,
  tool: 'compose' | 'rollgate',
  ctx: Context,
  twin: Record<string, unknown> | undefined,
  serviceOf: (containerName: string) => string | undefined,
): Map<string, string> {
  const norm = (s: string) => {
    const n = normaliseString(s, ctx, c, tool);
    const svc = serviceOf(n.replace(/^\//, ''));
    return svc ? `<container of ${svc}>` : n;
  };
  const out = new Map<string, string>();
  const x = structuredClone(c);
  const config = (x['Config'] ?? {}) as Record<string, unknown>;
  const labels = (config['Labels'] ?? {}) as Record<string, string>;
  config['Labels'] = Object.fromEntries(
    Object.entries(labels).filter(([k]) => !k.startsWith('com.docker.compose.') && !k.startsWith('io.rollgate.')),
  );
  if (config['Hostname'] === String(c['Id']).slice(0, 12)) config['Hostname'] = '<container id>';
  // Mounts by their target; a repo file rollgate copied is Compose's file when it holds the same bytes.
  const twinMounts = new Map(
    ((twin?.['Mounts'] ?? []) as { Destination: string; Source: string }[]).map((m) => [m.Destination, m.Source]),
  );
  const mounts: Record<string, unknown> = {};
  for (const m of (x['Mounts'] ?? []) as Record<string, unknown>[]) {
    const src = String(m['Source'] ?? '');
    if (m['Type'] === 'volume')
      m['Source'] = m['Name'] && !/^[0-9a-f]{64}$/.test(String(m['Name'])) ? m['Name'] : '<anonymous>';
    else if (tool === 'rollgate' && src.startsWith(ctx.filesRoot + '/')) {
      const other = twinMounts.get(String(m['Destination']));
      m['Source'] = other && sameContent(src, other) ? other.split(ctx.projectDir).join('<project>') : src;
    }
    mounts[String(m['Destination'])] = m;
  }
  delete x['Mounts'];
  // What was asked for each target, whether through Binds or Mounts.
  const host = (x['HostConfig'] ?? {}) as Record<string, unknown>;
  const twinRequest = requestMounts((twin?.['HostConfig'] ?? {}) as Record<string, unknown>);
  const request = requestMounts(host);
  for (const [target, m] of Object.entries(request))
    if (tool === 'rollgate' && typeof m['Source'] === 'string' && m['Source'].startsWith(ctx.filesRoot + '/')) {
      const other = twinRequest[target]?.['Source'];
      if (typeof other === 'string' && sameContent(m['Source'], other))
        m['Source'] = other.split(ctx.projectDir).join('<project>');
    }
  delete host['Binds'];
  delete host['Mounts'];
  // volumes_from: the container (by id) of a service, or one outside the app.
  if (Array.isArray(host['VolumesFrom']))
    host['VolumesFrom'] = (host['VolumesFrom'] as string[]).map((v) => {
      const [ref, mode] = v.split(':') as [string, string | undefined];
      const svc = serviceOf(ref);
      return `${svc ? `<container of ${svc}>` : ref}${mode ? `:${mode}` : ''}`;
    });
  const networks = ((x['NetworkSettings'] as Record<string, unknown> | undefined)?.['Networks'] ?? {}) as Record<
    string,
    Record<string, unknown>
  >;
  for (const ep of Object.values(networks)) {
    ep['Aliases'] = ((ep['Aliases'] ?? []) as string[]).filter((a) => a !== String(c['Id']).slice(0, 12)).sort();
    // `container:alias`: the container is named as the other tool names it.
    if (Array.isArray(ep['Links']))
      ep['Links'] = (ep['Links'] as string[]).map((l) => {
        const [target, alias] = l.split(':') as [string, string | undefined];
        const svc = serviceOf(target) ?? (tool === 'rollgate' ? target : undefined);
        return `${svc ? `<container of ${svc}>` : target}:${alias ?? ''}`;
      });
  }
  walk(x, '', out, norm);
  for (const [target, m] of Object.entries(request)) walk(m, `Request[${target}]`, out, norm);
  for (const [dest, m] of Object.entries(mounts)) walk(m, `Mounts[${dest}]`, out, norm);
  for (const k of [...out.keys()]) if (NOT_COMPARED.some((n) => n.path.test(k))) out.delete(k);
  return out;
}

/** HostConfig.Binds and HostConfig.Mounts as one form, by target: what each mount asked for. */
function requestMounts(host: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const b of (host['Binds'] ?? []) as string[]) {
    const [source, target, opts = ''] = b.split(':') as [string, string, string?];
    const o = opts.split(',').filter(Boolean);
    const propagation = o.find((x) => /^r?(shared|slave|private)$/.test(x));
    out[target] = {
      via: 'Binds',
      Type: source.startsWith('/') ? 'bind' : 'volume',
      Source: source,
      ReadOnly: o.includes('ro'),
      ...(propagation ? { Propagation: propagation } : {}),
      ...(o.includes('z') || o.includes('Z') ? { SELinux: o.includes('z') ? 'z' : 'Z' } : {}),
      ...(o.includes('nocopy') ? { NoCopy: true } : {}),
    };
  }
  for (const m of (host['Mounts'] ?? []) as Record<string, unknown>[]) {
    const bind = (m['BindOptions'] ?? {}) as Record<string, unknown>;
    const vol = (m['VolumeOptions'] ?? {}) as Record<string, unknown>;
    const tmpfs = (m['TmpfsOptions'] ?? {}) as Record<string, unknown>;
    out[String(m['Target'])] = {
      via: 'Mounts',
      Type: m['Type'],
      Source: m['Source'] ?? '',
      ReadOnly: m['ReadOnly'] === true,
      ...(bind['Propagation'] ? { Propagation: bind['Propagation'] } : {}),
      ...(bind['NonRecursive'] ? { NonRecursive: true } : {}),
      ...(vol['NoCopy'] ? { NoCopy: true } : {}),
      ...(tmpfs['SizeBytes'] !== undefined ? { TmpfsSize: tmpfs['SizeBytes'] } : {}),
      ...(tmpfs['Mode'] !== undefined ? { TmpfsMode: tmpfs['Mode'] } : {}),
    };
  }
  return out;
}

/** A network or volume as comparable fields: what its definition asked for. */
export function flattenObject(o: Record<string, unknown>, kind: 'network' | 'volume'): Map<string, string> {
  const out = new Map<string, string>();
  const labels = Object.fromEntries(
    Object.entries((o['Labels'] ?? {}) as Record<string, string>).filter(
      ([k]) => !k.startsWith('com.docker.compose.') && !k.startsWith('io.rollgate.'),
    ),
  );
  const keep =
    kind === 'network'
      ? {
          Name: o['Name'],
          Driver: o['Driver'],
          Internal: o['Internal'],
          Attachable: o['Attachable'],
          EnableIPv6: o['EnableIPv6'],
          Options: o['Options'],
          Labels: labels,
          IPAM: {
            Driver: (o['IPAM'] as Record<string, unknown>)?.['Driver'],
            Options: (o['IPAM'] as Record<string, unknown>)?.['Options'],
          },
        }
      : { Name: o['Name'], Driver: o['Driver'], Options: o['Options'], Labels: labels, Scope: o['Scope'] };
  walk(keep, '', out, (s) => s);
  return out;
}
