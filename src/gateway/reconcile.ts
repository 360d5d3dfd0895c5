// One reconcile: finish or put back whatever a crash interrupted, observe, plan, apply.
// The commit lifecycle (src/lifecycle), `rollgate apply`, the benches and the tests build on it.

import { statePath, STATE_DIR_ENTRIES } from '../base/state-dir.js';
import type { Log } from '../base/log.js';
import { StateScriptRunner, type ScriptTimeouts } from '../apply/state-scripts.js';
import type { DesiredState, Plan } from '../model/index.js';
import { plan as makePlan } from '../plan/index.js';
import {
  applyPlan,
  Journal,
  observeGateway,
  resumeJournal,
  type Applier,
  type ApplyOutcome,
  type FailureHook,
  type GatewayAppliers,
  type ResumeOutcome,
  type StepHook,
} from '../apply/index.js';

export const JOURNAL_FILE = STATE_DIR_ENTRIES.journal;

export interface ReconcileDeps extends GatewayAppliers {
  stateDir: string;
  log: Log;
  concurrency?: number;
  confirm?: () => Promise<void>;
  onFailure?: FailureHook;
  /** Images to ask the registry about (pull_policy always or a period that is due). */
  refreshImages?: string[];
  /** When given, `confirm` (the health window) runs only for plans it accepts. */
  gateIf?: (plan: Plan) => boolean;
  /** Deadlines of the system's state scripts (default: Mender's). */
  scriptTimeouts?: Partial<ScriptTimeouts>;
  /** Told as each step of the plan starts. */
  onStep?: StepHook;
}

/** The runner of a desired state's state scripts; undefined when it has none. */
function scriptsOf(desired: DesiredState | undefined, deps: ReconcileDeps): StateScriptRunner | undefined {
  if (!desired?.stateScripts?.length) return undefined;
  return new StateScriptRunner(desired.stateScripts, {
    stateDir: deps.stateDir,
    env: {
      ROLLGATE_GATEWAY_ID: desired.device.id,
      ROLLGATE_COMMIT: desired.source.commit ?? '',
      ROLLGATE_SYSTEM: desired.system,
      ROLLGATE_TARGET: desired.target,
    },
    ...(deps.scriptTimeouts ? { timeouts: deps.scriptTimeouts } : {}),
    log: deps.log,
  });
}

export interface ReconcileResult {
  resumed?: ResumeOutcome;
  plan: Plan;
  /** Absent when the plan had no steps. */
  outcome?: ApplyOutcome;
}

export function appliersOf(d: GatewayAppliers): Applier[] {
  return [d.docker, d.interfaces].filter((a): a is NonNullable<typeof a> => a !== undefined);
}

export async function reconcileOnce(desired: DesiredState, deps: ReconcileDeps): Promise<ReconcileResult> {
  const journal = new Journal(statePath(deps.stateDir, 'journal'));
  const appliers = appliersOf(deps);
  const resumed = await resumeInterrupted(deps, desired.source.commit);
  if (resumed && resumed.undoErrors.length > 0 && !resumed.failure) {
    throw new Error(
      `the interrupted apply ${resumed.txn} could not be put back completely; nothing new is applied until it ` +
        `is: ${resumed.undoErrors.join('; ')}`,
    );
  }
  // A transaction that failed (before a crash or a reboot cut its rollback short, or after the
  // gateway rebooted for it) is not tried again here: the failure is the answer.
  if (resumed?.plan && resumed.outcome && resumed.outcome.status !== 'applied')
    return { resumed, plan: resumed.plan, outcome: resumed.outcome };
  // The same commit's transaction, paused by the gateway, went on to its end: that is this apply.
  if (
    resumed?.action === 'continued' &&
    resumed.plan &&
    resumed.outcome &&
    resumed.plan.desired.source.commit === desired.source.commit
  )
    return { resumed, plan: resumed.plan, outcome: resumed.outcome };
  if (resumed?.plan && resumed.failure) {
    const status = resumed.undoErrors.length > 0 ? 'rollback-incomplete' : 'rolled-back';
    return {
      resumed,
      plan: resumed.plan,
      outcome: {
        txn: resumed.txn,
        status,
        error: resumed.failure,
        ran: [],
        undone: resumed.undone,
        undoErrors: resumed.undoErrors,
        finalizeErrors: [],
      },
    };
  }
  const observed = await observeGateway(
    deps,
    desired,
    deps.log,
    deps.refreshImages ? { refreshImages: deps.refreshImages } : {},
  );
  const plan = makePlan(desired, observed);
  const steps = plan.prepare.length + plan.stages.reduce((n, s) => n + s.steps.length, 0) + plan.finalize.length;
  if (steps === 0) return { ...(resumed ? { resumed } : {}), plan };
  const scripts = scriptsOf(desired, deps);
  const outcome = await applyPlan(plan, {
    appliers,
    desired,
    journal,
    log: deps.log,
    ...(deps.concurrency ? { concurrency: deps.concurrency } : {}),
    ...(deps.confirm && (!deps.gateIf || deps.gateIf(plan)) ? { confirm: deps.confirm } : {}),
    ...(deps.onFailure ? { onFailure: deps.onFailure } : {}),
    ...(scripts ? { scripts } : {}),
    ...(deps.onStep ? { onStep: deps.onStep } : {}),
  });
  return { ...(resumed ? { resumed } : {}), plan, outcome };
}

/**
 * Finishes or puts back the transaction a crash interrupted; undefined when none was in flight.
 * One the gateway paused goes on when it applies `forwardFor` (or whatever it applies, when absent).
 */
export async function resumeInterrupted(deps: ReconcileDeps, forwardFor?: string): Promise<ResumeOutcome | undefined> {
  const journal = new Journal(statePath(deps.stateDir, 'journal'));
  return resumeJournal(journal, appliersOf(deps), deps.log, {
    forwardFor,
    scriptsFor: (desired) => scriptsOf(desired, deps),
    ...(deps.confirm ? { confirm: deps.confirm } : {}),
    ...(deps.concurrency ? { concurrency: deps.concurrency } : {}),
    ...(deps.onFailure ? { onFailure: deps.onFailure } : {}),
  });
}

/** The desired state the interrupted transaction was applying, when one is journaled. */
export async function interruptedDesired(stateDir: string): Promise<DesiredState | undefined> {
  const journal = new Journal(statePath(stateDir, 'journal'));
  if (!(await journal.load())) return undefined;
  return journal.loadDesired();
}
