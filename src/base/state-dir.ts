// Every path in the agent's state directory, named once. The agent, the CLI and the appliers
// each use a few of them; an operator reading this file sees everything rollgate keeps there.

import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

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
  /** Mender state scripts from the fleet repo, by the sha256 of their content. */
  scripts: 'scripts',
  /** This state directory's identity: the owner label of every Docker object its agent creates. */
  owner: 'owner',
  /** Reports to the fleet hub not yet delivered (src/report/outbox.ts). */
  outbox: 'outbox',
  /**
   * The process groups each rollgate process started (interfaces, state scripts, health
   * commands, the reboot command), one file per rollgate process: what a killed agent left
   * running is found and ended at the next start (src/base/process-group.ts).
   */
  processes: 'processes',
} as const;

export type StateDirEntry = keyof typeof STATE_DIR_ENTRIES;

/** The absolute path of one entry of a state directory. */
export function statePath(stateDir: string, entry: StateDirEntry): string {
  return join(stateDir, STATE_DIR_ENTRIES[entry]);
}

export class StateDirError extends Error {
  override name = 'StateDirError';
}

/**
 * The state directory decides what the agent runs (its repo objects, journal, files mounted into
 * containers): it must belong to this user and be writable by nobody else. Made 0700 when new.
 */
export async function secureStateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw cannotCreate(dir, err as NodeJS.ErrnoException);
  }
  const st = await stat(dir);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    throw new StateDirError(
      `the state directory ${dir} belongs to user ${st.uid}, not to this user (${uid}): whoever owns it can make ` +
        `the agent run what they like; chown it, or choose another with --state-dir`,
    );
  if ((st.mode & 0o022) !== 0)
    throw new StateDirError(
      `the state directory ${dir} can be written by others (mode ${(st.mode & 0o777).toString(8)}): anyone who ` +
        `can write there can make the agent run what they like; chmod 700 ${dir}`,
    );
}

const WHY: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a file is in the way',
  EEXIST: 'a file of that name is in the way',
};

/** A state directory that cannot be made, said once, with what to do (a raw `EACCES: ... mkdir` says neither). */
function cannotCreate(dir: string, err: NodeJS.ErrnoException): Error {
  const why = err.code ? WHY[err.code] : undefined;
  if (!why) return err;
  // The deepest directory that exists is the one that refused.
  let parent = dirname(dir);
  while (parent !== dirname(parent) && !existsSync(parent)) parent = dirname(parent);
  const user = process.getuid?.() === 0 ? 'root' : 'this user';
  return new StateDirError(
    `cannot create the state directory ${dir}: ${why} (in ${parent}). rollgate keeps what it applied there, and a ` +
      `gateway's agent runs as root: run it as root, choose a directory ${user} can write with --state-dir ` +
      `(stateDir or ROLLGATE_STATE_DIR for the agent), or make ${parent} writable by ${user}`,
  );
}

/**
 * Removes the `*.<pid>.tmp` files an atomic write left when its process died mid-write: in the
 * state directory itself and in each component's directory. Apps' data directories are theirs,
 * and are not looked into.
 */
export async function removeLeftoverTempFiles(stateDir: string): Promise<string[]> {
  const removed: string[] = [];
  const sweep = async (dir: string) => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries)
      if (e.isFile() && /\.\d+\.tmp$/.test(e.name)) {
        await rm(join(dir, e.name), { force: true });
        removed.push(join(dir, e.name));
      }
    return entries;
  };
  await sweep(stateDir);
  await sweep(statePath(stateDir, 'outbox'));
  await sweep(statePath(stateDir, 'processes'));
  const components = statePath(stateDir, 'components');
  for (const e of await readdir(components, { withFileTypes: true }).catch(() => []))
    if (e.isDirectory()) await sweep(join(components, e.name));
  return removed;
}
