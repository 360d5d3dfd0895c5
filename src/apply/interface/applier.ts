// The update-interface applier: device components (the gateway's rootfs, attached RTOS devices,
// anything with an update-interface executable or a Mender Update Module) driven through the
// Mender Orchestrator protocol, one plan step per protocol phase:
//   download (prepare)  artifact fetched and verified, queries, Download   undo: Cleanup
//   install             ArtifactInstall                                      undo: ArtifactRollback,
//                                                      rollback reboot + verify, ArtifactFailure
//   reboot              ArtifactReboot + ArtifactVerifyReboot, or a gateway reboot (Automatic)
//   commit (finalize)   ArtifactCommit
//   cleanup (finalize)  Cleanup

import { GatewayConfigError } from '../../base/config-error.js';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { statePath } from '../../base/state-dir.js';
import type { DesiredComponent, ObservedComponent, Step } from '../../model/index.js';
import type { RepoSource } from '../../manifest/index.js';
import { crashPoint } from '../crash-points.js';
import { RefusedError, UndoImpossibleError, type Applier, type StepContext, type StepRecord } from '../applier.js';
import type { Log } from '../../base/log.js';
import { ArtifactCache, DEFAULT_DOWNLOAD, type DownloadOptions } from './artifact-cache.js';
import { readRecord, writeRecord, type ComponentRecord, type UpdateInFlight } from './component-record.js';
import { advance, reached, rollbackDone, undoOwed, type UpdateProgress } from './update-progress.js';
import type { ArtifactKey } from '../../trust/index.js';
import { invoke, InterfaceError, type InvocationResult } from './invoke.js';
import { ARTIFACT_HEAD_BYTES, incompatibility, readArtifactHeader } from '../../manifest/mender-artifact.js';
import {
  interfaceArgv,
  isState,
  parseChoice,
  parseIdentity,
  parseKeyValues,
  parseNeedsReboot,
  parseNeedsUnpacked,
  parseSupportsRollback,
  providedVersion,
  ProtocolError,
  type InterfaceState,
  type InterfaceTarget,
  type Query,
} from './protocol.js';
import { checkArtifactSignature, unpackArtifact } from './unpack-artifact.js';
import { DEFAULT_CACHE_BYTES, DEFAULT_INTERFACE_DIRS, DEFAULT_REBOOT_COMMAND } from './defaults.js';
import {
  componentDirs,
  feedStreams,
  makeStreams,
  prepareWorkDir,
  settleFiles,
  type ComponentDirs,
  type StreamItem,
} from './work-dir.js';

export { DEFAULT_CACHE_BYTES, DEFAULT_INTERFACE_DIRS, DEFAULT_REBOOT_COMMAND };

export interface InterfaceTimeouts {
  /** Queries (SupportsRollback, Provides, ...): they answer within seconds. */
  queryMs: number;
  /** Every other state; Mender's default for installs is four hours. */
  stateMs: number;
  /** Between SIGTERM and SIGKILL. */
  killGraceMs: number;
  /** Single states and queries over the two above; DownloadWithFileSizes follows Download unless set. */
  perState: Partial<Record<InterfaceState | Query, number>>;
}

export const DEFAULT_TIMEOUTS: InterfaceTimeouts = {
  queryMs: 60_000,
  stateMs: 4 * 3600_000,
  killGraceMs: 60_000,
  perState: {},
};

/** The deadline of one call: its own setting, else Download's for DownloadWithFileSizes, else the kind's. */
export function timeoutOf(t: InterfaceTimeouts, state: InterfaceState | Query): number {
  return (
    t.perState[state] ??
    (state === 'DownloadWithFileSizes' ? t.perState.Download : undefined) ??
    (isState(state) ? t.stateMs : t.queryMs)
  );
}

