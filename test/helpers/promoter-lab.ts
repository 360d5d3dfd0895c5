// A fleet repo under a staged rollout, for the promoter's tests: fleet-repo-example with a short
// rollout policy, served by a real Git smart-HTTP server that takes pushes, a real hub (in this
// process, embedded database) that the gateways' reports reach over HTTP exactly as agents send
// them, a real OpenPGP key for the promoter (made by gpg, exported armored), and the built CLI.

import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addGateway, addToken, Hub, migrate, openDatabase, type Database } from '../../src/hub/index.js';
import { silentLog } from '../../src/base/log.js';
import type { ReportEvent, VerdictReason } from '../../src/model/index.js';
import type { RolloutState } from '../../src/model/rollout.js';
import { parseRolloutState } from '../../src/rollout/index.js';
import { rollgateWith, type CliResult } from './cli.js';
import { cleanup, projectRoot, run, tempDir } from './fixtures.js';
import { startGitServer, type GitServer } from './git-server.js';
import { call, report, status, verdict } from './hub.js';
import { Keyring, type GpgKey } from './signing.js';

export const TEST_POLICY =
  'rollout:\n' +
  '  gate: { success_percent: 100, soak: 1s, timeout: 1h, silent_after: 1h }\n' +
  '  waves:\n' +
  '    - { name: canary, match: { labels: { ring: canary } } }\n' +
  '    - { name: half, percent: 50 }\n' +
  '    - { name: everyone, percent: 100 }\n';

export const CANARIES = ['gw-c1', 'gw-c2'];
export const OTHERS = Array.from({ length: 8 }, (_, i) => `gw-0${i + 1}`);

export class PromoterLab {
  readonly root = tempDir('rollgate-promoter-');
  readonly work = join(this.root, 'work');
  readonly bare = join(this.root, 'srv', 'fleet.git');
  readonly keyFile = join(this.root, 'promoter.key');
  readonly readerFile = join(this.root, 'reader.token');
  readonly keyring = new Keyring(join(this.root, 'keys'));
  server!: GitServer;
  /** The hub in this process, unless `init` was told there is another. */
  hub!: Hub;
  /** Where reports go and evidence comes from. */
  hubUrl = '';
  key!: GpgKey;
  private readonly tokens = new Map<string, string>();
  readonly labels = new Map<string, Record<string, string>>();

  git(...args: string[]): string {
    return run('git', args, this.work);
  }

  /** The fleet repo's branch on the server. */
  head(): string {
    return run('git', ['--git-dir', this.bare, 'rev-parse', 'main']);
  }

  /** rollgate-rollout.yaml at a commit of the server's branch. */
  stateAt(rev = 'main'): RolloutState {
    const text = run('git', ['--git-dir', this.bare, 'show', `${rev}:rollgate-rollout.yaml`]);
    return parseRolloutState(new TextEncoder().encode(text)).state;
  }

  /** The files a commit of the server's branch changed against its first parent. */
  changed(rev = 'main'): string[] {
    return run('git', ['--git-dir', this.bare, 'diff-tree', '--no-commit-id', '--name-only', '-r', `${rev}^`, rev])
      .split('\n')
      .filter(Boolean);
  }

  /** The repo with `policy` (the test policy by default), committed as `message` and pushed; its commit. */
  commitFleet(message: string, edit: (fleet: string) => string = (f) => f): string {
    const file = join(this.work, 'rollgate.yaml');
    writeFileSync(file, edit(readFileSync(file, 'utf8')));
    this.git('add', '-A');
    this.git('commit', '-q', '-m', message);
    this.git('push', '-q', 'origin', 'main');
    return this.git('rev-parse', 'HEAD');
  }

  /** The server's branch into the work tree (after the promoter pushed). */
  pull(): void {
    this.git('pull', '-q', '--ff-only', 'origin', 'main');
  }

