// One process per directory: the agent per state directory, the hub per embedded database. The
// lock file names the holder's pid and its start time (from /proc), so a lock left by a killed
// process is recognised as stale even if the pid was reused.

import { open, readFile, unlink } from 'node:fs/promises';
import { startTime } from './proc.js';

interface Holder {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot; with the pid, unique. */
  started: string;
  since: string;
}

export class LockedError extends Error {
  override name = 'LockedError';
}

function alive(h: Holder): boolean {
  const now = startTime(h.pid);
  return now !== undefined && now === h.started;
}

export class PidLock {
  private constructor(readonly file: string) {}

  /** Takes `file`; `held` says, for the error, who holds it. */
  static async acquire(file: string, held: (pid: number, since: string) => string): Promise<PidLock> {
    const me: Holder = { pid: process.pid, started: startTime(process.pid) ?? '', since: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(file, 'wx', 0o600);
        await fh.writeFile(JSON.stringify(me) + '\n');
        await fh.sync();
        await fh.close();
        return new PidLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
          throw new LockedError(`cannot create the lock ${file}: ${(err as Error).message}`);
      }
      let holder: Holder | undefined;
      try {
        holder = JSON.parse(await readFile(file, 'utf8')) as Holder;
      } catch {
        holder = undefined; // torn by a crash between create and write: stale
      }
      if (holder && alive(holder)) throw new LockedError(held(holder.pid, holder.since));
      await unlink(file).catch(() => {});
    }
    throw new LockedError(`could not take the lock ${file}: another process keeps taking it`);
  }

  async release(): Promise<void> {
    await unlink(this.file).catch(() => {});
  }
}
