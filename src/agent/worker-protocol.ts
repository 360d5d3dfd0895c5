// The messages between the agent's resident part (./agent.ts, through ./worker-runner.ts) and its
// worker (./worker.ts), defined once. The parent sends one `run`, and `stop` when SIGTERM comes;
// the worker streams what the live status and the metrics need while it works, and ends with
// `done` (or `failed`) before it exits. The channel is Node's IPC with JSON serialisation: every
// field is plain data.

import type { LifecycleMemory, Verdict } from '../lifecycle/index.js';
import type { ActivityProgress, ActivityReason, BadReason, PollDecision } from '../model/index.js';
import type { AgentConfig } from './config.js';

export type TriggerReason = 'start' | 'schedule' | 'sync' | 'watch';

/** What the worker is run for. */
export type WorkerJob =
  /** At the agent's start: the keys read (a wrong one stops the start), what a crash interrupted resumed. */
  | { kind: 'start' }
  /** A reconcile the parent's poll found work for: the poll again (fetching), then choose, apply, repair, recover. */
  | {
      kind: 'cycle';
      reason: TriggerReason;
      driftDue: boolean;
      recoverDue: boolean;
      /** The bad commit whose skipping was said already (said once, not at every poll). */
      skipLogged?: string;
      /** The worker before this one was killed: its journal is resumed first, as a restarted agent does. */
      resume: boolean;
    }
  /** The parent's poll failed: the failure noted in the state (a verdict, a condition). */
  | { kind: 'poll-failed'; error: string };

export type WorkerRequest =
  | { type: 'run'; config: AgentConfig; job: WorkerJob; memory: LifecycleMemory }
  /** SIGTERM came to the parent: the step in flight and its health window run to their end, nothing after. */
  | { type: 'stop' };

/** What a cycle came to, for the parent's metrics, live status and schedule. */
export interface CycleOutcome {
  verdict: Verdict;
  /** What the poll decided, when it got that far: the parent's drift and recovery timers follow it. */
  action?: PollDecision['action'];
  polled?: { commit?: string; error?: string };
  /** rollgate_polls_total's label for this poll. */
  polls?: string;
  /** Counted in rollgate_reconciles_total (its verdict's row says under which label). */
  reconcile?: boolean;
  /** Seconds the apply or repair took, for rollgate_reconcile_duration_seconds. */
  durationS?: number;
  skipLogged?: string;
}

export type WorkerMessage =
  | { type: 'activity'; phase: ActivityReason; commit?: string; progress?: ActivityProgress }
  | { type: 'progress'; progress: ActivityProgress }
  | { type: 'rolling-back'; kind: BadReason }
  /** A verdict was recorded: the state file holds it. */
  | { type: 'verdict'; verdict: Verdict }
  | { type: 'done'; outcome: CycleOutcome; memory: LifecycleMemory }
  | { type: 'failed'; name: string; message: string };

/** What the worker streams while it works (the rest ends its work). */
export type WorkerEvent = Exclude<WorkerMessage, { type: 'done' } | { type: 'failed' }>;
