// Verdict events on their way to the hub, on disk: one file per event in <state-dir>/outbox,
// written atomically before anything is sent and removed only when the hub has acknowledged it.
// A gateway offline for a week keeps its verdicts and sends them when it is back. The outbox is
// bounded: past the bound the oldest events go, and how many went is kept (`lost`) and told to
// the hub with the next report. Heartbeats never queue here: a report carries the status as it
// is when sent, so a stale heartbeat is never kept at all.
//
// A file that cannot be sent (unreadable, torn, not an event, or whose name and content name
// different events) and an event the hub refuses are moved aside once, to outbox/rejected/
// (bounded), counted as lost: nothing in the outbox can make the reporter send it again and again.
// The outbox also numbers the reports (./sequence.ts lives beside the events it orders).

import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../base/atomic-write.js';
import { storable, type ReportEvent, type ReportSequence } from '../model/index.js';
import type { RecordedMark } from './events.js';
import { ReportSequencer } from './sequence.js';

const EVENT_ID = /^[A-Za-z0-9-]{1,64}$/;
const EVENT_FILE = /^(\d{15})-(\d{6})-([A-Za-z0-9-]{1,64})\.json$/;
const LOST_FILE = 'lost';
export const REJECTED_DIR = 'rejected';
/** What outbox/rejected/ keeps, newest first: enough to see what went wrong, never a full disk. */
const REJECTED_MAX_FILES = 100;
const REJECTED_MAX_BYTES = 1 << 20;
/** Far more than any event written here (its detail is cut at 4000 characters): a larger file is not one. */
const MAX_EVENT_FILE = 256 * 1024;

interface Entry {
  name: string;
  id: string;
  bytes: number;
}

/** A file moved to outbox/rejected/, and why. */
export interface OutboxProblem {
  file: string;
  message: string;
}

/** Why the content of an event file cannot be sent as the event its name says; undefined when it can. */
function wrongShape(doc: unknown, id: string): string | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'it holds no event (not a JSON object)';
  const e = doc as Record<string, unknown>;
  if (typeof e['id'] !== 'string') return 'it holds no event id';
  if (e['id'] !== id) return `its name says event ${id} and its content event ${e['id'].slice(0, 64)}`;
  if (typeof e['at'] !== 'string' || typeof e['verdict'] !== 'string') return 'it holds no event (no at or verdict)';
  return undefined;
}

/** Writes one event file, named so that the outbox's order is the order of writing. */
async function writeEvent(dir: string, event: ReportEvent, seq: number): Promise<Entry> {
  const clean = storable(EVENT_ID.test(event.id) ? event : { ...event, id: Outbox.newId() });
  const text = JSON.stringify(clean) + '\n';
  const name = `${String(Date.now()).padStart(15, '0')}-${String(seq % 1e6).padStart(6, '0')}-${clean.id}.json`;
  await writeFileAtomic(join(dir, name), text);
  return { name, id: clean.id, bytes: Buffer.byteLength(text) };
}

let writerSeq = 0;

const MARK_FILE = 'recorded';

/** The mark of the history entry the outbox holds events up to; undefined when none was written yet. */
export async function readRecordedMark(dir: string): Promise<RecordedMark | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, MARK_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const doc = JSON.parse(text) as Partial<RecordedMark>;
    const ok = (v: unknown) => v === null || typeof v === 'string';
    return ok(doc.key) && ok(doc.at) ? { key: doc.key ?? null, at: doc.at ?? null } : undefined;
  } catch {
    return undefined;
  }
}

export async function writeRecordedMark(dir: string, mark: RecordedMark): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, MARK_FILE), JSON.stringify(mark) + '\n');
}

/**
 * Writes verdict events into the outbox from a process that only adds (the agent's worker, right
 * after it wrote the verdict to the state): the event is on disk even when the agent that reports
 * is killed before it hears of it. The reporting process takes them in with `rescan`, and only it
 * bounds, sends and removes.
 */
export async function writeOutboxEvents(dir: string, events: readonly ReportEvent[]): Promise<void> {
  if (events.length === 0) return;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const e of events) await writeEvent(dir, e, writerSeq++);
}

