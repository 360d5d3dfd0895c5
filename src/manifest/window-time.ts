// The arithmetic of maintenance windows, pure: given a window and a moment (ms since the epoch),
// is it open, until when, when does it next open with enough time left, and how long was it open
// between two moments. Every wall-clock reading in a time zone is croner's (cron in an IANA zone,
// daylight-saving changes included); nothing here adds hours to a date by hand.

import { Cron } from 'croner';
import type { MaintenanceWindow, WindowNow, WindowOpening } from '../model/window.js';

interface Span {
  start: number;
  end: number;
}

const DAY_MS = 24 * 3_600_000;
/** How far ahead a next opening is looked for: a window that opens less than once a year is no window. */
export const LOOK_AHEAD_MS = 400 * DAY_MS;
/** A bound on the spans walked in one question (a cron of every second, open for a minute, chains forever). */
const MAX_SPANS = 20_000;

/** A cron job that never runs: it only answers when it would. */
export function cronOf(pattern: string, zone: string): Cron {
  return new Cron(pattern, { timezone: zone, paused: true, mode: '5-or-6-parts' });
}

/** `HH:MM` → the cron pattern of that minute, on the given days (a cron day-of-week field). */
export function dailyCron(time: string, days = '*'): string {
  const [h, m] = time.split(':').map(Number);
  return `${m} ${h} * * ${days}`;
}

/** The longest one opening may be open: what to look back by to find one that is open now. */
function longest(o: WindowOpening): number {
  // A range closes at the next `to`: under a day, plus an hour a daylight-saving change may add.
  return o.kind === 'cron' ? o.durationMs : DAY_MS + 3_600_000;
}

/** The spans of one opening whose start is after `after`, in order. */
function* spansOf(o: WindowOpening, zone: string, after: number): Generator<Span> {
  const opens = cronOf(o.kind === 'cron' ? o.cron : dailyCron(o.from, o.days.join(',')), zone);
  const closes = o.kind === 'range' ? cronOf(dailyCron(o.to), zone) : undefined;
  let at = new Date(after);
  for (;;) {
    const start = opens.nextRun(at);
    if (!start) return;
    const end = closes ? closes.nextRun(start)?.getTime() : start.getTime() + (o as { durationMs: number }).durationMs;
    if (end === undefined) return;
    yield { start: start.getTime(), end };
    at = start;
  }
}

/**
 * Spans of several ordered streams from `from` on, in order, overlapping ones joined: the time at
 * least one of them is open. Stops a year ahead, or after MAX_SPANS.
 */
function* joined(streams: Iterator<Span>[], from: number): Generator<Span> {
  const heads = streams.map((s) => s.next());
  let cur: Span | undefined;
  for (let n = 0; n < MAX_SPANS; n++) {
    let i = -1;
    heads.forEach((h, k) => {
      if (!h.done && (i < 0 || h.value.start < (heads[i]!.value as Span).start)) i = k;
    });
    if (i < 0) break;
    const s = heads[i]!.value as Span;
    heads[i] = streams[i]!.next();
    if (s.end <= from) continue;
    if (cur && s.start <= cur.end) {
      cur.end = Math.max(cur.end, s.end);
      continue;
    }
    if (cur) yield cur;
    if (s.start > from + LOOK_AHEAD_MS) return;
    cur = { ...s };
  }
  if (cur) yield cur;
}

/** The window's open spans from `from` on (the one open at `from` first), in order. */
function openSpans(w: MaintenanceWindow, from: number): Generator<Span> {
  const back = Math.max(...w.openings.map(longest));
  return joined(
    w.openings.map((o) => spansOf(o, w.zone, from - back - 1)),
    from,
  );
}

/** Whether the window is open at `t`; open: until when, and how long is left; closed: when it opens next. */
export function windowAt(w: MaintenanceWindow, t: number): WindowNow {
  for (const s of openSpans(w, t)) {
    if (s.start <= t) return { open: true, closesAt: s.end, leftMs: s.end - t };
    return { open: false, opensAt: s.start };
  }
  return { open: false };
}

/**
 * The first moment from `t` on at which a transaction may start: the window open with at least its
 * expected duration left. `t` itself when that holds now; undefined when no opening within a year
 * is long enough.
 */
export function nextStart(w: MaintenanceWindow, t: number): number | undefined {
  for (const s of openSpans(w, t)) {
    const at = Math.max(s.start, t);
    if (s.end - at >= w.expectedMs) return at;
  }
  return undefined;
}

/**
 * The first moment from `t` on at which every one of the windows lets a transaction start (each
 * open with its expected duration left): a commit that changes parts with windows of their own
 * waits for all of them together. undefined when that does not happen within a year.
 */
export function nextStartAll(ws: readonly MaintenanceWindow[], t: number): number | undefined {
  if (ws.length === 0) return t;
  let at = t;
  // Each round moves to the latest of the windows' next starts: no moment before it suits them all.
  for (let round = 0; round < MAX_SPANS; round++) {
    const starts = ws.map((w) => nextStart(w, at));
    if (starts.some((x) => x === undefined)) return undefined;
    const latest = Math.max(...(starts as number[]));
    if (starts.every((x) => x === latest)) return latest;
    if (latest > t + LOOK_AHEAD_MS) return undefined;
    at = latest;
  }
  return undefined;
}

/**
 * How long, between `from` and `to`, at least one of the windows was open: the time a staged
 * rollout's wave timeout counts for gateways that may only change inside them. No windows: all of it.
 */
export function openMsBetween(ws: readonly MaintenanceWindow[], from: number, to: number): number {
  if (to <= from) return 0;
  if (ws.length === 0) return to - from;
  let total = 0;
  for (const s of joined(
    ws.map((w) => openSpans(w, from)),
    from,
  )) {
    if (s.start >= to) break;
    total += Math.min(s.end, to) - Math.max(s.start, from);
  }
  return total;
}

/**
 * The moment by which at least one of the windows has been open for `needMs` since `from` (a wave's
 * timeout counted in open time); undefined when they are not open that long within a year.
 */
export function openFor(ws: readonly MaintenanceWindow[], from: number, needMs: number): number | undefined {
  if (ws.length === 0) return from + needMs;
  let left = needMs;
  for (const s of joined(
    ws.map((w) => openSpans(w, from)),
    from,
  )) {
    const start = Math.max(s.start, from);
    if (s.end - start >= left) return start + left;
    left -= s.end - start;
  }
  return undefined;
}

/** `2026-12-06 02:00 Europe/Berlin (01:00Z)`: a moment as the window's zone reads it, and in UTC. */
export function formatInZone(t: number, zone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(new Date(t))
      .map((p) => [p.type, p.value]),
  );
  const sec = parts.second === '00' ? '' : `:${parts.second}`;
  const utc = new Date(t).toISOString().replace('.000Z', 'Z');
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}${sec} ${zone} (${utc})`;
}
