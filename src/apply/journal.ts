// The journal of the transaction in flight (safety rule 4): every step is recorded as started
// before it runs and as done after, so an agent that starts after a crash knows what to undo or
// to finish.

import { rm } from 'node:fs/promises';
import { DESIRED_STATE_SHAPE, PLAN_SHAPE } from '../model/index.js';
import type { DesiredState, Plan, TransactionPhase } from '../model/index.js';
import type { Interruption, StepRecord } from './applier.js';
import { writeFileAtomic } from '../base/atomic-write.js';
import { describeProblem, fields, optional, shapeProblem, type Shape } from '../base/shape.js';
import { readStateFile, StateFileError, STATE_FILE_MAX_BYTES } from '../base/state-file.js';

/** `commit`: confirmed, components being committed; a failed commit still rolls everything back. */

export interface JournalData {
  schema: 'rollgate.journal/v1';
  txn: string;
  startedAt: string;
  phase: TransactionPhase;
  plan: Plan;
  steps: Record<string, StepRecord>;
  /** Step ids in the order they started (status shows the steps in progress in this order). */
  order: string[];
  error?: string;
  /**
   * Set when the transaction stopped because of the gateway, not the commit (the Docker Engine
   * away, the disk full): it goes on from here rather than being put back. `failure`: it had
   * failed already, and was about to be rolled back.
   */
  suspended?: Suspension;
}

export interface Suspension {
  reason: Interruption;
  at: string;
  error: string;
  failure?: string;
}

export class JournalError extends Error {
  override name = 'JournalError';
}

const STEP_RECORD_SHAPE: Shape = fields<StepRecord>({
  status: 'string',
  containerId: optional('string'),
  image: optional('string'),
  error: optional('string'),
  reboot: optional({ literal: 'gateway' }),
});

/** The journal's shape (src/base/shape.ts), checked whenever it is read back. */
const JOURNAL_SHAPE: Shape = fields<JournalData>({
  schema: { literal: 'rollgate.journal/v1' },
  txn: 'string',
  startedAt: 'string',
  phase: 'string',
  plan: PLAN_SHAPE,
  steps: { map: STEP_RECORD_SHAPE },
  order: { list: 'string' },
  suspended: optional(
    fields<Suspension>({ reason: 'string', at: 'string', error: 'string', failure: optional('string') }),
  ),
  error: optional('string'),
});

const DAMAGED =
  'It was written atomically, so this is damage from outside rollgate. Inspect it, then move it aside to ' +
  'continue (mv it to a name ending in .broken); what it was applying is not put back then: check the gateway by hand';

/** Reads a file of the journal; a wrong one is a JournalError naming it, never a TypeError later. */
async function readJournalFile(path: string, what: string): Promise<string | undefined> {
  try {
    return await readStateFile(path, STATE_FILE_MAX_BYTES.journal);
  } catch (err) {
    if (err instanceof StateFileError) throw new JournalError(`the ${what}: ${err.message}`);
    throw err;
  }
}

function parseJournalFile(path: string, text: string, shape: Shape, what: string): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new JournalError(`the ${what} ${path} is not valid JSON (${(err as Error).message}). ${DAMAGED}`);
  }
  const wrong = shapeProblem(doc, shape);
  if (wrong) throw new JournalError(`the ${what} ${path} is damaged: ${describeProblem(wrong)}. ${DAMAGED}`);
  return doc;
}

export class Journal {
  private data: JournalData | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** The write that will carry changes made now; undefined once it has started. */
  private next: Promise<void> | undefined;

  constructor(readonly path: string) {}

  /** The journal left by an interrupted apply, if any. A file that cannot be read is an error, never ignored. */
  async load(): Promise<JournalData | undefined> {
    const text = await readJournalFile(this.path, 'journal');
    if (text === undefined) return undefined;
    this.data = parseJournalFile(this.path, text, JOURNAL_SHAPE, 'journal') as JournalData;
    return this.data;
  }

  get current(): JournalData {
    if (!this.data) throw new JournalError('no transaction in the journal');
    return this.data;
  }

  /** The desired state the transaction applies, kept beside the journal for a resume after a reboot. */
  get desiredPath(): string {
    return `${this.path}.desired`;
  }

  async loadDesired(): Promise<DesiredState | undefined> {
    const text = await readJournalFile(this.desiredPath, 'desired state of the journal');
    if (text === undefined) return undefined;
    return parseJournalFile(
      this.desiredPath,
      text,
      DESIRED_STATE_SHAPE,
      'desired state of the journal',
    ) as DesiredState;
  }

  async begin(txn: string, plan: Plan, desired?: DesiredState): Promise<void> {
    if (desired) await writeFileAtomic(this.desiredPath, JSON.stringify(desired));
    else await rm(this.desiredPath, { force: true });
    this.data = {
      schema: 'rollgate.journal/v1',
      txn,
      startedAt: new Date().toISOString(),
      phase: 'prepare',
      plan,
      steps: {},
      order: [],
    };
    await this.flush();
  }

  async phase(phase: TransactionPhase, error?: string): Promise<void> {
    this.current.phase = phase;
    if (error !== undefined) this.current.error = error;
    await this.flush();
  }

  /** Marks the transaction as paused by the gateway; cleared by `resume`. */
  async suspend(s: Suspension): Promise<void> {
    this.current.suspended = s;
    await this.flush();
  }

  async resume(): Promise<void> {
    if (!this.current.suspended) return;
    delete this.current.suspended;
    await this.flush();
  }

  async step(id: string, record: StepRecord): Promise<void> {
    const d = this.current;
    if (!(id in d.steps)) d.order.push(id);
    d.steps[id] = { ...d.steps[id], ...record };
    await this.flush();
  }

  /**
   * Records a step as finished without waiting for the disk: every later write carries it, and
   * a crash before then leaves it `started`, which resume treats the same way (undo both).
   */
  stepDone(id: string, record: StepRecord): void {
    const d = this.current;
    if (!(id in d.steps)) d.order.push(id);
    d.steps[id] = { ...d.steps[id], ...record };
    this.flush().catch(() => {}); // a failing disk surfaces at the next awaited write
  }

  async clear(): Promise<void> {
    await this.writing.catch(() => {});
    this.data = undefined;
    await rm(this.path, { force: true });
    await rm(this.desiredPath, { force: true });
  }

  /**
   * Group commit: concurrent steps share one atomic write. A caller's change is durable once a
   * write that started after the change has finished; writes never overlap.
   */
  private flush(): Promise<void> {
    if (!this.next) {
      this.next = this.writing
        .catch(() => {})
        .then(() => {
          this.next = undefined;
          return writeFileAtomic(this.path, JSON.stringify(this.data, null, 1));
        });
      this.writing = this.next;
    }
    return this.next;
  }
}
