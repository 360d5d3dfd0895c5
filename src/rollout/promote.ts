// One step of the promoter, as a pure function of the state at the branch's head, the target's fleet
// file and the hub's evidence: which step to write — open the next wave of a track (publishing the
// exact hash threshold for the gateways the hub knows), pause with the cause, abort (the target is
// bad), complete — or why nothing is written (the wave waits, the rollout is paused or aborted).
//
// One step per call, so each commit is one decision with its evidence. The whole rollout is one
// state: a track whose gate aborts aborts the rollout, one that pauses pauses it, and the rollout is
// complete when every track's last wave has passed. `force` opens the next wave whatever the gate
// says (an operator's call, recorded with why and what the gate saw).

import type { FleetDoc } from '../manifest/index.js';
import type { FleetRollout, RolloutEvidence, RolloutOutcome, RolloutState, RolloutStep } from '../model/rollout.js';
import { exactThreshold } from './membership.js';
import { written } from './operate.js';
import {
  copyState,
  fit,
  gatewaysOf,
  judgeTracks,
  stepEvidence,
  stepTime,
  tracksOf,
  wavesIn,
  type Track,
  type TrackGate,
} from './tracks.js';

export interface PromoteInput {
  state: RolloutState;
  /** The target's fleet file: its targets say which gateway follows which policy. */
  fleet: FleetDoc;
  /** The target's rollout policies. */
  rollout: FleetRollout;
  /** The hub's evidence; only a forced step may go without. */
  evidence?: RolloutEvidence;
  by: string;
  /** Open the next wave whatever the gate says; `why` is recorded. */
  force?: { why: string };
  /** The promoter's own clock, used only when there is no evidence (a forced step without a hub). */
  now: number;
}

const short = (c: string) => c.slice(0, 12);

/** The last pause step's words: why a paused rollout waits for a person. */
function pauseCause(s: RolloutState): string {
  const p = [...s.steps].reverse().find((x) => x.action === 'pause');
  return p ? `paused by ${p.by} at ${p.at}: ${p.why}` : 'paused';
}

/** Opens wave `next` of the track: the exact threshold of a percent wave for the gateways the hub knows. */
function openNext(i: PromoteInput, t: Track, next: number, why: string, judged?: TrackGate): RolloutOutcome {
  const state = copyState(i.state);
  const at = stepTime(i.state, i.evidence?.now ?? i.now);
  const wave = t.policy.waves[next]!;
  const known = i.evidence ? gatewaysOf(t, i.fleet, i.rollout, i.evidence) : [];
  const published = t.opened.map((o) => o.threshold);
  const threshold =
    wave.select.kind === 'percent' && wave.select.percent < 100 && known.length > 0
      ? exactThreshold(t.policy, next, known, i.state.salt, published)
      : undefined;
  wavesIn(state, t.key).push({ opened: at, ...(threshold !== undefined ? { threshold } : {}) });
  const named = `wave ${next + 1} of ${t.policy.waves.length} "${wave.name}"`;
  const step: RolloutStep = {
    at,
    by: i.by,
    action: 'open',
    why: fit(why),
    track: t.name,
    wave: next,
    ...(judged ? { evidence: stepEvidence(judged.gate) } : {}),
  };
  return written(state, step, `rollout ${i.state.id}: ${named} of ${t.name} opens`);
}

function complete(i: PromoteInput, why: string): RolloutOutcome {
  const state = copyState(i.state);
  state.state = 'complete';
  const step: RolloutStep = {
    at: stepTime(i.state, i.evidence?.now ?? i.now),
    by: i.by,
    action: 'complete',
    why: fit(why),
  };
  return written(state, step, `rollout ${i.state.id}: complete, every gateway runs ${short(i.state.target)}`);
}

function halt(i: PromoteInput, g: TrackGate, action: 'pause' | 'abort'): RolloutOutcome {
  const s = i.state;
  const state = copyState(s);
  const why = fit(`${g.track.name}: ${g.gate.message}`);
  state.state = action === 'pause' ? 'paused' : 'aborted';
  if (action === 'abort') state.bad.push({ commit: s.target, rollout: s.id, reason: why });
  const step: RolloutStep = {
    at: stepTime(s, i.evidence!.now),
    by: i.by,
    action,
    why,
    track: g.track.name,
    wave: g.wave,
    evidence: stepEvidence(g.gate),
  };
  const title =
    action === 'pause'
      ? `rollout ${s.id}: paused at wave ${g.wave + 1} of ${g.track.name}`
      : `rollout ${s.id}: aborted; ${short(s.target)} is bad, every gateway returns to ${short(s.base)}`;
  return written(state, step, title, 'attention');
}

export function decidePromotion(i: PromoteInput): RolloutOutcome {
  const s = i.state;
  if (s.state === 'complete')
    return { kind: 'none', message: `rollout ${s.id} is complete: nothing to do`, exit: 'ok' };
  if (s.state === 'aborted')
    return {
      kind: 'none',
      message: `rollout ${s.id} was aborted: its target ${short(s.target)} is bad, every gateway runs the base`,
      exit: 'attention',
    };
  if (s.state === 'paused')
    return {
      kind: 'none',
      message: `rollout ${s.id} is ${pauseCause(s)}; nothing opens until it is resumed (rollgate rollout resume)`,
      exit: 'attention',
    };
  const tracks = tracksOf(s, i.rollout);
  if (tracks.length === 0)
    return complete(i, "the target's policy has no waves: every gateway took the target when the rollout started");
  // A track with no wave open yet (its policy is new to this rollout's file) opens its first.
  const fresh = tracks.find((t) => t.opened.length === 0);
  if (fresh) return openNext(i, fresh, 0, `the first wave of ${fresh.name}`);

  if (i.force) {
    const judged = i.evidence ? judgeTracks(s, i.fleet, i.rollout, i.evidence) : [];
    const t = tracks.find((x) => x.opened.length < x.policy.waves.length);
    const forced = (what: string) => `forced by ${i.by}: ${i.force!.why} (${what})`;
    if (!t) return complete(i, forced('every last wave is open'));
    const g = judged.find((x) => x.track.name === t.name);
    return openNext(i, t, t.opened.length, forced(g ? `the gate: ${g.gate.message}` : 'no evidence asked'), g);
  }

  if (!i.evidence) throw new Error("a promotion that is not forced needs the hub's evidence");
  const gates = judgeTracks(s, i.fleet, i.rollout, i.evidence);
  const abort = gates.find((g) => g.gate.decision === 'abort');
  if (abort) return halt(i, abort, 'abort');
  const pause = gates.find((g) => g.gate.decision === 'pause');
  if (pause) return halt(i, pause, 'pause');
  const last = (g: TrackGate) => g.wave === g.track.policy.waves.length - 1;
  const opens = gates.find((g) => g.gate.decision === 'advance' && !last(g));
  if (opens) return openNext(i, opens.track, opens.wave + 1, `${opens.track.name}: ${opens.gate.message}`, opens);
  if (gates.every((g) => g.gate.decision === 'advance'))
    return complete(i, gates.map((g) => `${g.track.name}: ${g.gate.message}`).join('; '));
  const why = gates.map((g) =>
    g.gate.decision === 'advance'
      ? `${g.track.name}: its last wave passed (${g.gate.message}); the rollout completes when every policy's has`
      : `${g.track.name}: ${g.gate.message}`,
  );
  return { kind: 'none', message: `rollout ${s.id} waits: ${why.join('; ')}`, exit: 'waits' };
}
