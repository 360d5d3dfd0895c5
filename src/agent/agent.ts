// The daemon: polls the fleet repo on a schedule (and on triggers), applies a new commit behind
// the health gate, rolls back to the last good commit when the apply or its health fails,
// records bad commits and never applies them again on its own. One reconcile at a time; what a
// crash interrupted is resumed before anything new; SIGTERM waits for the step in flight.

import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { watch, type FSWatcher } from 'chokidar';
import type { Log } from '../apply/index.js';
import { crashPoint } from '../apply/crash-points.js';
import { plan as makePlan } from '../diff/index.js';
import {
  configHashesOf,
  dockerContainerStates,
  healthWindow,
  HealthFailedError,
  type HealthVerdict,
  type ProbeEnv,
} from '../health/index.js';
import { FleetRepoError, GitObjectSource, loadDesiredState } from '../manifest/index.js';
import { PlanError } from '../diff/index.js';
import type { DesiredState, DeviceIdentity, Plan } from '../model/index.js';
import {
  badRecord,
  rollBackToLastGood,
  withBad,
  type BadCommit,
  type Convergence,
  type FailureKind,
} from '../rollback/index.js';
import { durationMs as ms, gatewayAppliers, readVariables, type GatewayOptions } from './gateway.js';
import { observeGateway, refreshableImages, type GatewayAppliers } from '../apply/index.js';
import type { AgentConfig } from './config.js';
import { serveControl } from './control.js';
import { fleetSource, type FleetSource } from './fleet-source.js';
import { AgentLock } from './lock.js';
import { AgentMetrics } from './metrics.js';
import { interruptedDesired, reconcileOnce, resumeInterrupted, type ReconcileResult } from './reconcile.js';
import { nextPollDelay, retryDelay, type ScheduleSpec } from './schedule.js';
import { StateStore, type HistoryEntry } from './state.js';
import { SystemdNotifier } from './systemd-notify.js';

/** A commit interrupted this many times while being applied is recorded as bad. */
export const MAX_INTERRUPTED_ATTEMPTS = 3;

export type CycleResult =
  | 'unchanged'
  | 'applied'
  | 'no-change'
  | 'rolled-back'
  | 'rollback-incomplete'
  | 'rejected'
  | 'prepare-failed'
  | 'bad-commit'
  | 'poll-failed'
  | 'error'
  | 'stopping';

export interface CycleReport {
  result: CycleResult;
  commit?: string;
  detail?: string;
  /** Steps that ran, in order. */
  steps?: string[];
  /** For rollbacks: the commit the gateway went back to. */
  to?: string;
}

export type Phase = 'starting' | 'idle' | 'polling' | 'applying' | 'health' | 'rolling-back' | 'stopping';

export interface LiveStatus {
  pid: number;
  phase: Phase;
  commit?: string;
  since: string;
  nextPollAt?: string;
  lastPoll?: { at: string; commit?: string; error?: string };
  metrics?: string;
}

