// The daemon: polls the fleet repo on a schedule (and on triggers: start, `rollgate sync`, a
// change of a local repo), one reconcile at a time, and hands each commit to the commit
// lifecycle (src/lifecycle), which decides and records what happens to it. What a crash
// interrupted is resumed before anything new; SIGTERM waits for the step in flight.

import type { Server } from 'node:http';
import { watch, type FSWatcher } from 'chokidar';
import type { Log } from '../base/log.js';
import { durationMs as ms } from '../base/duration.js';
import { removeLeftoverTempFiles, secureStateDir } from '../base/state-dir.js';
import { endLeftoverGroups } from '../base/process-group.js';
import { Reason, VERDICTS, type ActivityReason } from '../model/index.js';
import { afterPoll, badRecord, CommitLifecycle, type Verdict } from '../lifecycle/index.js';
import { Gateway, readVariables } from '../gateway/gateway.js';
import type { Reporter } from '../report/index.js';
import { SyncError } from '../sync/index.js';
import { DecryptionKeyError, readDecryptionKeys, readTrustedKeys } from '../trust/index.js';
import { ConfigError, type AgentConfig } from './config.js';
import { serveControl } from './control.js';
import { forgetIn, forgetRequest } from './forget.js';
import type { FleetSource } from './fleet-source.js';
import { LiveView, type LiveStatus } from './live.js';
import { AgentLock } from './lock.js';
import type { PidLock } from '../base/pid-lock.js';
import { AgentMetrics } from './metrics.js';
import { allowPublic } from './redaction.js';
import { agentFleetSource, gatewayOptions, lifecyclePorts } from './ports.js';
import { startReporting } from './reporting.js';
import { nextPollDelay, retryDelay, type ScheduleSpec } from './schedule.js';
import { StateStore } from './state.js';
import { SystemdNotifier } from './systemd-notify.js';
import { shortCommit } from '../base/short-commit.js';
import { errorMessage } from '../base/error-message.js';

