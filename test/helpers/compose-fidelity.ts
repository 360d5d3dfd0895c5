// The comparison of test/apply/docker-compose-fidelity.test.ts: a real Compose file brought up by
// Docker Compose v2 and by rollgate on the same Engine, and what each made, inspected and flattened
// into comparable fields. Images are stood in for by one fake image whose every program (entrypoint,
// shell, healthcheck command) is the same small script: it ignores its arguments, sleeps as a
// container's main process and succeeds as a check, so both tools get the same containers to make.

import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, posix, relative } from 'node:path';
import type Docker from 'dockerode';
import tar from 'tar-stream';

/** The Compose v2 binary scripts/get-compose-v2.sh fetched, or undefined. */
export function composeBinary(): string | undefined {
  const given = process.env['ROLLGATE_COMPOSE_V2'];
  if (given) return existsSync(given) ? given : undefined;
  const cache = process.env['ROLLGATE_CACHE_DIR'] ?? join(homedir(), '.cache', 'rollgate');
  const bin = join(cache, 'docker-compose-v2');
  return existsSync(bin) ? bin : undefined;
}

/** What `docker compose config --format json` says of a file: Compose's own reading of it. */
export interface ComposeModel {
  name: string;
  services: Record<
    string,
    {
      image?: string;
      entrypoint?: string[] | null;
      command?: string[] | null;
      healthcheck?: { test?: string[] };
      user?: string;
      working_dir?: string;
      group_add?: string[];
      devices?: ({ source: string } | string)[];
      volumes?: { type: string; source?: string; bind?: { create_host_path?: boolean } }[];
    }
  >;
  networks?: Record<string, { name?: string; external?: boolean }>;
  volumes?: Record<string, { name?: string; external?: boolean }>;
}

export interface ComposeRun {
  status: number;
  stdout: string;
  /** stdout and stderr, for a failure's message. */
  out: string;
}

/** Runs Compose from the project folder, with an environment that holds nothing of this machine's. */
export function compose(
  bin: string,
  o: { cwd: string; socket: string; home: string; project?: string; file: string },
  args: string[],
  timeoutMs = 240_000,
): ComposeRun {
  const r = spawnSync(bin, [...(o.project ? ['-p', o.project] : []), '-f', o.file, ...args], {
    cwd: o.cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: o.home, PWD: o.cwd, DOCKER_HOST: `unix://${o.socket}` },
  });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Where the fake must be for a program named `p` to be found (absolute, on PATH, or under the working dir). */
function programPaths(p: string | undefined, workingDir = '/'): string[] {
  if (!p || p.includes('$')) return [];
  if (p.startsWith('/')) return [posix.normalize(p)];
  if (p.includes('/')) return [posix.join(workingDir, p)];
  return BIN_DIRS.map((d) => `${d}/${p}`);
}

/** The programs, users and groups a set of Compose models name: what the fake image must hold. */
export function fakeNeeds(models: ComposeModel[]): { programs: Set<string>; users: Set<string>; groups: Set<string> } {
  const programs = new Set(['/bin/sh', '/bin/bash', '/usr/bin/env']);
  const users = new Set<string>();
  const groups = new Set<string>();
  for (const m of models)
    for (const s of Object.values(m.services)) {
      for (const p of programPaths(s.entrypoint?.[0])) programs.add(p);
      if (s.entrypoint && s.entrypoint.length === 0) for (const p of programPaths(s.command?.[0])) programs.add(p);
      const t = s.healthcheck?.test;
      if (t?.[0] === 'CMD') for (const p of programPaths(t[1], s.working_dir)) programs.add(p);
      const [u, g] = (s.user ?? '').split(':');
      if (u && !/^[0-9]+$/.test(u)) users.add(u);
      if (g && !/^[0-9]+$/.test(g)) groups.add(g);
      for (const ga of s.group_add ?? []) if (!/^[0-9]+$/.test(ga)) groups.add(ga);
    }
  return { programs, users, groups };
}

/** The stand-in for every program: the container's main process sleeps, anything run beside it succeeds. */
const FAKE = `#!/.fake/busybox sh
# rollgate's comparison stand-in: it ignores its arguments. As a container's main process (pid 1, or
# the child of an init) it sleeps until it is stopped; run beside it (a healthcheck) it succeeds.
if [ "$$" != 1 ] && [ "$PPID" = 0 ]; then exit 0; fi
trap 'exit 0' TERM INT
while :; do /.fake/busybox sleep 3600 & wait $!; done
`;

function follow(docker: Docker, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (err: unknown, events: { error?: string }[]) => {
      const e = err ?? events.find((x) => x.error)?.error;
      if (e) reject(e instanceof Error ? e : new Error(String(e)));
      else resolve();
    }),
  );
}

