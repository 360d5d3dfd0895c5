// The verdicts a state change recorded, as events for the hub. Pure: the history entries the
// change appended and the state after it in, events out. An event's id comes from its history
// entry, so an entry put in the outbox twice (after a kill, see unrecorded) is one event at the hub.

import { createHash } from 'node:crypto';
import { verdictFacts, type AgentState, type HistoryEntry, type ReportEvent } from '../model/index.js';

/** Details are for people; a runaway one is cut so one event never fills a report. */
const MAX_DETAIL = 4000;

export function reportEvents(appended: readonly HistoryEntry[], after: Readonly<AgentState>): ReportEvent[] {
  const out: ReportEvent[] = [];
  for (const h of appended) {
    // Verdicts that say nothing new about the gateway (their row says quiet); the heartbeat covers them.
    if (verdictFacts(h.event)?.quiet) continue;
    const bad = h.commit ? after.bad.find((b) => b.commit === h.commit) : undefined;
    out.push({
      id: entryKey(h),
      at: h.at,
      verdict: h.event,
      ...(h.commit ? { commit: h.commit } : {}),
      ...(h.to ? { to: h.to } : {}),
      ...(bad ? { reason: bad.kind } : {}),
      ...(h.detail ? { detail: h.detail.length > MAX_DETAIL ? `${h.detail.slice(0, MAX_DETAIL)}…` : h.detail } : {}),
      ...(h.conditions ? { conditions: h.conditions } : {}),
      ...(h.rollout ? { rollout: h.rollout } : {}),
    });
  }
  return out;
}

/** The id of a history entry's event: a UUID-shaped hash of what the entry says. */
export function entryKey(h: HistoryEntry): string {
  const hex = createHash('sha256')
    .update(JSON.stringify([h.at, h.event, h.commit ?? null, h.to ?? null, h.detail ?? null]))
    .digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Which history entry the outbox holds events up to: its key and time (null: none, the history was empty). */
export interface RecordedMark {
  key: string | null;
  at: string | null;
}

export const recordedMark = (history: readonly HistoryEntry[]): RecordedMark => {
  const last = history.at(-1);
  return { key: last ? entryKey(last) : null, at: last?.at ?? null };
};

/**
 * The history entries past the mark: those whose events may not be in the outbox (a process killed
 * between writing the state and writing the outbox). When the marked entry has left the bounded
 * history, the entries after its time.
 */
export function unrecorded(history: readonly HistoryEntry[], mark: RecordedMark): HistoryEntry[] {
  if (mark.key === null) return [...history];
  for (let i = history.length - 1; i >= 0; i--) if (entryKey(history[i]!) === mark.key) return history.slice(i + 1);
  const at = mark.at;
  return at === null ? [] : history.filter((h) => h.at > at);
}
