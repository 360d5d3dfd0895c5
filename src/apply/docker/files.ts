// Fleet repo files that containers mount, written under the state directory content-addressed:
// `<files>/<app>/<hash>` appears whole or not at all (written aside, fsynced, renamed), so a
// crash never leaves half a tree for a container to mount. Old copies go once nothing uses them.

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FileTree } from '../../model/index.js';
import { writeError } from '../../base/atomic-write.js';

/** Whether anything is at `p`. */
export const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );

async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes one tree; returns false when it was already there. */
export async function writeTree(filesRoot: string, app: string, tree: FileTree): Promise<boolean> {
  const appDir = join(filesRoot, app);
  const dest = join(appDir, tree.hash);
  if (await exists(dest)) return false;
  // Secrets among these files: only root may look inside on the host.
  await mkdir(filesRoot, { recursive: true, mode: 0o700 });
  await chmod(filesRoot, 0o700);
  await mkdir(appDir, { recursive: true, mode: 0o700 });
  const tmp = join(appDir, `.tmp-${tree.hash.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp, { mode: 0o755 });
  try {
    for (const e of tree.entries) {
      const file = join(tmp, ...e.path.split('/'));
      await mkdir(dirname(file), { recursive: true, mode: 0o755 });
      const fh = await open(file, 'wx', tree.secret ? 0o444 : e.mode);
      try {
        await fh.writeFile(Buffer.from(e.base64, 'base64'));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await chmod(file, tree.secret ? 0o444 : e.mode); // the umask must not change what the container sees
    }
    await fsyncPath(tmp);
    await rename(tmp, dest);
    await fsyncPath(appDir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    // Another writer of the same content got there first: that copy is as good as ours.
    if (await exists(dest)) return false;
    throw writeError(dest, err);
  }
  return true;
}

/** Removes copies no app wants and no container mounts, and leftovers of interrupted writes. */
export async function pruneTrees(filesRoot: string, keep: (app: string, hash: string) => boolean): Promise<string[]> {
  const removed: string[] = [];
  let apps: string[];
  try {
    apps = await readdir(filesRoot);
  } catch {
    return removed;
  }
  for (const app of apps) {
    const appDir = join(filesRoot, app);
    for (const entry of await readdir(appDir).catch(() => [] as string[])) {
      if (!entry.startsWith('.tmp-') && keep(app, entry)) continue;
      await rm(join(appDir, entry), { recursive: true, force: true });
      removed.push(`${app}/${entry}`);
    }
  }
  return removed;
}