export interface InterfaceApplierOptions {
  /** Searched in order for an interface's executable. */
  interfacesDirs: string[];
  /**
   * Components' records and work directories go under `<stateDir>/components`, the cache under
   * `<stateDir>/artifacts`.
   */
  stateDir: string;
  cacheMaxBytes?: number;
  /** Reboots the gateway (argv, no shell). */
  rebootCommand?: string[];
  /** How long to wait for the reboot to take the process down before calling it failed. */
  rebootWaitMs?: number;
  timeouts?: Partial<InterfaceTimeouts>;
  /** Bytes of each of stdout and stderr kept per call. */
  outputLimit?: number;
  /** `current_device_type` in the work directory; the desired system's name when not given. */
  deviceType?: string;
  download?: Partial<DownloadOptions>;
  /** With any, only artifacts whose manifest.sig verifies with one of them are installed. */
  artifactKeys?: readonly ArtifactKey[];
  log: Log;
}

const PLAIN = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

// ROLLGATE_BOOT_ID_FILE stands in for the kernel's boot id on a simulated gateway (the tests'
// device lab reboots by rewriting it); unset in production.
const BOOT_ID_FILE = process.env['ROLLGATE_BOOT_ID_FILE'] ?? '/proc/sys/kernel/random/boot_id';

/** This boot of the gateway: a different one after a reboot, planned or not. */
async function bootId(): Promise<string | undefined> {
  try {
    return (await readFile(BOOT_ID_FILE, 'utf8')).trim();
  } catch {
    return undefined;
  }
}
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Moves an update to its next state (the transition table checks it); the caller saves the record. */
function move(u: UpdateInFlight, to: UpdateProgress): void {
  const next = advance(u, to);
  u.progress = next.progress;
  if (next.forwardTo) u.forwardTo = next.forwardTo;
}

function componentKey(step: Step): string {
  if (step.target.kind !== 'component') throw new Error(`${step.id} is not a component step`);
  return step.target.key;
}

/** Only the fields of a target, so records do not carry a desired component's artifact. */
export function targetOf(c: InterfaceTarget): InterfaceTarget {
  return {
    key: c.key,
    type: c.type,
    ...(c.id !== undefined ? { id: c.id } : {}),
    interface: c.interface,
    interfaceArgs: c.interfaceArgs,
    protocol: c.protocol,
  };
}

