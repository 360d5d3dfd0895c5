// rollgate's control plane for the rollout benchmark's simulated gateways: the real git server and
// the real hub, over HTTP. A poll is the agent's own ls-refs request (src/sync/ls-refs.ts); when the
// branch moved, the gateway fetches the new head as a shallow single-branch fetch does (the
// advertisement, then an upload-pack request whose pack is read to the end and dropped). What the
// gateway may run is worked out by the agent's own rollout code (src/rollout: the state read and
// checked against the target's policy, admission, the standing of src/lifecycle/gates/rollout.ts)
// over the commit's files, read from one object store the benchmark keeps for all the gateways (the
// bytes every gateway downloads are real; reading them is done once). Reports are POSTed to the
// hub's /api/v1/reports with each gateway's own token.

import { execFile } from 'node:child_process';
import { Agent, request } from 'node:http';
import { promisify } from 'node:util';
import { findTarget, GitObjectSource, readFleet, type FleetDoc } from '../src/manifest/index.js';
import type { ReportEvent, ReportStatus } from '../src/model/index.js';
import type { FleetRollout } from '../src/model/rollout.js';
import type { ParsedRolloutState } from '../src/rollout/index.js';
import { admit, parseRolloutState, stateAgainstPolicy, trackOf } from '../src/rollout/index.js';
import { standingOf } from '../src/lifecycle/gates/rollout.js';
import { CountingHttpClient } from '../src/sync/http-client.js';
import { lsRemoteRef } from '../src/sync/ls-refs.js';
import type { ControlPlane, PlaneAnswer, SimGateway } from './rollout-sim.js';

const run = promisify(execFile);

/** At most `n` at once; the others queue. */
export class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly n: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

interface HeadInfo {
  parsed?: ParsedRolloutState;
  fleet?: FleetDoc;
  rollout?: FleetRollout;
}

const pkt = (s: string) => (s.length + 4).toString(16).padStart(4, '0') + s;