export class Outbox {
  private entries: Entry[] = [];
  private bytes = 0;
  private lostCount = 0;
  private seq = 0;
  /** Files set aside since the reporter last looked; it says each once. */
  readonly problems: OutboxProblem[] = [];

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly sequencer: ReportSequencer,
  ) {}

  /** Opens (and makes) the outbox directory, reading what a previous run left. */
  static async open(dir: string, maxBytes: number): Promise<Outbox> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const box = new Outbox(dir, maxBytes, await ReportSequencer.open(dir));
    await box.scan();
    const lost = Number((await readFile(join(dir, LOST_FILE), 'utf8').catch(() => '0')).trim());
    box.lostCount = Number.isSafeInteger(lost) && lost > 0 ? lost : 0;
    const reset = box.sequencer.reset;
    if (reset) box.problems.push({ file: join(dir, 'sequence'), message: reset });
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

  /** The place of the next report in this state directory's order. */
  nextSequence(): Promise<ReportSequence> {
    return this.sequencer.next();
  }

  /**
   * Writes the event through, then drops the oldest ones while the outbox is over its bound. Its
   * strings are made storable first (an interface's output may hold a NUL), so the hub can keep it.
   */
  async add(event: ReportEvent): Promise<void> {
    const { name, id, bytes } = await writeEvent(this.dir, event, this.seq++);
    this.entries.push({ name, id, bytes });
    this.bytes += bytes;
    await this.bound();
  }

  /**
   * Takes in the event files another process wrote (the agent's worker, with `writeOutboxEvents`)
   * since this one last looked, oldest first, and keeps the bound. Returns how many came.
   */
  async rescan(): Promise<number> {
    const added = await this.scan();
    if (added) await this.bound();
    return added;
  }

  /** Indexes the event files not indexed yet, keeping the entries in the order of their names. */
  private async scan(): Promise<number> {
    const known = new Set(this.entries.map((e) => e.name));
    let added = 0;
    for (const name of await readdir(this.dir)) {
      const m = EVENT_FILE.exec(name);
      if (!m || known.has(name)) continue;
      const size = await stat(join(this.dir, name)).then(
        (s) => s.size,
        () => undefined, // gone since the listing: acknowledged or set aside meanwhile
      );
      if (size === undefined) continue;
      this.entries.push({ name, id: m[3]!, bytes: size });
      this.bytes += size;
      added++;
    }
    if (added) this.entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return added;
  }

  private async bound(): Promise<void> {
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

  /**
   * The oldest events, up to `max` of them and about `maxBytes` together (at least one). A file
   * that cannot be sent is set aside on the way, and the next one taken.
   */
  async oldest(max: number, maxBytes: number): Promise<ReportEvent[]> {
    const out: ReportEvent[] = [];
    let total = 0;
    for (const e of this.entries.slice(0, max)) {
      if (out.length > 0 && total + e.bytes > maxBytes) break;
      let why: string | undefined;
      let doc: unknown;
      try {
        if (e.bytes > MAX_EVENT_FILE) throw new RangeError(`${e.bytes} bytes, more than any event`);
        doc = JSON.parse(await readFile(join(this.dir, e.name), 'utf8'));
        why = wrongShape(doc, e.id);
      } catch (err) {
        why =
          err instanceof SyntaxError
            ? `it is not JSON, torn or edited by hand (${err.message})`
            : `it cannot be read (${(err as Error).message})`;
      }
      if (why) {
        await this.setAside([e.id], why);
        continue;
      }
      out.push(doc as ReportEvent);
      total += e.bytes;
    }
    return out;
  }

  /** Removes delivered events, and subtracts the lost count the hub was told; returns how many left. */
  async acknowledge(ids: Iterable<string>, lostTold: number): Promise<number> {
    const n = await this.forget(ids);
    if (lostTold > 0) {
      this.lostCount = Math.max(0, this.lostCount - lostTold);
      await writeFileAtomic(join(this.dir, LOST_FILE), `${this.lostCount}\n`);
    }
    return n;
  }

  /**
   * Moves events that will never be sent to outbox/rejected/, once, and counts them as lost;
   * each becomes a problem the reporter says once. Returns how many left the outbox.
   */
  async setAside(ids: string[], why: string): Promise<number> {
    const gone = new Set(ids);
    const keep: Entry[] = [];
    const moved: Entry[] = [];
    for (const e of this.entries) (gone.has(e.id) ? moved : keep).push(e);
    if (moved.length === 0) return 0;
    this.entries = keep;
    const aside = join(this.dir, REJECTED_DIR);
    await mkdir(aside, { recursive: true, mode: 0o700 });
    for (const e of moved) {
      this.bytes -= e.bytes;
      // A file that cannot even be moved is removed: staying would send it again.
      await rename(join(this.dir, e.name), join(aside, e.name)).catch(() =>
        rm(join(this.dir, e.name), { force: true, recursive: true }),
      );
      this.problems.push({ file: join(aside, e.name), message: why });
    }
    await this.pruneRejected();
    await this.addLost(moved.length);
    return moved.length;
  }

  /** Keeps outbox/rejected/ to its newest files, within its bounds. */
  private async pruneRejected(): Promise<void> {
    const aside = join(this.dir, REJECTED_DIR);
    const names = (await readdir(aside).catch(() => [] as string[])).sort().reverse();
    let bytes = 0;
    for (const [i, name] of names.entries()) {
      bytes += (await stat(join(aside, name)).catch(() => ({ size: 0 }))).size;
      if (i >= REJECTED_MAX_FILES || bytes > REJECTED_MAX_BYTES)
        await rm(join(aside, name), { force: true, recursive: true });
    }
  }

  private async forget(ids: Iterable<string>): Promise<number> {
    const gone = new Set(ids);
    const keep: Entry[] = [];
    let n = 0;
    for (const e of this.entries) {
      if (!gone.has(e.id)) {
        keep.push(e);
        continue;
      }
      this.bytes -= e.bytes;
      await rm(join(this.dir, e.name), { force: true });
      n++;
    }
    this.entries = keep;
    return n;
  }

  private async addLost(n: number): Promise<void> {
    this.lostCount += n;
    await writeFileAtomic(join(this.dir, LOST_FILE), `${this.lostCount}\n`);
  }
}
