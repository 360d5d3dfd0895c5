// A device lab whose fleet repo is a git working tree pushed to a real Git smart-HTTP server on
// loopback, with the agent and `rollgate diff` run against it as processes.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentProcess } from './agent-process.js';
import { rollgate } from './cli.js';
import { DeviceLab, UPDATE_MODULES } from './devices.js';
import { startGitServer, type GitServer } from './git-server.js';
import type { Keyring, SigningKey } from './signing.js';

/** A device lab whose fleet repo is a git working tree, pushed to a bare repo the git server serves. */
export class FleetLab extends DeviceLab {
  /** When set, commits are signed with its keys (GNUPGHOME) as `commit(message, key)` asks. */
  keyring?: Keyring;

  readonly srv = join(this.root, 'srv');
  server!: GitServer;

  async serve(port = 0): Promise<void> {
    this.server = await startGitServer(this.srv, port);
  }

  init(): void {
    mkdirSync(this.srv, { recursive: true });
    this.git('init', '-q', '-b', 'main');
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(this.srv, 'fleet.git')]);
    this.git('remote', 'add', 'origin', join(this.srv, 'fleet.git'));
  }

  git(...args: string[]): string {
    return execFileSync('git', ['-c', 'user.name=Fleet Operator', '-c', 'user.email=ops@example.com', ...args], {
      cwd: this.repo,
      ...(this.keyring ? { env: this.keyring.env } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .toString()
      .trim();
  }

  get url(): string {
    return this.server.url('fleet.git');
  }

  /** Writes the repo: every type on `version`, and a health window whose check passes or fails. */
  write(version: string, healthy: boolean): void {
    this.writeRepo((type) => this.artifact(type, `${type}-${version}`));
    const fleet = join(this.repo, 'rollgate.yaml');
    writeFileSync(
      fleet,
      readFileSync(fleet, 'utf8').replace(
        '    manifest: manifest.yaml\n',
        '    manifest: manifest.yaml\n    health: health.yaml\n',
      ),
    );
    const probe = healthy ? this.devices : join(this.root, 'nothing-here');
    writeFileSync(
      join(this.repo, 'health.yaml'),
      `apiVersion: rollgate/v1\nkind: Health\nwindow: 600ms\ndeadline: 20s\ndefaults: { interval: 150ms, ` +
        `timeout: 2s, failureThreshold: 2 }\nchecks:\n  - name: devices-answer\n    command: { argv: [test, ` +
        `-d, ${JSON.stringify(probe)}] }\n`,
    );
  }

  commit(message: string, key?: SigningKey): string {
    this.git('add', '-A');
    this.git(...(key ? key.gitConfig : []), 'commit', '-q', ...(key ? ['-S'] : []), '-m', message);
    return this.git('rev-parse', 'HEAD');
  }

  push(): void {
    this.git('push', '-q', 'origin', 'main');
  }

  agent(env: Record<string, string> = {}, extra: string[] = []): AgentProcess {
    return new AgentProcess(
      this.stateDir,
      [
        '--repo',
        this.url,
        '--ref',
        'main',
        '--id',
        'gw-test',
        '--interfaces-dir',
        this.interfaces,
        '--interfaces-dir',
        UPDATE_MODULES,
        '--reboot-command',
        `${this.rebootScript} ${this.devices}`,
        '--jitter',
        '0s',
        '--retry',
        '500ms',
        ...extra,
      ],
      { ROLLGATE_BOOT_ID_FILE: this.bootIdFile, ...env },
    );
  }

  /** `rollgate diff` of the working tree against this gateway, as the step ids it would run. */
  async diffSteps(): Promise<string[]> {
    const r = await rollgate(
      'diff',
      '--repo',
      this.repo,
      '--ref',
      'HEAD',
      '--id',
      'gw-test',
      '--against',
      'live',
      '--state-dir',
      this.stateDir,
      '--interfaces-dir',
      this.interfaces,
      '--interfaces-dir',
      UPDATE_MODULES,
      '--output',
      'json',
    );
    assert.ok(r.code === 0 || r.code === 2, r.err);
    const plan = JSON.parse(r.out) as {
      prepare: { id: string }[];
      stages: { steps: { id: string }[] }[];
      finalize: { id: string }[];
    };
    return [...plan.prepare, ...plan.stages.flatMap((s) => s.steps), ...plan.finalize].map((s) => s.id);
  }

  expectSettled(version: string): void {
    assert.deepEqual(this.running(), { G13: `gateway-${version}`, R456: `rtos-${version}`, R998: `rtos-${version}` });
    assert.deepEqual(this.unsettled(), [], 'no device is left mid-update');
    assert.equal(this.journalExists(), false, 'no transaction is left in the journal');
  }
}
