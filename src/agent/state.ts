// The agent's persisted state (its shape is `AgentState` in src/model/status.ts): what the
// gateway runs, the last good commit, the bad commits and why, the conditions and a bounded
// history. Written atomically after every change (write, fsync, rename), so after any crash the
// file is the old state or the new, never torn. The journal of the transaction in flight is a
// separate file (src/apply/journal.ts).

import { writeFileAtomic } from '../base/atomic-write.js';
import { describeProblem, isObject, shapeProblem } from '../base/shape.js';
import { readStateFile, StateFileError, STATE_FILE_MAX_BYTES } from '../base/state-file.js';
import { statePath, STATE_DIR_ENTRIES } from '../base/state-dir.js';
import { AGENT_STATE_SHAPE, emptyState, type AgentState, type HistoryEntry } from '../model/index.js';
import type { StatePort } from '../lifecycle/index.js';
import { scrubbed } from './redaction.js';

export type { AgentState };
export { StateFileError };
export const STATE_FILE = STATE_DIR_ENTRIES.state;
export const MAX_HISTORY = 200;

const SHA = /^[0-9a-f]{7,64}$/;

/**
 * What can still be read of a damaged state file: the commits it names, so an operator who moves
 * it aside knows what the gateway ran and which commits were refused before.
 */
function salvage(doc: unknown): string {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return '';
  const d = doc as Record<string, unknown>;
  const commitOf = (v: unknown) => {
    const c = typeof v === 'object' && v !== null ? (v as { commit?: unknown }).commit : undefined;
    return typeof c === 'string' && SHA.test(c) ? c : undefined;
  };
  const applied = commitOf(d['applied']);
  const lastGood = commitOf(d['lastGood']);
  const bad = Array.isArray(d['bad']) ? d['bad'].map(commitOf).filter((c): c is string => c !== undefined) : [];
  const parts = [
    ...(applied ? [`applied ${applied}`] : []),
    ...(lastGood ? [`last good ${lastGood}`] : []),
    ...(bad.length ? [`bad ${bad.join(', ')}`] : []),
  ];
  return parts.length ? ` What it still says: ${parts.join('; ')}.` : '';
}

/**
 * Reads the state file; a missing file is a fresh gateway. A file that is not the agent's state
 * (not JSON, another shape, not a plain file) is an error naming the file and the field: the
 * agent never starts on it and never writes over it, since it holds the last good commit and the
 * commits that must not be applied again.
 */
export async function readAgentState(stateDir: string): Promise<AgentState> {
  const file = statePath(stateDir, 'state');
  const text = await readStateFile(file, STATE_FILE_MAX_BYTES.agentState);
  if (text === undefined) return emptyState();
  const aside =
    `The agent does not start on it, and does not write over it. Fix it, or move it aside ` +
    `(mv ${file} ${file}.broken) to start afresh: the agent then treats the gateway as never updated and ` +
    'forgets its bad commits, so a commit that failed before may be applied again.';
  if (text.trim() === '')
    throw new StateFileError(
      file,
      `${file} is empty; rollgate writes it whole, so it was emptied outside rollgate. ${aside}`,
    );
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new StateFileError(
      file,
      `${file} is not valid JSON (${(err as Error).message}); rollgate writes it whole, so it was changed ` +
        `outside rollgate. ${aside}`,
    );
  }
  // Files written before conditions (or history, or bad commits) existed have none; the next verdict sets them.
  const defaults = { bad: [], conditions: [], history: [] };
  const full = isObject(doc) ? { ...defaults, ...doc } : doc;
  const wrong = shapeProblem(full, AGENT_STATE_SHAPE);
  if (wrong)
    throw new StateFileError(
      file,
      `${file}: ${describeProblem(wrong)}. It is not the agent state this rollgate writes ` +
        `(rollgate.agent-state/v1); it was changed outside rollgate.${salvage(doc)} ${aside}`,
    );
  return full as AgentState;
}

export class StateStore implements StatePort {
  /** Told, after each write, the history entries it appended (the reporter listens), as written. */
  onRecorded?: (appended: HistoryEntry[], state: Readonly<AgentState>) => Promise<void>;

  private constructor(
    readonly file: string,
    private state: AgentState,
    private readonly stateDir: string,
  ) {}

  static async open(stateDir: string): Promise<StateStore> {
    return new StateStore(statePath(stateDir, 'state'), await readAgentState(stateDir), stateDir);
  }

  /**
   * Reads the file again after another process wrote it (the agent's worker, while this one wrote
   * nothing). `onRecorded` is not told: the process that wrote the entries recorded them.
   */
  async reload(): Promise<void> {
    this.state = await readAgentState(this.stateDir);
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