  /** The repo, the git server, the keys; and a hub in this process unless `inProcessHub` is false. */
  async init(o: { inProcessHub?: boolean } = {}): Promise<void> {
    cpSync(join(projectRoot, 'fleet-repo-example'), this.work, { recursive: true });
    const fleet = join(this.work, 'rollgate.yaml');
    writeFileSync(fleet, readFileSync(fleet, 'utf8').replace(/\nrollout:[\s\S]*$/, '\n') + TEST_POLICY);
    run('git', ['init', '-q', '-b', 'main', this.work]);
    run('git', ['init', '-q', '--bare', '-b', 'main', this.bare]);
    // git http-backend takes pushes from a client it cannot name only when told to.
    run('git', ['--git-dir', this.bare, 'config', 'http.receivepack', 'true']);
    this.git('remote', 'add', 'origin', this.bare);
    this.server = await startGitServer(join(this.root, 'srv'));
    this.key = this.keyring.gpgKey('Promoter');
    writeFileSync(
      this.keyFile,
      execFileSync(
        'gpg',
        ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--armor', '--export-secret-keys'].concat(
          this.key.fingerprint,
        ),
        { env: this.keyring.env },
      ),
      { mode: 0o600 },
    );
    if (o.inProcessHub === false) return;
    const db = await openDatabase({ dataDir: join(this.root, 'hub') });
    await migrate(db);
    await this.prepareHub(db);
    this.hub = await Hub.start({ db, log: silentLog, listen: '127.0.0.1:0' });
    this.hubUrl = this.hub.url;
  }

  /** A hub's database with the reader token and the gateways (canaries, and the others), each with its token. */
  async prepareHub(db: Database): Promise<void> {
    writeFileSync(this.readerFile, (await addToken(db, 'reader', 'promoter')) + '\n', { mode: 0o600 });
    for (const id of [...CANARIES, ...OTHERS]) {
      const labels: Record<string, string> = { role: 'gateway', ...(CANARIES.includes(id) ? { ring: 'canary' } : {}) };
      this.labels.set(id, labels);
      this.tokens.set(id, await addGateway(db, id, labels));
    }
  }

  get url(): string {
    return this.server.url('fleet.git');
  }

  /** A gateway's report, as its agent sends it: what it runs, whether healthy, and verdicts. */
  async report(
    id: string,
    o: { runs?: string; healthy?: boolean; verdicts?: [VerdictReason, string][]; events?: ReportEvent[] } = {},
  ): Promise<void> {
    const at = new Date().toISOString();
    const st = status({
      labels: this.labels.get(id)!,
      ...(o.runs ? { applied: { commit: o.runs, at }, lastGood: { commit: o.runs, at } } : {}),
      ...(o.healthy !== undefined ? { healthy: o.healthy ? 'True' : 'False' } : {}),
    });
    const events = [...(o.events ?? []), ...(o.verdicts ?? []).map(([v, c]) => verdict(v, c))];
    const a = await call(this.hubUrl, 'POST', '/api/v1/reports', {
      token: this.tokens.get(id)!,
      body: report(id, st, events),
    });
    if (a.status !== 200) throw new Error(`report of ${id}: ${a.status} ${a.text}`);
  }

  /** `rollgate rollout <command>` on the served repo, signed with the promoter's key. */
  rollout(command: string, ...args: string[]): Promise<CliResult> {
    return this.rolloutWith({}, command, ...args);
  }

  rolloutWith(env: Record<string, string>, command: string, ...args: string[]): Promise<CliResult> {
    const signing = command === 'status' ? [] : ['--signing-key', this.keyFile];
    const hub =
      command === 'promote' || command === 'status' ? ['--hub', this.hubUrl, '--hub-token-file', this.readerFile] : [];
    return rollgateWith(env, 'rollout', command, '--repo', this.url, ...signing, ...hub, ...args);
  }

  async close(): Promise<void> {
    await this.hub?.stop();
    await this.server?.close();
    cleanup(this.root);
  }
}
