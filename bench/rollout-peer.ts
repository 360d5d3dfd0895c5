// The peer of the rollout benchmark: nixmade/orchestrator's sliding-window rollout (core/rollout.go),
// modelled here from how its code works — none of it is copied. A controller holds, per target, the
// version assigned to it and what the target last said (its version, error or not, since when); on
// every pass it
//   - counts the targets assigned the version being deployed: one whose current version is that one,
//     without an error, and whose message has not changed for SuccessTimeoutSecs (with a report since)
//     is a success; one with an error, or still not on it DurationTimeoutSecs after the assignment, a
//     failure; the others are in flight;
//   - marks the rolling version bad (LKB) once failures reach total − SuccessPercent × total (at least
//     1), and then deploys the last good one (LKG) instead, through the same window;
//   - fills the window — max(1, BatchPercent × total) targets in flight — with targets not assigned the
//     version yet, in store order;
//   - marks it good (LKG) once successes reach SuccessPercent × total, and takes the next target.
// The targets are the benchmark's simulated gateways (./rollout-sim.ts), polling the controller for
// their assignment instead of the fleet repo.

import type { ReportEvent, ReportStatus } from '../src/model/index.js';
import type { Clock, ControlPlane, PlaneAnswer, SimGateway } from './rollout-sim.js';

export interface PeerOptions {
  batchPercent: number;
  successPercent: number;
  successTimeoutMs: number;
  durationTimeoutMs: number;
  /** How often the controller orchestrates. */
  passMs: number;
}

interface Target {
  assigned: string;
  assignedAt: number;
  /** What the target last said: the version it is on (or failed), whether that is an error, since when. */
  current?: string;
  error: boolean;
  messageAt: number;
  updatedAt: number;
}

export class SlidingWindowPeer implements ControlPlane {
  readonly targets = new Map<string, Target>();
  rolling = '';
  lkg = '';
  lkb = '';
  target = '';
  requests = { polls: 0, reports: 0 };
  private readonly bad = new Set<string>();

  constructor(
    private readonly o: PeerOptions,
    private readonly clock: Clock,
  ) {}

  /** Every gateway on `commit`, which is good: the fleet's state before a rollout. */
  seed(ids: string[], commit: string): void {
    for (const id of ids)
      this.targets.set(id, {
        assigned: commit,
        assignedAt: 0,
        current: commit,
        error: false,
        messageAt: 0,
        updatedAt: 0,
      });
    this.rolling = this.target = this.lkg = commit;
  }

  /** A new version to roll out; `healthy` says whether its health check passes. */
  setTarget(commit: string, healthy: boolean): void {
    this.target = commit;
    if (!healthy) this.bad.add(commit);
  }

  healthy(_g: SimGateway, commit: string): boolean {
    return !this.bad.has(commit);
  }

  async poll(g: SimGateway): Promise<PlaneAnswer> {
    this.requests.polls++;
    const t = this.targets.get(g.id)!;
    return { head: t.assigned, runs: t.assigned };
  }

  async report(g: SimGateway, status: ReportStatus, events: ReportEvent[]): Promise<void> {
    this.requests.reports++;
    const t = this.targets.get(g.id)!;
    const now = this.clock.now();
    const failed = events.find((e) => e.verdict === 'rolled-back');
    const said = failed ? { current: failed.commit!, error: true } : { current: status.applied?.commit, error: false };
    // A failure stands until the target is given another version.
    if (!failed && t.error && t.current === t.assigned) return void (t.updatedAt = now);
    if (said.current !== t.current || said.error !== t.error) t.messageAt = now;
    if (said.current !== undefined) t.current = said.current;
    t.error = said.error;
    t.updatedAt = now;
  }

  /** Orchestrates on every pass until `stop()`. */
  async run(stop: () => boolean): Promise<void> {
    while (!stop()) {
      this.pass();
      await this.clock.sleep(this.o.passMs);
    }
  }

  pass(): void {
    const now = this.clock.now();
    const total = this.targets.size;
    const deploying = this.rolling === this.lkb ? this.lkg : this.rolling;
    let success = 0;
    let failed = 0;
    let inFlight = 0;
    const available: [string, Target][] = [];
    for (const [id, t] of this.targets) {
      if (t.assigned !== deploying) {
        available.push([id, t]);
        continue;
      }
      if (t.current === deploying && t.error) failed++;
      else if (
        t.current === deploying &&
        now - t.messageAt > this.o.successTimeoutMs &&
        now - t.updatedAt <= now - t.messageAt
      )
        success++;
      else if (now - t.assignedAt > this.o.durationTimeoutMs) failed++;
      else inFlight++;
    }
    const successThreshold = Math.floor((this.o.successPercent * total) / 100);
    const failureThreshold = Math.max(1, total - successThreshold);
    if (failed >= failureThreshold && this.rolling !== this.lkg && this.rolling !== this.lkb) {
      this.lkb = this.rolling;
      return; // the state changed: the next pass deploys the last good version
    }
    const window = Math.max(1, Math.floor((this.o.batchPercent * total) / 100));
    for (const [, t] of available.slice(0, Math.max(0, window - inFlight))) {
      t.assigned = deploying;
      t.assignedAt = now;
    }
    if (success >= successThreshold && this.rolling !== this.lkb) this.lkg = this.rolling;
    if (success >= successThreshold || this.rolling === this.lkg || this.rolling === this.lkb)
      this.rolling = this.target;
  }
}
