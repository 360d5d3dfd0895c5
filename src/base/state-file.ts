// Reading back a file rollgate keeps in its state directory. rollgate writes each one whole, as a
// plain file; what is found there instead (a symlink, a directory, a FIFO that would block the
// read for ever, a file of gigabytes) was put there by someone else, and is refused with what it
// is rather than followed, waited on or read into memory.

import { constants } from 'node:fs';
import { open, readlink } from 'node:fs/promises';

export class StateFileError extends Error {
  override name = 'StateFileError';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

const MiB = 1024 * 1024;

/** Bounds well above what rollgate writes (its history and lists are bounded) and far below a gateway's memory. */
export const STATE_FILE_MAX_BYTES = {
  agentState: 32 * MiB,
  journal: 64 * MiB,
  record: 4 * MiB,
  processes: 1 * MiB,
} as const;

function what(mode: number): string {
  const t = mode & constants.S_IFMT;
  if (t === constants.S_IFDIR) return 'a directory';
  if (t === constants.S_IFIFO) return 'a FIFO';
  if (t === constants.S_IFSOCK) return 'a socket';
  if (t === constants.S_IFCHR || t === constants.S_IFBLK) return 'a device';
  return 'not a plain file';
}

/**
 * The text of `path`, or undefined when there is none. Throws StateFileError, naming the path and
 * what is wrong, for anything but a plain file of at most `maxBytes`; a symlink is not followed.
 */
export async function readStateFile(path: string, maxBytes: number): Promise<string | undefined> {
  let fh;
  try {
    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') {
      const to = await readlink(path).catch(() => '?');
      throw new StateFileError(
        path,
        `${path} is a symbolic link (to ${to}); rollgate keeps a plain file there and does not follow links ` +
          'in its state directory: put the file itself there, or move the link aside',
      );
    }
    throw new StateFileError(path, `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw new StateFileError(path, `${path} is ${what(st.mode)}, not a file rollgate wrote: move it aside`);
    if (st.size > maxBytes)
      throw new StateFileError(
        path,
        `${path} is ${st.size} bytes, more than the ${maxBytes} rollgate ever writes there; it was not read. ` +
          'It was replaced outside rollgate: move it aside',
      );
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const { bytesRead } = await fh.read(buf, got, st.size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got).toString('utf8');
  } catch (err) {
    if (err instanceof StateFileError) throw err;
    throw new StateFileError(path, `cannot read ${path}: ${(err as Error).message}`);
  } finally {
    await fh.close();
  }
}
