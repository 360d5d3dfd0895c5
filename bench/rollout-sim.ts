// A simulated gateway for the rollout benchmark: the agent's own decisions with a simulated applier.
// Each one polls its control plane on an interval (with jitter), takes what the plane says it may
// run now, and goes through the agent's real lifecycle policy (src/lifecycle/verdict.ts: afterPoll,
// beginAttempt, decide, withStanding), so bad commits, deferrals and rollbacks are recorded as an
// agent records them; "installing" a commit is recording it, and its health window is a wait whose
// answer is the commit's own (the plane says). It reports its status and verdict events, built by
// the agent's reporting code (src/report/events.ts), to the plane on every verdict and on a heartbeat.
//
// Time comes from a Clock: the real one against the real git server and hub, or a virtual one
// (VirtualClock) for the peer's model, which runs the same gateways in simulated time.

import type { AgentState, ReportEvent, ReportStatus } from '../src/model/index.js';
import { emptyState } from '../src/model/index.js';
import type { RolloutStanding } from '../src/model/rollout.js';
import { afterPoll, beginAttempt, decide, withStanding } from '../src/lifecycle/verdict.js';
import { reportEvents } from '../src/report/index.js';

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** Simulated time: sleepers wake in time order, each after everything the one before set off has run. */
export class VirtualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly heap: { at: number; seq: number; wake: () => void }[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.push({ at: this.t + Math.max(0, ms), seq: this.seq++, wake }));
  }

  /** Runs until `done()` holds or `limitMs` of simulated time have passed. */
  async run(done: () => boolean, limitMs: number): Promise<void> {
    while (!done() && this.heap.length > 0 && this.t <= limitMs) {
      const first = this.pop();
      this.t = first.at;
      first.wake();
      while (this.heap.length > 0 && this.heap[0]!.at === this.t) this.pop().wake();
      // Everything the wakers set off runs before time moves on (no real I/O in a simulated run).
      await new Promise((r) => setImmediate(r));
    }
  }

  private before(a: number, b: number): boolean {
    const x = this.heap[a]!;
    const y = this.heap[b]!;
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }

  private push(e: { at: number; seq: number; wake: () => void }): void {
    const h = this.heap;
    h.push(e);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): { at: number; seq: number; wake: () => void } {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.before(l, m)) m = l;
        if (r < h.length && this.before(r, m)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** What a control plane says a gateway may run now. */
export interface PlaneAnswer {
  /** The branch's head (the rollgate plane), or the version the peer's controller assigned. */
  head: string;
  runs: string;
  /** Where it stands in a staged rollout (rollgate's plane). */
  standing?: RolloutStanding;
  /** The commit a gate deferred (not yet), and why. */
  deferred?: { commit: string; cause: string; detail: string; until: string };
}

export interface ControlPlane {
  /** One poll: what the gateway may run now; undefined when the plane could not be reached. */
  poll(g: SimGateway): Promise<PlaneAnswer | undefined>;
  /** The gateway's status and new verdict events, as a report. */
  report(g: SimGateway, status: ReportStatus, events: ReportEvent[]): Promise<void>;
  /** Whether `commit`'s health check passes on this gateway. */
  healthy(g: SimGateway, commit: string): boolean;
}

export interface SimOptions {
  pollMs: number;
  heartbeatMs: number;
  /** Download, install and the health window, together. */
  applyMs: number;
}

export class SimGateway {
  state: AgentState = emptyState();
  head?: string;
  /** Every commit it installed, in order (rollbacks included), with the clock's time. */
  readonly installs: { commit: string; at: number }[] = [];
  seq = 0;
  private readonly startedAt: string;

  constructor(
    readonly id: string,
    readonly labels: Record<string, string>,
    readonly token: string,
    private readonly plane: ControlPlane,
    private readonly clock: Clock,
    private readonly o: SimOptions,
  ) {
    this.startedAt = new Date(clock.now()).toISOString();
  }

  /** Starts on `commit`, applied and healthy, as a gateway that ran it for a while. */
  seed(commit: string): void {
    const d = decide(this.state, { kind: 'transaction', commit }, new Date(this.clock.now()).toISOString());
    this.state = { ...d.state, history: [] };
    this.head = commit;
  }

  get applied(): string | undefined {
    return this.state.applied?.commit;
  }

  get healthyOn(): string | undefined {
    const h = this.state.conditions.find((c) => c.type === 'Healthy');
    return h?.status === 'True' ? this.state.applied?.commit : undefined;
  }

  /** Polls and reports until `stop()`; the first poll comes at a random point of the interval. */
  async run(stop: () => boolean): Promise<void> {
    await this.clock.sleep(Math.random() * this.o.pollMs);
    let beat = this.clock.now() + Math.random() * this.o.heartbeatMs;
    while (!stop()) {
      await this.pollOnce();
      const next = this.clock.now() + this.o.pollMs * (0.9 + Math.random() * 0.2);
      while (!stop() && this.clock.now() < next) {
        if (this.clock.now() >= beat) {
          await this.send([]);
          beat = this.clock.now() + this.o.heartbeatMs;
        }
        await this.clock.sleep(Math.max(1, Math.min(next, beat) - this.clock.now()));
      }
    }
  }

  private at(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /** The state changes, and the verdicts they recorded go to the plane as events. */
  private async commit(next: AgentState): Promise<void> {
    const appended = next.history.slice(this.state.history.length);
    this.state = { ...next, history: next.history.slice(-20) };
    if (appended.length > 0) await this.send(reportEvents(appended, this.state));
  }

  private async send(events: ReportEvent[]): Promise<void> {
    const s = this.state;
    const status: ReportStatus = {
      labels: this.labels,
      ...(s.applied ? { applied: s.applied } : {}),
      ...(s.lastGood ? { lastGood: s.lastGood } : {}),
      ...(s.lastAttempted ? { lastAttempted: s.lastAttempted } : {}),
      ...(this.head ? { head: this.head } : {}),
      conditions: s.conditions,
      bad: s.bad.map((b) => ({ commit: b.commit, kind: b.kind, reason: b.reason, at: b.at })),
      ...(s.rollout ? { rollout: s.rollout } : {}),
      components: [],
      containers: [],
      version: '0.1.0',
      rssBytes: 40_000_000,
      startedAt: this.startedAt,
    };
    this.seq++;
    await this.plane.report(this, status, events);
  }

  private async pollOnce(): Promise<void> {
    const a = await this.plane.poll(this);
    if (!a) return;
    this.head = a.head;
    const wants = a.deferred?.commit ?? a.runs;
    let s = withStanding(this.state, {
      ...(a.standing ? { rollout: a.standing } : {}),
      wants,
      ...(a.deferred ? { deferredAt: 'rollout' as const } : {}),
      passed: a.deferred ? ['trust', 'descent'] : ['trust', 'descent', 'rollout'],
    });
    if (a.deferred)
      s = decide(s, { kind: 'deferred', gate: 'rollout', instead: a.runs, ...a.deferred }, this.at()).state;
    if (s !== this.state) await this.commit(s);
    if (afterPoll(this.state, a.runs, false).action === 'apply') await this.apply(a.runs);
  }

  private async apply(commit: string): Promise<void> {
    const lastGood = this.state.lastGood?.commit;
    this.state = beginAttempt(this.state, commit, this.at());
    this.installs.push({ commit, at: this.clock.now() });
    await this.clock.sleep(this.o.applyMs);
    if (this.plane.healthy(this, commit)) {
      const t = { status: 'applied' as const, ran: ['install'], undone: [], undoErrors: [] };
      await this.commit(decide(this.state, { kind: 'transaction', commit, transaction: t }, this.at()).state);
      return;
    }
    const error = `health failed: the simulated check of ${commit.slice(0, 12)} fails`;
    const failing = decide(this.state, { kind: 'failing', commit, error, healthFailed: true }, this.at());
    await this.commit(failing.state);
    const failed = failing.state.bad.find((b) => b.commit === commit)!;
    if (lastGood) this.installs.push({ commit: lastGood, at: this.clock.now() });
    const rollback = { ...(lastGood ? { to: lastGood } : {}), converged: true, steps: ['install'], healthy: true };
    await this.commit(decide(this.state, { kind: 'rollback', failed, rollback, ran: ['install'] }, this.at()).state);
  }
}