export class GitPlane implements ControlPlane {
  readonly counts = { polls: 0, fetches: 0, reports: 0, reportErrors: 0, pollErrors: 0 };
  private readonly http = new CountingHttpClient({
    timeoutMs: 120_000,
    idleTimeoutMs: 60_000,
    headers: {},
    userAgent: 'git/rollgate',
  });
  private readonly heads = new Map<string, Promise<HeadInfo>>();
  private readonly health = new Map<string, Promise<boolean>>();
  private readonly healthKnown = new Map<string, boolean>();
  private readonly hubAgent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    /** The fleet repo's URL on the git server. */
    private readonly url: string,
    /** A bare repo the benchmark fetches each new head into, once, to read its files. */
    private readonly store: string,
    private readonly hub: { host: string; port: number },
    private readonly gitLimit: Limiter,
    private readonly hubLimit: Limiter,
  ) {}

  healthy(_g: SimGateway, commit: string): boolean {
    return this.healthKnown.get(commit) ?? true;
  }

  async poll(g: SimGateway): Promise<PlaneAnswer | undefined> {
    let head: string | null;
    try {
      head = await this.gitLimit.run(() => lsRemoteRef(this.http, this.url, 'refs/heads/main'));
      this.counts.polls++;
      if (!head) return undefined;
      if (head !== g.head) {
        await this.gitLimit.run(() => this.fetchHead(head!));
        this.counts.fetches++;
      }
    } catch {
      this.counts.pollErrors++;
      return undefined;
    }
    const info = await this.info(head);
    if (!info.parsed) return { head, runs: head };
    const st = info.parsed.state;
    const gateway = { id: g.id, labels: g.labels };
    const t = findTarget(info.fleet!, gateway);
    const { key, policy } = trackOf(info.rollout!, t >= 0 ? info.fleet!.targets[t]!.name : undefined);
    const a = admit({ gateway, head, state: st, policy, track: key });
    const standing = standingOf(st, a);
    await this.knowHealth(a.runs.commit);
    if (a.admitted || a.reason.code === 'aborted') return { head, runs: a.runs.commit, standing };
    const wave = a.wave ? `wave ${a.wave.index + 1} of ${a.wave.of} "${a.wave.name}"` : 'its wave';
    return {
      head,
      runs: a.runs.commit,
      standing,
      deferred: {
        commit: st.target,
        cause: `rollout ${st.id} target ${st.target} ${a.reason.code} at ${wave}`,
        detail: a.reason.message,
        until: `${wave} opens`,
      },
    };
  }

  /** A shallow fetch of `head` as a gateway makes it: the ref advertisement, then the pack, read and dropped. */
  private async fetchHead(head: string): Promise<void> {
    const adv = await fetch(`${this.url}/info/refs?service=git-upload-pack`, {
      headers: { 'user-agent': 'git/rollgate' },
    });
    await adv.arrayBuffer();
    const caps = 'multi_ack_detailed no-done side-band-64k thin-pack ofs-delta agent=git/rollgate';
    const body = pkt(`want ${head} ${caps}\n`) + pkt('deepen 1\n') + '0000' + pkt('done\n');
    const res = await fetch(`${this.url}/git-upload-pack`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-git-upload-pack-request', 'user-agent': 'git/rollgate' },
      body,
    });
    const pack = Buffer.from(await res.arrayBuffer());
    if (!res.ok || pack.length < 32) throw new Error(`fetch of ${head} answered ${res.status}, ${pack.length} bytes`);
  }

  /** The head's rollout state and its target's policy, read once for every gateway. */
  private info(head: string): Promise<HeadInfo> {
    let p = this.heads.get(head);
    if (!p) {
      p = (async () => {
        await run('git', ['--git-dir', this.store, 'fetch', '-q', 'origin', '+refs/heads/main:refs/heads/main']);
        const file = await run('git', ['--git-dir', this.store, 'show', `${head}:rollgate-rollout.yaml`]).catch(
          () => undefined,
        );
        if (!file) return {};
        const parsed = parseRolloutState(Buffer.from(file.stdout));
        const { fleet, rollout } = await readFleet(new GitObjectSource(this.store, parsed.state.target));
        const problems = stateAgainstPolicy(parsed, rollout);
        if (problems.length) throw new Error(`the rollout file at ${head} does not hold: ${problems[0]!.message}`);
        return { parsed, fleet, rollout };
      })();
      this.heads.set(head, p);
    }
    return p;
  }

  /** Whether the commit's simulated health check passes: the file bench-health in it says ok or fail. */
  private async knowHealth(commit: string): Promise<void> {
    let p = this.health.get(commit);
    if (!p) {
      p = run('git', ['--git-dir', this.store, 'show', `${commit}:bench-health`]).then(
        (r) => r.stdout.trim() !== 'fail',
        () => true,
      );
      this.health.set(commit, p);
    }
    this.healthKnown.set(commit, await p);
  }

  async report(g: SimGateway, status: ReportStatus, events: ReportEvent[]): Promise<void> {
    const body = JSON.stringify({
      schema: 'rollgate.report/v1',
      gateway: g.id,
      sentAt: new Date().toISOString(),
      sequence: { boot: `bench-${g.id}`, seq: g.seq },
      status,
      events,
      lost: 0,
    });
    const code = await this.hubLimit
      .run(
        () =>
          new Promise<number>((resolve, reject) => {
            const req = request(
              {
                ...this.hub,
                path: '/api/v1/reports',
                method: 'POST',
                agent: this.hubAgent,
                headers: {
                  'content-type': 'application/json',
                  'content-length': Buffer.byteLength(body),
                  authorization: `Bearer ${g.token}`,
                },
              },
              (res) => {
                res.resume();
                res.on('end', () => resolve(res.statusCode ?? 0));
              },
            );
            req.on('error', reject);
            req.end(body);
          }),
      )
      .catch(() => 0);
    this.counts.reports++;
    if (code !== 200) this.counts.reportErrors++;
  }

  close(): void {
    this.hubAgent.destroy();
  }
}
