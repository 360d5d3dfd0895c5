// The journal of the transaction in flight (safety rule 4): every step is recorded as started
// before it runs and as done after, so an agent that starts after a crash knows what to undo or
// to finish.

import { readFile, rm } from 'node:fs/promises';
import type { DesiredState, Plan, TransactionPhase } from '../model/index.js';
import type { Interruption, StepRecord } from './applier.js';
import { writeFileAtomic } from '../base/atomic-write.js';

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

export class Journal {
  private data: JournalData | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** The write that will carry changes made now; undefined once it has started. */
  private next: Promise<void> | undefined;

  constructor(readonly path: string) {}

  /** The journal left by an interrupted apply, if any. A file that cannot be read is an error, never ignored. */
  async load(): Promise<JournalData | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let data: JournalData;
    try {
      data = JSON.parse(text) as JournalData;
    } catch (err) {
      throw new JournalError(
        `the journal ${this.path} is not valid JSON (${(err as Error).message}); it was written atomically, so ` +
          `this is damage from outside rollgate. Inspect it, then remove it to continue.`,
      );
    }
    if (data.schema !== 'rollgate.journal/v1')
      throw new JournalError(
        `the journal ${this.path} has schema "${String(data.schema)}", which this rollgate does not know`,
      );
    const wrong =
      typeof data.txn !== 'string'
        ? 'txn is not a string'
        : typeof data.phase !== 'string'
          ? 'phase is not a string'
          : typeof data.steps !== 'object' || data.steps === null || Array.isArray(data.steps)
            ? 'steps is not a map of step records'
            : !Array.isArray(data.order)
              ? 'order is not a list'
              : typeof data.plan !== 'object' || data.plan === null || !Array.isArray(data.plan.stages)
                ? 'plan is not a plan'
                : undefined;
    if (wrong)
      throw new JournalError(
        `the journal ${this.path} is damaged: ${wrong}. It was written atomically, so this is damage from ` +
          'outside rollgate. Inspect it, then remove it to continue (what it was applying is not put back then)',
      );
    this.data = data;
    return data;
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
    try {
      return JSON.parse(await readFile(this.desiredPath, 'utf8')) as DesiredState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new JournalError(`cannot read ${this.desiredPath}: ${(err as Error).message}`);
    }
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
