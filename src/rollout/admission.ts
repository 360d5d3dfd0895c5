// What a gateway may run now, and why: a pure function of the rollout state at the branch's head,
// the gateway's policy (from the target commit's rollgate.yaml), and its id and labels. No clock
// and no server: a gateway offline for days, or one whose clock is wrong, works out the same answer.
//
// A gateway that is not admitted runs the base: "not yet" is never a verdict on the target. After
// an abort every gateway runs the base, and the target, listed as bad, is never a target again.

import type { DeviceIdentity } from '../model/index.js';
import type { Admission, AdmissionCode, RolloutState, TrackKey, TrackPolicy } from '../model/rollout.js';
import { waveOf } from './membership.js';
import { openedWaves, trackName } from './state.js';
import { shortCommit } from '../base/short-commit.js';

export interface AdmissionInput {
  gateway: DeviceIdentity;
  /** The branch's head commit. */
  head: string;
  /** rollgate-rollout.yaml at the head, when there is one. */
  state?: RolloutState;
  /** The gateway's policy: from the target's rollgate.yaml when a rollout runs, else from the head's. */
  policy: TrackPolicy;
  track: TrackKey;
}

function decided(
  admitted: boolean,
  runs: Admission['runs'],
  code: AdmissionCode,
  message: string,
  wave?: Admission['wave'],
): Admission {
  return { admitted, runs, reason: { code, message }, ...(wave ? { wave } : {}) };
}

export function admit(input: AdmissionInput): Admission {
  const { state, policy } = input;
  if (!state) {
    const head = { commit: input.head, as: 'head' as const };
    return policy === undefined
      ? decided(true, head, 'no-policy', 'no rollout policy: every gateway runs the branch head as soon as it polls')
      : decided(
          true,
          head,
          'no-rollout',
          'no rollout has been started (no rollgate-rollout.yaml at the head): the fleet follows the branch as ' +
            'without a rollout policy, until a promoter starts one',
        );
  }
  const base = { commit: state.base, as: 'base' as const };
  const target = { commit: state.target, as: 'target' as const };
  const opened = openedWaves(state, input.track);
  const wave =
    policy && policy !== 'none'
      ? (() => {
          const w = waveOf(
            policy,
            input.gateway,
            state.salt,
            opened.map((o) => o.threshold),
          );
          return { ...w, open: w.index < opened.length };
        })()
      : undefined;
  const named = wave ? `wave ${wave.index + 1} of ${wave.of} "${wave.name}"` : '';

  if (state.state === 'aborted' || state.bad.some((b) => b.commit === state.target))
    return decided(
      false,
      base,
      'aborted',
      `rollout ${state.id} was aborted: its target ${shortCommit(state.target)} is bad and is never tried again; ` +
        `every gateway runs the base ${shortCommit(state.base)}`,
      wave,
    );
  if (state.state === 'complete')
    return decided(true, target, 'complete', `rollout ${state.id} is complete: every gateway runs its target`, wave);
  if (!wave)
    return decided(
      true,
      target,
      'all-at-once',
      `the ${trackName(input.track)} policy has no waves (${policy === 'none' ? 'rollout: none' : 'no rollout:'}): ` +
        `its gateways take the target of rollout ${state.id} at once`,
    );
  if (wave.open)
    return decided(
      true,
      target,
      'admitted',
      `${named} is open` +
        (state.state === 'paused' ? '; the rollout is paused, and admitted gateways keep the target' : ''),
      wave,
    );
  const progress = `${opened.length} of ${wave.of} waves open`;
  if (state.state === 'paused')
    return decided(
      false,
      base,
      'paused',
      `rollout ${state.id} is paused before ${named} opened (${progress}); until it resumes and the wave opens, ` +
        'the gateway runs the base, which says nothing against the target',
      wave,
    );
  return decided(
    false,
    base,
    'not-yet',
    `not yet: ${named} opens once the waves before it pass their gates (${progress}); until then the gateway runs ` +
      'the base, which says nothing against the target',
    wave,
  );
}
