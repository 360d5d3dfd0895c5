// Write, fsync, rename, fsync the directory: after a crash or power loss the file holds either
// the old content or the new, never a torn mix. A failure names the file and, for a full disk,
// says so: the agent's records are small, so ENOSPC means the gateway's disk is full.

import { open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export class WriteError extends Error {
  override name = 'WriteError';
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** An error of writing `path`, with the path and a plain reason. */
export function writeError(path: string, err: unknown): WriteError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOSPC'
      ? 'no space left on the device; free some (old images, logs) and the agent goes on'
      : code === 'EDQUOT'
        ? 'the disk quota is exceeded'
        : code === 'EROFS'
          ? 'the file system is read-only'
          : (err as Error).message;
  return new WriteError(path, code, `cannot write ${path}: ${why}`);
}

/**
 * @param opts.durable false: no fsync, for a record only a killed process (not a power cut) must
 * find whole (the page cache outlives the process; a power cut ends what the record names anyway)
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: { durable?: boolean } = {},
): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const durable = opts.durable ?? true;
  try {
    await writeFile(tmp, data, { mode: 0o600 });
    if (durable) {
      const fh = await open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await rename(tmp, path);
    if (!durable) return;
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw writeError(path, err);
  }
}
