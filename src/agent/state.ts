// The agent's persisted state (its shape is `AgentState` in src/model/status.ts): what the
// gateway runs, the last good commit, the bad commits and why, the conditions and a bounded
// history. Written atomically after every change (write, fsync, rename), so after any crash the
// file is the old state or the new, never torn. The journal of the transaction in flight is a
// separate file (src/apply/journal.ts).

import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../base/atomic-write.js';
import { statePath, STATE_DIR_ENTRIES } from '../base/state-dir.js';
import { emptyState, type AgentState, type HistoryEntry } from '../model/index.js';
import type { StatePort } from '../rollback/index.js';
import { scrubbed } from './redaction.js';

export type { AgentState };
export const STATE_FILE = STATE_DIR_ENTRIES.state;
export const MAX_HISTORY = 200;

export class StateFileError extends Error {
  override name = 'StateFileError';
}

/** Reads the state file; a missing file is a fresh gateway, an unreadable one is an error. */
export async function readAgentState(stateDir: string): Promise<AgentState> {
  const file = statePath(stateDir, 'state');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw new StateFileError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let doc: AgentState;
  try {
    doc = JSON.parse(text) as AgentState;
  } catch (err) {
    throw new StateFileError(
      `${file} is not valid JSON (${(err as Error).message}). It records the last good and the bad commits; ` +
        'move it aside to start afresh, and the agent treats the gateway as never updated',
    );
  }
  if (doc.schema !== 'rollgate.agent-state/v1')
    throw new StateFileError(
      `${file} has schema ${JSON.stringify(doc.schema)}; this rollgate reads rollgate.agent-state/v1`,
    );
  const wrong = shapeProblem(doc);
  if (wrong)
    throw new StateFileError(
      `${file}: ${wrong}. The file was changed outside rollgate; fix that field, or move the file aside to start ` +
        'afresh (the agent then treats the gateway as never updated, and forgets its bad commits)',
    );
  // Files written before conditions existed have none; the next verdict sets them.
  return { ...emptyState(), ...doc };
}

const kindOf = (v: unknown) =>
  Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

/** The first field whose type is wrong, as "path is X, expected Y"; undefined when the shape holds. */
function shapeProblem(doc: unknown): string | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return `the file holds ${kindOf(doc)}, not an object`;
  const d = doc as Record<string, unknown>;
  const str = (v: unknown) => typeof v === 'string';
  const mark = (path: string, v: unknown) =>
    v === undefined || (typeof v === 'object' && v !== null && str((v as { commit?: unknown }).commit))
      ? undefined
      : `${path} is ${kindOf(v)}, expected { commit, at }`;
  const list = (path: string, v: unknown, each: (x: Record<string, unknown>) => boolean, expected: string) => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return `${path} is ${kindOf(v)}, expected a list`;
    const i = v.findIndex((x) => typeof x !== 'object' || x === null || !each(x as Record<string, unknown>));
    return i < 0 ? undefined : `${path}[${i}] is not ${expected}`;
  };
  return (
    mark('applied', d['applied']) ??
    mark('lastGood', d['lastGood']) ??
    mark('inProgress', d['inProgress']) ??
    list(
      'bad',
      d['bad'],
      (b) => str(b['commit']) && str(b['kind']) && str(b['reason']),
      '{ commit, kind, reason, at }',
    ) ??
    list('history', d['history'], (h) => str(h['at']) && str(h['event']), '{ at, event, ... }') ??
    list('conditions', d['conditions'], (c) => str(c['type']) && str(c['status']), '{ type, status, reason, since }')
  );
}

export class StateStore implements StatePort {
  /** Told, after each write, the history entries it appended (the reporter listens), as written. */
  onRecorded?: (appended: HistoryEntry[], state: Readonly<AgentState>) => Promise<void>;

  private constructor(
    readonly file: string,
    private state: AgentState,
  ) {}

  static async open(stateDir: string): Promise<StateStore> {
    return new StateStore(statePath(stateDir, 'state'), await readAgentState(stateDir));
  }

  get current(): Readonly<AgentState> {
    return this.state;
  }

  /**
   * Writes the new state through before returning. The file, which `rollgate status` and `history`
   * read and reports are made from, is scrubbed of the process's secrets; the state in memory
   * keeps the messages as they were, so an error that repeats is still seen to repeat.
   */
  async replace(next: AgentState): Promise<void> {
    const bounded = { ...next, history: next.history.slice(-MAX_HISTORY) };
    // Changes only ever append to the history (withVerdict), so what is new is what is past the old end.
    const before = this.state.history;
    const appended = next.history.length > before.length ? next.history.slice(before.length) : [];
    const written = scrubbed(bounded);
    await writeFileAtomic(this.file, JSON.stringify(written, null, 2) + '\n');
    this.state = bounded;
    if (appended.length && this.onRecorded)
      await this.onRecorded(written.history.slice(-Math.min(appended.length, written.history.length)), written);
  }

  /** Applies a change and writes it through before returning. */
  async update(change: (s: AgentState) => void): Promise<void> {
    const next = structuredClone(this.state);
    change(next);
    await this.replace(next);
  }
}
