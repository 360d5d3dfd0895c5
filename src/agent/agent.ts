// The daemon's resident part: polls the fleet repo on a schedule (and on triggers: start,
// `rollgate sync`, a change of a local repo), one reconcile at a time, and keeps the state, the
// control socket, metrics and the hub reporter. When a poll finds work — a new head, a commit
// that may run now, drift to check, a gateway to look at again, what a killed worker left — it
// runs the commit lifecycle (src/lifecycle) in a worker process that ends when the work is done
// (./worker.ts); at rest it holds none of it, so what the heavy libraries take and leak goes with
// the worker. What a crash interrupted is resumed before anything new; SIGTERM waits for the step
// in flight.

import type { Server } from 'node:http';
import { watch, type FSWatcher } from 'chokidar';
import type { Log } from '../base/log.js';
import { durationMs as ms } from '../base/duration.js';
import { removeLeftoverTempFiles, secureStateDir } from '../base/state-dir.js';
import { endLeftoverGroups } from '../base/process-group.js';
import { Reason, VERDICTS, type ActivityReason } from '../model/index.js';
import type { LifecycleMemory, Verdict } from '../lifecycle/index.js';
import { restingAnswer, skipBadLine } from './at-rest.js';
import type { Gateway } from '../gateway/gateway.js';
import type { Reporter } from '../report/index.js';
import { ConfigError, type AgentConfig } from './config.js';
import { serveControl } from './control.js';
import { fleetHead, type FleetHead } from './fleet-head.js';
import { gatewayOptions } from './gateway-options.js';
import { LiveView, type LiveStatus } from './live.js';
import { AgentLock } from './lock.js';
import type { PidLock } from '../base/pid-lock.js';
import { AgentMetrics } from './metrics.js';
import { allowPublic } from './redaction.js';
import { catchUpOutbox, startReporting } from './reporting.js';
import { nextPollDelay, retryDelay, type ScheduleSpec } from './schedule.js';
import { StateStore } from './state.js';
import { SystemdNotifier } from './systemd-notify.js';
import { shortCommit } from '../base/short-commit.js';
import { errorMessage } from '../base/error-message.js';
import type { CycleOutcome, TriggerReason, WorkerEvent, WorkerJob } from './worker-protocol.js';
import { WorkerDiedError, WorkerError, WorkerRunner } from './worker-runner.js';

export type { LiveStatus, TriggerReason };

/** Verdicts after which the next poll comes sooner than the schedule, backing off. */
const TRANSIENT = new Set<Verdict['reason']>([
  Reason.PollFailed,
  Reason.PrepareFailed,
  Reason.Error,
  Reason.ConfigError,
]);

export interface AgentOptions {
  config: AgentConfig;
  log: Log;
  notifier?: SystemdNotifier;
}

export class Agent {
  readonly metrics = new AgentMetrics();
  private readonly cfg: AgentConfig;
  private readonly log: Log;
  private readonly notifier: SystemdNotifier;
  private readonly schedule: ScheduleSpec;
  private readonly driftMs: number;
  private readonly retryMs: number;
  private readonly worker: WorkerRunner;
  private head!: FleetHead;
  private state!: StateStore;
  private live!: LiveView;
  private lock?: PidLock;
  private reporter: Reporter | undefined;
  private gateway: Promise<Gateway> | undefined;
  private servers: Server[] = [];
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private running: Promise<Verdict> | undefined;
  /** Everything that decides and writes the state runs in turn: reconciles, the start-up resume, `forget`. */
  private turn: Promise<unknown> = Promise.resolve();
  private queued: Promise<Verdict> | undefined;
  private stopping = false;
  private failuresInRow = 0;
  private lastDriftCheck = 0;
  /** Looks again at a gateway a rollback left stalled: when the last was, and how many in a row found it still so. */
  private lastRecovery = 0;
  private recoveriesInRow = 0;
  private skipLogged: string | undefined;
  /** What the lifecycle keeps between reconciles, handed from each worker to the next. */
  private memory: LifecycleMemory = {};
  /** A worker was killed: the next resumes its journal first, as a restarted agent does. */
  private resumeNext = false;
  /** The poll failure the state notes already: the same again needs no worker to note it. */
  private pollFailure: string | undefined;
  metricsAddress?: string;

