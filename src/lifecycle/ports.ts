// What the commit lifecycle works through: the state store, the fleet repo, the gateway's appliers,
// the health window, the log and the agent's events. The daemon wires them (src/agent/ports.ts).

import type { GatewayAppliers } from '../apply/index.js';
import type { ScriptTimeouts } from '../apply/state-scripts.js';
import type { Log } from '../base/log.js';
import type { HealthVerdict } from '../health/index.js';
import type { RepoSource } from '../manifest/index.js';
import type { ActivityProgress, ActivityReason, AgentState, BadReason, DesiredState } from '../model/index.js';
import type { GatePorts } from './gates/index.js';
import type { Verdict } from './verdict.js';

export interface StatePort {
  readonly current: Readonly<AgentState>;
  /** Writes the new state through before returning. */
  replace(next: AgentState): Promise<void>;
}

export interface LifecycleEvents {
  /** What the agent is doing now (its live status and the Reconciling condition), and how far it has come. */
  activity(a: ActivityReason, commit?: string, progress?: ActivityProgress): void;
  /** The step an apply (or a rollback's convergence) has started. */
  progress?(p: ActivityProgress): void;
  /** A verdict was recorded. */
  verdict(v: Verdict): void;
  /** A rollback to the last good commit begins, because of a commit that failed this way. */
  rollingBack(kind: BadReason): void;
}

/** The admission gates' ports (./gates/gate.ts: signatures, history, the rollout's files, loading) and the rest. */
export interface LifecyclePorts extends GatePorts {
  store: StatePort;
  /** A repo reading the commit a journaled transaction was applying. */
  repoAt(commit: string): RepoSource;
  /** Keeps the applied and last good commits in the local repo (shallow fetches may drop them). */
  pin(role: 'applied' | 'last-good', commit: string): Promise<void>;
  appliers(desired?: DesiredState, repo?: RepoSource): Promise<GatewayAppliers>;
  health(desired: DesiredState, appliers: GatewayAppliers, subject: string): Promise<HealthVerdict>;
  /** pull_policy images due for a look in the registry. */
  dueImages(desired: DesiredState): string[];
  stateDir: string;
  concurrency: number;
  /** Deadlines of state scripts (stateScripts.* of the agent's configuration). */
  scriptTimeouts?: Partial<ScriptTimeouts>;
  log: Log;
  events: LifecycleEvents;
}
