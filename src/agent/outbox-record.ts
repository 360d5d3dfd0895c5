// A verdict in the state's history reaches the outbox even when a process is killed between writing
// the state and writing the outbox: outbox/recorded marks the history entry the outbox holds events
// up to, each writer moves it on after its events, and the reporting agent adds what lies past it
// at start and after each worker. An entry written twice (a kill between the events and the mark)
// keeps its id, which the hub stores once.

import { statePath } from '../base/state-dir.js';
import type { AgentState, HistoryEntry, ReportEvent } from '../model/index.js';
import { readRecordedMark, recordedMark, reportEvents, unrecorded, writeRecordedMark } from '../report/index.js';
import { scrubbed } from './redaction.js';

export const outboxDir = (stateDir: string) => statePath(stateDir, 'outbox');

/**
 * Puts the events of what the state holds past the mark (or of `appended`, when there is no mark
 * yet) into the outbox with `add`, then moves the mark to the state's last entry. A failing `add`
 * leaves the mark where it was, for the next one to try again.
 */
export async function recordVerdicts(
  stateDir: string,
  appended: readonly HistoryEntry[],
  after: Readonly<AgentState>,
  add: (events: ReportEvent[]) => Promise<void>,
): Promise<number> {
  const dir = outboxDir(stateDir);
  const mark = await readRecordedMark(dir);
  const events = scrubbed(reportEvents(mark ? unrecorded(after.history, mark) : appended, after));
  if (events.length) await add(events);
  const next = recordedMark(after.history);
  if (next.key !== mark?.key || next.at !== mark?.at) await writeRecordedMark(dir, next);
  return events.length;
}

/**
 * At the reporting agent's start: an outbox without a mark is from before it (or new), and the
 * history was reported as it was recorded, so the mark starts at its end; otherwise what the mark
 * misses is added.
 */
export async function startRecording(
  stateDir: string,
  state: Readonly<AgentState>,
  add: (events: ReportEvent[]) => Promise<void>,
): Promise<number> {
  if (!(await readRecordedMark(outboxDir(stateDir)))) {
    await writeRecordedMark(outboxDir(stateDir), recordedMark(state.history));
    return 0;
  }
  return recordVerdicts(stateDir, [], state, add);
}
