// What a poll answers when the state says there is nothing to do, decided in the resident part
// without the commit lifecycle, as the lifecycle would answer: nothing new, the deferral the
// gateway waits on (a rollout's wave, a maintenance window not open yet), a bad commit skipped.
// Anything else is work for a worker.

import { shortCommit } from '../base/short-commit.js';
import type { Choice, LifecycleMemory, Verdict } from '../lifecycle/index.js';
import { afterPoll, choiceKey, Reason, type AgentState, type BadCommit } from '../model/index.js';

export type RestingAnswer =
  { kind: 'unchanged'; verdict: Verdict } | { kind: 'skip-bad'; verdict: Verdict; commit: string; bad: BadCommit };

/**
 * The answer to a poll that found `head`, when it needs no worker; undefined when there is work.
 * When in doubt there is work: a worker finds out.
 */
export function restingAnswer(
  st: Readonly<AgentState>,
  head: string,
  memory: LifecycleMemory,
  driftDue: boolean,
  recoverDue: boolean,
  now: number,
): RestingAnswer | undefined {
  if (afterPoll(st, head, driftDue, recoverDue).action === 'finish-rollback') return undefined;
  const remembered = memory.chosen;
  // What the lifecycle's choose answers without a gate: a bad head, the head the gateway runs.
  const choice: Choice | undefined =
    st.bad.some((b) => b.commit === head) || head === st.applied?.commit
      ? { head, commit: head }
      : remembered?.key === choiceKey(head, st)
        ? remembered.choice
        : undefined;
  if (!choice) return undefined;
  const next = afterPoll(st, choice.commit, driftDue, recoverDue);
  if (next.action === 'skip-bad') {
    const verdict: Verdict = { reason: Reason.KnownBad, commit: choice.commit, detail: next.bad.reason };
    return { kind: 'skip-bad', verdict, commit: choice.commit, bad: next.bad };
  }
  if (next.action === 'apply') {
    // The commit waits for its window, downloaded: the same answer until the window opens.
    const w = memory.waiting;
    const same = w && w.key === choiceKey(head, st) && w.commit === choice.commit && now < w.opensAt;
    return same ? { kind: 'unchanged', verdict: w.verdict } : undefined;
  }
  if (next.action !== 'nothing') return undefined;
  const d = choice.deferral;
  return {
    kind: 'unchanged',
    verdict: d
      ? { reason: Reason.Deferred, commit: d.commit, detail: d.why }
      : { reason: Reason.Unchanged, commit: choice.commit },
  };
}

/** What is said, once per commit, when the branch (or the rollout at it) gives the gateway a bad commit. */
export function skipBadLine(head: string, commit: string, bad: BadCommit, applied: string | undefined): string {
  return (
    `${commit === head ? 'the branch points at' : `the rollout at ${shortCommit(head)} gives this gateway`} ` +
    `${shortCommit(commit)}, which failed (${bad.kind}: ${bad.reason}); ` +
    `it is not applied again. Waiting for the branch to move; the gateway stays ` +
    `on ${shortCommit(applied)}`
  );
}
