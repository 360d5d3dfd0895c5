// A wave's gate: a pure function of the wave, the hub's evidence about its gateways and the hub's
// clock → advance, wait (with every cause), pause or abort. The promoter acts on the decision; the
// hub shows it. Every wait says why, and nothing advances on stale evidence: a gateway counts as
// healthy only on reports about this rollout's target, healthy for the whole soak after the wave
// opened, confirmed by a report at its end, and from a gateway that still reports.

import { formatDuration } from '../base/duration.js';
import { openFor } from '../manifest/index.js';
import type { MaintenanceWindow } from '../model/window.js';
import type {
  GateCounts,
  GateResult,
  GatewayEvidence,
  GatewayStanding,
  RolloutWave,
  WaitCause,
} from '../model/rollout.js';

export interface GateInput {
  wave: RolloutWave;
  /** The rollout's target: reports about any other commit are no evidence. */
  target: string;
  /** When the wave opened, and when the rollout was last resumed while it was open (ms, the hub's clock). */
  openedAt: number;
  resumedAt?: number;
  /** The gateways of the wave that the hub knows, with what it knows of them. */
  members: readonly GatewayEvidence[];
  /** How many gateways of the policy's track (every wave) the hub knows: none means no evidence at all. */
  known: number;
  /** The hub's clock. */
  now: number;
  /**
   * The maintenance windows of the wave's gateways: its timeout counts only while one of them is
   * open, so a weekend window does not time a wave out. Absent or empty: all the time counts (a
   * gateway without a window may change at any time).
   */
  windows?: readonly MaintenanceWindow[];
}

function standing(e: GatewayEvidence, input: GateInput): { standing: GatewayStanding; doneAt?: number } {
  const { wave, target, openedAt, now } = input;
  const about = e.target === target;
  if (about && e.failed) return { standing: 'failed' };
  if (e.lastSeen === undefined || now - e.lastSeen > wave.gate.silentAfterMs) return { standing: 'silent' };
  if (!about) return { standing: 'pending' };
  if (e.healthySince === undefined) return { standing: 'applying' };
  // Health from before the wave opened is not this wave's evidence.
  const doneAt = Math.max(e.healthySince, openedAt) + wave.gate.soakMs;
  return e.lastSeen >= doneAt ? { standing: 'healthy' } : { standing: 'soaking', doneAt };
}

const iso = (ms: number) => new Date(ms).toISOString();

function causeText(c: WaitCause): string {
  switch (c.kind) {
    case 'threshold':
      return `${c.healthy} of ${c.counted} healthy for the soak, ${c.needed} needed`;
    case 'soak':
      return `${c.soaking} soaking, the first done at ${iso(c.nextAt)} (with a report then)`;
    case 'pending':
      return `${c.count} not on the target yet`;
    case 'applying':
      return `${c.count} on the target, not healthy yet`;
    case 'silent':
      return `${c.count} not reporting`;
    case 'empty':
      return 'no gateway the hub knows is in this wave';
  }
}

export function evaluateGate(input: GateInput): GateResult {
  const { wave, now } = input;
  const g = wave.gate;
  const gateways: GateResult['gateways'] = [];
  const n: Record<GatewayStanding, number> = { healthy: 0, soaking: 0, applying: 0, pending: 0, silent: 0, failed: 0 };
  let nextAt = Infinity;
  const failures: string[] = [];
  for (const e of input.members) {
    const s = standing(e, input);
    n[s.standing]++;
    if (s.doneAt !== undefined) nextAt = Math.min(nextAt, s.doneAt);
    const reason =
      s.standing === 'failed'
        ? e.failed!.reason
        : s.standing === 'silent' && g.silent === 'fail'
          ? 'not reporting'
          : '';
    if (reason) failures.push(`${e.id}: ${reason}`);
    gateways.push({ id: e.id, standing: s.standing, ...(reason ? { reason } : {}) });
  }
  const members = input.members.length;
  const counted = members - (g.silent === 'exclude' ? n.silent : 0);
  // percent × counted / 100 as whole numbers where it can (95 × 20 = 1900, not 19.000000000000004 × 100).
  const needed = counted === 0 ? 0 : Math.max(1, Math.ceil((g.successPercent * counted) / 100 - 1e-9));
  const failed = n.failed + (g.silent === 'fail' ? n.silent : 0);
  const counts: GateCounts = {
    members,
    counted,
    needed,
    healthy: n.healthy,
    soaking: n.soaking,
    applying: n.applying,
    pending: n.pending,
    silent: n.silent,
    failed,
  };
  const start = Math.max(input.openedAt, input.resumedAt ?? -Infinity);
  const windows = input.windows ?? [];
  // Windows that are not open that long within a year: the timeout counts all the time, as without them.
  const timeoutAt = (windows.length ? openFor(windows, start, g.timeoutMs) : undefined) ?? start + g.timeoutMs;
  const inWindows = windows.length ? " (counted while its gateways' maintenance windows are open)" : '';
  const result = (decision: GateResult['decision'], message: string, causes: WaitCause[] = []): GateResult => ({
    decision,
    counts,
    gateways,
    causes,
    timeoutAt,
    message,
  });
  const name = `wave "${wave.name}"`;

  if (failed > g.maxFailures)
    return result(
      'abort',
      `${name}: ${failed} failed, more than the ${g.maxFailures} it tolerates (${failures.slice(0, 5).join('; ')}` +
        `${failures.length > 5 ? `; and ${failures.length - 5} more` : ''})`,
    );
  if (members === 0 && wave.select.kind === 'percent' && input.known > 0)
    // A small fleet leaves a percent wave empty: it admitted no one the hub knows, so no one is at risk. A hub
    // that knows no gateway at all has no evidence, and that is no reason to go on.
    return result('advance', `${name} has none of the ${input.known} gateways the hub knows: nothing to wait for`);
  if (counted > 0 && n.healthy >= needed)
    return result(
      'advance',
      `${name}: ${n.healthy} of ${counted} healthy for ${formatDuration(g.soakMs)}, ${needed} needed`,
    );

  const causes: WaitCause[] = [];
  if (members === 0) causes.push({ kind: 'empty' });
  else if (counted > 0) causes.push({ kind: 'threshold', healthy: n.healthy, needed, counted });
  if (n.soaking > 0) causes.push({ kind: 'soak', soaking: n.soaking, nextAt });
  if (n.applying > 0) causes.push({ kind: 'applying', count: n.applying });
  if (n.pending > 0) causes.push({ kind: 'pending', count: n.pending });
  if (n.silent > 0) causes.push({ kind: 'silent', count: n.silent });
  const why = causes.map(causeText).join('; ');
  if (now >= timeoutAt) {
    const timedOut = `${name} timed out at ${iso(timeoutAt)} (${formatDuration(g.timeoutMs)}${inWindows}): ${why}`;
    // An abort makes the target bad for good; a wave in which no gateway ran the target says nothing about it.
    if (g.onTimeout === 'abort' && n.healthy + n.soaking + n.applying + n.failed === 0)
      return result('pause', `${timedOut}; no gateway ran the target, so it pauses rather than aborts`, causes);
    return result(g.onTimeout, timedOut, causes);
  }
  return result(
    'wait',
    `${name} waits: ${why}; times out at ${iso(timeoutAt)}${inWindows}, then ${g.onTimeout}s`,
    causes,
  );
}