/** `repo:tag` of an image reference (a digest cannot be given to a local image). */
export function splitRef(ref: string): { repo: string; tag: string } | undefined {
  if (ref.includes('@')) return undefined;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repo: ref, tag: 'latest' };
}

/** Imports the fake image (busybox-static, `docker import`) and tags it under every name in `refs`. */
export async function fakeImage(
  docker: Docker,
  needs: ReturnType<typeof fakeNeeds>,
  refs: Set<string>,
): Promise<string> {
  const busybox = existsSync('/usr/bin/busybox') ? '/usr/bin/busybox' : '/bin/busybox';
  const pack = tar.pack();
  const dirs = new Set(['.fake', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'run', 'var']);
  for (const p of needs.programs) {
    const segs = p.slice(1).split('/');
    for (let i = 1; i < segs.length; i++) dirs.add(segs.slice(0, i).join('/'));
  }
  for (const d of [...dirs].sort()) pack.entry({ name: d, type: 'directory', mode: d === 'tmp' ? 0o1777 : 0o755 });
  pack.entry({ name: '.fake/busybox', mode: 0o755 }, readFileSync(busybox));
  pack.entry({ name: '.fake/fake', mode: 0o755 }, FAKE);
  for (const p of [...needs.programs].sort()) pack.entry({ name: p.slice(1), mode: 0o755 }, FAKE);
  const users = [...needs.users].sort();
  const groups = [...new Set([...needs.groups, ...users])].sort();
  pack.entry(
    { name: 'etc/passwd', mode: 0o644 },
    ['root:x:0:0:root:/root:/bin/sh', ...users.map((u, i) => `${u}:x:${1000 + i}:${1000 + i}::/tmp:/bin/sh`)].join(
      '\n',
    ) + '\n',
  );
  pack.entry(
    { name: 'etc/group', mode: 0o644 },
    ['root:x:0:', ...groups.map((g, i) => `${g}:x:${2000 + i}:`)].join('\n') + '\n',
  );
  pack.finalize();
  const stream = await docker.importImage(pack as unknown as NodeJS.ReadableStream, {
    repo: 'rollgate-compare/fake',
    tag: 'latest',
    // A healthcheck of its own, as many real images have one (a file may wait for service_healthy on a
    // service whose only healthcheck is its image's).
    changes: [
      'ENTRYPOINT ["/.fake/fake"]',
      `ENV PATH=${BIN_DIRS.join(':')}`,
      'HEALTHCHECK --interval=2s --timeout=5s CMD ["/.fake/fake"]',
    ],
  });
  await follow(docker, stream);
  const image = docker.getImage('rollgate-compare/fake:latest');
  for (const ref of refs) {
    const r = splitRef(ref);
    if (r) await image.tag(r);
  }
  return 'rollgate-compare/fake:latest';
}

// ---------------------------------------------------------------------------------------------
// Snapshots: what one tool made, inspected.

export interface Made {
  /** Inspected containers by service. */
  containers: Map<string, Record<string, unknown>>;
  networks: Map<string, Record<string, unknown>>;
  volumes: Map<string, Record<string, unknown>>;
}

/** Everything carrying `label=value`, keyed by the label that names its service, network or volume. */
export async function snapshot(
  docker: Docker,
  label: string,
  value: string,
  keys: { service: string; network: string; volume: string },
): Promise<Made> {
  const filters = JSON.stringify({ label: [`${label}=${value}`] });
  const containers = new Map<string, Record<string, unknown>>();
  for (const c of await docker.listContainers({ all: true, filters })) {
    const i = (await docker.getContainer(c.Id).inspect()) as unknown as Record<string, unknown>;
    containers.set(c.Labels[keys.service] ?? c.Id, i);
  }
  const networks = new Map<string, Record<string, unknown>>();
  for (const n of await docker.listNetworks({ filters }))
    networks.set(
      n.Labels?.[keys.network] ?? n.Name,
      (await docker.getNetwork(n.Id).inspect()) as unknown as Record<string, unknown>,
    );
  const volumes = new Map<string, Record<string, unknown>>();
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
    volumes.set(
      v.Labels?.[keys.volume] ?? v.Name,
      (await docker.getVolume(v.Name).inspect()) as unknown as Record<string, unknown>,
    );
  return { containers, networks, volumes };
}

// ---------------------------------------------------------------------------------------------
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

/** A fixture's compose file (compose*.y*ml or stack.yml). */
export function composeFileOf(dir: string): string | undefined {
  return readdirSync(dir).find((f) => /(compose|stack)[^/]*\.ya?ml$/.test(f) && statSync(join(dir, f)).isFile());
}

export { relative };
