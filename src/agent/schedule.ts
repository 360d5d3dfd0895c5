// When the next poll is due: an interval or a cron expression, plus random jitter so a fleet
// does not reach the git server in step.

import { CronTime } from 'cron';

export interface ScheduleSpec {
  intervalMs: number;
  cron?: string;
  jitterMs: number;
}

export function nextPollDelay(s: ScheduleSpec, random: () => number = Math.random): number {
  const base = s.cron ? new CronTime(s.cron).getTimeout() : s.intervalMs;
  return Math.max(0, Math.round(base + random() * s.jitterMs));
}

/** After `failures` errors in a row that changed nothing: retry sooner than the schedule, backing off. */
export function retryDelay(retryMs: number, failures: number, scheduledMs: number): number {
  return Math.min(retryMs * 2 ** Math.max(0, failures - 1), Math.max(retryMs, scheduledMs));
}
