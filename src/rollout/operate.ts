// What an operator does to a rollout — start, pause, resume, abort — as pure functions of the state
// at the branch's head: each gives the state with one step appended (who, why), which the caller
// writes as one signed commit, or says why there is nothing to write. An action that makes no sense
// for the state (resuming an aborted rollout) is an error naming what to do instead.

import type { FleetRollout, RolloutOutcome, RolloutState, RolloutStep } from '../model/rollout.js';
import { copyState, fit, stepTime, tracksOf, wavesIn } from './tracks.js';

export class RolloutActionError extends Error {
  override name = 'RolloutActionError';
}

const short = (c: string) => c.slice(0, 12);

export interface Actor {
  /** Who: a person's e-mail, or a promoter's name. */
  by: string;
  why: string;
  /** The clock of whoever acts (ms). */
  now: number;
}

export interface StartInput extends Actor {
  /** rollgate-rollout.yaml at the head, when a rollout ran before. */
  previous?: RolloutState;
  target: string;
  /** Default: the previous rollout's target when it completed, its base when it was aborted. */
  base?: string;
  /** Default: rollout-<the target's first 12 digits>. */
  id?: string;
  /** Percent waves hash gateway ids with it (a new one for each rollout shares the fleet out anew). */
  salt: string;
  /** The target's rollout policies (its rollgate.yaml). */
  rollout: FleetRollout;
}

/** The state with the step appended, to be written. */
export function written(
  state: RolloutState,
  step: RolloutStep,
  title: string,
  exit: 'ok' | 'attention' = 'ok',
): RolloutOutcome {
  state.steps.push(step);
  return { kind: 'write', state, step, title, exit };
}

export function startRollout(i: StartInput): RolloutOutcome {
  const prev = i.previous;
  if (prev && (prev.state === 'rolling' || prev.state === 'paused'))
    throw new RolloutActionError(
      `rollout ${prev.id} is ${prev.state} (target ${short(prev.target)}): abort it (rollgate rollout abort), or ` +
        'let it complete, before starting another',
    );
  const base = i.base ?? (prev ? (prev.state === 'complete' ? prev.target : prev.base) : undefined);
  if (!base)
    throw new RolloutActionError(
      'no rollout ran on this branch before, so there is no last known good commit to fall back to: give --base, ' +
        'the commit the fleet runs now',
    );
  const bad = prev?.bad.map((b) => ({ ...b })) ?? [];
  const badTarget = bad.find((b) => b.commit === i.target);
  if (badTarget)
    throw new RolloutActionError(
      `target ${short(i.target)} is listed as bad (rollout ${badTarget.rollout ?? '?'}: ${badTarget.reason}): a bad ` +
        'commit is never rolled out again; roll out a fix',
    );
  if (bad.some((b) => b.commit === base))
    throw new RolloutActionError(`base ${short(base)} is listed as bad: the base is what every gateway falls back to`);
  if (base === i.target)
    throw new RolloutActionError(`the target ${short(i.target)} is the base: there is nothing to roll out`);
  const id = i.id ?? `rollout-${short(i.target)}`;
  if (prev && prev.id === id)
    throw new RolloutActionError(`the previous rollout is called ${id} too: give the new one another --id`);
  const at = stepTime(prev, i.now);
  const state: RolloutState = {
    id,
    salt: i.salt,
    base,
    target: i.target,
    state: 'rolling',
    waves: { fleet: [], targets: {} },
    bad,
    steps: [],
  };
  const tracks = tracksOf(state, i.rollout);
  // Every policy's first wave opens at the start (the canaries), so the rollout is under way at once.
  for (const t of tracks) wavesIn(state, t.key).push({ opened: at });
  const step: RolloutStep = { at, by: i.by, action: 'start', why: fit(i.why), ...(tracks.length ? { wave: 0 } : {}) };
  return written(state, step, `rollout ${id}: start, ${short(base)} → ${short(i.target)}`);
}

export function pauseRollout(s: RolloutState, a: Actor): RolloutOutcome {
  if (s.state === 'paused') return { kind: 'none', message: `rollout ${s.id} is paused already`, exit: 'ok' };
  if (s.state !== 'rolling') throw new RolloutActionError(`rollout ${s.id} is ${s.state}: there is nothing to pause`);
  const state = copyState(s);
  state.state = 'paused';
  const step: RolloutStep = { at: stepTime(s, a.now), by: a.by, action: 'pause', why: fit(a.why) };
  return written(state, step, `rollout ${s.id}: paused`);
}

export function resumeRollout(s: RolloutState, a: Actor): RolloutOutcome {
  if (s.state === 'rolling') return { kind: 'none', message: `rollout ${s.id} is not paused: it rolls`, exit: 'ok' };
  if (s.state === 'aborted')
    throw new RolloutActionError(
      `rollout ${s.id} was aborted and its target ${short(s.target)} is bad: it is never resumed; start a ` +
        'rollout of a fix',
    );
  if (s.state === 'complete') throw new RolloutActionError(`rollout ${s.id} is complete: there is nothing to resume`);
  const state = copyState(s);
  const at = stepTime(s, a.now);
  state.state = 'rolling';
  // Each open wave's timeout counts from now: the time spent paused is not the wave's.
  for (const list of [state.waves.fleet, ...Object.values(state.waves.targets)])
    if (list.length) list[list.length - 1]!.resumed = at;
  const step: RolloutStep = { at, by: a.by, action: 'resume', why: fit(a.why) };
  return written(state, step, `rollout ${s.id}: resumed`);
}

/** Aborts: the target goes on the fleet's bad list, and every gateway returns to the base. */
export function abortRollout(s: RolloutState, a: Actor): RolloutOutcome {
  if (s.state === 'aborted') return { kind: 'none', message: `rollout ${s.id} is aborted already`, exit: 'ok' };
  const state = copyState(s);
  state.state = 'aborted';
  state.bad.push({ commit: s.target, rollout: s.id, reason: fit(a.why) });
  const step: RolloutStep = { at: stepTime(s, a.now), by: a.by, action: 'abort', why: fit(a.why) };
  return written(
    state,
    step,
    `rollout ${s.id}: aborted; ${short(s.target)} is bad, every gateway returns to ${short(s.base)}`,
  );
}
