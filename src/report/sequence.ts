// The order of a gateway's reports: a number that grows with every report and survives restarts,
// and the id of the numbering (`boot`), kept in <state-dir>/outbox/sequence. Numbers are reserved
// a block at a time, so a report costs no write to disk; a restart skips what was left of the
// block, which keeps the order. A state directory without the file (new, or wiped) starts a new
// numbering, and so does one whose file cannot be read: the hub takes a numbering it has never
// seen as newer than the ones it has.

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../base/atomic-write.js';
import type { ReportSequence } from '../model/index.js';

const FILE = 'sequence';
const BLOCK = 1000;
const BOOT = /^[A-Za-z0-9-]{1,64}$/;

export class ReportSequencer {
  private nextSeq: number;
  private written: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly boot: string,
    /** The highest number that may have been used, as the file says. */
    private reserved: number,
    /** Why a numbering was started anew over a file that was there; undefined otherwise. */
    readonly reset: string | undefined,
  ) {
    this.nextSeq = reserved + 1;
  }

  static async open(dir: string): Promise<ReportSequencer> {
    const file = join(dir, FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return new ReportSequencer(file, randomUUID(), 0, undefined);
      return new ReportSequencer(
        file,
        randomUUID(),
        0,
        `it cannot be read (${(err as Error).message}); reports are numbered anew`,
      );
    }
    try {
      const doc = JSON.parse(text) as { boot?: unknown; reserved?: unknown };
      if (
        typeof doc.boot === 'string' &&
        BOOT.test(doc.boot) &&
        Number.isSafeInteger(doc.reserved) &&
        (doc.reserved as number) >= 0 &&
        (doc.reserved as number) < Number.MAX_SAFE_INTEGER - BLOCK
      )
        return new ReportSequencer(file, doc.boot, doc.reserved as number, undefined);
    } catch {
      // said below
    }
    return new ReportSequencer(file, randomUUID(), 0, 'it is not what rollgate wrote; reports are numbered anew');
  }

  /** The next place; a number is handed out only once the block it is in is on disk. */
  next(): Promise<ReportSequence> {
    const seq = this.nextSeq++;
    let written = this.written;
    if (seq > this.reserved) {
      const reserved = seq + BLOCK - 1;
      this.reserved = reserved;
      written = this.written.then(() =>
        writeFileAtomic(this.file, JSON.stringify({ boot: this.boot, reserved }) + '\n'),
      );
      // A failed write (a full disk) leaves the block unreserved, so the next report writes it again.
      this.written = written.catch(() => {
        this.reserved = Math.min(this.reserved, seq - 1);
      });
    }
    return written.then(() => ({ boot: this.boot, seq }));
  }
}