  constructor(o: AgentOptions) {
    this.cfg = o.config;
    this.log = o.log;
    this.notifier = o.notifier ?? new SystemdNotifier();
    this.schedule = {
      intervalMs: ms(o.config.schedule.interval, 'schedule.interval'),
      jitterMs: ms(o.config.schedule.jitter, 'schedule.jitter'),
      ...(o.config.schedule.cron ? { cron: o.config.schedule.cron } : {}),
    };
    this.driftMs = ms(o.config.schedule.driftCheck, 'schedule.driftCheck');
    this.retryMs = ms(o.config.schedule.retry, 'schedule.retry');
    this.worker = new WorkerRunner(o.config.stateDir, o.log);
  }

  private get stateDir(): string {
    return this.cfg.stateDir;
  }

  /** Takes the lock, resumes what a crash interrupted, starts the servers, the schedule and the watch. */
  async start(): Promise<void> {
    allowPublic(this.cfg.gateway);
    await secureStateDir(this.stateDir);
    this.lock = await AgentLock.acquire(this.stateDir);
    try {
      const leftovers = await removeLeftoverTempFiles(this.stateDir);
      if (leftovers.length)
        this.log.info({ removed: leftovers }, `removed ${leftovers.length} half-written file(s) a crash left behind`);
      // What a killed agent started (its worker first, then a hung Download on a pipe nobody reads)
      // is ended before its journal resumes.
      await this.endLeftovers();
      this.state = await StateStore.open(this.stateDir);
      this.head = fleetHead(this.cfg);
      this.live = new LiveView(this.state, this.metrics);
      this.live.onChange = () => this.notifier.status(this.live.line());
      this.reporter = await startReporting({
        cfg: this.cfg,
        state: this.state,
        live: this.live,
        // Made when the hub first asks for the inventory: a gateway that reports nothing loads none of it.
        gateway: { inventory: async () => (await this.gatewayForInventory()).inventory() },
        log: this.log,
      });
      if (this.reporter) this.metrics.watchReporting(this.reporter);
      this.live.publish();
      if (this.cfg.metrics.listen !== 'off') {
        const { server, address } = await this.metrics.serve(this.cfg.metrics.listen);
        this.servers.push(server);
        this.metricsAddress = address;
        this.live.status.metrics = `http://${address}/metrics`;
      }
      this.servers.push(
        await serveControl(this.stateDir, {
          sync: () => this.trigger('sync'),
          forget: async (body) => {
            // Loaded when asked: an operator's rare request, no part of the agent at rest.
            const { forgetIn, forgetRequest } = await import('./forget.js');
            const req = forgetRequest(body);
            return this.inTurn(async () => {
              const v = await forgetIn(this.state, req, this.log);
              this.skipLogged = undefined;
              this.live.publish();
              return v;
            });
          },
          live: () => ({ ...this.live.status, ...(this.reporter ? { report: this.reporter.state() } : {}) }),
        }),
      );
      const st = this.state.current;
      this.log.info(
        {
          repo: this.head.description,
          stateDir: this.stateDir,
          applied: st.applied?.commit,
          lastGood: st.lastGood?.commit,
          bad: st.bad.length,
          metrics: this.live.status.metrics,
        },
        `rollgate agent started for gateway ${this.cfg.gateway.id}: following ${this.head.description}; ` +
          `applied ${shortCommit(st.applied?.commit)}, last good ${shortCommit(st.lastGood?.commit)}`,
      );
      this.live.set('applying');
      // The worker reads the keys (a wrong one stops the start, as it always did) and resumes what a crash interrupted.
      await this.inTurn(async () => {
        await this.inWorker({ kind: 'start' });
      });
    } catch (err) {
      await this.close();
      throw err;
    }
    this.live.set('idle');
    if (this.cfg.schedule.watch && this.head.watchPaths.length > 0) this.startWatch();
    this.notifier.ready(this.live.line());
    this.timer = setTimeout(() => void this.trigger('start'), 0);
  }

  private endLeftovers(): Promise<number[]> {
    return endLeftoverGroups(this.stateDir, ms(this.cfg.interfaces.killGrace, 'interfaces.killGrace'), this.log);
  }

  private gatewayForInventory(): Promise<Gateway> {
    return (this.gateway ??= import('../gateway/gateway.js').then(
      ({ Gateway }) => new Gateway(gatewayOptions(this.cfg), this.log),
    ));
  }