const short = (c: string | undefined) => (c ? c.slice(0, 12) : 'none');
const now = () => new Date().toISOString();
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

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
  private readonly identity: DeviceIdentity;
  private readonly schedule: ScheduleSpec;
  private readonly driftMs: number;
  private readonly retryMs: number;
  private source!: FleetSource;
  private state!: StateStore;
  private lock?: AgentLock;
  private servers: Server[] = [];
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private running?: Promise<CycleReport>;
  private queued?: Promise<CycleReport>;
  private stopping = false;
  private failuresInRow = 0;
  private lastDriftCheck = 0;
  private skipLogged?: string;
  private live: LiveStatus = { pid: process.pid, phase: 'starting', since: now() };
  metricsAddress?: string;
  /** When each pull_policy image was last asked about in the registry (a period counts from it). */
  private readonly resolvedAt = new Map<string, number>();

  constructor(o: AgentOptions) {
    this.cfg = o.config;
    this.log = o.log;
    this.notifier = o.notifier ?? new SystemdNotifier();
    this.identity = { id: o.config.gateway.id, labels: o.config.gateway.labels };
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

  private gatewayOptions(): GatewayOptions {
    const i = this.cfg.interfaces;
    return {
      stateDir: this.stateDir,
      ...(this.cfg.docker.host ? { dockerHost: this.cfg.docker.host } : {}),
      ...(this.cfg.docker.registryAuthFile ? { registryAuthFile: this.cfg.docker.registryAuthFile } : {}),
      ...(i.dirs ? { interfacesDir: i.dirs } : {}),
      rebootCommand: i.rebootCommand,
      artifactCacheSize: i.artifactCacheSize,
      interfaceTimeout: i.timeout,
      interfaceStateTimeout: i.stateTimeouts,
      interfaceKillGrace: i.killGrace,
      rebootWait: i.rebootWait,
    };
  }

  /** Takes the lock, resumes what a crash interrupted, starts the servers, the schedule and the watch. */
  async start(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    this.lock = await AgentLock.acquire(this.stateDir);
    try {
      this.state = await StateStore.open(this.stateDir);
      const r = this.cfg.repo;
      this.source = fleetSource({
        url: r.url,
        ref: r.ref,
        stateDir: this.stateDir,
        timeoutMs: ms(r.timeout, 'repo.timeout'),
        ...(r.tokenFile
          ? { auth: { kind: 'token' as const, file: r.tokenFile } }
          : r.basicAuthFile
            ? { auth: { kind: 'basic' as const, file: r.basicAuthFile } }
            : {}),
      });
      this.publishState();
      if (this.cfg.metrics.listen !== 'off') {
        const { server, address } = await this.metrics.serve(this.cfg.metrics.listen);
        this.servers.push(server);
        this.metricsAddress = address;
        this.live.metrics = `http://${address}/metrics`;
      }
      this.servers.push(await serveControl(this.stateDir, { sync: () => this.trigger('sync'), live: () => this.live }));
      const st = this.state.current;
      this.log.info(
        {
          repo: this.source.description,
          stateDir: this.stateDir,
          applied: st.applied?.commit,
          lastGood: st.lastGood?.commit,
          bad: st.bad.length,
          metrics: this.live.metrics,
        },
        `rollgate agent started for gateway ${this.identity.id}: following ${this.source.description}; applied ${short(st.applied?.commit)}, last good ${short(st.lastGood?.commit)}`,
      );
      this.setPhase('applying');
      await this.resumeAtStart();
    } catch (err) {
      await this.close();
      throw err;
    }
    this.setPhase('idle');
    if (this.cfg.schedule.watch && this.source.watchPaths.length > 0) this.startWatch();
    this.notifier.ready(this.statusLine());
    this.timer = setTimeout(() => void this.trigger('start'), 0);
  }

  /** Reconcile now (or right after the one running; calls while one waits share it). */
  trigger(reason: 'start' | 'schedule' | 'sync' | 'watch'): Promise<CycleReport> {
    if (this.stopping) return Promise.resolve({ result: 'stopping' });
    if (!this.running) {
      if (this.timer) clearTimeout(this.timer);
      this.running = this.cycle(reason)
        .catch((err: unknown): CycleReport => {
          this.log.error({ err: message(err) }, `reconcile failed: ${message(err)}`);
          return { result: 'error', detail: message(err) };
        })
        .finally(() => {
          this.running = undefined;
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
      b.result === 'unchanged' && a.result !== 'unchanged' ? a : b,
    );
  }

  private scheduleNext(last: CycleReport): void {
    if (this.stopping || this.queued) return;
    const regular = nextPollDelay(this.schedule);
    const transient = last.result === 'poll-failed' || last.result === 'prepare-failed' || last.result === 'error';
    this.failuresInRow = transient ? this.failuresInRow + 1 : 0;
    const delay = transient ? Math.min(regular, retryDelay(this.retryMs, this.failuresInRow, regular)) : regular;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.trigger('schedule'), delay);
    this.live.nextPollAt = new Date(Date.now() + delay).toISOString();
    this.notifier.status(this.statusLine());
  }

  /** SIGTERM: no new reconcile starts; the one in flight (and its health window) runs to its end. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.notifier.stopping();
    if (this.timer) clearTimeout(this.timer);
    if (this.running) {
      this.log.info(
        { phase: this.live.phase, commit: this.live.commit },
        `stopping once the reconcile in flight ends (${this.live.phase}${this.live.commit ? ` ${short(this.live.commit)}` : ''}); a second SIGTERM stops at once, and the journal resumes it at the next start`,
      );
      await this.running.catch(() => {});
    }
    this.setPhase('stopping');
    await this.close();
    this.log.info({}, 'rollgate agent stopped');
  }

  private async close(): Promise<void> {
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
      this.log.warn({ err: message(err) }, `watching the fleet repo failed: ${message(err)}; the schedule still polls`),
    );
  }

  private setPhase(phase: Phase, commit?: string): void {
    this.live = { ...this.live, phase, since: now() };
    if (commit) this.live.commit = commit;
    else delete this.live.commit;
  }

  private statusLine(): string {
    const st = this.state?.current;
    if (!st) return 'starting';
    const bad = st.bad.length ? `, ${st.bad.length} bad commit(s)` : '';
    return `${this.live.phase}: applied ${short(st.applied?.commit)}, last good ${short(st.lastGood?.commit)}${bad}`;
  }

  private publishState(): void {
    const st = this.state.current;
    this.metrics.setCommits(st.applied?.commit, st.lastGood?.commit);
    this.metrics.badCommits.set(st.bad.length);
    this.metrics.lastGoodHealthy.set(st.lastGoodUnhealthy ? 0 : 1);
  }

  private async record(change: Parameters<StateStore['update']>[0], entry?: Omit<HistoryEntry, 'at'>): Promise<void> {
    await this.state.update((s) => {
      change(s);
      if (entry) s.history.push({ at: now(), ...entry });
    });
    this.publishState();
  }

  // ---- one cycle --------------------------------------------------------------------------

  private async cycle(reason: string): Promise<CycleReport> {
    this.setPhase('polling');
    let commit: string;
    try {
      const head = await this.source.poll();
      commit = head.commit;
      this.live.lastPoll = { at: now(), commit };
    } catch (err) {
      this.live.lastPoll = { at: now(), error: message(err) };
      this.metrics.polls.inc({ result: 'failed' });
      this.log.warn({ err: message(err) }, `poll failed, the gateway is left as it is: ${message(err)}`);
      await this.noteError(message(err));
      this.setPhase('idle');
      return { result: 'poll-failed', detail: message(err) };
    }
    const st = this.state.current;
    const bad = badRecord(st.bad, commit);
    if (bad) {
      this.metrics.polls.inc({ result: 'bad-commit' });
      if (this.skipLogged !== commit || reason === 'sync') {
        this.log.warn(
          { commit, reason: bad.reason },
          `the branch points at ${short(commit)}, which failed (${bad.kind}: ${bad.reason}); it is not applied again. Waiting for the branch to move; the gateway stays on ${short(st.applied?.commit)}`,
        );
        this.skipLogged = commit;
      }
      this.setPhase('idle');
      return { result: 'bad-commit', commit, detail: bad.reason };
    }
    const isNew = commit !== st.applied?.commit;
    this.metrics.polls.inc({ result: isNew ? 'new-commit' : 'unchanged' });
    const driftDue = reason === 'sync' || Date.now() - this.lastDriftCheck >= this.driftMs;
    if (!isNew && !driftDue) {
      this.setPhase('idle');
      return { result: 'unchanged', commit };
    }
    const started = Date.now();
    const report = isNew ? await this.applyCommit(commit) : await this.repairDrift(commit);
    this.lastDriftCheck = Date.now();
    if (report.result !== 'unchanged') this.metrics.duration.observe((Date.now() - started) / 1000);
    this.metrics.reconciles.inc({ result: report.result === 'unchanged' ? 'no-change' : report.result });
    this.setPhase('idle');
    return report;
  }

  private async noteError(msg: string, commit?: string): Promise<void> {
    const prev = this.state.current.lastError;
    // One record per distinct error, not one per retry.
    if (prev?.message === msg) return;
    await this.record((s) => {
      s.lastError = { at: now(), message: msg, ...(commit ? { commit } : {}) };
    });
  }

  private async load(commit: string): Promise<{ desired: DesiredState; source: GitObjectSource }> {
    const source = new GitObjectSource(this.source.gitdir, commit);
    const variables = this.cfg.gateway.variablesFile ? await readVariables([this.cfg.gateway.variablesFile]) : {};
    const desired = await loadDesiredState(source, this.identity, { variables });
    for (const w of desired.warnings ?? []) this.log.warn({ commit: commit.slice(0, 12) }, w);
    return { desired, source };
  }

  private async appliers(desired: DesiredState | undefined, source?: GitObjectSource): Promise<GatewayAppliers> {
    const a = await gatewayAppliers(this.gatewayOptions(), this.log, desired);
    if (a.interfaces && source) a.interfaces.repo = source;
    return a;
  }

  private probeEnv(desired: DesiredState, a: GatewayAppliers): ProbeEnv {
    return {
      configHashes: configHashesOf(desired),
      ...(a.docker ? { containers: dockerContainerStates(a.docker.engine.docker) } : {}),
    };
  }

  /** The health window of a desired state; throws HealthFailedError to roll the transaction back. */
  private gate(desired: DesiredState, a: GatewayAppliers, verdicts: HealthVerdict[]): () => Promise<void> {
    return async () => {
      const commit = desired.source.commit;
      this.setPhase('health', commit);
      crashPoint('confirm');
      const v = await healthWindow(desired.health, this.probeEnv(desired, a), {
        log: this.log,
        subject: short(commit),
      });
      verdicts.push(v);
      if (!v.ok) throw new HealthFailedError(v);
    };
  }

  /** Writes the verdict before the transaction undoes anything, so a crash cannot lose it. */
  private failureHook(commit: string, verdicts: HealthVerdict[]) {
    return async (error: string, step?: string) => {
      const kind: FailureKind = verdicts.some((v) => !v.ok) ? 'health-failed' : 'apply-failed';
      await this.markBad({ commit, kind, reason: error, at: now(), ...(step ? { step } : {}) });
      this.setPhase('rolling-back', commit);
      crashPoint('bad-recorded');
    };
  }

  private async markBad(bad: BadCommit): Promise<void> {
    await this.record((s) => {
      s.bad = withBad(s.bad, bad);
      s.lastError = { at: bad.at, message: bad.reason, commit: bad.commit };
    });
  }

  private async applyCommit(commit: string): Promise<CycleReport> {
    this.setPhase('applying', commit);
    let loaded: Awaited<ReturnType<Agent['load']>>;
    try {
      loaded = await this.load(commit);
    } catch (err) {
      if (err instanceof FleetRepoError) {
        const reason = err.message;
        await this.markBad({ commit, kind: 'invalid', reason, at: now() });
        await this.record(() => {}, { event: 'rejected', commit, detail: reason });
        this.log.error(
          { commit, problems: err.problems.length },
          `commit ${short(commit)} is rejected, nothing was changed: ${reason}`,
        );
        return { result: 'rejected', commit, detail: reason };
      }
      await this.noteError(message(err), commit);
      this.log.error({ commit, err: message(err) }, `cannot load commit ${short(commit)}: ${message(err)}`);
      return { result: 'error', commit, detail: message(err) };
    }
    const { desired, source } = loaded;
    let a: GatewayAppliers;
    try {
      a = await this.appliers(desired, source);
    } catch (err) {
      await this.noteError(message(err), commit);
      this.log.error(
        { commit, err: message(err) },
        `cannot reach the gateway's appliers, nothing was changed: ${message(err)}`,
      );
      return { result: 'error', commit, detail: message(err) };
    }
    await this.record((s) => {
      s.inProgress = {
        commit,
        since: now(),
        attempts: (s.inProgress?.commit === commit ? s.inProgress.attempts : 0) + 1,
      };
    });
    const verdicts: HealthVerdict[] = [];
    let r: ReconcileResult;
    try {
      r = await reconcileOnce(desired, {
        ...a,
        stateDir: this.stateDir,
        log: this.log,
        concurrency: this.cfg.apply.concurrency,
        confirm: this.gate(desired, a, verdicts),
        onFailure: this.failureHook(commit, verdicts),
        refreshImages: this.dueImages(desired),
      });
    } catch (err) {
      if (!(err instanceof PlanError)) throw err;
      // No plan takes this gateway to the commit (a constraint, a changed network or volume):
      // nothing was touched, and trying again would find the same. The commit is rejected.
      const reason = `no plan: ${err.message}`;
      await this.markBad({ commit, kind: 'invalid', reason, at: now() });
      await this.record((s) => void delete s.inProgress, { event: 'rejected', commit, detail: reason });
      this.log.error(
        { commit, constraint: err.constraint },
        `commit ${short(commit)} is rejected, nothing was changed: ${reason}`,
      );
      return { result: 'rejected', commit, detail: reason };
    }
    return this.settle(commit, r);
  }

  /** What to record, and whether to roll back to the last good commit, after a reconcile of `commit`. */
  private async settle(commit: string, r: Pick<ReconcileResult, 'outcome'>): Promise<CycleReport> {
    const o = r.outcome;
    const previousGood = this.state.current.lastGood?.commit;
    if (!o || o.status === 'applied') {
      await this.source.pin('applied', commit).catch(() => {});
      await this.source.pin('last-good', commit).catch(() => {});
      const steps = o?.ran ?? [];
      await this.record(
        (s) => {
          s.applied = { commit, at: now() };
          s.lastGood = { commit, at: now() };
          delete s.inProgress;
          delete s.lastError;
          delete s.lastGoodUnhealthy;
        },
        { event: 'applied', commit, steps, ...(o ? {} : { detail: 'nothing to change on this gateway' }) },
      );
      this.metrics.lastSuccess.set(Date.now() / 1000);
      this.log.info(
        { commit, steps: steps.length },
        `commit ${short(commit)} is applied, healthy, and the last good commit`,
      );
      return { result: o ? 'applied' : 'no-change', commit, steps };
    }
    if (o.status === 'prepare-failed') {
      await this.record(
        (s) => {
          delete s.inProgress;
          s.lastError = { at: now(), message: o.error ?? 'prepare failed', commit };
        },
        { event: 'prepare-failed', commit, detail: o.error ?? '', steps: o.ran },
      );
      this.log.warn(
        { commit, err: o.error },
        `commit ${short(commit)} could not be prepared, nothing running was touched; retrying soon: ${o.error}`,
      );
      return { result: 'prepare-failed', commit, detail: o.error ?? '', steps: o.ran };
    }
    // Rolled back by its own transaction. The failure hook has recorded it as bad already
    // (unless it failed before the hook could run); make sure.
    const known = badRecord(this.state.current.bad, commit);
    const bad: BadCommit = known ?? {
      commit,
      kind: o.status === 'rollback-incomplete' ? 'rollback-incomplete' : 'apply-failed',
      reason: o.error ?? 'failed',
      at: now(),
      ...(o.failedStep ? { step: o.failedStep } : {}),
    };
    if (o.status === 'rollback-incomplete') {
      const b = {
        ...bad,
        kind: 'rollback-incomplete' as const,
        reason: `${bad.reason}; could not put back: ${o.undoErrors.join('; ')}`,
      };
      await this.markBad(b);
      await this.record((s) => delete s.inProgress, {
        event: 'rollback-incomplete',
        commit,
        detail: b.reason,
        steps: [...o.ran, ...o.undone],
      });
      this.metrics.rollbacks.inc({ reason: 'rollback-incomplete' });
      this.log.error(
        { commit, undoErrors: o.undoErrors },
        `ROLLBACK INCOMPLETE for ${short(commit)}: ${b.reason}. The gateway is left as it is; nothing else is applied until the branch moves`,
      );
      return { result: 'rollback-incomplete', commit, detail: b.reason, steps: [...o.ran, ...o.undone] };
    }
    if (!known) await this.markBad(bad);
    await this.record((s) => delete s.inProgress);
    return this.rollBack(bad, previousGood, [...o.ran, ...o.undone]);
  }

  private async rollBack(bad: BadCommit, lastGood: string | undefined, ran: string[]): Promise<CycleReport> {
    this.setPhase('rolling-back', bad.commit);
    this.metrics.rollbacks.inc({ reason: bad.kind });
    const report = await rollBackToLastGood(bad, {
      ...(lastGood ? { lastGood } : {}),
      log: this.log,
      converge: (c) => this.converge(c),
      health: async (c) => {
        const { desired } = await this.load(c);
        const a = await this.appliers(desired);
        this.setPhase('health', c);
        return healthWindow(desired.health, this.probeEnv(desired, a), {
          log: this.log,
          subject: `last good ${short(c)}`,
        });
      },
    });
    const unhealthy = report.healthy === false;
    await this.record(
      (s) => {
        if (report.to && report.converged) s.applied = { commit: report.to, at: now() };
        else if (!report.to) delete s.applied;
        if (unhealthy)
          s.lastGoodUnhealthy = { commit: report.to!, reason: report.healthReason ?? 'unhealthy', at: now() };
        else delete s.lastGoodUnhealthy;
      },
      {
        event: unhealthy ? 'last-good-unhealthy' : 'rolled-back',
        commit: bad.commit,
        ...(report.to ? { to: report.to } : {}),
        detail: unhealthy
          ? `${bad.reason}; and the last good commit is unhealthy too: ${report.healthReason}`
          : report.convergeError
            ? `${bad.reason}; converging to the last good commit failed: ${report.convergeError}`
            : bad.reason,
        steps: [...ran, ...report.steps],
      },
    );
    if (!unhealthy && report.converged) this.metrics.lastSuccess.set(Date.now() / 1000);
    return {
      result: 'rolled-back',
      commit: bad.commit,
      detail: bad.reason,
      steps: [...ran, ...report.steps],
      ...(report.to ? { to: report.to } : {}),
    };
  }

  /** pull_policy images due for a look in the registry: `always` every time, a period once it has passed. */
  private dueImages(desired: DesiredState): string[] {
    const at = Date.now();
    const due = refreshableImages(
      desired,
      (image, everyMs) => everyMs === undefined || at - (this.resolvedAt.get(image) ?? 0) >= everyMs,
    );
    for (const image of due) this.resolvedAt.set(image, at);
    return due;
  }

  /**
   * Takes the gateway to a commit's desired state (the rollback target, drift). Without a health
   * gate, except when an image moved in the registry: that is a new release of the service, so
   * it passes the health window or is put back, as a commit would.
   */
  private async converge(commit: string, refresh = false): Promise<Convergence> {
    const { desired, source } = await this.load(commit);
    const a = await this.appliers(desired, source);
    const refreshImages = refresh ? this.dueImages(desired) : [];
    const gate = refreshImages.length
      ? {
          refreshImages,
          confirm: this.gate(desired, a, []),
          gateIf: (p: Plan) => p.changes.some((c) => c.cause === 'registry'),
        }
      : {};
    const r = await reconcileOnce(desired, {
      ...a,
      stateDir: this.stateDir,
      log: this.log,
      concurrency: this.cfg.apply.concurrency,
      ...gate,
    });
    const o = r.outcome;
    if (!o || o.status === 'applied') return { ok: true, steps: o?.ran ?? [] };
    return { ok: false, error: o.error ?? o.status, steps: [...o.ran, ...o.undone] };
  }

  private async repairDrift(commit: string): Promise<CycleReport> {
    this.setPhase('applying', commit);
    try {
      const conv = await this.converge(commit, true);
      if (conv.steps.length > 0) {
        await this.record(() => {}, {
          event: conv.ok ? 'applied' : 'error',
          commit,
          steps: conv.steps,
          detail: conv.ok ? 'drift repaired' : `drift repair failed: ${conv.error}`,
        });
        if (conv.ok)
          this.log.info({ commit, steps: conv.steps }, `drift repaired: the gateway matches ${short(commit)} again`);
        else this.log.error({ commit, err: conv.error }, `drift repair failed and was put back: ${conv.error}`);
      }
      if (!conv.ok) {
        await this.noteError(conv.error ?? 'drift repair failed', commit);
        return { result: 'error', commit, detail: conv.error ?? '' };
      }
      return { result: conv.steps.length ? 'applied' : 'unchanged', commit, steps: conv.steps };
    } catch (err) {
      await this.noteError(message(err), commit);
      this.log.warn({ commit, err: message(err) }, `drift check failed: ${message(err)}`);
      return { result: 'error', commit, detail: message(err) };
    }
  }

  // ---- start-up -----------------------------------------------------------------------------

  /** Finishes or puts back what a crash interrupted, and records the verdict, before anything new. */
  private async resumeAtStart(): Promise<void> {
    const st = this.state.current;
    const desired = await interruptedDesired(this.stateDir);
    const commit = desired?.source.commit ?? st.inProgress?.commit;
    if (desired) {
      const a = await this.appliers(
        desired,
        desired.source.commit ? new GitObjectSource(this.source.gitdir, desired.source.commit) : undefined,
      );
      const verdicts: HealthVerdict[] = [];
      const resumed = await resumeInterrupted({
        ...a,
        stateDir: this.stateDir,
        log: this.log,
        concurrency: this.cfg.apply.concurrency,
        confirm: this.gate(desired, a, verdicts),
        ...(commit ? { onFailure: this.failureHook(commit, verdicts) } : {}),
      });
      if (resumed) {
        await this.record(() => {}, {
          event: 'resumed',
          ...(commit ? { commit } : {}),
          detail: `the apply interrupted in its ${resumed.interruptedIn} phase was ${resumed.action}`,
          steps: [...(resumed.outcome?.ran ?? []), ...resumed.undone],
        });
        if (resumed.undoErrors.length > (resumed.outcome?.permanentUndoErrors ?? 0) && !resumed.outcome) {
          throw new Error(
            `the apply interrupted by a crash could not be put back completely: ${resumed.undoErrors.join('; ')}; fix the cause and start the agent again`,
          );
        }
      }
      if (!commit || !resumed) return;
      if (resumed.outcome) {
        await this.settle(commit, { outcome: resumed.outcome });
        return;
      }
      if (resumed.action === 'finished') {
        await this.settle(commit, {});
        return;
      }
    }
    if (!commit) return;
    // The transaction was put back (or never began, or ended before the state said so).
    const bad = badRecord(this.state.current.bad, commit);
    if (bad) {
      await this.record((s) => delete s.inProgress);
      await this.rollBack(bad, this.state.current.lastGood?.commit, []);
      return;
    }
    if (!desired && (await this.matchesLive(commit))) {
      // It finished, health and all, and the crash came before the state file said so.
      await this.settle(commit, {});
      return;
    }
    const attempts = this.state.current.inProgress?.attempts ?? 1;
    if (attempts >= MAX_INTERRUPTED_ATTEMPTS) {
      const b: BadCommit = {
        commit,
        kind: 'interrupted',
        reason: `the agent was interrupted ${attempts} times while applying it`,
        at: now(),
      };
      await this.markBad(b);
      await this.record((s) => delete s.inProgress);
      await this.rollBack(b, this.state.current.lastGood?.commit, []);
      return;
    }
    this.log.warn(
      { commit, attempts },
      `the apply of ${short(commit)} was interrupted (attempt ${attempts} of ${MAX_INTERRUPTED_ATTEMPTS}); it is tried again`,
    );
  }

  private async matchesLive(commit: string): Promise<boolean> {
    try {
      const { desired } = await this.load(commit);
      const observed = await observeGateway(await this.appliers(desired), desired, this.log);
      return makePlan(desired, observed).changes.length === 0;
    } catch {
      return false;
    }
  }
}
