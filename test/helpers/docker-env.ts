// A private Docker Engine and image registry for the tests and benchmarks, really started:
// dockerd on its own socket, data root and exec root under a temp dir; Debian's
// docker-registry on 127.0.0.1; tiny busybox images made with `docker import` and pushed there.
//
// scripts/run-tests.mjs starts one environment for the whole run and hands it to the test
// processes through ROLLGATE_TEST_DOCKER (the path of its env.json); a test can restart the
// Engine through it. Under CI=true a missing part fails the run; elsewhere tests skip loudly.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';
import tar from 'tar-stream';
import { tempDir } from './fixtures.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DockerEnvInfo {
  root: string;
  socket: string;
  registry: string;
  dockerdArgs: string[];
  dockerdPid: number;
  registryPid: number;
}

/** What is missing on this machine for a real Docker environment; empty when all is there. */
export function missingDockerParts(): string[] {
  const missing: string[] = [];
  const which = (c: string) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;
  if (!which('dockerd')) missing.push('dockerd (Debian package docker.io)');
  if (!which('docker-registry')) missing.push('docker-registry (Debian package docker-registry)');
  if (!existsSync('/usr/bin/busybox') && !existsSync('/bin/busybox'))
    missing.push('busybox (Debian package busybox-static)');
  if (process.getuid?.() !== 0) missing.push('root (dockerd needs it)');
  return missing;
}

async function waitFor(what: string, ms: number, probe: () => Promise<boolean>, log?: string): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  const tail =
    log && existsSync(log)
      ? `\n--- ${log} (tail) ---\n${readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}`
      : '';
  throw new Error(`${what} did not come up within ${ms} ms${tail}`);
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

function spawnDetached(cmd: string, args: string[], logFile: string): number {
  const fd = openSync(logFile, 'a');
  const p = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd] });
  p.unref();
  closeSync(fd);
  return p.pid!;
}

