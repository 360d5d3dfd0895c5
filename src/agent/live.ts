// What the running agent is doing, for `rollgate status`, sd_notify and metrics: its activity
// (the Reconciling condition), the last poll, and the persisted state's commits and verdicts
// published as gauges.

import { Reason, reconciling, type ActivityReason, type Condition } from '../model/index.js';
import type { ReportingState } from '../report/index.js';
import type { LifecycleEvents, Verdict } from '../rollback/index.js';
import type { AgentMetrics } from './metrics.js';
import type { StateStore } from './state.js';

export interface LiveStatus {
  pid: number;
  phase: ActivityReason;
  commit?: string;
  since: string;
  nextPollAt?: string;
  lastPoll?: { at: string; commit?: string; error?: string };
  metrics?: string;
  /** Reports to the fleet hub, when report.url is set. */
  report?: ReportingState;
}

const short = (c: string | undefined) => (c ? c.slice(0, 12) : 'none');
const now = () => new Date().toISOString();

export class LiveView {
  status: LiveStatus = { pid: process.pid, phase: Reason.Starting, since: now() };

  constructor(
    private readonly state: StateStore,
    private readonly metrics: AgentMetrics,
  ) {}

  set(phase: ActivityReason, commit?: string): void {
    this.status = { ...this.status, phase, since: now() };
    if (commit) this.status.commit = commit;
    else delete this.status.commit;
  }

  polled(commit: string | undefined, error?: string): void {
    this.status.lastPoll = { at: now(), ...(commit ? { commit } : {}), ...(error ? { error } : {}) };
  }

  /** The Reconciling condition, from the activity. */
  reconciling(): Condition {
    return reconciling(this.status.phase, this.status.since, this.status.commit);
  }

  /** One line for sd_notify's STATUS. */
  line(): string {
    const st = this.state.current;
    const bad = st.bad.length ? `, ${st.bad.length} bad commit(s)` : '';
    return `${this.status.phase}: applied ${short(st.applied?.commit)}, last good ${short(st.lastGood?.commit)}${bad}`;
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
      activity: (a, commit) => this.set(a, commit),
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
