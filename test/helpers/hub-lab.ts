// A small fleet for the hub: several gateways, each with one simulated RTOS device and its own
// state directory, following one fleet repo on a real Git smart-HTTP server, running as real
// `rollgate agent` processes that report to a real `rollgate hub` process (embedded database).
// Each gateway has its own system in rollgate.yaml, so one commit can fail its health check on
// some gateways and pass on the others.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentProcess } from './agent-process.js';
import { CLI, rollgate } from './cli.js';
import { buildArtifact, SIMULATED_DEVICE } from './devices.js';
import { execFileSync } from 'node:child_process';
import { tempDir } from './fixtures.js';
import { startGitServer, type GitServer } from './git-server.js';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `rollgate hub` as a process. */
export class HubProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  out = '';
  err = '';

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [CLI, 'hub', ...args], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (c: Buffer) => (this.out += c.toString()));
    this.child.stderr!.on('data', (c: Buffer) => (this.err += c.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async listening(ms = 30_000): Promise<void> {
    const end = Date.now() + ms;
    while (!/listening on/.test(this.err)) {
      if (!this.running || Date.now() > end) throw new Error(`the hub did not start:\n${this.err}\n${this.out}`);
      await sleep(50);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.running) this.child.kill(signal);
    await this.exited;
  }
}

export class HubLab {
  readonly root = tempDir('rollgate-hublab-');
  readonly repo = join(this.root, 'repo');
  readonly srv = join(this.root, 'srv');
  readonly interfaces = join(this.root, 'interfaces');
  readonly hubData = join(this.root, 'hub');
  readonly hubConfig = join(this.root, 'hub.yaml');
  readonly tokens: Record<string, string> = {};
  readerToken = '';
  server!: GitServer;
  hub?: HubProcess;
  port = 0;

  constructor(readonly gateways: string[]) {}

  get hubUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  device(gw: string): string {
    return join(this.root, 'devices', gw, 'R1');
  }

  stateDir(gw: string): string {
    return join(this.root, 'state', gw);
  }

  git(...args: string[]): string {
    return execFileSync('git', ['-c', 'user.name=Fleet Operator', '-c', 'user.email=ops@example.com', ...args], {
      cwd: this.repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .toString()
      .trim();
  }

  /** The repo and git server, the artifacts, the hub's database with a reader token and one token per gateway. */
  async init(webhook?: string): Promise<void> {
    mkdirSync(join(this.repo, 'artifacts'), { recursive: true });
    mkdirSync(this.interfaces, { recursive: true });
    mkdirSync(this.srv, { recursive: true });
    symlinkSync(SIMULATED_DEVICE, join(this.interfaces, 'rtos'));
    for (const v of ['v1', 'v2', 'v3'])
      buildArtifact(
        join(this.repo, `artifacts/rtos-${v}.mender`),
        'rtos',
        `rtos-${v}`,
        { [`${v}.img`]: `${v}\n` },
        'rtos',
      );
    for (const gw of this.gateways) {
      mkdirSync(this.device(gw), { recursive: true });
      writeFileSync(join(this.device(gw), 'slot-a'), 'rtos-v0\n');
      writeFileSync(join(this.device(gw), 'calls.log'), '');
    }
    this.git('init', '-q', '-b', 'main');
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(this.srv, 'fleet.git')]);
    this.git('remote', 'add', 'origin', join(this.srv, 'fleet.git'));
    this.server = await startGitServer(this.srv);
    this.port = await freePort();
    writeFileSync(
      this.hubConfig,
      webhook ? `webhookRetry: 200ms\nwebhooks:\n  - url: ${webhook}\n    events: [rolled-back, silent]\n` : '{}\n',
    );
    const db = ['--data-dir', this.hubData];
    const reader = await rollgate('hub', 'token', 'add', '--role', 'reader', 'tests', ...db);
    if (reader.code !== 0) throw new Error(reader.err);
    this.readerToken = reader.out.trim();
    writeFileSync(join(this.root, 'reader.token'), this.readerToken + '\n', { mode: 0o600 });
    for (const gw of this.gateways) {
      const r = await rollgate(
        'hub',
        'gateway',
        'add',
        gw,
        '--label',
        `ring=${gw === this.gateways[0] ? 'canary' : 'main'}`,
        ...db,
      );
      if (r.code !== 0) throw new Error(r.err);
      this.tokens[gw] = join(this.root, `${gw}.token`);
      writeFileSync(this.tokens[gw], r.out, { mode: 0o600 });
    }
  }

  get readerTokenFile(): string {
    return join(this.root, 'reader.token');
  }

  /** Every gateway on `version`; those in `failing` fail their health check. */
  write(version: string, failing: string[] = []): void {
    const systems: string[] = [];
    const targets: string[] = [];
    for (const gw of this.gateways) {
      writeFileSync(
        join(this.repo, `manifest-${gw}.yaml`),
        [
          'api_version: mender/v1',
          'kind: update_manifest',
          `version: ${version}`,
          'component_types:',
          '  rtos:',
          `    artifact_path: artifacts/rtos-${version}.mender`,
          '    update_interface: rtos',
          '    update_strategy: { order: 10 }',
          'components:',
          `  - { component_type: rtos, id: R1, args: [${JSON.stringify(this.device(gw))}] }`,
          '',
        ].join('\n'),
      );
      const probe = failing.includes(gw) ? join(this.root, 'nothing-here') : this.device(gw);
      writeFileSync(
        join(this.repo, `health-${gw}.yaml`),
        `apiVersion: rollgate/v1\nkind: Health\nwindow: 500ms\ndeadline: 20s\ndefaults: { interval: 100ms, ` +
          `timeout: 2s, failureThreshold: 2 }\nchecks:\n  - name: device-answers\n    command: { argv: [test, ` +
          `-d, ${JSON.stringify(probe)}] }\n`,
      );
      systems.push(`  ${gw}:`, `    manifest: manifest-${gw}.yaml`, `    health: health-${gw}.yaml`);
      targets.push(`  - name: ${gw}`, `    match: { ids: [${gw}] }`, `    system: ${gw}`);
    }
    writeFileSync(
      join(this.repo, 'rollgate.yaml'),
      ['apiVersion: rollgate/v1', 'kind: Fleet', 'systems:', ...systems, 'targets:', ...targets, ''].join('\n'),
    );
  }

  commit(message: string): string {
    this.git('add', '-A');
    this.git('commit', '-q', '-m', message);
    this.git('push', '-q', 'origin', 'main');
    return this.git('rev-parse', 'HEAD');
  }

  async startHub(): Promise<HubProcess> {
    this.hub = new HubProcess([
      '--data-dir',
      this.hubData,
      '--listen',
      `127.0.0.1:${this.port}`,
      '--silent-after',
      '3s',
      '--config',
      this.hubConfig,
    ]);
    await this.hub.listening();
    return this.hub;
  }

  agent(gw: string): AgentProcess {
    return new AgentProcess(this.stateDir(gw), [
      '--repo',
      this.server.url('fleet.git'),
      '--ref',
      'main',
      '--id',
      gw,
      '--interfaces-dir',
      this.interfaces,
      '--jitter',
      '0s',
      '--retry',
      '500ms',
      '--interval',
      '1s',
      '--report-url',
      this.hubUrl,
      '--report-token-file',
      this.tokens[gw]!,
      '--report-heartbeat',
      '1s',
    ]);
  }

  async api<T>(path: string): Promise<T> {
    const res = await fetch(this.hubUrl + path, { headers: { authorization: `Bearer ${this.readerToken}` } });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** Polls the hub until `test` holds for what `path` answers. */
  async until<T>(what: string, path: string, test: (doc: T) => boolean, ms = 60_000): Promise<T> {
    const end = Date.now() + ms;
    let last: T | undefined;
    let error = '';
    for (;;) {
      try {
        last = await this.api<T>(path);
        if (test(last)) return last;
      } catch (err) {
        error = (err as Error).message;
      }
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)} ${error}\nhub: ${this.hub?.err}`);
      await sleep(200);
    }
  }
}
