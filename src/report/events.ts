// The verdicts a state change recorded, as events for the hub. Pure: the history entries the
// change appended and the state after it in, events out.

import { randomUUID } from 'node:crypto';
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
      id: randomUUID(),
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
