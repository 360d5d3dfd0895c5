// When the next poll is due: an interval or a cron expression, plus random jitter so a fleet
// does not reach the git server in step.

import { Cron } from 'croner';

export interface ScheduleSpec {
  intervalMs: number;
  cron?: string;
  jitterMs: number;
}

export function nextPollDelay(s: ScheduleSpec, random: () => number = Math.random): number {
  // A Cron made without a function only computes dates; configuration refused expressions that never fire.
  const base = s.cron ? (new Cron(s.cron, { paused: true }).msToNext() ?? s.intervalMs) : s.intervalMs;
  return Math.max(0, Math.round(base + random() * s.jitterMs));
}

/** After `failures` errors in a row that changed nothing: retry sooner than the schedule, backing off. */
export function retryDelay(retryMs: number, failures: number, scheduledMs: number): number {
  return Math.min(retryMs * 2 ** Math.max(0, failures - 1), Math.max(retryMs, scheduledMs));
}
