// The rollout policy of rollgate.yaml (`rollout:`, per fleet and per target), resolved to typed
// waves and gates. The schema has checked shapes; here are the rules a schema cannot say, each a
// problem at the value that breaks it: waves that leave gateways in none, and gates that could
// never stop anything or never pass.

import { formatDuration, parseDuration } from '../base/duration.js';
import type {
  FleetRollout,
  RolloutGate,
  RolloutPolicy,
  RolloutWave,
  SilentRule,
  TimeoutAction,
  WaveMatch,
} from '../model/rollout.js';
import type { PathSeg } from './yaml-file.js';

/** A gate as written: every key optional, over the policy's `gate:` and the defaults. */
export interface GateDoc {
  success_percent?: number;
  soak?: string;
  timeout?: string;
  on_timeout?: TimeoutAction;
  max_failures?: number;
  silent?: SilentRule;
  silent_after?: string;
}

export interface WaveDoc {
  name?: string;
  match?: WaveMatch;
  percent?: number;
  gate?: GateDoc;
}

export interface RolloutDoc {
  gate?: GateDoc;
  waves: WaveDoc[];
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The gate of a wave that says nothing (README "Staged rollouts"). */
export const DEFAULT_GATE: RolloutGate = {
  successPercent: 95,
  soakMs: 15 * MINUTE,
  timeoutMs: 4 * HOUR,
  onTimeout: 'pause',
  maxFailures: 0,
  silent: 'wait',
  silentAfterMs: 15 * MINUTE,
};

/** The longest any of a gate's durations may be: a rollout that waits longer has been forgotten. */
export const MAX_GATE_DURATION_MS = 30 * 24 * HOUR;

export interface PolicyIssue {
  path: PathSeg[];
  message: string;
  which?: 'key' | 'value';
}

const DURATION_KEYS = ['soak', 'timeout', 'silent_after'] as const;

function ms(text: string): number {
  // The schema has checked the shape; a value it let through that does not parse is a bug here.
  const v = parseDuration(text);
  if (v === undefined) throw new Error(`not a duration: ${text}`);
  return v;
}

/** Checks of the values a gate document writes, each at its own key. */
function gateDocIssues(doc: GateDoc | undefined, at: PathSeg[]): PolicyIssue[] {
  if (!doc) return [];
  const issues: PolicyIssue[] = [];
  if (doc.success_percent === 0)
    issues.push({
      path: [...at, 'success_percent'],
      message:
        'success_percent 0 lets the wave pass with no gateway healthy: a gate that can never stop anything; ' +
        'give at least 1',
    });
  for (const k of DURATION_KEYS) {
    const text = doc[k];
    if (text === undefined) continue;
    if (ms(text) > MAX_GATE_DURATION_MS)
      issues.push({
        path: [...at, k],
        message: `${k} ${text} is longer than 720h (30 days), the longest a gate may wait`,
      });
  }
  if (doc.silent_after !== undefined && ms(doc.silent_after) === 0)
    issues.push({
      path: [...at, 'silent_after'],
      message: 'silent_after 0s counts every gateway as not reporting; give how long a quiet gateway is still heard',
    });
  return issues;
}

function resolveGate(...docs: (GateDoc | undefined)[]): RolloutGate {
  const g = { ...DEFAULT_GATE };
  for (const d of docs) {
    if (!d) continue;
    if (d.success_percent !== undefined) g.successPercent = d.success_percent;
    if (d.soak !== undefined) g.soakMs = ms(d.soak);
    if (d.timeout !== undefined) g.timeoutMs = ms(d.timeout);
    if (d.on_timeout !== undefined) g.onTimeout = d.on_timeout;
    if (d.max_failures !== undefined) g.maxFailures = d.max_failures;
    if (d.silent !== undefined) g.silent = d.silent;
    if (d.silent_after !== undefined) g.silentAfterMs = ms(d.silent_after);
  }
  return g;
}

const pct = (p: number) => `${p}%`;

function placeOf(g: GateDoc | undefined, at: PathSeg[]): PathSeg[] | undefined {
  if (g?.timeout !== undefined) return [...at, 'timeout'];
  if (g?.soak !== undefined) return [...at, 'soak'];
  return undefined;
}

/** The policy at `at` (its YAML path), resolved, with every rule it breaks. */
export function resolvePolicy(doc: RolloutDoc, at: PathSeg[]): { policy?: RolloutPolicy; issues: PolicyIssue[] } {
  const issues: PolicyIssue[] = [...gateDocIssues(doc.gate, [...at, 'gate'])];
  const waves: RolloutWave[] = [];
  const names = new Map<string, number>();
  let lastPercent: { index: number; percent: number; name: string } | undefined;
  doc.waves.forEach((w, i) => {
    const wAt = [...at, 'waves', i];
    const name = w.name ?? `wave-${i + 1}`;
    if (names.has(name))
      issues.push({
        path: [...wAt, 'name'],
        message: `wave name "${name}" is used twice (first at waves[${names.get(name)}])`,
      });
    names.set(name, i);
    issues.push(...gateDocIssues(w.gate, [...wAt, 'gate']));
    const gate = resolveGate(doc.gate, w.gate);
    if (gate.timeoutMs <= gate.soakMs)
      issues.push({
        // Where one of the two is written: the wave's own gate first, else the policy's.
        path: placeOf(w.gate, [...wAt, 'gate']) ?? placeOf(doc.gate, [...at, 'gate']) ?? wAt,
        message:
          `wave "${name}": timeout ${formatDuration(gate.timeoutMs)} is not longer than soak ` +
          `${formatDuration(gate.soakMs)}, so no gateway could be healthy for the soak before the wave times out: ` +
          'the wave could never pass',
      });
    if (w.match && w.percent !== undefined) {
      issues.push({
        path: [...wAt, 'percent'],
        message: `wave "${name}" has both match and percent: a wave is chosen by one of them`,
        which: 'key',
      });
      return;
    }
    if (w.match) {
      waves.push({ name, select: { kind: 'match', match: w.match }, gate });
      return;
    }
    if (w.percent === undefined) {
      issues.push({
        path: wAt,
        message: `wave "${name}" chooses no gateway: give match (labels or ids) or percent`,
      });
      return;
    }
    if (w.percent === 0)
      issues.push({ path: [...wAt, 'percent'], message: `wave "${name}": percent 0 takes no gateway` });
    else if (lastPercent && w.percent <= lastPercent.percent)
      issues.push({
        path: [...wAt, 'percent'],
        message:
          `wave "${name}": percent ${pct(w.percent)} is not above ${pct(lastPercent.percent)} of wave ` +
          `"${lastPercent.name}": percents are cumulative, each percent wave takes the gateways up to its share`,
      });
    lastPercent = { index: i, percent: w.percent, name };
    waves.push({ name, select: { kind: 'percent', percent: w.percent }, gate });
  });
  if (!lastPercent)
    issues.push({
      path: [...at, 'waves'],
      message:
        'no wave takes the gateways that no match names: end the percent waves with one of percent: 100 ' +
        '(a rollout with only canaries would never reach the rest of the fleet)',
    });
  else if (lastPercent.percent !== 100)
    issues.push({
      path: [...at, 'waves', lastPercent.index, 'percent'],
      message:
        `the last percent wave ("${lastPercent.name}") takes ${pct(lastPercent.percent)}: it must be percent: 100, ` +
        'so that every gateway is in a wave',
    });
  const seen = new Set<string>();
  const unique = issues.filter((i) => {
    const k = `${i.path.join('/')}|${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return unique.length ? { issues: unique } : { policy: { waves }, issues: [] };
}

/** The fleet file's `rollout:` and its targets' `rollout:`, as far as they read. */
export interface RolloutDocs {
  rollout?: RolloutDoc;
  targets: { name: string; rollout?: RolloutDoc | 'none' }[];
}

/** Every rollout policy of a fleet file, resolved; the issues say where one breaks a rule. */
export function resolveFleetRollout(doc: RolloutDocs): { rollout: FleetRollout; issues: PolicyIssue[] } {
  const issues: PolicyIssue[] = [];
  const rollout: FleetRollout = { targets: {} };
  if (doc.rollout) {
    const r = resolvePolicy(doc.rollout, ['rollout']);
    issues.push(...r.issues);
    if (r.policy) rollout.fleet = r.policy;
  }
  doc.targets.forEach((t, i) => {
    if (t.rollout === undefined) return;
    if (t.rollout === 'none') {
      rollout.targets[t.name] = 'none';
      return;
    }
    const r = resolvePolicy(t.rollout, ['targets', i, 'rollout']);
    issues.push(...r.issues);
    if (r.policy) rollout.targets[t.name] = r.policy;
  });
  return { rollout, issues };
}