  /** Reconcile now (or right after the one running; calls while one waits share it). */
  trigger(reason: TriggerReason): Promise<Verdict> {
    if (this.stopping) return Promise.resolve({ reason: Reason.Stopping });
    if (!this.running) {
      if (this.timer) clearTimeout(this.timer);
      this.running = this.inTurn(() => this.cycle(reason))
        .catch((err: unknown): Verdict => {
          this.log.error({ err: errorMessage(err) }, `reconcile failed: ${errorMessage(err)}`);
          return { reason: Reason.Error, detail: errorMessage(err) };
        })
        .finally(() => {
          this.running = undefined;
          this.live.set('idle');
        });
      void this.running.then((r) => this.scheduleNext(r));
      return this.running;
    }
    const first = this.running;
    this.queued ??= first.then(() => {
      this.queued = undefined;
      return this.trigger(reason);
    });
    // Asked while a reconcile ran: if the one after it finds nothing new, the answer is the one that ran.
    return Promise.all([first, this.queued]).then(([a, b]) =>
      b.reason === Reason.Unchanged && a.reason !== Reason.Unchanged ? a : b,
    );
  }

  /** Runs `fn` after whatever decides and writes the state now has ended. */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.catch(() => {});
    return run;
  }

  private scheduleNext(last: Verdict): void {
    if (this.stopping || this.queued) return;
    const regular = nextPollDelay(this.schedule);
    const transient = TRANSIENT.has(last.reason);
    this.failuresInRow = transient ? this.failuresInRow + 1 : 0;
    const delay = transient ? Math.min(regular, retryDelay(this.retryMs, this.failuresInRow, regular)) : regular;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.trigger('schedule'), delay);
    this.live.status.nextPollAt = new Date(Date.now() + delay).toISOString();
    this.notifier.status(this.live.line());
  }

  /** SIGTERM: no new reconcile starts; the one in flight (and its health window) runs to its end. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.notifier.stopping();
    if (this.timer) clearTimeout(this.timer);
    if (this.running) {
      this.live.stopRequested();
      this.worker.stopRequested();
      const { phase, commit } = this.live.status;
      this.log.info(
        { phase, commit },
        `stopping once the reconcile in flight ends (${phase}${commit ? ` ${shortCommit(commit)}` : ''}); ` +
          'a second SIGTERM stops at once, and the journal resumes it at the next start',
      );
      await this.running.catch(() => {});
    }
    this.live.set('stopping');
    await this.close();
    this.log.info({}, 'rollgate agent stopped');
  }

  /** A second SIGTERM: the worker is killed with the agent (the journal resumes its work at the next start). */
  abort(): void {
    this.worker.killNow();
  }

  private async close(): Promise<void> {
    await this.reporter?.stop();
    await this.watcher?.close();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers = [];
    await this.lock?.release();
  }

  private startWatch(): void {
    let debounce: NodeJS.Timeout | undefined;
    this.watcher = watch(this.head.watchPaths, { ignoreInitial: true, persistent: true, depth: 5 });
    this.watcher.on('all', (_event, path) => {
      if (path.endsWith('.lock')) return;
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(() => {
        this.log.debug({ path }, 'the fleet repo changed on disk');
        void this.trigger('watch');
      }, 300);
    });
    this.watcher.on('error', (err) =>
      this.log.warn(
        { err: errorMessage(err) },
        `watching the fleet repo failed: ${errorMessage(err)}; the schedule still polls`,
      ),
    );
  }

  private set(activity: ActivityReason, commit?: string): void {
    this.live.set(activity, commit);
  }

  /**
   * One poll, and what follows from it. The poll and the decisions the state alone makes (nothing
   * new, a bad commit skipped) are made here; everything else — choosing, applying, repairing,
   * recovering — in a worker.
   */
  private async cycle(reason: TriggerReason): Promise<Verdict> {
    this.set('polling');
    let head: string;
    try {
      head = await this.head.head();
    } catch (err) {
      const why = errorMessage(err);
      this.live.polled(undefined, why);
      this.metrics.polls.inc({ result: Reason.PollFailed });
      this.log.warn({ verdict: Reason.PollFailed, err: why }, `poll failed, the gateway is left as it is: ${why}`);
      const v: Verdict = { reason: Reason.PollFailed, detail: why };
      // Noting it changes the state (its conditions, the last error): the lifecycle's, so the
      // worker's; the same failure again is noted already.
      if (this.pollFailure === why) return v;
      const done = await this.inWorker({ kind: 'poll-failed', error: why });
      if (done) this.pollFailure = why;
      return done?.verdict ?? v;
    }
    this.pollFailure = undefined;
    const driftDue = reason === 'sync' || Date.now() - this.lastDriftCheck >= this.driftMs;
    // A stalled gateway is looked at again soon after, then less and less often, up to the drift check's period.
    const recoverDue =
      reason === 'sync' ||
      Date.now() - this.lastRecovery >= Math.min(this.driftMs, this.retryMs * 2 ** this.recoveriesInRow);
    const rest =
      reason === 'sync' || this.resumeNext
        ? undefined
        : restingAnswer(this.state.current, head, this.memory, driftDue, recoverDue, Date.now());
    if (rest) {
      this.live.polled(head);
      if (rest.kind === 'unchanged') {
        this.metrics.polls.inc({ result: Reason.Unchanged });
        return rest.verdict;
      }
      this.metrics.polls.inc({ result: Reason.KnownBad });
      if (this.skipLogged !== rest.commit) {
        this.log.warn(
          { verdict: Reason.KnownBad, commit: rest.commit, reason: rest.bad.reason },
          skipBadLine(head, rest.commit, rest.bad, this.state.current.applied?.commit),
        );
        this.skipLogged = rest.commit;
      }
      return rest.verdict;
    }
    const job: WorkerJob = {
      kind: 'cycle',
      reason,
      driftDue,
      recoverDue,
      resume: this.resumeNext,
      ...(this.skipLogged ? { skipLogged: this.skipLogged } : {}),
    };
    const o = await this.inWorker(job);
    if (!o)
      return { reason: Reason.Error, detail: "the agent's worker was killed; its work is resumed at the next poll" };
    return o.verdict;
  }

  /**
   * What a worker wrote: the state file, and the verdicts it put in the outbox for the reporter.
   * Once it has ended, also the verdicts it recorded and was killed before putting in the outbox.
   */
  private async takeIn(ended = true): Promise<void> {
    await this.state.reload();
    if (ended && this.reporter) await catchUpOutbox({ cfg: this.cfg, state: this.state, log: this.log }, this.reporter);
    await this.reporter?.collect();
  }

  /**
   * Runs a job in a worker (the caller holds the turn: nothing here writes the state meanwhile)
   * and takes in what it came to: the state file again, the lifecycle's memory, the metrics and
   * timers. Undefined when the worker was killed: that is logged, and the next worker resumes
   * its journal. The worker's own errors are thrown (a ConfigError as one).
   */
  private async inWorker(job: WorkerJob): Promise<CycleOutcome | undefined> {
    const events = this.live.events();
    const onMessage = async (m: WorkerEvent) => {
      switch (m.type) {
        case 'activity':
          return this.live.set(m.phase, m.commit, m.progress);
        case 'progress':
          return this.live.progress(m.progress);
        case 'rolling-back':
          return void this.metrics.rollbacks.inc({ reason: m.kind });
        case 'verdict':
          // The worker has written it: the state is read again before the gauges and the reporter look.
          await this.takeIn(false);
          return events.verdict(m.verdict);
      }
    };
    let result: Awaited<ReturnType<WorkerRunner['run']>>;
    try {
      result = await this.worker.run(this.cfg, job, this.memory, onMessage);
    } catch (err) {
      await this.takeIn().catch(() => {});
      this.live.publish();
      if (err instanceof WorkerError) throw err.name === 'ConfigError' ? new ConfigError(err.message) : err;
      if (!(err instanceof WorkerDiedError)) throw err;
      this.log.error(
        { err: err.message, code: err.code, signal: err.signal, job: job.kind },
        `${err.message}; what it did is resumed from its journal by the next worker`,
      );
      // As a restarted agent: what the dead worker started is ended, and its memory is gone.
      await this.endLeftovers();
      this.resumeNext = true;
      this.memory = {};
      return undefined;
    }
    this.resumeNext = false;
    this.memory = result.memory;
    await this.takeIn();
    this.live.publish();
    const o = result.outcome;
    if (o.polled) this.live.polled(o.polled.commit, o.polled.error);
    if (o.polls) this.metrics.polls.inc({ result: o.polls });
    if (o.durationS !== undefined) this.metrics.duration.observe(o.durationS);
    if (o.reconcile) this.countReconcile(o.verdict);
    if (o.action === 'apply' || o.action === 'check-drift') this.lastDriftCheck = Date.now();
    if (o.action === 'recover') {
      this.lastRecovery = Date.now();
      this.recoveriesInRow = o.verdict.reason === Reason.KnownBad ? this.recoveriesInRow + 1 : 0;
    }
    if (job.kind === 'cycle') this.skipLogged = o.skipLogged;
    return o;
  }

  /** Counted under the label its row in the verdict table gives (none: not a reconcile's end). */
  private countReconcile(v: Verdict): void {
    const result = VERDICTS[v.reason].reconciles;
    if (result !== null) this.metrics.reconciles.inc({ result });
  }
}
