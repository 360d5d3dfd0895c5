// Sends the outbox and the gateway's status to the hub, beside the agent and never in its way:
// recording a verdict is one small file write, and everything the network does happens in this
// loop, on its own timers. A dead hub is a warning (said once per outage, with how much waits);
// the events wait on disk and go, oldest first, when the hub answers again.

import type { Log } from '../base/log.js';
import {
  REPORT_SCHEMA,
  storable,
  type Report,
  type ReportEvent,
  type ReportReceipt,
  type ReportStatus,
} from '../model/index.js';
import type { Outbox } from './outbox.js';
import { HubError, postJson } from './post.js';

export interface ReporterOptions {
  /** The hub's address; reports go to <url>/api/v1/reports. */
  url: string;
  token: string;
  /** PEM certificates to trust; Node's `ca`, so it replaces the defaults (see withDefaultCas). */
  ca?: string | string[];
  gateway: string;
  heartbeatMs: number;
  outbox: Outbox;
  /** The gateway's status now; it must not fail (it falls back to what it knew). */
  status(): Promise<ReportStatus>;
  log: Log;
  /** Per request. */
  timeoutMs?: number;
  /** First delay after a failure; doubled each time up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

const BATCH_EVENTS = 100;
const BATCH_BYTES = 256 * 1024;

const jittered = (ms: number, part: number) => Math.round(ms * (1 - part + Math.random() * part * 2));

/** How reporting goes, for `rollgate status` and the agent's metrics. */
export interface ReportingState {
  url: string;
  /** Events in the outbox. */
  waiting: number;
  /** Events dropped from a full outbox, not yet told to the hub. */
  lost: number;
  /** ISO time of the last report the hub took. */
  lastDelivered?: string;
  /** The hub out of reach: since when, and why. */
  outage?: { since: string; error: string };
}

export function reportsUrl(base: string): URL {
  const u = new URL(base);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/api/v1/reports`;
  return u;
}

export class Reporter {
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private failures = 0;
  private batch = BATCH_EVENTS;
  private outage: { since: number; message: string } | undefined;
  private readonly url: URL;
  /** Reports delivered, for tests and the status line. */
  delivered = 0;
  private lastDelivered: string | undefined;
  /** The status of this round of sending; read again after a new verdict, not for every batch of a backlog. */
  private status: ReportStatus | undefined;

  constructor(private readonly o: ReporterOptions) {
    this.url = reportsUrl(o.url);
  }

  /** Sends the status now, then on the heartbeat. */
  start(): void {
    this.kick();
  }

  /** Writes verdicts to the outbox (before anything is sent) and sends them soon. Never throws. */
  async record(events: ReportEvent[]): Promise<void> {
    for (const e of events) {
      try {
        await this.o.outbox.add(e);
      } catch (err) {
        this.o.log.warn(
          { err: (err as Error).message, verdict: e.verdict },
          `a ${e.verdict} verdict could not be written to the report outbox; the hub will not hear of it: ` +
            (err as Error).message,
        );
      }
    }
    if (events.length) {
      this.status = undefined;
      this.kick();
    }
  }

  /** Takes in the events another process wrote to the outbox (the agent's worker) and sends them soon. */
  async collect(): Promise<void> {
    try {
      if ((await this.o.outbox.rescan()) === 0) return;
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, `the report outbox cannot be read: ${(err as Error).message}`);
      return;
    }
    this.status = undefined;
    this.kick();
  }

  state(): ReportingState {
    return {
      url: this.o.url,
      waiting: this.o.outbox.size,
      lost: this.o.outbox.lost,
      ...(this.lastDelivered ? { lastDelivered: this.lastDelivered } : {}),
      ...(this.outage
        ? { outage: { since: new Date(this.outage.since).toISOString(), error: this.outage.message } }
        : {}),
    };
  }

  /** Send as soon as the loop is free. */
  kick(): void {
    if (this.stopped) return;
    if (this.sending) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.sending = this.loop().finally(() => {
      this.sending = undefined;
    });
  }

  /** Stops the timers and abandons a send in flight: what it carried stays in the outbox. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.sending;
  }

  private async loop(): Promise<void> {
    let delay = this.o.heartbeatMs;
    this.status = undefined; // each round (a heartbeat, a retry, a verdict) sends the status as it is now
    try {
      do {
        this.again = false;
        await this.sendOnce();
      } while ((this.again || this.o.outbox.size > 0) && !this.stopped);
      if (this.outage) {
        const secs = Math.round((Date.now() - this.outage.since) / 1000);
        this.o.log.info({ hub: this.o.url }, `the hub answers again after ${secs}s; the outbox is delivered`);
        this.outage = undefined;
      }
      this.failures = 0;
      delay = jittered(this.o.heartbeatMs, 0.1);
    } catch (err) {
      delay = this.failed(err);
    }
    if (!this.stopped) this.timer = setTimeout(() => this.kick(), delay).unref();
  }

  /** One report: the status and the oldest events; what the hub acknowledges leaves the outbox. */
  private async sendOnce(): Promise<void> {
    const box = this.o.outbox;
    const events = await box.oldest(this.batch, BATCH_BYTES);
    this.sayProblems();
    const lost = box.lost;
    const report: Report = {
      schema: REPORT_SCHEMA,
      gateway: this.o.gateway,
      sentAt: new Date().toISOString(),
      sequence: await box.nextSequence(),
      // Made storable here as events are in the outbox: a NUL in a condition's message must not cost the report.
      status: (this.status ??= storable(await this.o.status())),
      events,
      lost,
    };
    let receipt: ReportReceipt;
    try {
      receipt = (await postJson(this.url, report, {
        token: this.o.token,
        timeoutMs: this.o.timeoutMs ?? 30_000,
        signal: this.abort.signal,
        ...(this.o.ca ? { ca: this.o.ca } : {}),
      })) as ReportReceipt;
    } catch (err) {
      if (err instanceof HubError && err.kind === 'too-large' && this.batch > 1) {
        this.batch = Math.max(1, Math.floor(this.batch / 2));
        this.again = true;
        return;
      }
      // Any other refusal is of the report as a whole (the hub refuses events one by one in its
      // answer): no event is to blame, so none is dropped; they wait, and the error says why.
      throw err;
    }
    let left = await box.acknowledge([...(receipt.accepted ?? []), ...(receipt.duplicates ?? [])], lost);
    for (const r of Array.isArray(receipt.refused) ? receipt.refused : []) {
      const e = events.find((x) => x.id === r?.id);
      if (!e) continue;
      this.o.log.error(
        { hub: this.o.url, event: e.id },
        `the hub refuses the ${e.verdict} event of ${e.at} (${String(r.error)}); it is dropped and counted as lost`,
      );
      left += await box.setAside([e.id], `the hub refuses it: ${String(r.error)}`);
      this.again = true; // the next report tells the hub it is lost
    }
    box.problems.splice(0); // refused events were said just now
    this.delivered++;
    this.lastDelivered = new Date().toISOString();
    // After a too-large batch, batches grow back.
    this.batch = Math.min(BATCH_EVENTS, this.batch * 2);
    // Each round must empty some of the outbox, or it would send the same events again at once.
    if (events.length > 0 && left === 0)
      throw new HubError('rejected', 'the hub answered without taking or refusing any of the events it was sent');
  }

  /** Says each file the outbox set aside, once. */
  private sayProblems(): void {
    for (const p of this.o.outbox.problems.splice(0))
      this.o.log.warn(
        { file: p.file },
        `an outbox file cannot be sent and is set aside (counted as lost): ${p.message}; it is kept in ${p.file}`,
      );
  }

  private failed(err: unknown): number {
    if (this.stopped) return 0;
    this.failures++;
    const message = err instanceof Error ? err.message : String(err);
    const base = this.o.backoffMs ?? 1000;
    const max = Math.min(this.o.maxBackoffMs ?? 5 * 60_000, Math.max(base, this.o.heartbeatMs));
    const delay = jittered(Math.min(max, base * 2 ** Math.min(this.failures - 1, 20)), 0.2);
    const waiting = this.o.outbox.size;
    const again = this.outage?.message === message;
    if (err instanceof HubError && err.kind === 'refused') {
      this.o.log.error(
        { hub: this.o.url, err: message },
        `the hub refuses this gateway's token (${message}): check report.tokenFile against ` +
          `\`rollgate hub gateway add ${this.o.gateway}\`; ${waiting} event(s) wait in the outbox`,
      );
    } else if (err instanceof HubError && err.kind === 'rejected') {
      if (!again)
        this.o.log.error(
          { hub: this.o.url, err: message },
          `the hub refuses this gateway's reports (${message}); the ${waiting} event(s) in the outbox wait, and ` +
            'reports are tried again with backoff: the hub and this agent may be of different versions',
        );
    } else if (!this.outage || this.outage.message !== message) {
      this.o.log.warn(
        { hub: this.o.url, err: message, waiting },
        `the hub at ${this.o.url} is out of reach (${message}); the gateway goes on, and ${waiting} event(s) ` +
          `wait in the outbox (retrying with backoff)`,
      );
    }
    this.outage ??= { since: Date.now(), message };
    this.outage.message = message;
    return delay;
  }
}
