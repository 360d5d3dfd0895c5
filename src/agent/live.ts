// What the running agent is doing, for `rollgate status`, sd_notify and metrics: its activity
// (the Reconciling condition), the last poll, and the persisted state's commits and verdicts
// published as gauges.

import { Reason, reconciling, type ActivityProgress, type ActivityReason, type Condition } from '../model/index.js';
import type { ReportingState } from '../report/index.js';
import type { LifecycleEvents, Verdict } from '../lifecycle/index.js';
import type { AgentMetrics } from './metrics.js';
import type { StateStore } from './state.js';
import { shortCommit } from '../base/short-commit.js';

export interface LiveStatus {
  pid: number;
  phase: ActivityReason;
  commit?: string;
  since: string;
  /** How far the phase has come (the step of an apply, the end of a health window). */
  progress?: ActivityProgress;
  /** SIGTERM came: the agent stops once the reconcile in flight ends. */
  stopRequested?: boolean;
  nextPollAt?: string;
  lastPoll?: { at: string; commit?: string; error?: string };
  metrics?: string;
  /** Reports to the fleet hub, when report.url is set. */
  report?: ReportingState;
}

const now = () => new Date().toISOString();
/** A time of the next minutes, as `systemctl status` readers want it: 12:03:00 UTC. */
const clock = (iso: string) => `${iso.slice(11, 19)} UTC`;

/**
 * What a busy agent is doing, two ways: as the STATUS= line says it while it runs, and as what a
 * stop waits for. Undefined when it is not busy.
 */
function doing(s: LiveStatus, lastGood: string | undefined): { now: string; awaited: string } | undefined {
  // Without a commit: the start-up's resume of what a crash interrupted, before its journal is read.
  const c = s.commit ? `commit ${shortCommit(s.commit)}` : 'what a crash interrupted';
  const p = s.progress;
  const stepNow = p?.kind === 'step' ? `: step ${p.n}/${p.of} (${p.step})` : '';
  const stepAwaited = p?.kind === 'step' ? ` (step ${p.n}/${p.of}, ${p.step})` : '';
  switch (s.phase) {
    case 'applying':
      return { now: `applying ${c}${stepNow}`, awaited: `the apply of ${c}${stepAwaited}` };
    case 'health': {
      const when =
        p?.kind === 'health' ? `passes at ${clock(p.passAt)} at the earliest, fails at ${clock(p.failAt)}` : '';
      return {
        now: `health window of ${c}${when ? `: ${when}` : ''}`,
        awaited: `the health window of ${c}${when ? ` (${when})` : ''}`,
      };
    }
    case 'rolling-back':
      return {
        now: `rolling back ${c} to last good ${shortCommit(lastGood)}${stepNow}`,
        awaited: `the rollback of ${c}${stepAwaited}`,
      };
    case 'starting':
    case 'idle':
    case 'polling':
    case 'stopping':
      return undefined;
  }
}

export class LiveView {
  status: LiveStatus = { pid: process.pid, phase: Reason.Starting, since: now() };
  /** Told whenever what the agent does changes (systemd's STATUS= line). */
  onChange: (() => void) | undefined;

  constructor(
    private readonly state: StateStore,
    private readonly metrics: AgentMetrics,
  ) {}

  set(phase: ActivityReason, commit?: string, progress?: ActivityProgress): void {
    this.status = { ...this.status, phase, since: now() };
    if (progress) this.status.progress = progress;
    else delete this.status.progress;
    if (commit) this.status.commit = commit;
    else delete this.status.commit;
    this.onChange?.();
  }

  progress(p: ActivityProgress): void {
    this.status.progress = p;
    this.onChange?.();
  }

  /** SIGTERM came while a reconcile runs: the line says what the stop waits for. */
  stopRequested(): void {
    this.status.stopRequested = true;
    this.onChange?.();
  }

  polled(commit: string | undefined, error?: string): void {
    this.status.lastPoll = { at: now(), ...(commit ? { commit } : {}), ...(error ? { error } : {}) };
  }

  /** The Reconciling condition, from the activity. */
  reconciling(): Condition {
    return reconciling(this.status.phase, this.status.since, this.status.commit);
  }

  /** One line for sd_notify's STATUS: what the agent does now, or what a stop waits for. */
  line(): string {
    const st = this.state.current;
    const busy = doing(this.status, st.lastGood?.commit);
    if (busy && this.status.stopRequested)
      return `stopping: waiting for ${busy.awaited} to end; a second SIGTERM stops at once`;
    if (busy) return busy.now;
    const bad = st.bad.length ? `, ${st.bad.length} bad commit(s)` : '';
    // A poll is part of being idle: the line does not flicker at every one.
    const phase = this.status.phase === 'polling' ? 'idle' : this.status.phase;
    return `${phase}: applied ${shortCommit(st.applied?.commit)}, last good ${shortCommit(st.lastGood?.commit)}${bad}`;
  }

  /** The persisted state's commits and health as gauges. */
  publish(): void {
    const st = this.state.current;
    this.metrics.setCommits(st.applied?.commit, st.lastGood?.commit);
    this.metrics.badCommits.set(st.bad.length);
    this.metrics.lastGoodHealthy.set(st.lastGoodUnhealthy ? 0 : 1);
    this.metrics.setConditions(st.conditions);
  }

  events(): LifecycleEvents {
    return {
      activity: (a, commit, progress) => this.set(a, commit, progress),
      progress: (p) => this.progress(p),
      rollingBack: (kind) => this.metrics.rollbacks.inc({ reason: kind }),
      verdict: (v: Verdict) => {
        const st = this.state.current;
        const success =
          v.reason === Reason.Applied ||
          v.reason === Reason.NoChange ||
          (v.reason === Reason.RolledBack && v.to !== undefined && st.applied?.commit === v.to);
        if (success) this.metrics.lastSuccess.set(Date.now() / 1000);
        if (v.reason === Reason.RollbackIncomplete) this.metrics.rollbacks.inc({ reason: v.reason });
        this.publish();
      },
    };
  }
}
