// A fleet under a staged rollout, every part real: eight `rollgate agent` processes (two canaries,
// ring=canary), each with its own state directory and one simulated RTOS device behind real
// `.mender` artifacts; the fleet repo on a real Git smart-HTTP server (push enabled, for the
// promoter); a real `rollgate hub` process (embedded database) that every agent reports to; every
// commit signed with a real gpg key the agents trust. Each gateway has its own system, so one
// commit can fail its health check on some gateways and pass on the others. The promoter runs as a
// process through ./promoter.ts.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentState } from '../../src/model/index.js';
import type { RolloutState } from '../../src/model/rollout.js';
import { DirectorySource, readFleet } from '../../src/manifest/index.js';
import { exactThreshold, parseRolloutState, ROLLOUT_FILE, waveOf } from '../../src/rollout/index.js';
import type { GatewayDetail } from '../../src/hub/index.js';
import { AgentProcess } from './agent-process.js';
import { rollgate } from './cli.js';
import { buildArtifact, SIMULATED_DEVICE } from './devices.js';
import { tempDir } from './fixtures.js';
import { startGitServer, type GitServer } from './git-server.js';
import { freePort, HubProcess } from './hub-lab.js';
import { runPromoter, type PromoterRun } from './promoter.js';
import { Keyring, type GpgKey } from './signing.js';

export interface FleetGateway {
  id: string;
  labels: Record<string, string>;
}

/** gw-01 and gw-02 are the canaries; the six others are shared out by the percent waves. */
export const GATEWAYS: FleetGateway[] = Array.from({ length: 8 }, (_, i) => ({
  id: `gw-0${i + 1}`,
  labels: { ring: i < 2 ? 'canary' : 'main' },
}));

/**
 * The rollout policy the fleet's tests use: the canaries, then 20%, 50% and 100% of the six others
 * (2, then 1 more, then the last 3, with the thresholds the promoter publishes). Soak and timeout are
 * seconds, so a wave passes in a few seconds once its gateways are healthy. `gate` replaces the
 * fleet's gate; `canary` and `early` give those waves a gate of their own, `canaryMatch` the canary wave
 * its gateways (flow YAML, `{ ... }`).
 */
export function rolloutPolicy(
  o: { gate?: string; canary?: string; early?: string; canaryMatch?: string } = {},
): string {
  const own = (g?: string) => (g ? `, gate: ${g}` : '');
  return [
    'rollout:',
    `  gate: ${o.gate ?? '{ success_percent: 100, soak: 2s, timeout: 10m, silent_after: 10s }'}`,
    '  waves:',
    `    - { name: canary, match: ${o.canaryMatch ?? '{ labels: { ring: canary } }'}${own(o.canary)} }`,
    `    - { name: early, percent: 20${own(o.early)} }`,
    '    - { name: half, percent: 50 }',
    '    - { name: everyone, percent: 100 }',
    '',
  ].join('\n');
}

export const POLICY = rolloutPolicy();

export interface WriteOptions {
  /** Gateways whose health check fails on this version. */
  failing?: string[];
  /** The `rollout:` part of rollgate.yaml (POLICY when not given; '' for none). */
  policy?: string;
}

export class RolloutFleet {
  readonly root = tempDir('rollgate-rollout-fleet-');
  readonly repo = join(this.root, 'repo');
  readonly srv = join(this.root, 'srv');
  readonly interfaces = join(this.root, 'interfaces');
  readonly hubData = join(this.root, 'hub');
  readonly keyring = new Keyring(join(this.root, 'keys'));
  readonly agents = new Map<string, AgentProcess>();
  readonly tokens: Record<string, string> = {};
  readonly readerTokenFile = join(this.root, 'reader.token');
  /** The release key: it signs every commit, the promoter's too, and the agents trust it. */
  key!: GpgKey;
  /** The release key's armored secret key, as the promoter's --signing-key takes it. */
  keyFile = join(this.root, 'keys', 'release.secret.asc');
  server!: GitServer;
  hub?: HubProcess;
  hubPort = 0;
  /** More arguments of the hub process (read when it starts, once the git server runs). */
  hubArgs: () => string[] = () => [];
  private readonly versions = new Set<string>();

  constructor(readonly gateways: FleetGateway[] = GATEWAYS) {}

  get url(): string {
    return this.server.url('fleet.git');
  }

  get hubUrl(): string {
    return `http://127.0.0.1:${this.hubPort}`;
  }

  device(gw: string): string {
    return join(this.root, 'devices', gw, 'R1');
  }

  stateDir(gw: string): string {
    return join(this.root, 'state', gw);
  }

