// The decisions of each rollout command on the branch as read: what each needs from the repo (the
// target's fleet file and policy, that the commits named are of the branch's history) and from the
// hub (its evidence), handed to the pure functions of src/rollout. Used by `rollgate rollout` and
// by the promoter loop in `rollgate hub`.

import { randomBytes } from 'node:crypto';
import { FleetRepoError, readFleet } from '../manifest/index.js';
import type { RolloutEvidence, RolloutOutcome, RolloutState } from '../model/rollout.js';
import {
  abortRollout,
  decidePromotion,
  pauseRollout,
  resumeRollout,
  RolloutActionError,
  ROLLOUT_FILE,
  startRollout,
  stateAgainstPolicy,
  type Actor,
} from '../rollout/index.js';
import type { PromoterRepo } from './repo.js';
import type { BranchView } from './run.js';

const short = (c: string) => c.slice(0, 12);

/** The target's fleet file and policies, once its state is known to hold against them. */
async function targetPolicy(repo: PromoterRepo, view: BranchView & { state: NonNullable<BranchView['state']> }) {
  const s = view.state.state;
  for (const [role, c] of [
    ['target', s.target],
    ['base', s.base],
  ] as const)
    if (!(await repo.descends(view.head, c)))
      throw new RolloutActionError(
        `${ROLLOUT_FILE} at ${short(view.head)} names ${short(c)} as the rollout's ${role}, which is not a commit of ` +
          "the branch's history: gateways refuse this head; fix the file by hand (a signed commit) or abort",
      );
  const target = await readFleet(repo.source(s.target));
  const problems = stateAgainstPolicy(view.state, target.rollout);
  if (problems.length) throw new FleetRepoError(problems);
  return target;
}

function rolloutAt(view: BranchView, command: string): RolloutState {
  if (!view.state)
    throw new RolloutActionError(
      `no rollout on this branch (no ${ROLLOUT_FILE} at ${short(view.head)}): nothing to ${command}; start one ` +
        'with rollgate rollout start',
    );
  return view.state.state;
}

export interface StartRequest {
  target: string;
  base?: string;
  id?: string;
  by: string;
  why: string;
}

export function startDecider(repo: PromoterRepo, r: StartRequest, now = Date.now) {
  return async (view: BranchView): Promise<RolloutOutcome> => {
    const target = await repo.resolve(r.target);
    const base = r.base !== undefined ? await repo.resolve(r.base) : undefined;
    for (const [role, c] of [
      ['--target', target],
      ['--base', base],
    ] as const)
      if (c !== undefined && !(await repo.descends(view.head, c)))
        throw new RolloutActionError(
          `${role} ${short(c)} is not a commit of the branch's history (head ${short(view.head)}): gateways take ` +
            'only commits of the branch they follow',
        );
    const { rollout } = await readFleet(repo.source(target));
    return startRollout({
      ...(view.state ? { previous: view.state.state } : {}),
      target,
      ...(base !== undefined ? { base } : {}),
      ...(r.id !== undefined ? { id: r.id } : {}),
      salt: randomBytes(8).toString('hex'),
      rollout,
      by: r.by,
      why: r.why,
      now: now(),
    });
  };
}

export type OperatorAction = 'pause' | 'resume' | 'abort';

export function operatorDecider(repo: PromoterRepo, action: OperatorAction, who: Omit<Actor, 'now'>, now = Date.now) {
  return async (view: BranchView): Promise<RolloutOutcome> => {
    const state = rolloutAt(view, action);
    // What the file names is checked as gateways check it: a step on a file they refuse helps no one.
    await targetPolicy(repo, { ...view, state: view.state! });
    const a = { ...who, now: now() };
    return action === 'pause'
      ? pauseRollout(state, a)
      : action === 'resume'
        ? resumeRollout(state, a)
        : abortRollout(state, a);
  };
}

export interface PromoteRequest {
  by: string;
  /** The hub's evidence about a rollout's target; absent only for a forced step without a hub. */
  evidence?: (id: string, target: string) => Promise<RolloutEvidence>;
  force?: { why: string };
}

export function promoteDecider(repo: PromoterRepo, r: PromoteRequest, now = Date.now) {
  return async (view: BranchView): Promise<RolloutOutcome> => {
    if (!view.state)
      return {
        kind: 'none',
        message: `no rollout on this branch (no ${ROLLOUT_FILE} at ${short(view.head)}): nothing to promote`,
        exit: 'ok',
      };
    const s = view.state.state;
    const { fleet, rollout } = await targetPolicy(repo, { ...view, state: view.state });
    // Evidence is asked only when a gate is judged: a paused, aborted or complete rollout needs none.
    const evidence = s.state === 'rolling' && r.evidence ? await r.evidence(s.id, s.target) : undefined;
    return decidePromotion({
      state: s,
      fleet,
      rollout,
      ...(evidence ? { evidence } : {}),
      by: r.by,
      ...(r.force ? { force: r.force } : {}),
      now: now(),
    });
  };
}
