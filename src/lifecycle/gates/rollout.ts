// The rollout gate: which commit the branch's head gives this gateway now (README "Staged
// rollouts"). Without rollgate-rollout.yaml at the head, the head itself. With one, what admission
// (src/rollout/admission.ts) says for this gateway's id and labels under the policy of the rollout's
// target: the target when its wave is open (or the rollout is complete, or its policy has no
// waves); the base, deferring the target, when its wave is not open yet — "not yet" is never a
// verdict on the target; the base after an abort, for good (the rollout's `bad` list is the fleet's,
// and admission never gives a gateway a commit listed there).
//
// The file is read only from a head the trust and descent gates passed, and the commit it names
// is trusted like any other: signed by a trusted key, and in the head's history (fetched as far
// back as needed; the idle poll, whose head is known, fetches nothing). A file that does not
// hold, or names commits outside the branch, refuses the head: the gateway stays as it is until
// the branch moves on.

import { FleetRepoError } from '../../manifest/index.js';
import type { Admission, RolloutStanding, RolloutState } from '../../model/rollout.js';
import { admit, ROLLOUT_FILE, stateAgainstPolicy, trackOf } from '../../rollout/index.js';
import { TrustError } from '../../trust/index.js';
import { ADMIT, type Gate, type GateAnswer } from './gate.js';
import { shortCommit } from '../../base/short-commit.js';

/** The gateway's place in the rollout, as the state keeps it and reports carry it. */
export function standingOf(state: RolloutState, a: Admission): RolloutStanding {
  const w = a.wave;
  return {
    id: state.id,
    target: state.target,
    base: state.base,
    state: state.state,
    runs: a.runs.as === 'base' ? 'base' : 'target',
    code: a.reason.code,
    ...(w ? { wave: { number: w.index + 1, of: w.of, name: w.name, open: w.open } } : {}),
    message: a.reason.message,
  };
}

const refuseHead = (head: string, reason: string): GateAnswer => ({
  kind: 'refuse',
  commit: head,
  bad: 'invalid',
  reason,
});

export const rolloutGate: Gate = {
  name: 'rollout',
  phase: 'choose',
  why: 'it reads the head (so after trust and descent) and names the commit the later gates check',
  async check(s, p) {
    let parsed;
    try {
      parsed = await p.rolloutState(s.head);
    } catch (err) {
      if (err instanceof FleetRepoError) return refuseHead(s.head, err.message);
      throw err;
    }
    if (!parsed) return ADMIT;
    const st = parsed.state;
    for (const [role, c] of [
      ['target', st.target],
      ['base', st.base],
    ] as const)
      if (!(await p.descends(s.head, c)))
        return refuseHead(
          s.head,
          `${ROLLOUT_FILE} names ${shortCommit(c)} as the rollout's ${role}, which is not a commit of the branch's ` +
            `history before ${shortCommit(s.head)}: a rollout takes the fleet to and back along its branch`,
        );
    let policy;
    try {
      policy = await p.rolloutPolicy(st.target);
    } catch (err) {
      if (!(err instanceof FleetRepoError)) throw err;
      return refuseHead(
        s.head,
        `the policy of rollout ${st.id} (rollgate.yaml of its target ${shortCommit(st.target)}): ${err.message}`,
      );
    }
    const problems = stateAgainstPolicy(parsed, policy.rollout);
    if (problems.length) return refuseHead(s.head, new FleetRepoError(problems).message);
    const { key, policy: track } = trackOf(policy.rollout, policy.target);
    const a = admit({ gateway: p.gateway, head: s.head, state: st, policy: track, track: key });
    const rollout = standingOf(st, a);
    const runs = a.runs.commit;
    if (runs !== s.head) {
      // The head's signature vouches for the file; the commit it names must be trusted on its own.
      try {
        await p.verify(runs);
      } catch (err) {
        if (!(err instanceof TrustError)) throw err;
        const promoter = await p.promoterSigner?.(runs);
        const reason = promoter
          ? `${err.message}: it is signed by the promoter key of ${promoter} alone, which signs rollout steps, never ` +
            'a commit gateways run'
          : err.message;
        return { kind: 'refuse', commit: runs, bad: err.kind, reason };
      }
    }
    if (a.admitted || a.reason.code === 'aborted') return { kind: 'admit', runs, rollout };
    const w = a.wave;
    const wave = w ? `wave ${w.index + 1} of ${w.of} "${w.name}"` : 'its wave';
    return {
      kind: 'defer',
      commit: st.target,
      cause: `rollout ${st.id} target ${st.target} ${a.reason.code} at ${wave}`,
      why: a.reason.message,
      until: a.reason.code === 'paused' ? `the rollout resumes and ${wave} opens` : `${wave} opens`,
      instead: runs,
      rollout,
    };
  },
};
