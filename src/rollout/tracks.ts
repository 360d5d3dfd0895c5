// What the promoter and `rollout status` share: the rollout's tracks (the fleet's policy, and each
// fleet target's own), the gateways the hub knows put in their track and wave exactly as each
// gateway puts itself (the target's rollgate.yaml: first matching fleet target, then its wave), and
// each track's open wave judged by its gate on the hub's evidence. Pure.

import { findTarget, windowOfTarget, type FleetDoc } from '../manifest/index.js';
import type { MaintenanceWindow } from '../model/window.js';
import type {
  EvidenceGateway,
  FleetRollout,
  GateResult,
  OpenedWave,
  RolloutEvidence,
  RolloutPolicy,
  RolloutState,
  StepEvidence,
  TrackKey,
} from '../model/rollout.js';
import { evaluateGate } from './gate.js';
import { waveOf } from './membership.js';
import { openedWaves, timeOf, trackName, trackOf } from './state.js';

/** A policy that has waves, with the waves the state has opened for it. */
export interface Track {
  key: TrackKey;
  /** `fleet`, or `target:<name>`. */
  name: string;
  policy: RolloutPolicy;
  opened: OpenedWave[];
}

/** The tracks that have waves: the fleet's policy first, then fleet targets' own, by name. */
export function tracksOf(state: RolloutState, rollout: FleetRollout): Track[] {
  const out: Track[] = [];
  const add = (key: TrackKey, policy: RolloutPolicy) =>
    out.push({ key, name: trackName(key), policy, opened: openedWaves(state, key) });
  if (rollout.fleet) add({ kind: 'fleet' }, rollout.fleet);
  for (const name of Object.keys(rollout.targets).sort()) {
    const p = rollout.targets[name]!;
    if (p !== 'none') add({ kind: 'target', name }, p);
  }
  return out;
}

/** A track's open wave judged on the evidence. */
export interface TrackGate {
  track: Track;
  /** The open wave (0-based): the last one opened. */
  wave: number;
  /** The gateways the hub knows in this track, and those of them in the open wave. */
  known: EvidenceGateway[];
  members: EvidenceGateway[];
  gate: GateResult;
}

const sameKey = (a: TrackKey, b: TrackKey) =>
  a.kind === b.kind && (a.kind === 'fleet' || (b.kind === 'target' && a.name === b.name));

/** The gateways the hub knows, each in its track: as its agent works it out from the target's fleet file. */
export function gatewaysOf(track: Track, fleet: FleetDoc, rollout: FleetRollout, evidence: RolloutEvidence) {
  return evidence.gateways.filter((g) => {
    const t = findTarget(fleet, g);
    // A gateway no target matches runs nothing of the fleet (its agent reports config-error): no track's.
    return t >= 0 && sameKey(trackOf(rollout, fleet.targets[t]!.name).key, track.key);
  });
}

/**
 * The maintenance windows of a wave's gateways, each its target's, once each; none when one of them
 * has no window (it may change at any time, so all the time counts toward the wave's timeout).
 */
export function windowsOf(fleet: FleetDoc, members: readonly EvidenceGateway[]): MaintenanceWindow[] {
  const out = new Map<string, MaintenanceWindow>();
  for (const g of members) {
    const t = findTarget(fleet, g);
    const w = t >= 0 ? windowOfTarget(fleet, t) : undefined;
    if (!w) return [];
    out.set(JSON.stringify(w), w);
  }
  return [...out.values()];
}

/** Each track's open wave (tracks with none opened yet are left out) judged by its gate. */
export function judgeTracks(
  state: RolloutState,
  fleet: FleetDoc,
  rollout: FleetRollout,
  evidence: RolloutEvidence,
): TrackGate[] {
  const out: TrackGate[] = [];
  for (const track of tracksOf(state, rollout)) {
    if (track.opened.length === 0) continue;
    const wave = track.opened.length - 1;
    const published = track.opened.map((o) => o.threshold);
    const known = gatewaysOf(track, fleet, rollout, evidence);
    const members = known.filter((g) => waveOf(track.policy, g, state.salt, published).index === wave);
    const opened = track.opened[wave]!;
    const gate = evaluateGate({
      wave: track.policy.waves[wave]!,
      target: state.target,
      openedAt: timeOf(opened.opened),
      ...(opened.resumed !== undefined ? { resumedAt: timeOf(opened.resumed) } : {}),
      members,
      known: known.length,
      now: evidence.now,
      windows: windowsOf(fleet, members),
    });
    out.push({ track, wave, known, members, gate });
  }
  return out;
}

const MAX_TEXT = 2000;

/** Text that fits a step's `why` or a bad commit's `reason`. */
export function fit(text: string): string {
  return text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT - 1)}…`;
}

/** What a gate saw, as a step records it. */
export function stepEvidence(g: GateResult): StepEvidence {
  const c = g.counts;
  const failures = g.gateways
    .filter((x) => x.reason)
    .slice(0, 100)
    .map((x) => ({ gateway: x.id, reason: fit(x.reason!) }));
  return {
    decision: g.decision,
    cause: fit(g.message),
    members: c.members,
    counted: c.counted,
    healthy: c.healthy,
    soaking: c.soaking,
    applying: c.applying,
    pending: c.pending,
    silent: c.silent,
    failed: c.failed,
    ...(failures.length ? { failures } : {}),
  };
}

/**
 * The time of a new step: now, or the newest time the file holds when that is later (a clock behind
 * the one that wrote the file), so the file's times stay in order and gateways keep accepting it.
 */
export function stepTime(state: RolloutState | undefined, now: number): string {
  let t = now;
  for (const s of state?.steps ?? []) t = Math.max(t, timeOf(s.at));
  for (const list of state ? [state.waves.fleet, ...Object.values(state.waves.targets)] : [])
    for (const w of list) t = Math.max(t, timeOf(w.opened), w.resumed ? timeOf(w.resumed) : -Infinity);
  return new Date(t).toISOString();
}

/** A copy of the state whose waves can be changed without touching the original. */
export function copyState(s: RolloutState): RolloutState {
  return {
    ...s,
    waves: {
      fleet: s.waves.fleet.map((w) => ({ ...w })),
      targets: Object.fromEntries(Object.entries(s.waves.targets).map(([k, l]) => [k, l.map((w) => ({ ...w }))])),
    },
    bad: s.bad.map((b) => ({ ...b })),
    steps: [...s.steps],
  };
}

/** The list of opened waves of a track in a state (made when absent). */
export function wavesIn(s: RolloutState, key: TrackKey): OpenedWave[] {
  if (key.kind === 'fleet') return s.waves.fleet;
  return (s.waves.targets[key.name] ??= []);
}
