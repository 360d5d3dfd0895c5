// rollgate-rollout.yaml as the promoter writes it: the state in a fixed key order, so each commit's
// diff shows exactly the step it took. What is written is read back (parseRolloutState) and checked
// against the target's policy before any commit is made: a promoter never writes a file that
// gateways would refuse.

import { Document } from 'yaml';
import type { OpenedWave, RolloutState, RolloutStep } from '../model/rollout.js';

const HEADER =
  " The progress of the fleet's staged rollout, read by every gateway at the branch head.\n" +
  ' Written by `rollgate rollout` (start, promote, pause, resume, abort) as signed commits: not by hand.';

function wave(w: OpenedWave): OpenedWave {
  return {
    opened: w.opened,
    ...(w.resumed !== undefined ? { resumed: w.resumed } : {}),
    ...(w.threshold !== undefined ? { threshold: w.threshold } : {}),
  };
}

function step(s: RolloutStep): RolloutStep {
  return {
    at: s.at,
    by: s.by,
    action: s.action,
    why: s.why,
    ...(s.track !== undefined ? { track: s.track } : {}),
    ...(s.wave !== undefined ? { wave: s.wave } : {}),
    ...(s.evidence !== undefined ? { evidence: s.evidence } : {}),
  };
}

/** The file's text for a state. */
export function renderRolloutState(s: RolloutState): string {
  const targets = Object.keys(s.waves.targets).sort();
  const doc = new Document({
    apiVersion: 'rollgate/v1',
    kind: 'Rollout',
    id: s.id,
    salt: s.salt,
    base: s.base,
    target: s.target,
    state: s.state,
    waves: {
      fleet: s.waves.fleet.map(wave),
      ...(targets.length
        ? { targets: Object.fromEntries(targets.map((t) => [t, s.waves.targets[t]!.map(wave)])) }
        : {}),
    },
    ...(s.bad.length
      ? {
          bad: s.bad.map((b) => ({ commit: b.commit, ...(b.rollout ? { rollout: b.rollout } : {}), reason: b.reason })),
        }
      : {}),
    steps: s.steps.map(step),
  });
  doc.commentBefore = HEADER;
  return doc.toString({ lineWidth: 0 });
}
