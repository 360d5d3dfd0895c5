// The agent's persisted state: what the gateway runs, the last good commit, the bad commits and
// why, and a bounded history. Written atomically after every change (write, fsync, rename), so
// after any crash the file is the old state or the new, never torn. The journal of the
// transaction in flight is a separate file (src/apply/journal.ts).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../apply/index.js';
import type { BadCommit } from '../rollback/index.js';

export const STATE_FILE = 'agent-state.json';
export const MAX_HISTORY = 200;

export interface CommitMark {
  commit: string;
  /** ISO time. */
  at: string;
}

export type HistoryEvent =
  | 'applied'
  | 'unchanged'
  | 'rolled-back'
  | 'rollback-incomplete'
  | 'rejected'
  | 'prepare-failed'
  | 'resumed'
  | 'last-good-unhealthy'
  | 'error';

export interface HistoryEntry {
  at: string;
  event: HistoryEvent;
  commit?: string;
  /** For rollbacks: the commit the gateway went back to. */
  to?: string;
  detail?: string;
  /** Step ids that ran, in order. */
  steps?: string[];
  durationMs?: number;
}

export interface AgentState {
  schema: 'rollgate.agent-state/v1';
  /** The commit the gateway was last converged to. */
  applied?: CommitMark;
  /** The last commit that was applied and passed its health window. */
  lastGood?: CommitMark;
  bad: BadCommit[];
  /** The apply started and not yet ended; with the journal, what a crash interrupted. */
  inProgress?: { commit: string; since: string; attempts: number };
  /** Set when the last good state failed its health check after a rollback. */
  lastGoodUnhealthy?: { commit: string; reason: string; at: string };
  lastError?: { at: string; message: string; commit?: string };
  history: HistoryEntry[];
}

export function emptyState(): AgentState {
  return { schema: 'rollgate.agent-state/v1', bad: [], history: [] };
}

export class StateFileError extends Error {
  override name = 'StateFileError';
}

/** Reads the state file; a missing file is a fresh gateway, an unreadable one is an error. */
export async function readAgentState(stateDir: string): Promise<AgentState> {
  const file = join(stateDir, STATE_FILE);
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
      `${file} is not valid JSON (${(err as Error).message}). It records the last good and the bad commits; move it aside to start afresh, and the agent treats the gateway as never updated`,
    );
  }
  if (doc.schema !== 'rollgate.agent-state/v1')
    throw new StateFileError(
      `${file} has schema ${JSON.stringify(doc.schema)}; this rollgate reads rollgate.agent-state/v1`,
    );
  return { ...emptyState(), ...doc };
}

export class StateStore {
  private constructor(
    readonly file: string,
    private state: AgentState,
  ) {}

  static async open(stateDir: string): Promise<StateStore> {
    return new StateStore(join(stateDir, STATE_FILE), await readAgentState(stateDir));
  }

  get current(): Readonly<AgentState> {
    return this.state;
  }

  /** Applies a change and writes it through before returning. */
  async update(change: (s: AgentState) => void): Promise<void> {
    const next = structuredClone(this.state);
    change(next);
    next.history = next.history.slice(-MAX_HISTORY);
    await writeFileAtomic(this.file, JSON.stringify(next, null, 2) + '\n');
    this.state = next;
  }
}