export class InterfaceApplier implements Applier {
  readonly name = 'update interfaces';
  readonly cache: ArtifactCache;
  /** Per transaction: every artifact's signature checked (see signaturesOf). */
  private readonly signatures = new Map<string, Promise<void>>();
  private readonly timeouts: InterfaceTimeouts;
  private readonly componentsDir: string;
  /**
   * @param repo the fleet repo artifacts are read from; `forRepo` binds one
   * @param cache shared by the copies `forRepo` makes
   */
  constructor(
    private readonly opts: InterfaceApplierOptions,
    readonly repo?: RepoSource,
    cache?: ArtifactCache,
  ) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.componentsDir = statePath(opts.stateDir, 'components');
    this.cache =
      cache ??
      new ArtifactCache(statePath(opts.stateDir, 'artifacts'), opts.cacheMaxBytes ?? DEFAULT_CACHE_BYTES, opts.log, {
        ...DEFAULT_DOWNLOAD,
        ...opts.download,
      });
  }

  /** This applier reading artifacts from `repo`: a new applier sharing the cache; this one is unchanged. */
  forRepo(repo: RepoSource): InterfaceApplier {
    return new InterfaceApplier(this.opts, repo, this.cache);
  }

  handles(step: Step): boolean {
    return step.target.kind === 'component';
  }

  /** The executable of an interface: the first of the interface directories that has it. */
  async executable(name: string): Promise<string> {
    if (!PLAIN.test(name)) throw new Error(`interface name "${name}" is not a plain file name`);
    for (const dir of this.opts.interfacesDirs) {
      const p = join(dir, name);
      try {
        if ((await stat(p)).isFile()) return p;
      } catch {
        // next directory
      }
    }
    throw new GatewayConfigError(
      `interface "${name}" not found in ${this.opts.interfacesDirs.join(', ')}: install it on this gateway, or ` +
        `set the directories with interfaces.dirs (--interfaces-dir)`,
      'interfaces.dirs',
    );
  }

  private async protocolVersion(iface: string): Promise<string> {
    return (await this.executable(iface)).includes('/modules/v3/') ? '3' : '1';
  }

  private async call(
    t: InterfaceTarget,
    state: InterfaceState | Query,
    work: string,
    log: Log,
    extra: { feed?: StreamItem[]; withSizes?: boolean } = {},
  ): Promise<InvocationResult & { consumed?: Set<string> }> {
    const exe = await this.executable(t.interface);
    let consumed: Set<string> | undefined;
    const r = await invoke({
      name: t.interface,
      component: t.key,
      state,
      executable: exe,
      argv: interfaceArgv(t, state, work),
      cwd: work,
      timeoutMs: timeoutOf(this.timeouts, state),
      killGraceMs: this.timeouts.killGraceMs,
      outputLimit: this.opts.outputLimit ?? 64 * 1024,
      log,
      stateDir: this.opts.stateDir,
      ...(extra.feed
        ? {
            whileRunning: async (_c, exited) =>
              void (consumed = await feedStreams(work, extra.feed!, exited, extra.withSizes === true)),
          }
        : {}),
    });
    if (isState(state) && (r.stdout.trim() || r.stderr.trim()))
      log.info(
        { interface: t.interface, component: t.key, state, stdout: r.stdout, stderr: r.stderr },
        `${t.key} ${state}: ${(r.stderr.trim() || r.stdout.trim()).split('\n').slice(-1)[0]}`,
      );
    return consumed ? { ...r, consumed } : r;
  }

  /** A query whose answer must parse; a bad answer names the interface, the query and the output. */
  private async ask<T>(t: InterfaceTarget, query: Query, work: string, log: Log, parse: (s: string) => T): Promise<T> {
    const r = await this.call(t, query, work, log);
    try {
      return parse(r.stdout);
    } catch (err) {
      if (err instanceof ProtocolError)
        throw new InterfaceError(
          { name: t.interface, component: t.key, state: query },
          `protocol error: ${err.message}`,
          r,
        );
      throw err;
    }
  }

  private dirs(key: string): ComponentDirs {
    return componentDirs(this.componentsDir, key);
  }

  private async record(
    step: Step,
  ): Promise<{ rec: ComponentRecord & { update: UpdateInFlight }; dirs: ComponentDirs }> {
    const key = componentKey(step);
    const dirs = this.dirs(key);
    const rec = await readRecord(dirs.record);
    if (!rec?.update) throw new Error(`component ${key} has no update in flight in ${dirs.record}`);
    return { rec: rec as ComponentRecord & { update: UpdateInFlight }, dirs };
  }

  private async save(dirs: ComponentDirs, rec: ComponentRecord): Promise<void> {
    await writeRecord(dirs.record, rec);
  }

  // ---- observation -------------------------------------------------------------------------

  /** Each component's identity and version, from its interface (`Identity`, `Provides`, `Inventory`). */
  async observe(components: InterfaceTarget[], log: Log, deviceType = ''): Promise<ObservedComponent[]> {
    const out: ObservedComponent[] = [];
    for (const c of components) out.push(await this.observeOne(targetOf(c), log, deviceType));
    return out;
  }

  /** The components rollgate has a record of, for `rollgate observe` without a fleet repo. */
  async recorded(): Promise<InterfaceTarget[]> {
    return (await this.records()).map((r) => r.target);
  }

  /** Every component record, by key: what was last committed on each, and any update in flight. */
  async records(): Promise<ComponentRecord[]> {
    const out: ComponentRecord[] = [];
    let names: string[] = [];
    try {
      names = await readdir(this.componentsDir);
    } catch {
      return out;
    }
    for (const n of names.sort()) {
      const r = await readRecord(join(this.componentsDir, n, 'state.json'));
      if (r) out.push(r);
    }
    return out;
  }

  async observeOne(t: InterfaceTarget, log: Log, deviceType = ''): Promise<ObservedComponent> {
    const dirs = this.dirs(t.key);
    const rec = await readRecord(dirs.record);
    // Queries are stateless: a throwaway work directory keeps observation free of side effects.
    const work = await mkdtemp(join(tmpdir(), 'rollgate-query-'));
    try {
      await prepareWorkDir(
        work,
        {
          version: await this.protocolVersion(t.interface),
          artifactName: rec?.installed ?? '',
          artifactGroup: '',
          deviceType: this.opts.deviceType ?? deviceType,
        },
        false,
      );
      return await this.query(t, rec, work, log);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  private async query(
    t: InterfaceTarget,
    rec: ComponentRecord | undefined,
    work: string,
    log: Log,
  ): Promise<ObservedComponent> {
    const id = t.id ?? (await this.ask(t, 'Identity', work, log, parseIdentity));
    const provides = await this.ask(t, 'Provides', work, log, (s) => parseKeyValues('Provides', s));
    const inventory = await this.ask(t, 'Inventory', work, log, (s) => parseKeyValues('Inventory', s));
    let version: string | undefined;
    try {
      version = providedVersion(provides, t.interface);
    } catch (err) {
      throw new InterfaceError(
        { name: t.interface, component: t.key, state: 'Provides' },
        `protocol error: ${message(err)}`,
      );
    }
    // Update Modules provide nothing themselves: what rollgate last committed stands in.
    version ??= rec?.installed;
    return {
      key: t.key,
      type: t.type,
      id,
      ...(version !== undefined ? { version } : {}),
      ...(Object.keys(inventory).length ? { inventory } : {}),
      ...(Object.keys(provides).length ? { provides } : {}),
    };
  }

  // ---- steps -------------------------------------------------------------------------------

  async run(step: Step, ctx: StepContext): Promise<Omit<StepRecord, 'status'>> {
    switch (step.kind) {
      case 'download':
        return this.download(step, ctx);
      case 'install':
        return this.install(step, ctx);
      case 'reboot':
        return this.reboot(step, ctx);
      case 'commit':
        return this.commit(step, ctx);
      case 'cleanup':
        return this.cleanup(step, ctx);
      default:
        throw new Error(`the interface applier does not run ${step.kind} steps`);
    }
  }

  private async fetchArtifact(c: DesiredComponent, log: Log): Promise<string> {
    const a = c.artifact;
    if (a.kind === 'url') {
      log.info({ component: c.key }, `downloading the artifact of ${c.key}`);
      return this.cache.fromUrl(a.url, a.sha256);
    }
    if (!this.repo)
      throw new Error(`the artifact of ${c.key} is ${a.path} in the fleet repo, but no repo was given to read it from`);
    const file = await this.repo.read(a.path, { maxBytes: Math.max(a.size, 1) });
    if (!file) throw new Error(`the artifact ${a.path} of ${c.key} is not in ${this.repo.label}`);
    return (await this.cache.fromBytes(file.bytes, a.path, a.sha256)).path;
  }

  /**
   * With artifact keys: every artifact this transaction downloads is fetched and its signature
   * checked before any interface is given one (once per transaction; every download step waits).
   */
  private signaturesOf(ctx: StepContext): Promise<void> {
    const keys = this.opts.artifactKeys ?? [];
    if (keys.length === 0 || !ctx.plan || !ctx.desired) return Promise.resolve();
    let p = this.signatures.get(ctx.txn);
    if (!p) {
      const desired = ctx.desired;
      const wanted = ctx.plan.prepare.filter((s) => s.kind === 'download' && s.target.kind === 'component');
      p = Promise.all(
        wanted.map(async (s) => {
          const c = desired.components.find((x) => x.key === componentKey(s));
          if (!c) return;
          try {
            await checkArtifactSignature(await this.fetchArtifact(c, ctx.log), keys);
          } catch (err) {
            if (err instanceof RefusedError)
              throw new RefusedError(err.kind, `${c.key} (${c.version}): ${err.message}`);
            throw err;
          }
        }),
      ).then(() => undefined);
      this.signatures.set(ctx.txn, p);
      p.catch(() => {}); // each download step awaits it and reports it
    }
    return p;
  }

  private async download(step: Step, ctx: StepContext): Promise<Omit<StepRecord, 'status'>> {
    const key = componentKey(step);
    const c = ctx.desired?.components.find((x) => x.key === key);
    if (!c) throw new Error(`component ${key} is not in the desired state`);
    // Everything that can fail without touching the device comes first (safety rule 1).
    await this.signaturesOf(ctx);
    const artifactPath = await this.fetchArtifact(c, ctx.log);
    if (c.compatible) {
      // An artifact from a store could not be checked when the repo was loaded: it is now, before anything runs.
      const head = await readHead(artifactPath, ARTIFACT_HEAD_BYTES);
      const why = incompatibility(
        await readArtifactHeader(head),
        { type: c.type, interface: c.interface },
        c.compatible.filter((t) => t !== c.type),
      );
      if (why) throw new Error(`${key}: ${why}; refused before anything runs`);
    }
    const dirs = this.dirs(key);
    const previous = await readRecord(dirs.record);
    const t: InterfaceTarget = {
      ...targetOf(c),
      ...(c.id === undefined && previous?.target.id ? { id: previous.target.id } : {}),
    };
    await mkdir(dirs.root, { recursive: true });
    await rm(dirs.payload, { recursive: true, force: true });
    await prepareWorkDir(
      dirs.work,
      {
        version: await this.protocolVersion(t.interface),
        artifactName: step.from ?? '',
        artifactGroup: '',
        deviceType: this.opts.deviceType ?? ctx.desired?.system ?? '',
      },
      true,
    );
    const unpackedInfo = await unpackArtifact(artifactPath, join(dirs.work, 'header'), dirs.payload, {
      ...(this.opts.artifactKeys ? { verifyKeys: this.opts.artifactKeys } : {}),
    }).catch((err: unknown) => {
      if (err instanceof RefusedError) throw new RefusedError(err.kind, `${key} (${c.version}): ${err.message}`);
      throw err;
    });
    await writeFile(join(dirs.work, 'header', 'artifact_name'), `${unpackedInfo.name}\n`);
    await writeFile(join(dirs.work, 'header', 'artifact_group'), `${unpackedInfo.group}\n`);
    await writeFile(join(dirs.work, 'header', 'payload_type'), `${unpackedInfo.payloadType}\n`);
    if (unpackedInfo.name !== c.version)
      throw new Error(`the artifact of ${key} is "${unpackedInfo.name}", not "${c.version}" as planned`);

    const unpacked = await this.ask(t, 'NeedsUnpackedArtifact', dirs.work, ctx.log, parseNeedsUnpacked);
    const withSizes = await this.ask(
      t,
      'ProvidePayloadFileSizes',
      dirs.work,
      ctx.log,
      (s) => parseChoice('ProvidePayloadFileSizes', s) === 'Yes',
    );
    const update: UpdateInFlight = {
      txn: ctx.txn,
      ...(step.from !== undefined ? { from: step.from } : {}),
      to: c.version,
      supportsRollback: false,
      unpacked,
      progress: 'downloading',
    };
    await this.save(dirs, {
      schema: 'rollgate.component/v1',
      target: t,
      ...(previous?.installed !== undefined ? { installed: previous.installed } : {}),
      update,
    });

    const items: StreamItem[] = unpacked
      ? unpackedInfo.files.map((name) => ({ name, path: join(dirs.payload, name), owned: true }))
      : [{ name: 'artifact.mender', path: artifactPath, owned: false }];
    await makeStreams(dirs.work, items);
    const r = await this.call(t, withSizes ? 'DownloadWithFileSizes' : 'Download', dirs.work, ctx.log, {
      feed: items,
      withSizes,
    });
    await settleFiles(dirs.work, items, r.consumed ?? new Set());
    // The protocol asks SupportsRollback once Download completed.
    update.supportsRollback = await this.ask(t, 'SupportsRollback', dirs.work, ctx.log, parseSupportsRollback);
    move(update, 'downloaded');
    await this.save(dirs, {
      schema: 'rollgate.component/v1',
      target: t,
      ...(previous?.installed !== undefined ? { installed: previous.installed } : {}),
      update,
    });
    if (!update.supportsRollback)
      ctx.log.warn(
        { component: key, interface: t.interface },
        `interface "${t.interface}" of ${key} does not support rollback: if this apply fails after installing ` +
          `it, ${key} stays on ${c.version}`,
      );
    ctx.log.info(
      { component: key, version: c.version, streamed: [...(r.consumed ?? [])] },
      `downloaded ${c.version} for ${key}`,
    );
    return {};
  }

  private async install(step: Step, ctx: StepContext): Promise<Omit<StepRecord, 'status'>> {
    const { rec, dirs } = await this.record(step);
    if (rec.update.progress === 'installed') {
      // ArtifactInstall returned and NeedsArtifactReboot was answered, but the journal could not say
      // so (the disk full, the Engine away): the transaction goes on forward from here, not again.
      ctx.log.info({ component: rec.target.key }, `${rec.target.key} has ${rec.update.to} installed already`);
      return {};
    }
    move(rec.update, 'installing');
    const boot = await bootId();
    if (boot !== undefined) rec.update.bootId = boot;
    await this.save(dirs, rec);
    await this.call(rec.target, 'ArtifactInstall', dirs.work, ctx.log);
    // The protocol asks NeedsArtifactReboot after ArtifactInstall (a package manager may only know then).
    move(rec.update, 'installed');
    rec.update.reboot = await this.ask(rec.target, 'NeedsArtifactReboot', dirs.work, ctx.log, parseNeedsReboot);
    await this.save(dirs, rec);
    ctx.log.info(
      { component: rec.target.key, version: rec.update.to },
      `installed ${rec.update.to} on ${rec.target.key}`,
    );
    return {};
  }

  async willReboot(step: Step): Promise<boolean> {
    const rec = await readRecord(this.dirs(componentKey(step)).record);
    return (rec?.update?.reboot ?? 'No') !== 'No';
  }

  private async reboot(step: Step, ctx: StepContext): Promise<Omit<StepRecord, 'status'>> {
    const { rec, dirs } = await this.record(step);
    const t = rec.target;
    if ((rec.update.reboot ?? 'No') === 'No') return {};
    move(rec.update, 'rebooting');
    if (rec.update.reboot === 'Automatic') {
      const now = await bootId();
      if (now !== undefined) rec.update.rebootBootId = now;
      await this.save(dirs, rec);
      return { reboot: 'gateway' };
    }
    await this.save(dirs, rec);
    await this.call(t, 'ArtifactReboot', dirs.work, ctx.log);
    await this.call(t, 'ArtifactVerifyReboot', dirs.work, ctx.log);
    ctx.log.info({ component: t.key }, `${t.key} rebooted into ${rec.update.to}`);
    return {};
  }

  async rebootGateway(ctx: StepContext): Promise<void> {
    const cmd = this.opts.rebootCommand ?? DEFAULT_REBOOT_COMMAND;
    crashPoint('reboot-gateway');
    ctx.log.warn({ command: cmd }, `rebooting the gateway: ${cmd.join(' ')}`);
    await invoke({
      name: 'reboot command',
      component: 'gateway',
      state: 'reboot',
      executable: cmd[0]!,
      argv: cmd.slice(1),
      timeoutMs: 120_000,
      killGraceMs: 5_000,
      outputLimit: 16 * 1024,
      log: ctx.log,
      stateDir: this.opts.stateDir,
    });
    const wait = this.opts.rebootWaitMs ?? 300_000;
    await sleep(wait);
    throw new Error(`"${cmd.join(' ')}" succeeded, but the gateway was still up ${Math.round(wait / 1000)} s later`);
  }

  async verifyAfterReboot(step: Step, _record: StepRecord, ctx: StepContext): Promise<void> {
    const { rec, dirs } = await this.record(step);
    const asked = rec.update.rebootBootId;
    if (asked !== undefined && asked === (await bootId())) {
      // rollgate was stopped after journaling the reboot and before it (a kill, a restart of the
      // service): the device still runs what it ran, so verifying now would fail a good update.
      ctx.log.warn(
        { component: rec.target.key },
        `the gateway has not rebooted since ${rec.target.key} asked for it (rollgate was stopped in between): ` +
          `rebooting now`,
      );
      await this.rebootGateway(ctx);
    }
    await this.call(rec.target, 'ArtifactVerifyReboot', dirs.work, ctx.log);
    ctx.log.info(
      { component: rec.target.key },
      `${rec.target.key} came back on ${rec.update.to} after the gateway reboot`,
    );
  }

  private async commit(step: Step, ctx: StepContext): Promise<Omit<StepRecord, 'status'>> {
    const { rec, dirs } = await this.record(step);
    await this.call(rec.target, 'ArtifactCommit', dirs.work, ctx.log);
    rec.installed = rec.update.to;
    move(rec.update, 'committed');
    await this.save(dirs, rec);
    // A component that does not report the version it was given did not take the update, whatever
    // its exit codes said: it is a failed update, rolled back, not "applied" and reinstalled forever.
    const provides = await this.ask(rec.target, 'Provides', dirs.work, ctx.log, (out) =>
      parseKeyValues('Provides', out),
    );
    let reported: string | undefined;
    try {
      reported = providedVersion(provides, rec.target.interface);
    } catch (err) {
      throw new InterfaceError(
        { name: rec.target.interface, component: rec.target.key, state: 'Provides' },
        `protocol error after ArtifactCommit: ${message(err)}`,
      );
    }
    if (reported !== undefined && reported !== rec.update.to) {
      throw new InterfaceError(
        { name: rec.target.interface, component: rec.target.key, state: 'ArtifactCommit' },
        `committed, but Provides then reports version ${JSON.stringify(reported)}, ` +
          `not ${JSON.stringify(rec.update.to)}: the update did not take`,
      );
    }
    ctx.log.info(
      { component: rec.target.key, version: rec.update.to },
      `committed ${rec.update.to} on ${rec.target.key}`,
    );
    return {};
  }

  private async cleanup(step: Step, ctx: StepContext): Promise<Omit<StepRecord, 'status'>> {
    const key = componentKey(step);
    const dirs = this.dirs(key);
    const rec = await readRecord(dirs.record);
    if (!rec?.update) return {}; // a repeat after a crash: already cleaned up
    await this.call(rec.target, 'Cleanup', dirs.work, ctx.log);
    await this.forget(dirs, rec);
    return {};
  }

  private async forget(dirs: ComponentDirs, rec: ComponentRecord): Promise<void> {
    delete rec.update;
    await this.save(dirs, rec);
    await rm(dirs.payload, { recursive: true, force: true });
    await rm(join(dirs.work, 'files'), { recursive: true, force: true });
    await rm(join(dirs.work, 'tmp'), { recursive: true, force: true });
  }

  // ---- undo --------------------------------------------------------------------------------

  async undo(step: Step, _record: StepRecord, ctx: StepContext): Promise<void> {
    const key = componentKey(step);
    const dirs = this.dirs(key);
    const rec = await readRecord(dirs.record);
    if (!rec?.update || rec.update.txn !== ctx.txn) return; // nothing of this transaction is left
    switch (step.kind) {
      case 'download':
        // Download changed nothing installed: Cleanup is all that is owed.
        try {
          await this.call(rec.target, 'Cleanup', dirs.work, ctx.log);
        } catch (err) {
          ctx.log.warn(
            { component: key, err: message(err) },
            `Cleanup of ${key} failed; its work directory is removed anyway: ${message(err)}`,
          );
        }
        await this.forget(dirs, rec);
        return;
      case 'install':
        return this.rollback(rec as ComponentRecord & { update: UpdateInFlight }, dirs, ctx);
      default:
        return; // reboot and commit are undone by the install's rollback
    }
  }

  private async rollback(
    rec: ComponentRecord & { update: UpdateInFlight },
    dirs: ComponentDirs,
    ctx: StepContext,
  ): Promise<void> {
    const u = rec.update;
    const t = rec.target;
    if (!undoOwed(u)) return;
    if (!u.supportsRollback) {
      await this.call(t, 'ArtifactFailure', dirs.work, ctx.log).catch((err: unknown) =>
        ctx.log.warn({ component: t.key }, message(err)),
      );
      const installed = reached(u, 'installed');
      move(u, 'failed');
      const cannot = `interface "${t.interface}" does not support rollback (SupportsRollback: No)`;
      if (installed) {
        // It runs the new version now: the record says so, so the next apply does not install it
        // again (an Update Module answers no Provides; the record is all rollgate knows).
        rec.installed = u.to;
        await this.save(dirs, rec);
        throw new UndoImpossibleError(
          `${cannot}, so ${t.key} stays on ${u.to}${u.from ? ` instead of ${u.from}` : ''}`,
        );
      }
      await this.save(dirs, rec);
      throw new UndoImpossibleError(
        `${cannot}, and its ArtifactInstall did not finish, so ${t.key} may be part-way ` +
          `between ${u.from ?? 'nothing'} and ${u.to}; the next apply installs ${u.to} again`,
      );
    }
    // A crash during ArtifactInstall may have come before the reboot query.
    if (u.reboot === undefined) {
      u.reboot = await this.ask(t, 'NeedsArtifactReboot', dirs.work, ctx.log, parseNeedsReboot).catch(
        () => 'No' as const,
      );
      await this.save(dirs, rec);
    }
    if (!rollbackDone(u)) {
      if (u.progress !== 'rolling-back') {
        move(u, 'rolling-back');
        await this.save(dirs, rec);
      }
      await this.call(t, 'ArtifactRollback', dirs.work, ctx.log);
      move(u, 'rolled-back');
      await this.save(dirs, rec);
    }
    // A peripheral may have rebooted into the new version without rollgate knowing (a power
    // cut), so one that reboots itself always gets its rollback reboot; the gateway reboots
    // back if it rebooted since the install, on purpose or not.
    const now = await bootId();
    const gatewayRebooted = reached(u, 'rebooting') || (u.bootId !== undefined && u.bootId !== now);
    const rebootAsked = u.progress === 'rollback-rebooting';
    if (u.reboot === 'Yes') {
      await this.call(t, 'ArtifactRollbackReboot', dirs.work, ctx.log);
      await this.call(t, 'ArtifactVerifyRollbackReboot', dirs.work, ctx.log);
    } else if (u.reboot === 'Automatic' && (gatewayRebooted || rebootAsked)) {
      // Asked for before, but rollgate was stopped before the reboot happened: ask again.
      const notYet = u.rollbackRebootBootId !== undefined && u.rollbackRebootBootId === now;
      if (!rebootAsked || notYet) {
        move(u, 'rollback-rebooting');
        if (now !== undefined) u.rollbackRebootBootId = now;
        await this.save(dirs, rec);
        try {
          await this.rebootGateway(ctx);
        } catch (err) {
          // The interface's verification below decides whether the old version runs.
          ctx.log.warn(
            { component: t.key, err: message(err) },
            `the rollback of ${t.key} wanted a gateway reboot that did not happen: ${message(err)}`,
          );
        }
      }
      await this.call(t, 'ArtifactVerifyRollbackReboot', dirs.work, ctx.log);
    }
    await this.call(t, 'ArtifactFailure', dirs.work, ctx.log);
    const committed = reached(u, 'committed');
    move(u, 'failed');
    if (committed) {
      if (u.from !== undefined) rec.installed = u.from;
      else delete rec.installed;
    }
    await this.save(dirs, rec);
    ctx.log.info({ component: t.key, version: u.from }, `rolled ${t.key} back${u.from ? ` to ${u.from}` : ''}`);
  }

  afterFinalize(): Promise<void> {
    this.cache.unpinAll();
    return Promise.resolve();
  }
}

async function readHead(path: string, bytes: number): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
