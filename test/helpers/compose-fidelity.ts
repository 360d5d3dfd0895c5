// The comparison of test/apply/docker-compose-fidelity.test.ts: a real Compose file brought up by
// Docker Compose v2 and by rollgate on the same Engine, and what each made, inspected (flattened
// into comparable fields by compose-flatten.ts). Images are stood in for by one fake image whose
// every program (entrypoint, shell, healthcheck command) is the same small script: it ignores its
// arguments, sleeps as a container's main process and succeeds as a check, so both tools get the
// same containers to make.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
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

/** A fixture's compose file (compose*.y*ml or stack.yml). */
export function composeFileOf(dir: string): string | undefined {
  return readdirSync(dir).find((f) => /(compose|stack)[^/]*\.ya?ml$/.test(f) && statSync(join(dir, f)).isFile());
}

export { relative };
