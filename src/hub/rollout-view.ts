// One rollout as the hub shows it (page, API and `rollgate fleet rollout`): its state from the fleet
// repo, each wave of each track with what the hub's reports say about its gateways — judged by the
// same gate the promoter and `rollout status --hub` use (src/rollout judgeTracks / evaluateGate on
// ./rollout-evidence.ts) — why it waits in one sentence, the steps with the signed commit that wrote
// each, and how many gateways ran the target over time. Reads the database and the reader's
// snapshot; never fetches.

import { readFleet } from '../manifest/index.js';
import type { FleetRollout, GatewayStanding, RolloutState, RolloutStep } from '../model/rollout.js';
import { evaluateGate, judgeTracks, timeOf, tracksOf, waveOf, type Track } from '../rollout/index.js';
import { gatewaysOf } from '../rollout/tracks.js';
import type { Sql } from './db.js';
import type { RepoCommit, RepoRollout, RepoSnapshot } from './fleet-repo.js';
import { rolloutEvidence } from './rollout-evidence.js';
import type { FleetDoc } from '../manifest/index.js';
import { GitObjectSource } from '../manifest/index.js';
import { shortCommit } from '../base/short-commit.js';
import { ROLLOUT_FAILURES_LISTED } from './defaults.js';

/** The gateways of a wave that failed for one reason. */
export interface FailureGroup {
  reason: string;
  count: number;
  /** The first of them by id: at most ROLLOUT_FAILURES_LISTED, unless the view was asked for all. */
  gateways: string[];
}

export interface WaveView {
  number: number;
  name: string;
  /** "labels ring=canary", "20%". */
  selects: string;
  open: boolean;
  opened?: string;
  /** Gateways the hub knows in this wave. */
  members: number;
  /** Of them: admitted (the wave is open and the rollout not aborted). */
  admitted: number;
  healthy: number;
  soaking: number;
  applying: number;
  pending: number;
  silent: number;
  failed: number;
  /** Failures grouped by reason, most first. */
  failures: FailureGroup[];
  gateways: { id: string; standing: GatewayStanding | 'not admitted'; reason?: string }[];
}

export interface TrackView {
  track: string;
  waves: WaveView[];
  /** The open wave's gate, while the rollout rolls or is paused. */
  gate?: { wave: number; decision: string; message: string; timeoutAt: string };
}

export interface StepView extends RolloutStep {
  commit?: string;
  /** The commit's signer as the hub verified it, or why not. */
  signer?: string;
}

export interface RolloutView {
  id: string;
  state: RolloutState['state'];
  base: string;
  target: string;
  baseSubject?: string;
  targetSubject?: string;
  current: boolean;
  /** The sentence: why it waits, or what it is. */
  why: string;
  tracks: TrackView[];
  steps: StepView[];
  bad: RolloutState['bad'];
  /** Gateways on the target, by time: each point after a change (ms, count). */
  timeline: { at: number; onTarget: number; onBase: number }[];
  /** Gateways the hub knows. */
  gateways: number;
  now: number;
}

