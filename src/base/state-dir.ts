// Every path in the agent's state directory, named once. The agent, the CLI and the appliers
// each use a few of them; an operator reading this file sees everything rollgate keeps there.

import { join } from 'node:path';

export const DEFAULT_STATE_DIR = '/var/lib/rollgate';

export const STATE_DIR_ENTRIES = {
  /** What the gateway runs, the last good commit, the bad commits, the history. */
  state: 'agent-state.json',
  /** The transaction in flight; what a crash interrupted. */
  journal: 'journal.json',
  /** Held by the running agent. */
  lock: 'agent.lock',
  /** The running agent's control socket (sync, live status). */
  control: 'agent.sock',
  /** The fleet repo's git objects (bare). */
  repo: 'repo.git',
  /** One record and work directory per device component. */
  components: 'components',
  /** The artifact cache. */
  artifacts: 'artifacts',
  /** Files from the fleet repo mounted into containers, content-addressed. */
  files: 'files',
  /** Data directories of relative bind mounts the repo does not hold. */
  data: 'data',
  /** This state directory's identity: the owner label of every Docker object its agent creates. */
  owner: 'owner',
} as const;

export type StateDirEntry = keyof typeof STATE_DIR_ENTRIES;

/** The absolute path of one entry of a state directory. */
export function statePath(stateDir: string, entry: StateDirEntry): string {
  return join(stateDir, STATE_DIR_ENTRIES[entry]);
}
