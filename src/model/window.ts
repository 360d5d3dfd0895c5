// Maintenance windows (README "Maintenance windows"): when a gateway may change what it runs.
// Written in the fleet repo per fleet, system or target; resolved by src/manifest/window.ts and
// judged by the pure arithmetic of src/manifest/window-time.ts.

/** When a window opens: a cron expression and how long it stays open, or weekdays with a time range. */
export type WindowOpening =
  | { kind: 'cron'; cron: string; durationMs: number }
  /** Opens at `from` on each of `days` (0 = Sunday) and closes at the next `to`, both wall-clock times of the zone. */
  | { kind: 'range'; days: number[]; from: string; to: string };

/** What a rollback (a return to the last good commit or to a rollout's base) does outside the window. */
export type RollbackTiming = 'at-once' | 'in-window';

export interface MaintenanceWindow {
  /** An IANA time zone: the one the openings are read in. */
  zone: string;
  openings: WindowOpening[];
  /** A transaction starts only when the window has at least this long left. */
  expectedMs: number;
  rollbacks: RollbackTiming;
  /** Where it is written, for messages: `fleet`, `systems.<name>` or `targets[<i>]`. */
  from: string;
}

/** A window at one moment. */
export type WindowNow = { open: true; closesAt: number; leftMs: number } | { open: false; opensAt?: number };