export async function startEngine(info: Pick<DockerEnvInfo, 'root' | 'socket' | 'dockerdArgs'>): Promise<number> {
  const pid = spawnDetached('dockerd', info.dockerdArgs, join(info.root, 'dockerd.log'));
  const docker = new Docker({ socketPath: info.socket });
  await waitFor('dockerd', 30_000, async () => (await docker.ping(), true), join(info.root, 'dockerd.log'));
  return pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A dockerd that exited is a zombie until the process that started it reaps it: not running.
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

export async function stopPid(pid: number, ms = 20_000): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const until = Date.now() + ms;
  while (alive(pid) && Date.now() < until) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/** Starts dockerd and the registry; the caller must call stopDockerEnv. */
export async function startDockerEnv(): Promise<DockerEnvInfo> {
  const missing = missingDockerParts();
  if (missing.length) throw new Error(`cannot start a Docker Engine for the tests; missing: ${missing.join(', ')}`);
  const root = tempDir('rollgate-docker-');
  const socket = join(root, 'docker.sock');
  const port = Number(process.env['ROLLGATE_TEST_REGISTRY_PORT'] ?? 5000);
  if (await portOpen('127.0.0.1', port))
    throw new Error(
      `port 127.0.0.1:${port} is taken, so the test registry cannot start there (set ROLLGATE_TEST_REGISTRY_PORT)`,
    );
  const dockerdArgs = [
    '--host',
    `unix://${socket}`,
    '--data-root',
    join(root, 'data'),
    '--exec-root',
    join(root, 'exec'),
    '--pidfile',
    join(root, 'docker.pid'),
    '--log-level',
    'warn',
    // Every test app gets a network. The default pools hold 31, and bridges that an earlier Engine
    // left behind still claim theirs, so a long run would run out; /24s from one /16 give 256.
    '--default-address-pool',
    'base=10.213.0.0/16,size=24',
    // Real Compose files publish ports on every address ("1883:1883"); here they bind loopback only.
    '--ip',
    '127.0.0.1',
  ];
  const info: DockerEnvInfo = {
    root,
    socket,
    registry: `127.0.0.1:${port}`,
    dockerdArgs,
    dockerdPid: 0,
    registryPid: 0,
  };
  info.dockerdPid = await startEngine(info);
  mkdirSync(join(root, 'registry'), { recursive: true });
  const config = join(root, 'registry', 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    ` +
      `rootdirectory: ${join(root, 'registry', 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: ` +
      `127.0.0.1:${port}\n`,
  );
  info.registryPid = spawnDetached('docker-registry', ['serve', config], join(root, 'registry.log'));
  await waitFor('docker-registry', 15_000, () => portOpen('127.0.0.1', port), join(root, 'registry.log'));
  writeFileSync(join(root, 'env.json'), JSON.stringify(info, null, 2));
  return info;
}

export async function stopDockerEnv(envFile: string): Promise<void> {
  const info = JSON.parse(readFileSync(envFile, 'utf8')) as DockerEnvInfo;
  // Containers first, so the Engine stops quickly and leaves no docker-proxy behind.
  let bridges: string[] = [];
  try {
    const docker = new Docker({ socketPath: info.socket });
    const all = await docker.listContainers({ all: true });
    await Promise.all(
      all.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
    bridges = (await docker.listNetworks())
      .filter((n) => n.Driver === 'bridge' && n.Name !== 'bridge')
      .map((n) => `br-${n.Id.slice(0, 12)}`);
    await docker.pruneNetworks();
  } catch {
    /* the Engine may be gone already */
  }
  await stopPid(info.dockerdPid);
  // A network's bridge outlives the Engine and keeps its address pool taken on this host.
  for (const b of bridges) spawnSync('ip', ['link', 'del', b], { stdio: 'ignore' });
  await stopPid(info.registryPid);
  spawnSync('rm', ['-rf', info.root]);
}

/** The rootfs of every test image: busybox and its applets, and a file naming the version. */
function rootfs(version: string): tar.Pack {
  const busybox = existsSync('/usr/bin/busybox') ? '/usr/bin/busybox' : '/bin/busybox';
  const applets = spawnSync(busybox, ['--list'])
    .stdout.toString()
    .split('\n')
    .filter((a) => a && a !== 'busybox');
  const pack = tar.pack();
  for (const d of ['bin', 'etc', 'tmp', 'www', 'srv', 'data', 'proc', 'sys', 'dev'])
    pack.entry({ name: d, type: 'directory', mode: d === 'tmp' ? 0o1777 : 0o755 });
  pack.entry({ name: 'bin/busybox', mode: 0o755 }, readFileSync(busybox));
  for (const a of applets) pack.entry({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' });
  pack.entry({ name: 'etc/image-version', mode: 0o644 }, `${version}\n`);
  for (const d of ['www', 'srv']) pack.entry({ name: `${d}/index.html`, mode: 0o644 }, `version ${version}\n`);
  pack.finalize();
  return pack;
}

/** Why busybox images cannot be made on this machine (busybox must be static), or undefined. */
export function busyboxImageProblem(): string | undefined {
  const busybox = existsSync('/usr/bin/busybox')
    ? '/usr/bin/busybox'
    : existsSync('/bin/busybox')
      ? '/bin/busybox'
      : undefined;
  if (!busybox) return 'busybox is missing (Debian package busybox-static)';
  // A dynamically linked busybox would not run in an image that has no libc.
  const ldd = spawnSync('ldd', [busybox], { encoding: 'utf8' });
  if (ldd.status === 0 && !/not a dynamic executable|statically linked/.test(ldd.stdout + ldd.stderr))
    return `${busybox} is dynamically linked (install busybox-static)`;
  return undefined;
}

function follow(docker: Docker, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (err: unknown, events: { error?: string }[]) => {
      const e = err ?? events.find((x) => x.error)?.error;
      if (e) reject(e instanceof Error ? e : new Error(String(e)));
      else resolve();
    }),
  );
}

/**
 * `repo:tag` made locally with `docker import` of a busybox rootfs (httpd serves /www and /srv).
 * A `standIn` image runs `sleep` whatever command a Compose file gives it, so it can stand in
 * for a real image (mosquitto, grafana) that cannot be pulled here.
 */
export async function importBusyboxImage(docker: Docker, repo: string, tag: string, standIn = false): Promise<string> {
  const changes = [
    'CMD ["/bin/sleep","3600"]',
    'ENV PATH=/bin',
    ...(standIn ? ['ENTRYPOINT ["/bin/sh", "-c", "exec sleep 3600", "stand-in"]'] : []),
  ];
  const stream = await docker.importImage(
    rootfs(`${repo.split('/').slice(1).join('/')}:${tag}`) as unknown as NodeJS.ReadableStream,
    { repo, tag, changes },
  );
  await follow(docker, stream);
  return `${repo}:${tag}`;
}

export class DockerEnv {
  readonly docker: Docker;
  private readonly made = new Set<string>();

  constructor(
    private info: DockerEnvInfo,
    private readonly envFile: string,
  ) {
    this.docker = new Docker({ socketPath: info.socket });
  }

  get socket(): string {
    return this.info.socket;
  }

  get registry(): string {
    return this.info.registry;
  }

  /**
   * `<registry>/<name>:<tag>`, imported and pushed to the registry; the local copy is removed
   * unless `keepLocal`, so whoever uses it pulls it through the registry.
   */
  async image(name: string, tag: string, keepLocal = false, standIn = false): Promise<string> {
    const ref = `${this.registry}/${name}:${tag}`;
    if (this.made.has(ref)) return ref;
    await importBusyboxImage(this.docker, `${this.registry}/${name}`, tag, standIn);
    await follow(this.docker, await this.docker.getImage(ref).push({ authconfig: { serveraddress: this.registry } }));
    if (!keepLocal) await this.docker.getImage(ref).remove();
    this.made.add(ref);
    return ref;
  }

  /** Stops the registry; its storage stays, so startRegistry brings every image back. */
  async stopRegistry(): Promise<void> {
    await stopPid(this.info.registryPid);
  }

  async startRegistry(): Promise<void> {
    const port = Number(this.info.registry.split(':')[1]);
    const pid = spawnDetached(
      'docker-registry',
      ['serve', join(this.info.root, 'registry', 'config.yml')],
      join(this.info.root, 'registry.log'),
    );
    await waitFor('docker-registry', 15_000, () => portOpen('127.0.0.1', port), join(this.info.root, 'registry.log'));
    this.info = { ...this.info, registryPid: pid };
    writeFileSync(this.envFile, JSON.stringify(this.info, null, 2));
  }

  /** Stops the Engine (SIGTERM, as systemd would) and starts it again on the same data root. */
  async restartEngine(downMs = 0): Promise<void> {
    await this.stopEngine();
    if (downMs > 0) await sleep(downMs);
    await this.startEngine();
  }

  /** Stops the Engine with SIGTERM and waits until it is gone (it stops its containers first). */
  async stopEngine(): Promise<void> {
    await stopPid(this.info.dockerdPid);
  }

  /**
   * Kills the Engine with SIGKILL, as a crash or the OOM killer would: its containerd and the
   * containers' shims may outlive it, and the next start finds them.
   */
  async killEngine(): Promise<void> {
    const pid = this.info.dockerdPid;
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
  }

  get engineRunning(): boolean {
    return alive(this.info.dockerdPid);
  }

  /** Starts the Engine again. A containerd a killed Engine left behind is stopped if the Engine cannot use it. */
  async startEngine(): Promise<void> {
    // A killed dockerd leaves its pid file; while the process that started it has not reaped it, the
    // pid even exists (a zombie), and dockerd refuses to start over it.
    const pidFile = join(this.info.root, 'docker.pid');
    if (existsSync(pidFile) && !alive(Number(readFileSync(pidFile, 'utf8').trim()))) spawnSync('rm', ['-f', pidFile]);
    try {
      this.info = { ...this.info, dockerdPid: await startEngine(this.info) };
    } catch {
      // After a SIGKILL, dockerd 20.10 sometimes gives up waiting for the containerd it starts (the
      // old one's shims are still being reattached); stopped, a second start comes up.
      const tried = this.info.dockerdPid;
      const pidFile = join(this.info.root, 'docker.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : tried;
      if (alive(pid)) await stopPid(pid);
      const left = this.containerdPid();
      if (left !== undefined) await stopDockerdLeftovers(this.info, left);
      spawnSync('rm', ['-f', pidFile]);
      this.info = { ...this.info, dockerdPid: await startEngine(this.info) };
    }
    writeFileSync(this.envFile, JSON.stringify(this.info, null, 2));
  }

  private containerdPid(): number | undefined {
    const f = join(this.info.root, 'exec', 'containerd', 'containerd.pid');
    const pid = existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : NaN;
    return Number.isInteger(pid) && alive(pid) ? pid : undefined;
  }

  /**
   * Leaves a stopped container wedged as an Engine crash leaves some: containerd still holds a
   * task under its id, so the Engine cannot start it ever again ("id already in use"). Made the
   * way it happens, with the real parts: the Engine is stopped, its containerd is run on its own
   * with the Engine's configuration, the task is made there with ctr, and the Engine started
   * again finds it. Returns the pids to kill when done (the task and its shim outlive the Engine).
   */
  async wedgeContainer(id: string): Promise<number[]> {
    await this.stopEngine();
    const dir = join(this.info.root, 'exec', 'containerd');
    const address = join(dir, 'containerd.sock');
    const containerd = spawn('containerd', ['--config', join(dir, 'containerd.toml')], {
      stdio: 'ignore',
      detached: true,
    });
    const pids: number[] = [];
    try {
      await waitFor('containerd', 15_000, async () => {
        execFileSync('ctr', ['--address', address, 'version'], { stdio: 'ignore' });
        return true;
      });
      const rootfs = join(this.info.root, 'wedge-rootfs');
      mkdirSync(join(rootfs, 'bin'), { recursive: true });
      copyFileSync(existsSync('/usr/bin/busybox') ? '/usr/bin/busybox' : '/bin/busybox', join(rootfs, 'bin/busybox'));
      const ctr = (...args: string[]) => execFileSync('ctr', ['--address', address, '-n', 'moby', ...args]).toString();
      // In the cgroup the Engine gives the container's task, as a task it lost track of would be.
      ctr('run', '-d', '--cgroup', `/docker/${id}`, '--rootfs', rootfs, id, '/bin/busybox', 'sleep', '3600');
      const task = ctr('task', 'ls')
        .split('\n')
        .find((l) => l.startsWith(id));
      const pid = Number(task?.trim().split(/\s+/)[1]);
      if (Number.isInteger(pid)) {
        pids.push(pid);
        const shim = Number(
          spawnSync('ps', ['-o', 'ppid=', '-p', String(pid)])
            .stdout.toString()
            .trim(),
        );
        if (Number.isInteger(shim) && shim > 1) pids.push(shim);
      }
    } finally {
      await stopPid(containerd.pid!);
    }
    await this.startEngine();
    return pids;
  }
}

/** After a killed Engine: its containerd, if it still holds the socket, goes too. */
async function stopDockerdLeftovers(info: DockerEnvInfo, containerd: number): Promise<void> {
  await stopPid(containerd, 10_000);
  spawnSync('rm', ['-f', join(info.root, 'exec', 'containerd', 'containerd.pid')]);
}

/** The environment run-tests.mjs started, or why there is none. */
export function attachDockerEnv(): DockerEnv | { missing: string } {
  const file = process.env['ROLLGATE_TEST_DOCKER'];
  if (!file || !existsSync(file))
    return {
      missing:
        process.env['ROLLGATE_TEST_DOCKER_ERROR'] ?? 'no Docker environment was started (run the tests with npm test)',
    };
  return new DockerEnv(JSON.parse(readFileSync(file, 'utf8')) as DockerEnvInfo, file);
}
