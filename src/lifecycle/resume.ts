// After a crash or a pause: the journaled transaction finished or put back, noted in the history,
// and the interrupted commit's verdict decided — tried again, kept, or rolled back.

import { observeGateway, type ResumeOutcome } from '../apply/index.js';
import { interruptedDesired, resumeInterrupted } from '../gateway/reconcile.js';
import type { HealthVerdict } from '../health/index.js';
import type { DesiredState } from '../model/index.js';
import { plan as makePlan } from '../plan/index.js';
import { healthGate, runSettings } from './gateway-runs.js';
import type { LifecyclePorts } from './ports.js';
import { shortCommit } from '../base/short-commit.js';
import { now, type Recorder } from './recorder.js';
import {
  decide,
  MAX_INTERRUPTED_ATTEMPTS,
  note,
  type Outcome,
  type TransactionSummary,
  type Verdict,
} from './verdict.js';

/** Finishes or puts back what a crash interrupted and records its verdict; undefined when nothing was pending. */
export async function resumePending(rec: Recorder, p: LifecyclePorts): Promise<Verdict | undefined> {
  let desired = await interruptedDesired(p.stateDir);
  const rb = rec.state.rollingBack;
  if (desired && rb && desired.source.commit !== rb.commit) {
    // The journal is the rollback's own convergence to the last good commit: it is finished (or
    // put back) first, and then the rollback goes on, converging and checking health as ever.
    await resumeJournal(rec, p, desired, desired.source.commit);
    desired = undefined;
  }
  const commit = desired?.source.commit ?? rb?.commit ?? rec.state.inProgress?.commit;
  let resumed: Extract<Outcome, { kind: 'interrupted' }>['resumed'];
  if (desired) {
    const verdicts: HealthVerdict[] = [];
    const r = await resumeJournal(rec, p, desired, commit, verdicts);
    if (!r) return undefined;
    const short = r.undoErrors.length > (r.outcome?.permanentUndoErrors ?? 0) && !r.outcome;
    if (short && r.failure === undefined) {
      throw new Error(
        `the apply interrupted by a crash could not be put back completely: ${r.undoErrors.join('; ')}; ` +
          'fix the cause and start the agent again',
      );
    }
    if (!commit) return undefined;
    // The rollback of a failed commit, resumed, fell short: said as such (and looked at again later).
    const incomplete: TransactionSummary | undefined =
      short && r.failure !== undefined
        ? { status: 'rollback-incomplete', error: r.failure, ran: [], undone: r.undone, undoErrors: r.undoErrors }
        : undefined;
    const transaction = r.outcome ?? incomplete;
    resumed = { action: r.action, ...(transaction ? { transaction } : {}) };
  }
  if (!commit) return undefined;
  const o: Extract<Outcome, { kind: 'interrupted' }> = {
    kind: 'interrupted',
    commit,
    ...(resumed ? { resumed } : {}),
  };
  let d = decide(rec.state, o, now());
  if (d.next.action === 'check-live') d = decide(rec.state, { ...o, matchesLive: await matchesLive(p, commit) }, now());
  if (d.next.action === 'retry') {
    const attempts = rec.state.inProgress?.attempts ?? 1;
    p.log.warn(
      { commit, attempts },
      `the apply of ${shortCommit(commit)} was interrupted (attempt ${attempts} of ${MAX_INTERRUPTED_ATTEMPTS}); ` +
        'it is tried again',
    );
  }
  return rec.carryOut(d);
}

/** Resumes the journaled transaction of `desired` and notes it in the history. */
async function resumeJournal(
  rec: Recorder,
  p: LifecyclePorts,
  desired: DesiredState,
  commit: string | undefined,
  verdicts?: HealthVerdict[],
): Promise<ResumeOutcome | undefined> {
  const a = await p.appliers(desired, commit ? p.repoAt(commit) : undefined);
  const r = await resumeInterrupted({
    ...a,
    ...runSettings(p),
    ...(verdicts ? { confirm: healthGate(p, desired, a, verdicts) } : {}),
    ...(verdicts && commit ? { onFailure: rec.failureHook(commit, verdicts) } : {}),
  });
  if (!r) return undefined;
  const v: Verdict = {
    reason: 'resumed',
    ...(commit ? { commit } : {}),
    detail: `the apply interrupted in its ${r.interruptedIn} phase was ${r.action}`,
    steps: [...(r.outcome?.ran ?? []), ...r.undone],
  };
  await p.store.replace(note(rec.state, v, now(), { history: true }));
  return r;
}

async function matchesLive(p: LifecyclePorts, commit: string): Promise<boolean> {
  try {
    const { desired } = await p.load(commit);
    const observed = await observeGateway(await p.appliers(desired), desired, p.log);
    return makePlan(desired, observed).changes.length === 0;
  } catch {
    return false;
  }
}