function selects(t: Track, i: number): string {
  const s = t.policy.waves[i]!.select;
  if (s.kind === 'percent') return `${s.percent}%`;
  const parts = [
    ...(s.match.ids ? [`ids ${s.match.ids.join(', ')}`] : []),
    ...Object.entries(s.match.labels ?? {}).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : v}`),
  ];
  return parts.join(', ');
}

/** Who put a halted rollout there and why, or what it is doing, in one sentence. */
function sentence(s: RolloutState, tracks: TrackView[]): string {
  const last = (action: string) => [...s.steps].reverse().find((x) => x.action === action);
  if (s.state === 'paused') {
    const p = last('pause');
    return `Paused by ${p?.by ?? '?'} at ${p?.at ?? '?'}: ${p?.why ?? ''}`;
  }
  if (s.state === 'aborted') {
    const a = last('abort');
    const back = shortCommit(s.base);
    return `Aborted by ${a?.by ?? '?'} at ${a?.at ?? '?'}: ${a?.why ?? ''}; every gateway returns to ${back}.`;
  }
  if (s.state === 'complete') return `Complete: every gateway runs ${shortCommit(s.target)}.`;
  const gates = tracks.filter((t) => t.gate);
  if (!gates.length) return 'Rolling: no wave has opened yet.';
  return gates.map((t) => `${t.track} wave ${t.gate!.wave}: ${t.gate!.message}`).join(' ');
}

async function timeline(db: Sql, s: RolloutState, now: number): Promise<RolloutView['timeline']> {
  const start = s.steps[0] ? timeOf(s.steps[0].at) - 60_000 : now - 3600_000;
  const rows = await db.query<{ gateway_id: string; commit: string | null; verdict: string; at: string }>(
    `select gateway_id, commit, verdict, (extract(epoch from at) * 1000)::bigint as at from events
      where kind = 'verdict' and at >= to_timestamp($1 / 1000.0) and verdict in ('applied', 'rolled-back')
      order by at, seq limit 50000`,
    [start],
  );
  type On = 'target' | 'base' | 'other';
  const on = new Map<string, On>();
  // Kept as each event moves a gateway, not recounted per event (that was events × gateways).
  const n: Record<On, number> = { target: 0, base: 0, other: 0 };
  const points: RolloutView['timeline'] = [];
  for (const r of rows) {
    const commit = r.verdict === 'applied' ? r.commit : undefined;
    const was = on.get(r.gateway_id);
    const is: On = commit === s.target ? 'target' : commit === s.base ? 'base' : 'other';
    if (was) n[was]--;
    n[is]++;
    on.set(r.gateway_id, is);
    points.push({ at: Number(r.at), onTarget: n.target, onBase: n.base });
  }
  if (points.length) points.push({ ...points.at(-1)!, at: now });
  return points;
}

/** The target's rollout policies, read once per target from its rollgate.yaml. */
const policies = new Map<string, Promise<{ fleet: FleetDoc; rollout: FleetRollout }>>();
function policyAt(gitdir: string, target: string) {
  let p = policies.get(`${gitdir}\0${target}`);
  if (!p) {
    p = readFleet(new GitObjectSource(gitdir, target));
    p.catch(() => policies.delete(`${gitdir}\0${target}`));
    policies.set(`${gitdir}\0${target}`, p);
  }
  return p;
}

/** Each failure reason's gateways, most first; each list cut at `listed`, its count whole. */
function failureGroups(failed: { id: string; reason: string }[], listed: number): FailureGroup[] {
  const groups = new Map<string, string[]>();
  for (const g of failed) {
    const ids = groups.get(g.reason);
    if (ids) ids.push(g.id);
    else groups.set(g.reason, [g.id]);
  }
  return [...groups]
    .map(([reason, ids]) => ({ reason, count: ids.length, gateways: ids.slice(0, listed) }))
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
}

export interface RolloutViewOptions {
  /** Gateways listed under each failure reason (ROLLOUT_FAILURES_LISTED); Infinity for all. */
  failuresListed?: number;
}

export async function rolloutView(
  db: Sql,
  snap: RepoSnapshot,
  r: RepoRollout,
  o: RolloutViewOptions = {},
): Promise<RolloutView> {
  const listed = o.failuresListed ?? ROLLOUT_FAILURES_LISTED;
  const s = r.state;
  const ev = await rolloutEvidence(db, s.target);
  const { fleet, rollout } = await policyAt(snap.gitdir, s.target);
  const live = s.state === 'rolling' || s.state === 'paused';
  const gates = live ? judgeTracks(s, fleet, rollout, ev) : [];
  const tracks: TrackView[] = tracksOf(s, rollout).map((t) => {
    const published = t.opened.map((x) => x.threshold);
    const judgedTrack = gates.find((x) => x.track.name === t.name);
    const known = judgedTrack?.known ?? gatewaysOf(t, fleet, rollout, ev);
    // Each gateway's wave worked out once (a hash of its id), not once per wave.
    const byWave: (typeof known)[] = t.policy.waves.map(() => []);
    for (const g of known) byWave[waveOf(t.policy, g, s.salt, published).index]!.push(g);
    const waves = t.policy.waves.map((w, i): WaveView => {
      const members = byWave[i]!;
      const open = i < t.opened.length && s.state !== 'aborted';
      const opened = t.opened[i];
      const judged = gates.find((x) => x.track.name === t.name && x.wave === i);
      // The open wave's numbers are the gate's own; an earlier wave is judged the same way, for its counts.
      // A halted or finished rollout has no gate any more: its waves say only who failed and who runs the target.
      const gate = !live
        ? undefined
        : (judged?.gate ??
          (opened
            ? evaluateGate({
                wave: w,
                target: s.target,
                openedAt: timeOf(opened.opened),
                ...(opened.resumed !== undefined ? { resumedAt: timeOf(opened.resumed) } : {}),
                members,
                known: known.length,
                now: ev.now,
              })
            : undefined));
      const failedOnes = gate
        ? gate.gateways.filter((g) => g.standing === 'failed').map((g) => ({ id: g.id, reason: g.reason ?? '?' }))
        : members.filter((g) => g.failed && g.target === s.target).map((g) => ({ id: g.id, reason: g.failed!.reason }));
      const onTarget = (g: (typeof members)[number]) =>
        !g.failed && g.target === s.target && g.healthySince !== undefined;
      const c = gate?.counts;
      return {
        number: i + 1,
        name: w.name,
        selects: selects(t, i),
        open,
        ...(opened ? { opened: opened.opened } : {}),
        members: members.length,
        admitted: open ? members.length : 0,
        healthy: c?.healthy ?? (s.state === 'complete' ? members.filter(onTarget).length : 0),
        soaking: c?.soaking ?? 0,
        applying: c?.applying ?? 0,
        pending: c?.pending ?? 0,
        silent: c?.silent ?? 0,
        failed: c?.failed ?? failedOnes.length,
        failures: failureGroups(failedOnes, listed),
        gateways: gate
          ? gate.gateways.map((g) => ({ id: g.id, standing: g.standing, ...(g.reason ? { reason: g.reason } : {}) }))
          : members.map((g) => ({ id: g.id, standing: 'not admitted' as const })),
      };
    });
    return {
      track: t.name,
      waves,
      ...(judgedTrack
        ? {
            gate: {
              wave: judgedTrack.wave + 1,
              decision: judgedTrack.gate.decision,
              message: judgedTrack.gate.message,
              timeoutAt: new Date(judgedTrack.gate.timeoutAt).toISOString(),
            },
          }
        : {}),
    };
  });
  const byCommit = new Map<string, RepoCommit>(snap.commits.map((c) => [c.commit, c]));
  const steps = s.steps.map((st, i): StepView => {
    const commit = r.stepCommits[i];
    const c = commit ? byCommit.get(commit) : undefined;
    return {
      ...st,
      ...(commit ? { commit } : {}),
      ...(c ? { signer: c.signer ?? `unverified: ${c.unverified}` } : {}),
    };
  });
  const baseSubject = byCommit.get(s.base)?.subject;
  const targetSubject = byCommit.get(s.target)?.subject;
  return {
    id: s.id,
    state: s.state,
    base: s.base,
    target: s.target,
    ...(baseSubject ? { baseSubject } : {}),
    ...(targetSubject ? { targetSubject } : {}),
    current: r.current,
    why: sentence(s, tracks),
    tracks,
    steps,
    bad: s.bad,
    timeline: await timeline(db, s, ev.now),
    gateways: ev.gateways.length,
    now: ev.now,
  };
}