export type { LiveStatus };
export type TriggerReason = 'start' | 'schedule' | 'sync' | 'watch';

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
  private source!: FleetSource;
  private state!: StateStore;
  private lifecycle!: CommitLifecycle;
  private live!: LiveView;
  private lock?: PidLock;
  private reporter: Reporter | undefined;
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
      // What a killed agent started (a hung Download on a pipe nobody reads) is ended before its journal resumes.
      await endLeftoverGroups(this.stateDir, ms(this.cfg.interfaces.killGrace, 'interfaces.killGrace'), this.log);
      this.state = await StateStore.open(this.stateDir);
      this.source = agentFleetSource(this.cfg);
      this.live = new LiveView(this.state, this.metrics);
      this.live.onChange = () => this.notifier.status(this.live.line());
      const gateway = new Gateway(gatewayOptions(this.cfg), this.log);
      const keys = this.cfg.trust.keys ?? [];
      const trusted = keys.length > 0 ? await readTrustedKeys(keys) : undefined;
      const promoterFiles = this.cfg.trust.promoterKeys ?? [];
      if (promoterFiles.length > 0 && !trusted)
        throw new ConfigError(
          'trust.promoterKeys is set without trust.keys: a promoter key narrows what a trusted fleet may sign, so ' +
            'it takes the release keys (trust.keys) too',
        );
      const promoterKeys = promoterFiles.length > 0 ? await readTrustedKeys(promoterFiles) : undefined;
      const decryptionKeys = await readDecryptionKeys(this.cfg.secrets?.keyFiles ?? [], true).catch((err: unknown) => {
        throw err instanceof DecryptionKeyError ? new ConfigError(`secrets.keyFiles: ${err.message}`) : err;
      });
      this.lifecycle = new CommitLifecycle(
        lifecyclePorts({
          cfg: this.cfg,
          source: this.source,
          store: this.state,
          log: this.log,
          events: this.live.events(),
          gateway,
          ...(trusted ? { trusted } : {}),
          ...(promoterKeys ? { promoterKeys } : {}),
          decryptionKeys,
        }),
      );
      this.reporter = await startReporting({
        cfg: this.cfg,
        state: this.state,
        live: this.live,
        gateway,
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
          forget: (body) => {
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
          repo: this.source.description,
          stateDir: this.stateDir,
          applied: st.applied?.commit,
          lastGood: st.lastGood?.commit,
          bad: st.bad.length,
          metrics: this.live.status.metrics,
        },
        `rollgate agent started for gateway ${this.cfg.gateway.id}: following ${this.source.description}; ` +
          `applied ${shortCommit(st.applied?.commit)}, last good ${shortCommit(st.lastGood?.commit)}`,
      );
      this.live.set('applying');
      // What a resumed apply prints is scrubbed too: the variables are known before it runs (every
      // reconcile reads them again, and says so when the file is wrong).
      const vars = this.cfg.gateway.variablesFile;
      if (vars) await readVariables([vars]).catch(() => undefined);
      await this.inTurn(() => this.lifecycle.resumeAtStart());
    } catch (err) {
      await this.close();
      throw err;
    }
    this.live.set('idle');
    if (this.cfg.schedule.watch && this.source.watchPaths.length > 0) this.startWatch();
    this.notifier.ready(this.live.line());
    this.timer = setTimeout(() => void this.trigger('start'), 0);
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

  private async close(): Promise<void> {
    await this.reporter?.stop();
    await this.watcher?.close();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers = [];
    await this.lock?.release();
  }

  private startWatch(): void {
    let debounce: NodeJS.Timeout | undefined;
    this.watcher = watch(this.source.watchPaths, { ignoreInitial: true, persistent: true, depth: 5 });
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

  /** One poll, and what follows from it: skip a bad commit, apply a new one, check drift, or nothing. */
  private async cycle(reason: TriggerReason): Promise<Verdict> {
    this.set('polling');
    let commit: string;
    try {
      commit = (await this.source.poll((c) => badRecord(this.state.current.bad, c) !== undefined)).commit;
      this.live.polled(commit);
    } catch (err) {
      if (err instanceof SyncError && err.kind === 'too-large' && err.commit) {
        this.live.polled(err.commit, err.message);
        this.metrics.polls.inc({ result: 'new-commit' });
        return this.lifecycle.refuse(err.commit, err.message);
      }
      this.live.polled(undefined, errorMessage(err));
      this.metrics.polls.inc({ result: Reason.PollFailed });
      this.log.warn(
        { verdict: Reason.PollFailed, err: errorMessage(err) },
        `poll failed, the gateway is left as it is: ${errorMessage(err)}`,
      );
      return this.lifecycle.pollFailed(errorMessage(err));
    }
    const driftDue = reason === 'sync' || Date.now() - this.lastDriftCheck >= this.driftMs;
    // A stalled gateway is looked at again soon after, then less and less often, up to the drift check's period.
    const recoverDue =
      reason === 'sync' ||
      Date.now() - this.lastRecovery >= Math.min(this.driftMs, this.retryMs * 2 ** this.recoveriesInRow);
    if (afterPoll(this.state.current, commit, driftDue, recoverDue).action === 'finish-rollback') {
      this.metrics.polls.inc({ result: Reason.KnownBad });
      const v = await this.lifecycle.finishRollback();
      this.countReconcile(v);
      return v;
    }
    // Which commit the head gives this gateway now: not always the head (a staged rollout's wave).
    const chosen = await this.lifecycle.choose(commit);
    if ('reason' in chosen) {
      this.metrics.polls.inc({ result: 'new-commit' });
      this.countReconcile(chosen);
      return chosen;
    }
    const head = commit;
    commit = chosen.commit;
    const st = this.state.current;
    const next = afterPoll(st, commit, driftDue, recoverDue);
    if (next.action === 'recover') {
      this.metrics.polls.inc({ result: Reason.KnownBad });
      const v = await this.lifecycle.recover(next.failed, next.lastGood);
      this.lastRecovery = Date.now();
      this.recoveriesInRow = v.reason === Reason.KnownBad ? this.recoveriesInRow + 1 : 0;
      this.countReconcile(v);
      return v;
    }
    if (next.action === 'skip-bad') {
      this.metrics.polls.inc({ result: Reason.KnownBad });
      if (this.skipLogged !== commit || reason === 'sync') {
        this.log.warn(
          { verdict: Reason.KnownBad, commit, reason: next.bad.reason },
          `${commit === head ? 'the branch points at' : `the rollout at ${shortCommit(head)} gives this gateway`} ` +
            `${shortCommit(commit)}, which failed (${next.bad.kind}: ${next.bad.reason}); ` +
            `it is not applied again. Waiting for the branch to move; the gateway stays ` +
            `on ${shortCommit(st.applied?.commit)}`,
        );
        this.skipLogged = commit;
      }
      return { reason: Reason.KnownBad, commit, detail: next.bad.reason };
    }
    this.metrics.polls.inc({ result: next.action === 'apply' ? 'new-commit' : Reason.Unchanged });
    if (next.action === 'nothing') return this.lifecycle.settled(chosen);
    const started = Date.now();
    const v =
      next.action === 'apply'
        ? await this.lifecycle.applyCommit(commit, chosen)
        : await this.lifecycle.repairDrift(commit);
    this.lastDriftCheck = Date.now();
    if (v.reason !== Reason.Unchanged) this.metrics.duration.observe((Date.now() - started) / 1000);
    this.countReconcile(v);
    // Nothing drifted: what the poll says is what the gateway waits on, if anything.
    return v.reason === Reason.Unchanged ? this.lifecycle.settled(chosen) : v;
  }

  /** Counted under the label its row in the verdict table gives (none: not a reconcile's end). */
  private countReconcile(v: Verdict): void {
    const result = VERDICTS[v.reason].reconciles;
    if (result !== null) this.metrics.reconciles.inc({ result });
  }
}
