// Fleet repo files that containers mount, written under the state directory content-addressed:
// `<files>/<app>/<hash>` appears whole or not at all (written aside, fsynced, renamed), so a
// crash never leaves half a tree for a container to mount. Old copies go once nothing uses them.

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
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

/**
 * The modes a tree is written with. Plaintext secrets (a Compose `secrets:` file, a decrypted SOPS
 * file) are root's alone: 0600 files in 0700 directories. They are bind-mounted as Compose mounts a
 * `secrets:` file, the host file's owner and mode as they are (README "Encrypted secrets"). Other
 * files keep the mode git gave them, in directories anyone may enter.
 */
export function treeModes(tree: Pick<FileTree, 'secret'>): { dir: number; file?: number } {
  return tree.secret ? { dir: 0o700, file: 0o600 } : { dir: 0o755 };
}

/** Makes the directories from `root` (which exists) down to `dir`, each with `mode` whatever the umask. */
async function mkdirs(root: string, dir: string, mode: number): Promise<void> {
  const rel = relative(root, dir);
  if (!rel) return;
  let at = root;
  for (const part of rel.split(sep)) {
    at = join(at, part);
    if (await exists(at)) continue;
    await mkdir(at, { mode });
    await chmod(at, mode);
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
  const modes = treeModes(tree);
  await mkdir(tmp, { mode: modes.dir });
  try {
    await chmod(tmp, modes.dir);
    for (const e of tree.entries) {
      const file = join(tmp, ...e.path.split('/'));
      await mkdirs(tmp, dirname(file), modes.dir);
      const mode = modes.file ?? e.mode;
      const fh = await open(file, 'wx', mode);
      try {
        await fh.writeFile(Buffer.from(e.base64, 'base64'));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await chmod(file, mode); // the umask must not change what the container sees
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
