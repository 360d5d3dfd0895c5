// The agent's persisted state (its shape is `AgentState` in src/model/status.ts): what the
// gateway runs, the last good commit, the bad commits and why, the conditions and a bounded
// history. Written atomically after every change (write, fsync, rename), so after any crash the
// file is the old state or the new, never torn. The journal of the transaction in flight is a
// separate file (src/apply/journal.ts).

import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../base/atomic-write.js';
import { statePath, STATE_DIR_ENTRIES } from '../base/state-dir.js';
import { emptyState, type AgentState } from '../model/index.js';
import type { StatePort } from '../rollback/index.js';

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
  // Files written before conditions existed have none; the next verdict sets them.
  return { ...emptyState(), ...doc };
}

export class StateStore implements StatePort {
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

  /** Writes the new state through before returning. */
  async replace(next: AgentState): Promise<void> {
    const bounded = { ...next, history: next.history.slice(-MAX_HISTORY) };
    await writeFileAtomic(this.file, JSON.stringify(bounded, null, 2) + '\n');
    this.state = bounded;
  }

  /** Applies a change and writes it through before returning. */
  async update(change: (s: AgentState) => void): Promise<void> {
    const next = structuredClone(this.state);
    change(next);
    await this.replace(next);
  }
}
