// What the update-interface applier's step handlers share: its options, the artifact cache, the
// fleet repo artifacts are read from, and the calls into an interface (each state or query a
// process with its deadline, its output bounded) and into a component's record.

import { GatewayConfigError } from '../../base/config-error.js';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { statePath } from '../../base/state-dir.js';
import type { ComponentTarget } from '../../model/index.js';
import type { RepoSource } from '../../manifest/index.js';
import type { ArtifactKey } from '../../trust/index.js';
import type { Log } from '../../base/log.js';
import type { StepContext } from '../applier.js';
import { crashPoint } from '../crash-points.js';
import type { ArtifactCache, DownloadOptions } from './artifact-cache.js';
import { readRecord, writeRecord, type ComponentRecord, type UpdateInFlight } from './component-record.js';
import { invoke, InterfaceError, type InvocationResult } from './invoke.js';
import {
  interfaceArgv,
  isState,
  ProtocolError,
  type InterfaceState,
  type InterfaceTarget,
  type Query,
} from './protocol.js';
import { advance, type UpdateProgress } from './update-progress.js';
import { componentDirs, feedStreams, type ComponentDirs, type StreamItem } from './work-dir.js';
import { DEFAULT_REBOOT_COMMAND } from './defaults.js';

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

export { DEFAULT_REBOOT_COMMAND };

const PLAIN = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

// ROLLGATE_BOOT_ID_FILE stands in for the kernel's boot id on a simulated gateway (the tests'
// device lab reboots by rewriting it); unset in production.
const BOOT_ID_FILE = process.env['ROLLGATE_BOOT_ID_FILE'] ?? '/proc/sys/kernel/random/boot_id';

/** This boot of the gateway: a different one after a reboot, planned or not. */
export async function bootId(): Promise<string | undefined> {
  try {
    return (await readFile(BOOT_ID_FILE, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

export const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Moves an update to its next state (the transition table checks it); the caller saves the record. */
export function move(u: UpdateInFlight, to: UpdateProgress): void {
  const next = advance(u, to);
  u.progress = next.progress;
  if (next.forwardTo) u.forwardTo = next.forwardTo;
}

/** A component's record with an update in flight. */
export type RecordInFlight = ComponentRecord & { update: UpdateInFlight };

export const inFlight = (rec: ComponentRecord | undefined): rec is RecordInFlight => rec?.update !== undefined;

export class InterfaceEnv {
  readonly timeouts: InterfaceTimeouts;
  readonly componentsDir: string;
  /** Per transaction: every artifact's signature checked (see download-step.ts). */
  readonly signatures = new Map<string, Promise<void>>();

  constructor(
    readonly opts: InterfaceApplierOptions,
    readonly cache: ArtifactCache,
    /** The fleet repo artifacts are read from. */
    readonly repo: RepoSource | undefined,
  ) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.componentsDir = statePath(opts.stateDir, 'components');
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

  async protocolVersion(iface: string): Promise<string> {
    return (await this.executable(iface)).includes('/modules/v3/') ? '3' : '1';
  }

  async call(
    t: InterfaceTarget,
    state: InterfaceState | Query,
    work: string,
    log: Log,
    extra: { feed?: StreamItem[]; withSizes?: boolean } = {},
  ): Promise<InvocationResult & { consumed?: Set<string> }> {
    const exe = await this.executable(t.interface);
    let consumed: Set<string> | undefined;
    const feed = extra.feed;
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
      ...(feed
        ? {
            whileRunning: async (_c, exited) =>
              void (consumed = await feedStreams(work, feed, exited, extra.withSizes === true)),
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
  async ask<T>(t: InterfaceTarget, query: Query, work: string, log: Log, parse: (s: string) => T): Promise<T> {
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

  dirs(key: string): ComponentDirs {
    return componentDirs(this.componentsDir, key);
  }

  /** The record of the component a step acts on, which must have an update in flight. */
  async record(target: ComponentTarget): Promise<{ rec: RecordInFlight; dirs: ComponentDirs }> {
    const dirs = this.dirs(target.key);
    const rec = await readRecord(dirs.record);
    if (!inFlight(rec)) throw new Error(`component ${target.key} has no update in flight in ${dirs.record}`);
    return { rec, dirs };
  }

  async save(dirs: ComponentDirs, rec: ComponentRecord): Promise<void> {
    await writeRecord(dirs.record, rec);
  }

  /** The update is over: its record says so, and its payload and work files go. */
  async forget(dirs: ComponentDirs, rec: ComponentRecord): Promise<void> {
    delete rec.update;
    await this.save(dirs, rec);
    await rm(dirs.payload, { recursive: true, force: true });
    await rm(join(dirs.work, 'files'), { recursive: true, force: true });
    await rm(join(dirs.work, 'tmp'), { recursive: true, force: true });
  }

  /**
   * Reboots the gateway. Returns or throws only when the reboot did not happen; the process
   * normally ends here.
   */
  async rebootGateway(ctx: StepContext): Promise<void> {
    const cmd = this.opts.rebootCommand ?? DEFAULT_REBOOT_COMMAND;
    crashPoint('reboot-gateway');
    ctx.log.warn({ command: cmd }, `rebooting the gateway: ${cmd.join(' ')}`);
    const [exe, ...args] = cmd;
    if (exe === undefined) throw new Error('the gateway reboot command is empty');
    await invoke({
      name: 'reboot command',
      component: 'gateway',
      state: 'reboot',
      executable: exe,
      argv: args,
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
}
