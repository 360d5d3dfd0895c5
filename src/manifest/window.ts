// Maintenance windows as the fleet file writes them (`window:` of the fleet, of a system, of a
// target; README "Maintenance windows"), resolved to typed windows. The schema has checked shapes;
// here are the rules a schema cannot say, each a problem at the value that breaks it: a time zone
// the system does not know, a cron expression croner refuses, a window too short for a transaction.

import { formatDuration, parseDuration } from '../base/duration.js';
import type { MaintenanceWindow, RollbackTiming, WindowOpening } from '../model/window.js';
import type { PolicyIssue } from './rollout.js';
import { cronOf, dailyCron } from './window-time.js';
import type { PathSeg } from './yaml-file.js';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export type OpeningDoc = { cron: string; duration: string } | { days?: Weekday[]; from: string; to: string };

export interface WindowDoc {
  time_zone: string;
  open: OpeningDoc[];
  expected_duration?: string;
  rollbacks?: RollbackTiming;
}

/**
 * A cron opening's first runs from a fixed moment (so a check gives the same answer any day): none
 * is a cron that never fires (30 February), and two closer than its duration overlap.
 */
const SAMPLED_RUNS = 50;
const CRON_REFERENCE = new Date(Date.UTC(2024, 0, 1));

/** How long a transaction is expected to take when the window does not say. */
export const DEFAULT_EXPECTED_MS = 15 * 60_000;

/** Whether the system's Intl knows the IANA zone. */
export function knownZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function ms(text: string): number {
  const v = parseDuration(text);
  if (v === undefined) throw new Error(`not a duration: ${text}`);
  return v;
}

/** The window written at `at` (its YAML path), resolved, with every rule it breaks. */
export function resolveWindow(
  doc: WindowDoc,
  at: PathSeg[],
  from: string,
): { window?: MaintenanceWindow; issues: PolicyIssue[] } {
  const issues: PolicyIssue[] = [];
  const zoneOk = knownZone(doc.time_zone);
  if (!zoneOk)
    issues.push({
      path: [...at, 'time_zone'],
      message: `time_zone "${doc.time_zone}" is not an IANA time zone this system knows (e.g. Europe/Berlin, UTC)`,
    });
  const expectedMs = doc.expected_duration === undefined ? DEFAULT_EXPECTED_MS : ms(doc.expected_duration);
  const openings: WindowOpening[] = [];
  doc.open.forEach((o, i) => {
    const oAt = [...at, 'open', i];
    if ('cron' in o) {
      let runs: Date[];
      try {
        runs = cronOf(o.cron, zoneOk ? doc.time_zone : 'UTC').nextRuns(SAMPLED_RUNS, CRON_REFERENCE);
      } catch (err) {
        issues.push({
          path: [...oAt, 'cron'],
          message: `cron "${o.cron}" is not a cron expression: ${(err as Error).message}`,
        });
        return;
      }
      const durationMs = ms(o.duration);
      const gap = Math.min(...runs.slice(1).map((r, i) => r.getTime() - runs[i]!.getTime()));
      if (runs.length === 0)
        issues.push({
          path: [...oAt, 'cron'],
          message: `cron "${o.cron}" never fires (no such date): the window never opens`,
        });
      else if (gap < durationMs)
        issues.push({
          path: [...oAt, 'cron'],
          message:
            `cron "${o.cron}" fires again ${formatDuration(gap)} after it fires, before its duration ${o.duration} ` +
            'is over: openings that overlap are one longer opening (write it so), and the gateways would spend ' +
            'seconds joining them at every poll',
        });
      if (durationMs === 0) issues.push({ path: [...oAt, 'duration'], message: 'duration 0s never opens the window' });
      else if (durationMs < expectedMs)
        issues.push({
          path: [...oAt, 'duration'],
          message:
            `duration ${o.duration} is shorter than the window's expected_duration ${formatDuration(expectedMs)}: ` +
            'no transaction could ever start in it',
        });
      openings.push({ kind: 'cron', cron: o.cron, durationMs });
      return;
    }
    if (o.from === o.to) {
      issues.push({
        path: [...oAt, 'to'],
        message:
          `from and to are both ${o.from}: a window of no length ` + '(for a whole day, write from "00:00" to "23:59")',
      });
      return;
    }
    const days = (o.days ?? [...WEEKDAYS]).map((d) => WEEKDAYS.indexOf(d)).sort((a, b) => a - b);
    cronOf(dailyCron(o.from, days.join(',')), 'UTC');
    openings.push({ kind: 'range', days: [...new Set(days)], from: o.from, to: o.to });
  });
  if (issues.length) return { issues };
  return {
    window: { zone: doc.time_zone, openings, expectedMs, rollbacks: doc.rollbacks ?? 'at-once', from },
    issues: [],
  };
}

/** The fleet file's windows as far as they read: the fleet's, each system's, each target's (or none). */
export interface WindowDocs {
  window?: WindowDoc;
  systems: Record<string, { window?: WindowDoc }>;
  targets: { name: string; system: string; window?: WindowDoc | 'none' }[];
}

/** Every window of a fleet file, checked; the issues say where one breaks a rule. */
export function windowIssues(doc: WindowDocs): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  if (doc.window) issues.push(...resolveWindow(doc.window, ['window'], 'window').issues);
  for (const [name, s] of Object.entries(doc.systems))
    if (s.window) issues.push(...resolveWindow(s.window, ['systems', name, 'window'], `systems.${name}.window`).issues);
  doc.targets.forEach((t, i) => {
    if (t.window && t.window !== 'none')
      issues.push(...resolveWindow(t.window, ['targets', i, 'window'], `targets[${i}].window`).issues);
  });
  return issues;
}

/**
 * The window of the target at `index`: its own, else its system's, else the fleet's; undefined
 * when none is written (or the target says `none`). Call on a fleet file whose issues are none.
 */
export function windowOfTarget(doc: WindowDocs, index: number): MaintenanceWindow | undefined {
  const t = doc.targets[index];
  if (!t || t.window === 'none') return undefined;
  const sys = doc.systems[t.system]?.window;
  const pick: { w: WindowDoc; at: PathSeg[]; from: string } | undefined = t.window
    ? { w: t.window, at: ['targets', index, 'window'], from: `targets[${index}].window` }
    : sys
      ? { w: sys, at: ['systems', t.system, 'window'], from: `systems.${t.system}.window` }
      : doc.window
        ? { w: doc.window, at: ['window'], from: 'window' }
        : undefined;
  if (!pick) return undefined;
  const r = resolveWindow(pick.w, pick.at, pick.from);
  if (!r.window) throw new Error(`the window at ${pick.from} does not hold: ${r.issues[0]?.message}`);
  return r.window;
}