  git(...args: string[]): string {
    return execFileSync('git', ['-c', 'user.name=Release Manager', '-c', 'user.email=rm@example.com', ...args], {
      cwd: this.repo,
      env: this.keyring.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .toString()
      .trim();
  }

  /** The repo, the git server, the signing key, the hub's database with its tokens, and the hub. */
  async init(): Promise<void> {
    mkdirSync(join(this.repo, 'artifacts'), { recursive: true });
    mkdirSync(this.interfaces, { recursive: true });
    mkdirSync(this.srv, { recursive: true });
    symlinkSync(SIMULATED_DEVICE, join(this.interfaces, 'rtos'));
    this.key = this.keyring.gpgKey('Release Manager');
    writeFileSync(
      this.keyFile,
      execFileSync('gpg', ['--batch', '--armor', '--export-secret-keys', this.key.fingerprint], {
        env: this.keyring.env,
      }),
      { mode: 0o600 },
    );
    for (const g of this.gateways) {
      mkdirSync(this.device(g.id), { recursive: true });
      writeFileSync(join(this.device(g.id), 'slot-a'), 'rtos-v0\n');
      writeFileSync(join(this.device(g.id), '..', 'calls.log'), '');
    }
    this.git('init', '-q', '-b', 'main');
    const bare = join(this.srv, 'fleet.git');
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
    // The promoter pushes over smart HTTP, as it would to any git server.
    execFileSync('git', ['--git-dir', bare, 'config', 'http.receivepack', 'true']);
    this.git('remote', 'add', 'origin', bare);
    this.server = await startGitServer(this.srv);
    this.hubPort = await freePort();
    const db = ['--data-dir', this.hubData];
    const admin = await rollgate('hub', 'token', 'add', '--role', 'admin', 'tests', ...db);
    if (admin.code !== 0) throw new Error(admin.err);
    // An admin token reads too; the gateways are added through the API, as an operator's script would.
    writeFileSync(this.readerTokenFile, admin.out.trim() + '\n', { mode: 0o600 });
    await this.startHub();
    for (const g of this.gateways) {
      const res = await fetch(`${this.hubUrl}/api/v1/gateways`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin.out.trim()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: g.id, labels: g.labels }),
      });
      if (res.status !== 201) throw new Error(`adding ${g.id}: ${res.status} ${await res.text()}`);
      this.tokens[g.id] = join(this.root, `${g.id}.token`);
      writeFileSync(this.tokens[g.id]!, ((await res.json()) as { token: string }).token + '\n', { mode: 0o600 });
    }
  }

  async startHub(): Promise<HubProcess> {
    this.hub = new HubProcess(['--data-dir', this.hubData, '--listen', `127.0.0.1:${this.hubPort}`, ...this.hubArgs()]);
    await this.hub.listening();
    return this.hub;
  }

  /** Every gateway on `version` (rtos-<version>), with the rollout policy. */
  write(version: string, o: WriteOptions = {}): void {
    if (!this.versions.has(version)) {
      const file = join(this.repo, `artifacts/rtos-${version}.mender`);
      if (!existsSync(file))
        buildArtifact(file, 'rtos', `rtos-${version}`, { [`${version}.img`]: `${version}\n` }, 'rtos');
      this.versions.add(version);
    }
    const systems: string[] = [];
    const targets: string[] = [];
    for (const { id } of this.gateways) {
      writeFileSync(
        join(this.repo, `manifest-${id}.yaml`),
        `api_version: mender/v1\nkind: update_manifest\nversion: ${version}\ncomponent_types:\n  rtos:\n` +
          `    artifact_path: artifacts/rtos-${version}.mender\n    update_interface: rtos\n` +
          `    update_strategy: { order: 10 }\ncomponents:\n` +
          `  - { component_type: rtos, id: R1, args: [${JSON.stringify(this.device(id))}] }\n`,
      );
      // The check passes while <root>/health/<gateway>/<version> exists: sick() makes one gateway fail one version.
      const probe = join(this.root, 'health', id, version);
      if (!o.failing?.includes(id)) mkdirSync(probe, { recursive: true });
      writeFileSync(
        join(this.repo, `health-${id}.yaml`),
        `apiVersion: rollgate/v1\nkind: Health\nwindow: 500ms\ndeadline: 20s\ndefaults: { interval: 100ms, ` +
          `timeout: 2s, failureThreshold: 2 }\nchecks:\n  - name: device-answers\n    command: { argv: [test, ` +
          `-d, ${JSON.stringify(probe)}] }\n`,
      );
      systems.push(`  ${id}:`, `    manifest: manifest-${id}.yaml`, `    health: health-${id}.yaml`);
      targets.push(`  - name: ${id}`, `    match: { ids: [${id}] }`, `    system: ${id}`);
    }
    writeFileSync(
      join(this.repo, 'rollgate.yaml'),
      ['apiVersion: rollgate/v1', 'kind: Fleet', 'systems:', ...systems, 'targets:', ...targets, ''].join('\n') +
        (o.policy ?? POLICY),
    );
  }

  /** From now on, `gw`'s health check fails on `version` (and only there: its other versions stay healthy). */
  sick(gw: string, version: string): void {
    rmSync(join(this.root, 'health', gw, version), { recursive: true, force: true });
  }

  /** Commits the work tree, signed, on top of what the promoter pushed, and pushes it; returns the commit id. */
  commit(message: string): string {
    this.sync();
    this.git('add', '-A');
    this.git(...this.key.gitConfig, 'commit', '-q', '-S', '-m', message);
    this.git('push', '-q', 'origin', 'main');
    return this.head();
  }

  /** The work tree at the branch's head (the promoter pushes to the server, not here). */
  sync(): void {
    if (!this.git('ls-remote', 'origin', 'main')) return;
    this.git('fetch', '-q', 'origin', 'main');
    this.git('merge', '-q', '--ff-only', 'FETCH_HEAD');
  }

  head(): string {
    return execFileSync('git', ['--git-dir', join(this.srv, 'fleet.git'), 'rev-parse', 'main'])
      .toString()
      .trim();
  }

  /** Commits of the branch after `from`, oldest first, as "<id> <subject>". */
  commitsSince(from: string): { id: string; subject: string; files: string[] }[] {
    const bare = join(this.srv, 'fleet.git');
    const ids = execFileSync('git', ['--git-dir', bare, 'rev-list', '--reverse', `${from}..main`])
      .toString()
      .split('\n')
      .filter(Boolean);
    return ids.map((id) => ({
      id,
      subject: execFileSync('git', ['--git-dir', bare, 'log', '-1', '--format=%s', id]).toString().trim(),
      files: execFileSync('git', ['--git-dir', bare, 'diff-tree', '--no-commit-id', '--name-only', '-r', id])
        .toString()
        .split('\n')
        .filter(Boolean),
    }));
  }

  /** rollgate-rollout.yaml at the branch's head on the server, parsed; undefined when there is none. */
  rollout(at = 'main'): RolloutState | undefined {
    try {
      const bytes = execFileSync('git', ['--git-dir', join(this.srv, 'fleet.git'), 'show', `${at}:${ROLLOUT_FILE}`], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      return parseRolloutState(bytes).state;
    } catch {
      return undefined;
    }
  }

  /**
   * The gateways of each wave of the rollout at the head, as they will be once every wave is open: the
   * published thresholds so far, and for the waves not open yet the exact ones a promoter publishes for
   * the gateways the hub knows (all of this fleet's). Worked out offline, as any gateway can.
   */
  async wavePlan(): Promise<string[][]> {
    const s = this.rollout();
    if (!s) throw new Error('no rollout at the head');
    const dir = join(this.root, 'target-tree');
    rmSync(dir, { recursive: true, force: true });
    execFileSync('git', ['--git-dir', join(this.srv, 'fleet.git'), 'worktree', 'add', '-q', '--detach', dir, s.target]);
    const { rollout } = await readFleet(new DirectorySource(dir));
    execFileSync('git', ['--git-dir', join(this.srv, 'fleet.git'), 'worktree', 'remove', '--force', dir]);
    const policy = rollout.fleet!;
    const published = s.waves.fleet.map((w) => w.threshold);
    policy.waves.forEach((w, i) => {
      if (i >= published.length && w.select.kind === 'percent' && w.select.percent < 100)
        published[i] = exactThreshold(policy, i, this.gateways, s.salt, published);
    });
    const plan: string[][] = policy.waves.map(() => []);
    for (const g of this.gateways) plan[waveOf(policy, g, s.salt, published).index]!.push(g.id);
    return plan;
  }

  agentArgs(id: string): string[] {
    const g = this.gateways.find((x) => x.id === id)!;
    return [
      '--repo',
      this.url,
      '--id',
      id,
      ...Object.entries(g.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      '--interfaces-dir',
      this.interfaces,
      '--trusted-keys',
      this.key.publicFile,
      '--jitter',
      '0s',
      '--retry',
      '500ms',
      '--interval',
      '1s',
      '--report-url',
      this.hubUrl,
      '--report-token-file',
      this.tokens[id]!,
      '--report-heartbeat',
      '1s',
    ];
  }

  /** Starts a gateway's agent; `env` e.g. a faked clock. */
  startAgent(id: string, env: Record<string, string> = {}): AgentProcess {
    const a = new AgentProcess(this.stateDir(id), this.agentArgs(id), env);
    this.agents.set(id, a);
    return a;
  }

  agent(id: string): AgentProcess {
    const a = this.agents.get(id);
    if (!a) throw new Error(`no agent runs for ${id}`);
    return a;
  }

  state(id: string): AgentState {
    const s = this.agent(id).state();
    if (!s) throw new Error(`${id} has no state yet`);
    return s;
  }

  /** The version the gateway's device runs. */
  running(id: string): string {
    const d = this.device(id);
    const slot = readFileSync(join(d, 'running'), 'utf8').trim();
    return readFileSync(join(d, `slot-${slot}`), 'utf8').trim();
  }

  /** The versions the gateway's device has installed (ArtifactInstall calls), read from the device. */
  installCount(id: string): number {
    return readFileSync(join(this.device(id), '..', 'calls.log'), 'utf8')
      .split('\n')
      .filter((l) => l.endsWith(' ArtifactInstall')).length;
  }

  /** Every commit the gateway's agent went to or tried (applied, rolled back, refused), from its history. */
  tried(id: string): string[] {
    return this.state(id)
      .history.filter((h) => h.event !== 'unchanged' && h.event !== 'deferred' && h.event !== 'stopping')
      .map((h) => h.commit ?? '')
      .filter(Boolean);
  }

  /** Waits until every listed gateway's agent state satisfies `test`. */
  async until(what: string, ids: string[], test: (s: AgentState, id: string) => boolean, ms = 90_000): Promise<void> {
    await Promise.all(ids.map((id) => this.agent(id).until(`${id}: ${what}`, (s) => test(s, id), ms)));
  }

  /** Waits until every listed gateway runs `commit`, applied and healthy. */
  onCommit(ids: string[], commit: string, ms?: number): Promise<void> {
    return this.until(
      `on ${commit.slice(0, 12)}`,
      ids,
      (s) => s.lastGood?.commit === commit && s.applied?.commit === commit,
      ms,
    );
  }

  /** The hub's API, read with the reader token. */
  async api<T>(path: string): Promise<T> {
    const token = readFileSync(this.readerTokenFile, 'utf8').trim();
    const res = await fetch(this.hubUrl + path, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** The promoter, as a process, on this fleet's repo (and hub, for the commands that read it). */
  promoter(command: string, args: string[] = [], env: Record<string, string> = {}): Promise<PromoterRun> {
    const hub = ['promote', 'status'].includes(command)
      ? ['--hub', this.hubUrl, '--hub-token-file', this.readerTokenFile]
      : [];
    const signing = command === 'status' ? [] : ['--signing-key', this.keyFile];
    return runPromoter(command, ['--repo', this.url, '--ref', 'main', ...hub, ...signing, ...args], env);
  }

  /** `rollout promote` until it does not answer "wait" (2), for at most `ms`; returns that run. */
  async promoteUntilDecided(ms = 90_000, env: Record<string, string> = {}): Promise<PromoterRun> {
    const end = Date.now() + ms;
    for (;;) {
      const r = await this.promoter('promote', ['--by', 'promoter@test'], env);
      if (r.code !== 2) return r;
      if (Date.now() > end) throw new Error(`the wave never passed its gate:\n${r.out}${r.err}`);
      await sleep(500);
    }
  }

  /**
   * Waits until the hub has a report from each listed gateway made after its agent polled `head`, and
   * returns what the hub has of each: their standing in the rollout as the agents worked it out.
   */
  async reported(ids: string[], head: string, ms = 60_000): Promise<Map<string, GatewayDetail>> {
    const end = Date.now() + ms;
    for (;;) {
      const all = await Promise.all(ids.map((id) => this.api<GatewayDetail>(`/api/v1/gateways/${id}`)));
      if (all.every((d) => d.head === head)) return new Map(all.map((d) => [d.id, d]));
      if (Date.now() > end)
        throw new Error(
          `not every gateway reported polling ${head}: ${all.map((d) => `${d.id} ${d.head}`).join(', ')}`,
        );
      await sleep(250);
    }
  }

  /** Polls the hub's `path` until `test` holds for its answer. */
  async hubUntil<T>(what: string, path: string, test: (doc: T) => boolean, ms = 60_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const doc = await this.api<T>(path);
      if (test(doc)) return doc;
      if (Date.now() > end) throw new Error(`the hub never showed ${what}: ${JSON.stringify(doc).slice(0, 2000)}`);
      await sleep(250);
    }
  }

  /** Stops every process and removes everything the fleet made. */
  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.stop()));
    await this.hub?.kill('SIGTERM');
    await this.server?.close();
    execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env: this.keyring.env });
    rmSync(this.root, { recursive: true, force: true });
  }
}
