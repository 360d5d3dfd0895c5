// Verdict events on their way to the hub, on disk: one file per event in <state-dir>/outbox,
// written atomically before anything is sent and removed only when the hub has acknowledged it.
// A gateway offline for a week keeps its verdicts and sends them when it is back. The outbox is
// bounded: past the bound the oldest events go, and how many went is kept (`lost`) and told to
// the hub with the next report. Heartbeats never queue here: a report carries the status as it
// is when sent, so a stale heartbeat is never kept at all.

import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../base/atomic-write.js';
import type { ReportEvent } from '../model/index.js';

const EVENT_FILE = /^(\d{15})-(\d{6})-([A-Za-z0-9-]{1,64})\.json$/;
const LOST_FILE = 'lost';

interface Entry {
  name: string;
  id: string;
  bytes: number;
}

export interface OutboxProblem {
  file: string;
  message: string;
}

export class Outbox {
  private entries: Entry[] = [];
  private bytes = 0;
  private lostCount = 0;
  private seq = 0;
  /** Files that could not be read back; dropped and counted as lost. */
  readonly problems: OutboxProblem[] = [];

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  /** Opens (and makes) the outbox directory, reading what a previous run left. */
  static async open(dir: string, maxBytes: number): Promise<Outbox> {
    const box = new Outbox(dir, maxBytes);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const name of (await readdir(dir)).sort()) {
      const m = EVENT_FILE.exec(name);
      if (!m) continue;
      const { size } = await stat(join(dir, name));
      box.entries.push({ name, id: m[3]!, bytes: size });
      box.bytes += size;
    }
    const lost = Number((await readFile(join(dir, LOST_FILE), 'utf8').catch(() => '0')).trim());
    box.lostCount = Number.isSafeInteger(lost) && lost > 0 ? lost : 0;
    return box;
  }

  get size(): number {
    return this.entries.length;
  }

  get lost(): number {
    return this.lostCount;
  }

  /** A fresh event id: unique per gateway, which is all the hub asks. */
  static newId(): string {
    return randomUUID();
  }

  /** Writes the event through, then drops the oldest ones while the outbox is over its bound. */
  async add(event: ReportEvent): Promise<void> {
    const text = JSON.stringify(event) + '\n';
    const seq = String(this.seq++ % 1e6).padStart(6, '0');
    const name = `${String(Date.now()).padStart(15, '0')}-${seq}-${event.id}.json`;
    await writeFileAtomic(join(this.dir, name), text);
    const bytes = Buffer.byteLength(text);
    this.entries.push({ name, id: event.id, bytes });
    this.bytes += bytes;
    let dropped = 0;
    // The newest event stays even when it alone is over the bound: it is the one an operator needs.
    while (this.bytes > this.maxBytes && this.entries.length > 1) {
      const old = this.entries.shift()!;
      this.bytes -= old.bytes;
      await rm(join(this.dir, old.name), { force: true });
      dropped++;
    }
    if (dropped) await this.addLost(dropped);
  }

  /** The oldest events, up to `max` of them and about `maxBytes` together (at least one). */
  async oldest(max: number, maxBytes: number): Promise<ReportEvent[]> {
    const out: ReportEvent[] = [];
    let total = 0;
    for (const e of this.entries.slice(0, max)) {
      if (out.length > 0 && total + e.bytes > maxBytes) break;
      try {
        out.push(JSON.parse(await readFile(join(this.dir, e.name), 'utf8')) as ReportEvent);
        total += e.bytes;
      } catch (err) {
        // Torn or changed by hand: it cannot be sent. Dropped, counted, and said.
        this.problems.push({ file: join(this.dir, e.name), message: (err as Error).message });
        await this.forget([e.id]);
        await this.addLost(1);
      }
    }
    return out;
  }

  /** Removes delivered events, and subtracts the lost count the hub was told. */
  async acknowledge(ids: Iterable<string>, lostTold: number): Promise<void> {
    await this.forget(ids);
    if (lostTold > 0) {
      this.lostCount = Math.max(0, this.lostCount - lostTold);
      await writeFileAtomic(join(this.dir, LOST_FILE), `${this.lostCount}\n`);
    }
  }

  /** Drops events the hub will never take, counting them as lost. */
  async drop(ids: string[]): Promise<void> {
    await this.forget(ids);
    await this.addLost(ids.length);
  }

  private async forget(ids: Iterable<string>): Promise<void> {
    const gone = new Set(ids);
    const keep: Entry[] = [];
    for (const e of this.entries) {
      if (!gone.has(e.id)) {
        keep.push(e);
        continue;
      }
      this.bytes -= e.bytes;
      await rm(join(this.dir, e.name), { force: true });
    }
    this.entries = keep;
  }

  private async addLost(n: number): Promise<void> {
    this.lostCount += n;
    await writeFileAtomic(join(this.dir, LOST_FILE), `${this.lostCount}\n`);
  }
}
